package dev.snapscore.engine.photo;

import dev.snapscore.engine.image.FaceDetector;

/**
 * Face detection before scoring: either the selfie study's cleaning rule (reject a photo unless its largest
 * face covers more than {@code minFaceFraction} of it), or only reporting the largest face (serving).
 */
public record FaceCheck(FaceDetector.Settings settings, double minFaceFraction, boolean rejects) {
    public FaceCheck {
        if (settings == null) throw new IllegalArgumentException("face detector settings are required");
        if (!(minFaceFraction >= 0 && minFaceFraction < 1)) {
            throw new IllegalArgumentException("min face fraction must be in [0, 1), got " + minFaceFraction);
        }
    }

    /** Rejects photos whose largest face covers no more than {@code minFaceFraction} of them. */
    public static FaceCheck clean(FaceDetector.Settings settings, double minFaceFraction) {
        return new FaceCheck(settings, minFaceFraction, true);
    }

    /** Finds the largest face and rejects nothing. */
    public static FaceCheck report(FaceDetector.Settings settings) {
        return new FaceCheck(settings, 0, false);
    }

    boolean keeps(FaceDetector.Faces faces) {
        return !rejects || faces.largestFraction() > minFaceFraction;
    }
}
