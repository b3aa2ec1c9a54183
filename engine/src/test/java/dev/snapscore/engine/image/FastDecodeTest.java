package dev.snapscore.engine.image;

import dev.snapscore.engine.Fixtures;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JPEG DCT-domain downscaling ({@link DecodeOptions#exactDecode()} false) against the exact decode, and EXIF orientation in both. */
class FastDecodeTest {
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    private static final InputShape VGG = new InputShape(3, 224, 224);
    private static final DecodeOptions FAST = DecodeOptions.DEFAULT;
    private static final DecodeOptions EXACT = DecodeOptions.EXACT;

    /** The upright picture of src/test/python/make_exif_orientations.py: 4 × 3 blocks of 16 × 16, RGB. */
    private static final int[][] BLOCKS_RGB = {
            {230, 30, 30}, {30, 200, 40}, {40, 60, 220}, {240, 220, 40},
            {200, 40, 200}, {40, 210, 210}, {250, 250, 250}, {20, 20, 20},
            {255, 140, 0}, {120, 60, 20}, {140, 140, 140}, {0, 100, 60}};

    @Test
    void reductionIsTheLargestThatStillCoversTheModelInputAndTheCleaningCopy() {
        // 12 MP phone photo: 1/8 gives 504 x 378, enough for 224 x 224; a 1008-pixel cleaning copy needs 1/4 (1008 x 756).
        assertEquals(8, ImageDecoder.reduction(4032, 3024, VGG, 0));
        assertEquals(4, ImageDecoder.reduction(4032, 3024, VGG, 1008));
        assertEquals(2, ImageDecoder.reduction(4032, 3024, VGG, 1009));
        assertEquals(1, ImageDecoder.reduction(4032, 3024, VGG, 4032));
        assertEquals(4, ImageDecoder.reduction(3024, 4032, VGG, 1008), "portrait");
        // libjpeg rounds up: 1791 / 8 = 223.9 -> 224 covers the input, 1784 / 8 = 223 does not.
        assertEquals(8, ImageDecoder.reduction(4000, 1791, VGG, 0));
        assertEquals(4, ImageDecoder.reduction(4000, 1784, VGG, 0));
        assertEquals(2, ImageDecoder.reduction(640, 480, VGG, 0));
        assertEquals(1, ImageDecoder.reduction(512, 400, VGG, 0));
        assertEquals(1, ImageDecoder.reduction(100, 100, VGG, 0), "smaller than the input: as it is");
        // A non-square input must be covered either way round, since EXIF orientation may swap the sides.
        assertEquals(4, ImageDecoder.reduction(4032, 3024, new InputShape(3, 224, 500), 0));
    }

    @Test
    void cleanResolutionIsValidated() {
        assertThrows(IllegalArgumentException.class, () -> new DecodeOptions(false, 47));
        assertThrows(IllegalArgumentException.class, () -> new DecodeOptions(false, -1));
        assertThrows(IllegalArgumentException.class, () -> DecodeOptions.DEFAULT.cleanShrink(4032, 1.0));
        // 4032 / 1.3^8 = 494 is the first at most 640; 600 needs no shrinking; 1.1^20 = 6.73 brings 4032 to 599.
        assertEquals(Math.pow(1.3, 8), DecodeOptions.DEFAULT.cleanShrink(4032, 1.3), 1e-9);
        assertEquals(1, DecodeOptions.DEFAULT.cleanShrink(600, 1.3));
        assertEquals(Math.pow(1.1, 20), DecodeOptions.DEFAULT.cleanShrink(4032, 1.1), 1e-9);
        assertEquals(1, DecodeOptions.EXACT.cleanShrink(4032, 1.3));
    }

    /**
     * Phones store a portrait photo sideways with an EXIF orientation tag. Each of the eight tags must give
     * the same upright picture, decoded exactly and at 1/2 scale, from bytes and from files.
     */
    @Test
    void everyExifOrientationDecodesUprightInEveryMode() throws Exception {
        InputShape tiny = new InputShape(3, 16, 16); // lets the 64 x 48 picture decode at 1/2 (32 x 24)
        for (int tag = 1; tag <= 8; tag++) {
            Path file = resource("/exif/orientation-" + tag + ".jpg");
            byte[] bytes = Files.readAllBytes(file);
            try (Photo exact = DECODER.decode(bytes, file.toString(), EXACT, tiny, null);
                 Photo fast = DECODER.decode(bytes, file.toString(), FAST, tiny, null);
                 Photo fastFile = DECODER.read(file, FAST, tiny, null)) {
                assertUpright(exact, 64, 48, "tag " + tag + " exact");
                assertUpright(fast, 32, 24, "tag " + tag + " fast");
                assertUpright(fastFile, 32, 24, "tag " + tag + " fast, from the file");
            }
        }
    }

    /** Every block's inner pixels (away from the JPEG and scaling edges) hold its colour, within 4 levels. */
    private static void assertUpright(Photo photo, int width, int height, String what) {
        assertEquals(64, photo.width(), what + ": the photo's upright width");
        assertEquals(48, photo.height(), what + ": the photo's upright height");
        Mat bgr = photo.bgr();
        assertEquals(width, bgr.cols(), what + ": decoded width");
        assertEquals(height, bgr.rows(), what + ": decoded height");
        int block = width / 4, worst = 0;
        for (int b = 0; b < 12; b++) {
            for (int y = (b / 4) * block + 2; y < (b / 4 + 1) * block - 2; y++) {
                for (int x = (b % 4) * block + 2; x < (b % 4 + 1) * block - 2; x++) {
                    int[] px = pixel(bgr, y, x);
                    for (int c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(px[c] - BLOCKS_RGB[b][2 - c]));
                }
            }
        }
        assertTrue(worst <= 4, what + ": a block's colour is off by " + worst);
    }

    /**
     * The fixture photos scaled up to a 12 MP phone photo (4032 x 3024, JPEG quality 90), decoded at 1/8 (and at 1/4,
     * as for cleaning at scale factor 1.1) and exactly, then preprocessed for VGG16 (Caffe means). At 1/8 libjpeg keeps one value
     * per 8 x 8 block, and with 4:2:0 chroma one colour per 16 x 16 pixels, which moves sharp colour edges by up
     * to about 25 levels; on average the inputs differ by under 1 level (OpenCV-Python 4.6 measures the same:
     * mean 0.50 to 0.81, max 8 to 23 at 1/8; mean 0.16 to 0.24, max 2 to 5 at 1/4).
     */
    @Test
    void fastDecodeMovesTheModelInputLittle() throws Exception {
        Preprocessor preprocessor = new Preprocessor(VGG, Preprocess.CAFFE);
        try (Model model = Model.load(Fixtures.model("vgg-mini-nchw")); Session session = model.newSession(1);
             Arena arena = Arena.ofConfined()) {
            MemorySegment exactInput = arena.allocate(VGG.elements() * 4, 64), fastInput = arena.allocate(VGG.elements() * 4, 64);
            for (String name : new String[] {"astronaut.png", "chelsea.png", "coffee.png"}) {
                byte[] jpeg = phonePhoto(name, 4032, 3024);
                for (boolean cleaning : new boolean[] {false, true}) {
                    var settings = cleaning ? new FaceDetector.Settings(1.1, 3, 0) : null; // its 599-pixel copy needs 1/4
                    try (Photo exact = DECODER.decode(jpeg, name, EXACT, VGG, settings);
                         Photo fast = DECODER.decode(jpeg, name, FAST, VGG, settings)) {
                        assertEquals(4032, exact.bgr().cols());
                        assertEquals(cleaning ? 1008 : 504, fast.bgr().cols(), "1/4 when cleaning, else 1/8");
                        assertEquals(cleaning ? 756 : 378, fast.bgr().rows());
                        assertEquals(List.of(4032, 3024), List.of(fast.width(), fast.height()));
                        preprocessor.write(exact.bgr(), exactInput, 0);
                        preprocessor.write(fast.bgr(), fastInput, 0);
                    }
                    float[] a = exactInput.toArray(JAVA_FLOAT), b = fastInput.toArray(JAVA_FLOAT);
                    double max = 0, sum = 0;
                    for (int i = 0; i < a.length; i++) {
                        double d = Math.abs(a[i] - b[i]);
                        max = Math.max(max, d);
                        sum += d;
                    }
                    float[] exactLogits = logits(session, exactInput), fastLogits = logits(session, fastInput);
                    double logitSpread = 0;
                    for (float l : exactLogits) logitSpread = Math.max(logitSpread, Math.abs(l));
                    double logitDiff = Fixtures.maxAbsDiff(exactLogits, fastLogits);
                    System.out.printf("%s 4032x3024 q90, 1/%d decode: input mean abs diff %.3f, max %.1f; logits max abs diff %.4f (of max |logit| %.2f)%n",
                            name, cleaning ? 4 : 8, sum / a.length, max, logitDiff, logitSpread);
                    assertTrue(sum / a.length <= (cleaning ? 0.35 : 1.0), name + ": mean abs diff " + sum / a.length);
                    assertTrue(max <= (cleaning ? 8 : 32), name + ": max abs diff " + max);
                }
            }
        }
    }

    private static float[] logits(Session session, MemorySegment input) {
        Result r = session.run(input, 1);
        return r.logits(0);
    }

    /** {@code name} from the fixture images scaled up (bicubic) to width x height and encoded as JPEG quality 90. */
    static byte[] phonePhoto(String name, int width, int height) throws URISyntaxException {
        try (Mat original = DECODER.read(resource("/fixtures/images/" + name), DecodeOptions.EXACT, null, null).bgr()) {
            return encode(original, width, height);
        }
    }

    /** {@code image} scaled (bicubic) to width x height and encoded as JPEG quality 90. */
    static byte[] encode(Mat image, int width, int height) {
        try (Mat big = new Mat(); Size size = new Size(width, height)) {
            resize(image, big, size, 0, 0, INTER_CUBIC);
            try (BytePointer out = new BytePointer(); IntPointer params = new IntPointer(IMWRITE_JPEG_QUALITY, 90)) {
                assertTrue(imencode(".jpg", big, out, params));
                byte[] bytes = new byte[(int) out.limit()];
                out.get(bytes);
                return bytes;
            }
        }
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(FastDecodeTest.class.getResource(name).toURI());
    }

    private static int[] pixel(Mat m, int row, int col) {
        MemorySegment px = MemorySegment.ofAddress(m.ptr(row, col).address()).reinterpret(3);
        return new int[] {Byte.toUnsignedInt(px.get(JAVA_BYTE, 0)), Byte.toUnsignedInt(px.get(JAVA_BYTE, 1)),
                Byte.toUnsignedInt(px.get(JAVA_BYTE, 2))};
    }
}
