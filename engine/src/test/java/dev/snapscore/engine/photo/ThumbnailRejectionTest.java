package dev.snapscore.engine.photo;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ExifBlocks;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_COUNTERCLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.rotate;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The face rule's early rejection from EXIF thumbnails ({@link FaceCheck#usingThumbnails}): the same
 * decisions as decoding every photo, on piexif's fixtures and on 12 MP phone photos carrying the thumbnail a camera
 * would write, and never a verdict on a file that does not vouch for its thumbnail or is cut short.
 */
class ThumbnailRejectionTest {
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    private static final FaceCheck STUDY_RULE = FaceCheck.clean(FaceDetector.Settings.STUDY, 0.15);

    private static PreparedPhoto check(DecodeOptions options, String name, byte[] jpeg) {
        return check(options, STUDY_RULE, name, jpeg);
    }

    /** With the study's rule, every photo decoded. */
    private static PreparedPhoto decodingAll(String name, byte[] jpeg) {
        return check(DecodeOptions.DEFAULT, STUDY_RULE.usingThumbnails(false), name, jpeg);
    }

    private static PreparedPhoto check(DecodeOptions options, FaceCheck rule, String name, byte[] jpeg) {
        try (PhotoPipeline pipeline = new PhotoPipeline(DECODER, options, null, rule)) {
            return pipeline.check(PhotoSource.of(name, jpeg));
        }
    }

    private static byte[] fixture(String name) throws Exception {
        return Files.readAllBytes(Path.of(ThumbnailRejectionTest.class.getResource("/exif/" + name).toURI()));
    }

    @Test
    void fixturesDecideAsWhenEveryPhotoIsDecoded() throws Exception {
        for (int tag = 1; tag <= 8; tag++) {
            String name = "thumbnail-face-o" + tag + ".jpg";
            PreparedPhoto p = check(DecodeOptions.DEFAULT, name, fixture(name));
            assertEquals(ScoredPhoto.Status.OK, p.status(), name + ": the selfie (a fifth of the frame) is kept");
            assertEquals(640, p.width(), name);
        }
        PreparedPhoto cup = check(DecodeOptions.DEFAULT, "noface", fixture("thumbnail-noface.jpg"));
        assertEquals(ScoredPhoto.Status.REJECTED, cup.status());
        assertTrue(cup.fromThumbnail(), "the cup is rejected from its thumbnail");
        assertEquals(List.of(640, 480), List.of(cup.width(), cup.height()), "the photo's own size, from its header");
        assertFalse(decodingAll("noface", fixture("thumbnail-noface.jpg")).fromThumbnail());
        // Files that do not vouch for their thumbnail are decoded: the selfie in them is kept.
        for (String name : new String[] {"thumbnail-stale-dims.jpg", "thumbnail-square.jpg"}) {
            assertEquals(ScoredPhoto.Status.OK, check(DecodeOptions.DEFAULT, name, fixture(name)).status(), name);
        }
        // A photo cut short is the decoder's error, not a verdict from its intact thumbnail.
        PreparedPhoto truncated = check(DecodeOptions.DEFAULT, "truncated", fixture("thumbnail-truncated.jpg"));
        assertEquals(ScoredPhoto.Status.ERROR, truncated.status());
        assertTrue(truncated.error().contains("corrupt or truncated"), truncated.error());
        // The hazard, stated: a thumbnail left stale by an editor that kept the EXIF block whole decides alone.
        assertEquals(ScoredPhoto.Status.REJECTED, check(DecodeOptions.DEFAULT, "stale", fixture("thumbnail-stale.jpg")).status());
        assertEquals(ScoredPhoto.Status.OK, decodingAll("stale", fixture("thumbnail-stale.jpg")).status(),
                "with thumbnails ignored the selfie is decoded and kept");
        for (DecodeOptions reference : new DecodeOptions[] {DecodeOptions.EXACT, new DecodeOptions(false, DecodeOptions.FULL_RESOLUTION)}) {
            assertEquals(ScoredPhoto.Status.OK, check(reference, "stale", fixture("thumbnail-stale.jpg")).status(),
                    "the exact decode and the full-resolution cascade never judge from a thumbnail");
        }
    }

