package dev.snapscore.engine.image;

/**
 * How photos are decoded and cleaned; serializable so that Spark tasks carry it.
 *
 * @param exactDecode     decode every JPEG at its full size, as OpenCV's {@code imread} does (the reference
 *                        path). Otherwise libjpeg scales it down by 2, 4 or 8 while decoding (in the DCT domain,
 *                        almost free) to the smallest size that still covers the model input and, when cleaning,
 *                        the cleaning copy; other formats always decode at full size
 * @param cleanResolution the longest side, in pixels, of the grayscale copy the face cascade runs on: larger
 *                        photos are scaled down with INTER_AREA first, by a power of the cascade's scale factor
 *                        ({@link #cleanShrink}). The face rule is a share of the photo's area, so it does not
 *                        depend on the size, while the cascade's time grows with the pixels.
 *                        {@link #FULL_RESOLUTION} (0) runs it on the photo itself, as the original study did
 */
public record DecodeOptions(boolean exactDecode, int cleanResolution) implements java.io.Serializable {
    /** {@code cleanResolution} that runs the cascade on the photo at its own size. */
    public static final int FULL_RESOLUTION = 0;
    /** Twice the cascade's 24-pixel window: a smaller copy leaves the cascade next to nothing to scan. */
    public static final int MIN_CLEAN_RESOLUTION = 2 * FaceDetector.WINDOW;
    /**
     * The default: fast decode, and the cascade on at most 640 pixels, the size of the study's own (Instagram)
     * photos; its decisions agreed with full-resolution ones on every photo measured (README), and a 12 MP
     * photo's copy (494 × 371) still comes from a 1/8-scale decode.
     */
    public static final DecodeOptions DEFAULT = new DecodeOptions(false, 640);
    /** The reference: full-size decode and the cascade on the full-size photo, as before these options existed. */
    public static final DecodeOptions EXACT = new DecodeOptions(true, FULL_RESOLUTION);

    public DecodeOptions {
        if (cleanResolution != FULL_RESOLUTION && cleanResolution < MIN_CLEAN_RESOLUTION) {
            throw new IllegalArgumentException("clean resolution must be " + FULL_RESOLUTION + " (full resolution) or at least "
                    + MIN_CLEAN_RESOLUTION + " pixels, got " + cleanResolution);
        }
    }

    /**
     * Whether a face rule may judge a photo from its EXIF thumbnail ({@code FaceCheck.thumbnailRejectionBound}):
     * not with the reference decode nor the full-resolution cascade, whose users want the photo's own pixels judged.
     */
    public boolean allowsThumbnails() {
        return !exactDecode && cleanResolution != FULL_RESOLUTION;
    }

    /**
     * How much the cascade's copy of a photo whose longer side is {@code longSide} is scaled down: by the smallest
     * power of the cascade's {@code scaleFactor} that brings it to at most the clean resolution. The cascade scans
     * windows of 24 pixels times powers of that factor, so the window sizes, in the photo's pixels, stay those
     * of a full-size scan (less the smallest), and the largest face's share of the photo moves little.
     */
    public double cleanShrink(int longSide, double scaleFactor) {
        if (!(scaleFactor > 1)) throw new IllegalArgumentException("scale factor must be > 1, got " + scaleFactor);
        double shrink = 1;
        if (cleanResolution == FULL_RESOLUTION) return shrink;
        while (Math.round(longSide / shrink) > cleanResolution) shrink *= scaleFactor;
        return shrink;
    }
}
