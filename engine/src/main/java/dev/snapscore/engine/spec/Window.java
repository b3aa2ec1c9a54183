package dev.snapscore.engine.spec;

/**
 * Kernel, stride and padding of a convolution or pooling window over (H, W).
 * Padding is given per side: top, left, bottom, right.
 */
public record Window(int kernelH, int kernelW, int strideH, int strideW,
                     int padTop, int padLeft, int padBottom, int padRight) {

    public Window {
        if (kernelH < 1 || kernelW < 1) {
            throw new IllegalArgumentException("kernel must be >= 1, got " + kernelH + "x" + kernelW);
        }
        if (strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("stride must be >= 1, got " + strideH + "x" + strideW);
        }
        if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
            throw new IllegalArgumentException("padding must be >= 0, got " + padTop + "," + padLeft + ","
                    + padBottom + "," + padRight);
        }
    }

    /** A square kernel with the same stride and padding on every side. */
    public static Window square(int kernel, int stride, int pad) {
        return new Window(kernel, kernel, stride, stride, pad, pad, pad, pad);
    }

    /** Output height for an input of the given height; below 1 means the window does not fit. */
    public int outHeight(int inHeight) {
        return Math.floorDiv(inHeight + padTop + padBottom - kernelH, strideH) + 1;
    }

    public int outWidth(int inWidth) {
        return Math.floorDiv(inWidth + padLeft + padRight - kernelW, strideW) + 1;
    }

    public boolean isSquare() {
        return kernelH == kernelW && strideH == strideW
                && padTop == padLeft && padTop == padBottom && padTop == padRight;
    }
}
