package dev.snapscore.cli;

import dev.snapscore.engine.image.FaceDetector;
import picocli.CommandLine.Option;

/** The face-cleaning settings shared by {@code clean} and {@code score --clean}. */
final class CleanOptions {
    @Option(names = "--min-face-fraction", defaultValue = "0.15",
            description = "Keep a photo only when its largest face covers more than this share of it. Default: ${DEFAULT-VALUE}.")
    double minFaceFraction;

    @Option(names = "--scale-factor", defaultValue = "1.3",
            description = "Haar cascade pyramid step. Default: ${DEFAULT-VALUE} (the original study; OpenCV's own default 1.1 is finer and slower).")
    double scaleFactor;

    @Option(names = "--min-neighbors", defaultValue = "0",
            description = "Overlapping detections a face needs. Default: ${DEFAULT-VALUE} (the original study; OpenCV's own default 3 is stricter).")
    int minNeighbors;

    @Option(names = "--min-size", defaultValue = "0", description = "Smallest face side in pixels (0: none). Default: ${DEFAULT-VALUE}.")
    int minSize;

    FaceDetector.Settings settings() {
        return new FaceDetector.Settings(scaleFactor, minNeighbors, minSize);
    }
}
