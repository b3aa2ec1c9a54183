package dev.snapscore.engine.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.ImageException;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Optional;

import static org.bytedeco.opencv.global.opencv_core.absdiff;
import static org.bytedeco.opencv.global.opencv_core.mean;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ImageDecoder#thumbnail} on JPEGs whose EXIF blocks piexif wrote ({@code make_exif_thumbnails.py}): upright in
 * every orientation, refused wherever the file does not vouch for it, and what OpenCV-Python's cascade saw in it.
 */
class ExifThumbnailTest {
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();

    private static byte[] fixture(String name) throws Exception {
        return Files.readAllBytes(FastDecodeTest.resource("/exif/" + name));
    }

    /** The thumbnail of every orientation is the upright photo in small: the photo decoded (which OpenCV turns) and shrunk. */
    @Test
    void theThumbnailIsUprightInEveryOrientation() throws Exception {
        double worstRight = 0;
        for (int tag = 1; tag <= 8; tag++) {
            byte[] jpeg = fixture("thumbnail-face-o" + tag + ".jpg");
            try (Photo thumbnail = DECODER.thumbnail(jpeg, "o" + tag).orElseThrow();
                 Photo photo = DECODER.decode(jpeg, "o" + tag, DecodeOptions.EXACT, null, null);
                 Mat small = new Mat(); Size size = new Size(thumbnail.bgr().cols(), thumbnail.bgr().rows())) {
                assertEquals(640, thumbnail.width(), "the photo's upright width, orientation " + tag);
                assertEquals(480, thumbnail.height());
                assertEquals(160, thumbnail.bgr().cols());
                assertEquals(120, thumbnail.bgr().rows());
                resize(photo.bgr(), small, size, 0, 0, INTER_AREA);
                worstRight = Math.max(worstRight, meanAbsDiff(thumbnail.bgr(), small));
            }
        }
        System.out.printf("thumbnail vs the photo shrunk: mean abs diff at most %.2f of 0-255%n", worstRight);
        assertTrue(worstRight < 4, "the upright thumbnail is the photo in small (JPEG q75 against q90): " + worstRight);
        // The same thumbnail left as stored is far from the upright photo: the check above can fail.
        try (Photo photo = DECODER.decode(fixture("thumbnail-face-o1.jpg"), "o1", DecodeOptions.EXACT, null, null);
             Mat small = new Mat(); Size size = new Size(160, 120); Mat turned = new Mat()) {
            resize(photo.bgr(), small, size, 0, 0, INTER_AREA);
            org.bytedeco.opencv.global.opencv_core.flip(small, turned, -1);
            assertTrue(meanAbsDiff(turned, small) > 20, "a selfie turned half way differs: " + meanAbsDiff(turned, small));
        }
    }

