package dev.snapscore.engine.spec;

import java.util.Objects;

/** The network's input for one image: (channels, height, width), stored in {@code layout}. */
public record InputShape(int channels, int height, int width, InputLayout layout) {
    public InputShape {
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input shape must be positive, got " + channels + "x" + height + "x" + width);
        }
        Objects.requireNonNull(layout, "layout");
    }

    /** An NCHW input. */
    public InputShape(int channels, int height, int width) {
        this(channels, height, width, InputLayout.NCHW);
    }

    /** The shape of a batch of {@code n} images as stored: (n, C, H, W) or (n, H, W, C). */
    public long[] dims(long n) {
        return layout == InputLayout.NHWC ? new long[] {n, height, width, channels} : new long[] {n, channels, height, width};
    }

    /** Floats per image. */
    public long elements() {
        return (long) channels * height * width;
    }
}
