package dev.snapscore.engine.image;

import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FaceDetectorTest {

    /** The Mat as a photo of its own size (the caller closes the Mat). */
    private static Photo whole(Mat m) {
        return new Photo(m, m.cols(), m.rows());
    }

    private static Mat photo(String name) throws URISyntaxException {
        return ImageDecoder.withDefaults().read(Path.of(FaceDetectorTest.class.getResource("/fixtures/images/" + name).toURI()), DecodeOptions.EXACT, null, null).bgr();
    }

    /**
     * The astronaut portrait (512x512) has one frontal face of about 116x116 pixels: 5% of the frame, so
     * the study's 15% rule rejects the full photo, and keeps a head-and-shoulders crop of it. The cat and
     * the coffee cup have no face above the threshold.
     */
    @Test
    void studySettingsFindThePortraitFaceAndApplyTheThreshold() throws Exception {
        try (FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT); Mat astronaut = photo("astronaut.png")) {
            var faces = detector.detect(whole(astronaut));
            System.out.printf("astronaut: %d candidates, largest %dx%d at (%d,%d) = %.4f of the photo%n", faces.count(),
                    faces.largestWidth(), faces.largestHeight(), faces.largestX(), faces.largestY(), faces.largestFraction());
            assertTrue(faces.largestX() > 100 && faces.largestX() < 300 && faces.largestY() < 200, faces.toString());
            assertTrue(faces.largestFraction() > 0.03 && faces.largestFraction() < 0.15, "fraction " + faces.largestFraction());

            int side = 240, x = Math.max(0, faces.largestX() + faces.largestWidth() / 2 - side / 2), y = Math.max(0, faces.largestY() - 40);
            try (var rect = new org.bytedeco.opencv.opencv_core.Rect(x, y, side, side); Mat crop = new Mat(astronaut, rect).clone()) {
                var cropped = detector.detect(whole(crop));
                System.out.printf("astronaut %dx%d crop: largest face %.4f of the photo%n", side, side, cropped.largestFraction());
                assertTrue(cropped.largestFraction() > 0.15, "crop fraction " + cropped.largestFraction());
            }
        }
        try (FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT)) {
            for (String other : new String[] {"chelsea.png", "coffee.png"}) {
                try (Mat m = photo(other)) {
                    var faces = detector.detect(whole(m));
                    System.out.printf("%s: %d candidates, largest fraction %.4f%n", other, faces.count(), faces.largestFraction());
                    assertTrue(faces.largestFraction() <= 0.15, other + ": " + faces);
                }
            }
        }
    }

    @Test
    void stricterSettingsFindFewerCandidates() throws Exception {
        try (FaceDetector study = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT);
             FaceDetector strict = new FaceDetector(new FaceDetector.Settings(1.1, 3, 30), DecodeOptions.EXACT);
             Mat astronaut = photo("astronaut.png")) {
            var loose = study.detect(whole(astronaut));
            var tight = strict.detect(whole(astronaut));
            assertTrue(tight.count() >= 1 && tight.count() <= loose.count(), loose + " vs " + tight);
        }
    }

    @Test
    void settingsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new FaceDetector.Settings(1.0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new FaceDetector.Settings(1.3, -1, 0));
        assertEquals(0.0, new FaceDetector.Faces(0, 10, 10, 0, 0, 0, 0).largestFraction());
    }
}
