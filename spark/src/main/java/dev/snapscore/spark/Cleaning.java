package dev.snapscore.spark;

import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.photo.FaceCheck;

import java.io.Serializable;

/**
 * The face rule of {@code snapscore score --clean} (see {@link FaceCheck}), as plain values so it can
 * travel to executors.
 */
public record Cleaning(double minFaceFraction, double scaleFactor, int minNeighbors, int minSize, boolean allFaces,
                       boolean thumbnails) implements Serializable {
    /** The selfie study's settings, the defaults of {@code snapscore clean}. */
    public static final Cleaning STUDY = new Cleaning(0.15, 1.3, 0, 0, false, true);

    public Cleaning {
        if (!(minFaceFraction >= 0 && minFaceFraction < 1)) {
            throw new IllegalArgumentException("min face fraction must be in [0, 1), got " + minFaceFraction);
        }
        if (!(scaleFactor > 1.0)) throw new IllegalArgumentException("scale factor must be > 1, got " + scaleFactor);
        if (minNeighbors < 0) throw new IllegalArgumentException("min neighbors must be >= 0, got " + minNeighbors);
        if (minSize < 0) throw new IllegalArgumentException("min size must be >= 0, got " + minSize);
    }

    FaceCheck faceCheck() {
        return FaceCheck.clean(new FaceDetector.Settings(scaleFactor, minNeighbors, minSize), minFaceFraction).scanningAllSizes(allFaces)
                .usingThumbnails(thumbnails);
    }
}
