package dev.snapscore.engine.image;

import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The face rule on a copy at {@link DecodeOptions#DEFAULT}'s clean resolution (after a fast decode) against the
 * study's way (exact decode, cascade on the full-size photo), on the fixture photos and 12 MP phone-size JPEGs
 * made from them: the astronaut, the cat and the cup scaled up, and crops of the astronaut's head whose face
 * covers from 12% to 60% of the frame, landscape and portrait.
 */
class CleanResolutionTest {
    private static final dev.snapscore.engine.spec.InputShape VGG = new dev.snapscore.engine.spec.InputShape(3, 224, 224);
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    private static final FaceDetector.Settings STUDY = FaceDetector.Settings.STUDY;
    private static final double THRESHOLD = 0.15; // the study's minimum face fraction

    @Test
    void decisionsAtTheDefaultCleanResolutionEqualFullResolution() throws Exception {
        Map<String, byte[]> photos = photos();
        int kept = 0;
        try (FaceDetector full = new FaceDetector(STUDY, DecodeOptions.EXACT); FaceDetector fast = new FaceDetector(STUDY, DecodeOptions.DEFAULT)) {
            for (var e : photos.entrySet()) {
                FaceDetector.Faces want, got;
                try (Photo photo = DECODER.decode(e.getValue(), e.getKey(), DecodeOptions.EXACT, VGG, STUDY)) {
                    want = full.detect(photo);
                }
                try (Photo photo = DECODER.decode(e.getValue(), e.getKey(), DecodeOptions.DEFAULT, VGG, STUDY)) {
                    if (photo.width() == 4032) assertEquals(504, photo.bgr().cols(), "12 MP photos decode at 1/8 for cleaning too");
                    got = fast.detect(photo);
                }
                System.out.printf("%s: largest face %.4f of the photo at full resolution, %.4f at %d pixels%n", e.getKey(),
                        want.largestFraction(), got.largestFraction(), DecodeOptions.DEFAULT.cleanResolution());
                assertEquals(want.largestFraction() > THRESHOLD, got.largestFraction() > THRESHOLD, e.getKey());
                assertEquals(want.width(), got.width(), "boxes in the photo's own coordinates");
                if (want.largestFraction() > 0.1) {
                    // A real face: the same cascade window size, so the same share within the rounding of the copy's
                    // size. (Not the same position: with min neighbours 0, several windows of that size may fire.)
                    assertEquals(want.largestFraction(), got.largestFraction(), 0.02 * want.largestFraction(), e.getKey());
                }
                if (want.largestFraction() > THRESHOLD) kept++;
            }
        }
        assertEquals(3, kept, "three crops keep their face above the threshold");
    }

    /**
     * With the rule's fraction, the cascade skips the windows too small to pass it: on every photo, at the
     * study's resolution and at the default one, the decision is the full scan's, and a kept photo's largest
     * face is the full scan's box exactly; a rejected one reports at most a face below the fraction.
     */
    @Test
    void scanningOnlyForFacesThatCouldPassDecidesAsTheFullScan() throws Exception {
        Map<String, byte[]> photos = photos();
        int kept = 0, rejected = 0;
        for (DecodeOptions options : new DecodeOptions[] {DecodeOptions.EXACT, DecodeOptions.DEFAULT}) {
            try (FaceDetector detector = new FaceDetector(STUDY, options)) {
                for (var e : photos.entrySet()) {
                    try (Photo photo = DECODER.decode(e.getValue(), e.getKey(), options, VGG, STUDY)) {
                        FaceDetector.Faces all = detector.detect(photo);
                        for (double fraction : new double[] {0.04, THRESHOLD, 0.3}) {
                            FaceDetector.Faces big = detector.detect(photo, fraction);
                            String what = e.getKey() + " at " + options + ", fraction " + fraction;
                            assertEquals(all.largestFraction() > fraction, big.largestFraction() > fraction, what);
                            if (all.largestFraction() > fraction) {
                                kept++;
                                assertEquals(List.of(all.largestX(), all.largestY(), all.largestWidth(), all.largestHeight()),
                                        List.of(big.largestX(), big.largestY(), big.largestWidth(), big.largestHeight()), what);
                                assertTrue(big.count() <= all.count(), what);
                            } else {
                                rejected++;
                                assertTrue(big.largestFraction() <= all.largestFraction(), what);
                            }
                        }
                    }
                }
            }
        }
        assertTrue(kept >= 10 && rejected >= 10, kept + " kept and " + rejected + " rejected: both sides of the rule are tested");
    }

    /**
     * The fixture photos, the same scaled up to 4032 x 3024, and 12 MP crops around the face the study's cascade
     * finds in the 512 x 512 astronaut portrait (116 x 116 at (164, 53)).
     */
    private static Map<String, byte[]> photos() throws Exception {
        Map<String, byte[]> photos = new LinkedHashMap<>();
        for (String name : new String[] {"astronaut.png", "chelsea.png", "coffee.png"}) {
            photos.put(name, Files.readAllBytes(FastDecodeTest.resource("/fixtures/images/" + name)));
            photos.put(name + " at 4032x3024", FastDecodeTest.phonePhoto(name, 4032, 3024));
        }
        int[][] crops = {{104, 33, 332, 249}, {134, 43, 264, 198}, {152, 12, 141, 188}, {77, 0, 290, 387}};
        try (Mat astronaut = DECODER.read(FastDecodeTest.resource("/fixtures/images/astronaut.png"), DecodeOptions.EXACT, null, null).bgr()) {
            for (int[] c : crops) {
                try (Rect r = new Rect(c[0], c[1], c[2], c[3]); Mat crop = new Mat(astronaut, r).clone()) {
                    boolean portrait = c[3] > c[2];
                    photos.put("astronaut crop " + c[2] + "x" + c[3] + " at " + (portrait ? "3024x4032" : "4032x3024"),
                            FastDecodeTest.encode(crop, portrait ? 3024 : 4032, portrait ? 4032 : 3024));
                }
            }
        }
        return photos;
    }
}
