package dev.snapscore.engine.spec;

import java.util.Arrays;

/**
 * How a decoded photo becomes the network's input: channels in {@code channelOrder} ("BGR" or "RGB"),
 * each channel minus {@code mean[c]}, times {@code scale[c]} (both given in that channel order).
 * torchvision's normalisation ((x / 255 − m) / s) is mean 255·m and scale 1 / (255·s).
 */
public record Preprocess(String channelOrder, float[] mean, float[] scale) {

    /** Caffe / Keras "caffe" mode, as VGG16 was trained: BGR minus the ImageNet means, no scaling. */
    public static final Preprocess CAFFE = new Preprocess("BGR", new float[] {103.939f, 116.779f, 123.68f}, 1.0f);

    /**
     * torchvision's ImageNet normalisation, as its pretrained VGGs were trained: RGB in 0..1 minus means
     * 0.485, 0.456, 0.406, divided by standard deviations 0.229, 0.224, 0.225 (here in 0..255 pixels).
     */
    public static final Preprocess TORCHVISION = new Preprocess("RGB", new float[] {123.675f, 116.28f, 103.53f},
            new float[] {1 / 58.395f, 1 / 57.12f, 1 / 57.375f});

    public Preprocess {
        if (!"BGR".equals(channelOrder) && !"RGB".equals(channelOrder)) {
            throw new IllegalArgumentException("channel order must be BGR or RGB, got " + channelOrder);
        }
        if (mean == null || mean.length != 3) {
            throw new IllegalArgumentException("mean must have 3 values, got " + Arrays.toString(mean));
        }
        if (scale == null || scale.length != 3) {
            throw new IllegalArgumentException("scale must have 3 values, got " + Arrays.toString(scale));
        }
        mean = mean.clone();
        scale = scale.clone();
        for (float m : mean) {
            if (!Float.isFinite(m)) throw new IllegalArgumentException("mean must be finite, got " + Arrays.toString(mean));
        }
        for (float s : scale) {
            if (!(s > 0) || Float.isInfinite(s)) {
                throw new IllegalArgumentException("scale must be positive finite numbers, got " + Arrays.toString(scale));
            }
        }
    }

    /** One scale for all three channels. */
    public Preprocess(String channelOrder, float[] mean, float scale) {
        this(channelOrder, mean, new float[] {scale, scale, scale});
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] scale() {
        return scale.clone();
    }

    /** Whether all channels share one scale. */
    public boolean uniformScale() {
        return scale[0] == scale[1] && scale[1] == scale[2];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocess p && p.channelOrder.equals(channelOrder)
                && Arrays.equals(p.mean, mean) && Arrays.equals(p.scale, scale);
    }

    @Override
    public int hashCode() {
        return channelOrder.hashCode() * 31 + Arrays.hashCode(mean) * 7 + Arrays.hashCode(scale);
    }

    @Override
    public String toString() {
        return "Preprocess[" + channelOrder + " - " + Arrays.toString(mean) + " * " + Arrays.toString(scale) + "]";
    }
}
