package dev.snapscore.cli;

import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.photo.FaceCheck;
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

    @Option(names = "--all-faces", description = {"Look for faces of every size, as the original study did: a rejected "
            + "photo then reports its largest face however small, and the faces column counts every candidate. By default "
            + "only faces big enough to pass --min-face-fraction are looked for: the same decisions and the same largest "
            + "face for every kept photo, about 15x less cascade time on 12 MP photos."})
    boolean allFaces;

    @Option(names = "--ignore-thumbnails", description = {"Decode every photo the rule checks. By default a JPEG whose EXIF thumbnail (phone cameras "
            + "embed one) shows no face of even a third of --min-face-fraction is rejected from the thumbnail alone, without "
            + "decoding the photo: about 20 ms of CPU saved per rejected 12 MP photo. A thumbnail is trusted only when the "
            + "EXIF pixel size is the photo's own; never with --exact-decode or --clean-resolution 0."})
    boolean ignoreThumbnails;

    FaceDetector.Settings settings() {
        return new FaceDetector.Settings(scaleFactor, minNeighbors, minSize);
    }

    /** The face rule these options describe. */
    FaceCheck faceCheck() {
        return FaceCheck.clean(settings(), minFaceFraction).scanningAllSizes(allFaces).usingThumbnails(!ignoreThumbnails);
    }
}