    @Test
    void onlyAThumbnailTheFileVouchesForIsUsed() throws Exception {
        assertTrue(DECODER.thumbnail(fixture("thumbnail-noface.jpg"), "noface").isPresent());
        assertTrue(DECODER.thumbnail(fixture("thumbnail-stale.jpg"), "stale").isPresent(),
                "an edited photo that kept its EXIF block whole cannot be told apart");
        assertEquals(Optional.empty(), DECODER.thumbnail(fixture("thumbnail-stale-dims.jpg"), "dims"), "EXIF pixel size 800x600");
        assertEquals(Optional.empty(), DECODER.thumbnail(fixture("thumbnail-square.jpg"), "square"), "a square thumbnail of a 4:3 photo");
        assertEquals(Optional.empty(), DECODER.thumbnail(fixture("thumbnail-truncated.jpg"), "truncated"), "no end-of-image marker");
        assertEquals(Optional.empty(), DECODER.thumbnail(fixture("orientation-6.jpg"), "no IFD1"), "EXIF without a thumbnail");
        assertEquals(Optional.empty(), DECODER.thumbnail(Files.readAllBytes(FastDecodeTest.resource("/fixtures/images/coffee.png")), "png"));
        // A photo with no EXIF block, and one whose block is cut short in the thumbnail's middle: no thumbnail, no error.
        byte[] plain = FastDecodeTest.phonePhoto("coffee.png", 640, 480);
        assertEquals(Optional.empty(), DECODER.thumbnail(plain, "plain"));
        byte[] thumbnailJpeg;
        try (Mat gray = new Mat(120, 160, org.bytedeco.opencv.global.opencv_core.CV_8UC3, new Scalar(90, 90, 90, 0))) {
            thumbnailJpeg = FastDecodeTest.encode(gray, 160, 120);
        }
        byte[] lying = ExifBlocks.withThumbnail(plain, 1, 640, 480, thumbnailJpeg);
        int tiff = 12, ifd1 = 68; // the TIFF header after SOI, APP1's marker and length, "Exif\0\0"; IFD1 as ExifBlocks lays it out
        lying[tiff + ifd1 + 2 + 12 + 8] = 0x7f; // the high byte of IFD1's thumbnail length: far past the segment's end
        assertEquals(Optional.empty(), DECODER.thumbnail(lying, "lying length"));
        byte[] longSegment = ExifBlocks.withThumbnail(plain, 1, 640, 480, thumbnailJpeg);
        longSegment[4] = (byte) 0xff; // APP1's length: 65,309 bytes, past the file's end
        assertThrows(ImageException.class, () -> DECODER.thumbnail(longSegment, "segment length"),
                "markers that run past the end: no image, for the header as for the decoder");
        assertTrue(DECODER.thumbnail(ExifBlocks.withThumbnail(plain, 1, 640, 480, thumbnailJpeg), "written here").isPresent(),
                "the block written by the test helper is read: the lie above is what refuses it");
        // Thumbnails are small and inside their photo; anything else is refused before OpenCV allocates for it.
        try (Mat gray = new Mat(600, 800, org.bytedeco.opencv.global.opencv_core.CV_8UC3, new Scalar(90, 90, 90, 0))) {
            assertEquals(Optional.empty(), DECODER.thumbnail(ExifBlocks.withThumbnail(plain, 1, 640, 480,
                    FastDecodeTest.encode(gray, 800, 600)), "larger than its photo"));
            byte[] big = FastDecodeTest.phonePhoto("coffee.png", 4032, 3024);
            assertTrue(DECODER.thumbnail(ExifBlocks.withThumbnail(big, 1, 4032, 3024, FastDecodeTest.encode(gray, 1024, 768)), "1024").isPresent());
            assertEquals(Optional.empty(), DECODER.thumbnail(ExifBlocks.withThumbnail(big, 1, 4032, 3024,
                    FastDecodeTest.encode(gray, 1280, 960)), "over 1024 px"));
        }
        assertEquals(Optional.empty(), DECODER.thumbnail(ExifBlocks.withThumbnail(plain, 1, 640, 480,
                Files.readAllBytes(FastDecodeTest.resource("/exif/thumbnails.json"))), "not a JPEG"));
        // Bytes that are no image are the decoder's usual error, not "no thumbnail".
        assertThrows(ImageException.class, () -> DECODER.thumbnail("not a photo".getBytes(), "text"));
    }

    /** The cascade on the upright thumbnails finds what OpenCV-Python's found in the same thumbnails (thumbnails.json). */
    @Test
    void theCascadeOnAThumbnailAgreesWithOpenCvPython() throws Exception {
        JsonNode reference = new ObjectMapper().readTree(fixture("thumbnails.json")).get("largestFaceFraction");
        try (FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.DEFAULT)) {
            for (String[] c : new String[][] {{"thumbnail-face-o6.jpg", "selfieThumbnail"}, {"thumbnail-noface.jpg", "coffeeThumbnail"}}) {
                try (Photo thumbnail = DECODER.thumbnail(fixture(c[0]), c[0]).orElseThrow()) {
                    double got = detector.detect(thumbnail).largestFraction(), want = reference.get(c[1]).asDouble();
                    System.out.printf("%s: largest face %.4f of the thumbnail, OpenCV-Python %.4f%n", c[0], got, want);
                    assertEquals(want, got, 0.1 * want + 0.002, c[0]);
                }
            }
        }
    }

    private static double meanAbsDiff(Mat a, Mat b) {
        try (Mat d = new Mat(); Scalar m = mean(diff(a, b, d))) {
            return (m.get(0) + m.get(1) + m.get(2)) / 3;
        }
    }

    private static Mat diff(Mat a, Mat b, Mat out) {
        absdiff(a, b, out);
        return out;
    }
}
