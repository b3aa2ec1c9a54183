package dev.snapscore.engine.spec;

import java.util.Arrays;

/**
 * How a decoded photo becomes the network's input: channels in {@code channelOrder} ("BGR" or "RGB"),
 * each channel minus {@code mean[c]} (given in that channel order), times {@code scale}, planar NCHW.
 */
public record Preprocess(String channelOrder, float[] mean, float scale) {

    /** Caffe / Keras "caffe" mode, as VGG16 was trained: BGR minus the ImageNet means, no scaling. */
    public static final Preprocess CAFFE = new Preprocess("BGR", new float[] {103.939f, 116.779f, 123.68f}, 1.0f);

    public Preprocess {
        if (!"BGR".equals(channelOrder) && !"RGB".equals(channelOrder)) {
            throw new IllegalArgumentException("channel order must be BGR or RGB, got " + channelOrder);
        }
        if (mean == null || mean.length != 3) {
            throw new IllegalArgumentException("mean must have 3 values, got " + Arrays.toString(mean));
        }
        mean = mean.clone();
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale must be a positive finite number, got " + scale);
        }
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocess p && p.channelOrder.equals(channelOrder)
                && Arrays.equals(p.mean, mean) && p.scale == scale;
    }

    @Override
    public int hashCode() {
        return channelOrder.hashCode() * 31 + Arrays.hashCode(mean) * 7 + Float.hashCode(scale);
    }

    @Override
    public String toString() {
        return "Preprocess[" + channelOrder + " - " + Arrays.toString(mean) + " * " + scale + "]";
    }
}
