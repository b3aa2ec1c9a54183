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
public record FaceCheck(FaceDetector.Settings settings, double minFaceFraction, boolean rejects, boolean allSizes) {
    public FaceCheck {
        if (settings == null) throw new IllegalArgumentException("face detector settings are required");
        if (!(minFaceFraction >= 0 && minFaceFraction < 1)) {
            throw new IllegalArgumentException("min face fraction must be in [0, 1), got " + minFaceFraction);
        }
    }

    /** Rejects photos whose largest face covers no more than {@code minFaceFraction} of them. */
    public static FaceCheck clean(FaceDetector.Settings settings, double minFaceFraction) {
        return new FaceCheck(settings, minFaceFraction, true, false);
    }

    /** As this, scanning every face size as the original study did (slower; reports rejected photos' small faces). */
    public FaceCheck scanningAllSizes(boolean all) {
        return new FaceCheck(settings, minFaceFraction, rejects, all);
    }

    /** Finds the largest face and rejects nothing. */
    public static FaceCheck report(FaceDetector.Settings settings) {
        return new FaceCheck(settings, 0, false, true);
    }

    /** The smallest share of the photo a face must be able to cover to be looked for. */
    double smallestFraction() {
        return rejects && !allSizes ? minFaceFraction : 0;
    }

    boolean keeps(FaceDetector.Faces faces) {
        return !rejects || faces.largestFraction() > minFaceFraction;
    }
}