    /**
     * 12 MP photos, landscape and portrait, stored upright (big-endian EXIF) and turned with orientation 6
     * (little-endian EXIF), each with the 160-pixel thumbnail a camera writes: the cat and the cup (no face), the
     * astronaut (a face of 5%), and crops of the astronaut's head whose face covers 12% to 60%. Every decision equals
     * decoding every photo, and the faceless ones are rejected from their thumbnails.
     */
    @Test
    void phonePhotosDecideAsWhenEveryPhotoIsDecoded() throws Exception {
        int early = 0, kept = 0;
        for (var e : phonePhotos().entrySet()) {
            PreparedPhoto fast = check(DecodeOptions.DEFAULT, e.getKey(), e.getValue());
            PreparedPhoto all = decodingAll(e.getKey(), e.getValue());
            System.out.printf("%s: %s%s, decoding every photo %s (largest face %.4f)%n", e.getKey(), fast.status(),
                    fast.fromThumbnail() ? " from the thumbnail" : "", all.status(), all.faces().largestFraction());
            assertEquals(all.status(), fast.status(), e.getKey());
            assertEquals(List.of(all.width(), all.height()), List.of(fast.width(), fast.height()), e.getKey());
            if (fast.fromThumbnail()) early++;
            if (fast.status() == ScoredPhoto.Status.OK) kept++;
            if (e.getKey().startsWith("cat") || e.getKey().startsWith("cup")) assertTrue(fast.fromThumbnail(), e.getKey());
        }
        assertTrue(kept >= 4, kept + " kept: both sides of the rule are tested");
        assertTrue(early >= 4, early + " rejected from thumbnails");
    }

    private static Map<String, byte[]> phonePhotos() throws Exception {
        Map<String, byte[]> photos = new LinkedHashMap<>();
        String[][] whole = {{"cat", "chelsea.png"}, {"cup", "coffee.png"}, {"astronaut", "astronaut.png"}};
        int[][] crops = {{104, 33, 332, 249}, {134, 43, 264, 198}, {152, 12, 141, 188}, {77, 0, 290, 387}};
        for (String[] w : whole) {
            try (Photo photo = DECODER.read(image(w[1]), DecodeOptions.EXACT, null, null)) {
                add(photos, w[0], photo.bgr());
            }
        }
        try (Photo astronaut = DECODER.read(image("astronaut.png"), DecodeOptions.EXACT, null, null)) {
            for (int[] c : crops) {
                try (Rect r = new Rect(c[0], c[1], c[2], c[3]); Mat crop = new Mat(astronaut.bgr(), r).clone()) {
                    add(photos, "face crop " + c[2] + "x" + c[3], crop);
                }
            }
        }
        return photos;
    }

    /** {@code upright} as a 12 MP phone photo with its thumbnail: stored as is, and stored turned with orientation 6. */
    private static void add(Map<String, byte[]> photos, String name, Mat upright) {
        boolean portrait = upright.rows() > upright.cols();
        int w = portrait ? 3024 : 4032, h = portrait ? 4032 : 3024;
        try (Mat big = scaled(upright, w, h, INTER_CUBIC); Mat thumb = scaled(big, w / 25, h / 25, INTER_AREA);
             Mat turned = new Mat(); Mat turnedThumb = new Mat()) {
            photos.put(name + (portrait ? " portrait" : " landscape"),
                    ExifBlocks.withThumbnail(jpeg(big, 90), 1, w, h, jpeg(thumb, 75)));
            // Orientation 6 asks a viewer to turn the stored picture a quarter clockwise: store it a quarter back.
            rotate(big, turned, ROTATE_90_COUNTERCLOCKWISE);
            rotate(thumb, turnedThumb, ROTATE_90_COUNTERCLOCKWISE);
            photos.put(name + (portrait ? " portrait" : " landscape") + ", stored turned, little-endian EXIF",
                    ExifBlocks.withThumbnail(jpeg(turned, 90), 6, h, w, jpeg(turnedThumb, 75), ByteOrder.LITTLE_ENDIAN));
        }
    }

    private static Mat scaled(Mat image, int width, int height, int interpolation) {
        Mat out = new Mat();
        try (Size size = new Size(width, height)) {
            resize(image, out, size, 0, 0, interpolation);
        }
        return out;
    }

    private static byte[] jpeg(Mat image, int quality) {
        try (BytePointer out = new BytePointer(); IntPointer params = new IntPointer(IMWRITE_JPEG_QUALITY, quality)) {
            assertTrue(imencode(".jpg", image, out, params));
            byte[] bytes = new byte[(int) out.limit()];
            out.get(bytes);
            return bytes;
        }
    }

    private static Path image(String name) throws Exception {
        return Path.of(ThumbnailRejectionTest.class.getResource("/fixtures/images/" + name).toURI());
    }
}
