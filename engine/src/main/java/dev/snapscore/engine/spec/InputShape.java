package dev.snapscore.engine.spec;

/** The network's input for one image: (channels, height, width). */
public record InputShape(int channels, int height, int width) {
    public InputShape {
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input shape must be positive, got " + channels + "x" + height + "x" + width);
        }
    }

    /** Floats per image. */
    public long elements() {
        return (long) channels * height * width;
    }
}
