package dev.snapscore.engine.photo;

import dev.snapscore.engine.image.FaceDetector;

/**
 * Face detection before scoring: either the selfie study's cleaning rule (reject a photo unless its largest
 * face covers more than {@code minFaceFraction} of it), or only reporting the largest face (serving).
 *
 * <p>The rule looks only for faces big enough to pass it unless {@code allSizes}: the same decisions and the same
 * largest face for every kept photo as a scan of every size (see {@link FaceDetector#detect(dev.snapscore.engine.image.Photo,
 * double)}), at a fraction of the cascade's time, but a rejected photo reports no smaller face, and the count is
 * of the larger candidates only.
 */
public record FaceCheck(FaceDetector.Settings settings, double minFaceFraction, boolean rejects, boolean allSizes,
                        boolean thumbnails) {
    public FaceCheck {
        if (settings == null) throw new IllegalArgumentException("face detector settings are required");
        if (!(minFaceFraction >= 0 && minFaceFraction < 1)) {
            throw new IllegalArgumentException("min face fraction must be in [0, 1), got " + minFaceFraction);
        }
    }

    /** Rejects photos whose largest face covers no more than {@code minFaceFraction} of them. */
    public static FaceCheck clean(FaceDetector.Settings settings, double minFaceFraction) {
        return new FaceCheck(settings, minFaceFraction, true, false, true);
    }

    /** As this, scanning every face size as the original study did (slower; reports rejected photos' small faces). */
    public FaceCheck scanningAllSizes(boolean all) {
        return new FaceCheck(settings, minFaceFraction, rejects, all, thumbnails);
    }

    /**
     * As this, letting the rule reject a JPEG from its EXIF thumbnail alone when the thumbnail shows no face of even
     * {@link #thumbnailRejectionBound} of the photo (the default), or not: every photo decoded.
     */
    public FaceCheck usingThumbnails(boolean use) {
        return new FaceCheck(settings, minFaceFraction, rejects, allSizes, use);
    }

    /** Finds the largest face and rejects nothing. */
    public static FaceCheck report(FaceDetector.Settings settings) {
        return new FaceCheck(settings, 0, false, true, false);
    }

    /** The smallest share of the photo a face must be able to cover to be looked for. */
    double smallestFraction() {
        return rejects && !allSizes ? minFaceFraction : 0;
    }

    /**
     * The largest share of a photo a face in its EXIF thumbnail may cover for this rule to reject the photo without
     * decoding it, or 0 when it may not (a check that rejects nothing, reports every face size, or was asked not to):
     * a third of the rule's share. The cascade's boxes come in steps of its scale factor (1.3 for the study), so one
     * face found in a 160-pixel thumbnail and in the photo's own copy can differ by a step or two in side, up to 2.9
     * in area.
     */
    double thumbnailRejectionBound() {
        return rejects && !allSizes && thumbnails ? minFaceFraction / 3 : 0;
    }

    boolean keeps(FaceDetector.Faces faces) {
        return !rejects || faces.largestFraction() > minFaceFraction;
    }
}
