package dev.snapscore.engine.image;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Weights;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageFrontEndTest {
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    private static final InputShape VGG = new InputShape(3, 224, 224);

    private static Path fixture(String relative) throws URISyntaxException {
        return Path.of(ImageFrontEndTest.class.getResource("/fixtures/" + relative).toURI());
    }

    /** OpenCV-Python made the fixture's image_input from astronaut.png; another OpenCV version may round differently. */
    @Test
    void astronautMatchesOpenCvPythonPreprocessing() throws Exception {
        try (Weights io = Safetensors.read(fixture("models/vgg-mini-nchw/io.safetensors"));
             Arena arena = Arena.ofConfined();
             Mat bgr = DECODER.read(fixture("images/astronaut.png"), DecodeOptions.EXACT, null, null).bgr()) {
            float[] want = io.tensors().get("image_input").data().toArray(JAVA_FLOAT_UNALIGNED);
            MemorySegment batch = arena.allocate(want.length * 4L);
            new Preprocessor(VGG, Preprocess.CAFFE).write(bgr, batch, 0);
            float[] got = batch.toArray(JAVA_FLOAT);
            double max = 0, sum = 0;
            for (int i = 0; i < want.length; i++) {
                double d = Math.abs(got[i] - want[i]);
                max = Math.max(max, d);
                sum += d;
            }
            System.out.printf("astronaut preprocessing vs OpenCV-Python: max abs diff %.4f, mean %.6f%n", max, sum / want.length);
            assertTrue(max <= 1.0, "max abs diff " + max);
        }
    }

    /**
     * A 4x4 BGR image whose 2x2 block means (what INTER_AREA gives at 2x2, exactly: every block sum is a
     * multiple of 4) are B 4, 12, 100, 200; G 10 everywhere; R 10, 18, 42, 50.
     */
    private static Mat blockImage() {
        int[][] blue = {{0, 4, 8, 12}, {4, 8, 12, 16}, {100, 100, 200, 200}, {100, 100, 200, 200}};
        Mat image = new Mat(4, 4, CV_8UC3);
        MemorySegment px = MemorySegment.ofAddress(image.data().address()).reinterpret(48);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 4; c++) {
                px.set(JAVA_BYTE, (r * 4 + c) * 3, (byte) blue[r][c]);     // B
                px.set(JAVA_BYTE, (r * 4 + c) * 3 + 1, (byte) 10);         // G
                px.set(JAVA_BYTE, (r * 4 + c) * 3 + 2, (byte) (4 * (r * 4 + c))); // R = 0, 4, .. 60
            }
        }
        return image;
    }

    /** A 4x4 image → 2x2 with INTER_AREA is the mean of each 2x2 block (exact here: sums divisible by 4). */
    @Test
    void areaResizeMeanSubtractionAndPlanesAreExact() {
        try (Arena arena = Arena.ofConfined(); Mat image = blockImage()) {
            MemorySegment batch = arena.allocate(2 * 12 * 4L); // two 3x2x2 images; write the second
            Preprocess pre = new Preprocess("BGR", new float[] {1, 2, 3}, 0.5f);
            new Preprocessor(new InputShape(3, 2, 2), pre).write(image, batch, 1);
            float[] second = Arrays.copyOfRange(batch.toArray(JAVA_FLOAT), 12, 24);
            // Resizing stays in 8 bits, so every block sum here is a multiple of 4 (no rounding).
            // B block means: (0+4+4+8)/4 = 4, (8+12+12+16)/4 = 12, 100, 200; minus 1, times 0.5.
            // G: 10 - 2 = 8 -> 4. R block means: 4*(0+1+4+5)/4 = 10, 18, 42, 50; minus 3, times 0.5.
            float[] want = {1.5f, 5.5f, 49.5f, 99.5f, 4, 4, 4, 4, 3.5f, 7.5f, 19.5f, 23.5f};
            assertArrayEquals(want, second, 1e-6f);
            assertArrayEquals(new float[12], Arrays.copyOfRange(batch.toArray(JAVA_FLOAT), 0, 12), "image 0 untouched");

            MemorySegment rgbBatch = arena.allocate(12 * 4L);
            new Preprocessor(new InputShape(3, 2, 2), new Preprocess("RGB", new float[] {0, 0, 0}, 1f)).write(image, rgbBatch, 0);
            assertArrayEquals(new float[] {10, 18, 42, 50}, Arrays.copyOfRange(rgbBatch.toArray(JAVA_FLOAT), 0, 4), 1e-6f);
        }
    }

    /**
     * Per-channel scales, worked by hand on the block image's means, in both channel orders and both layouts
     * (NHWC: the three values of each pixel together), written as the second image of a batch.
     */
    @Test
    void perChannelScalesMatchAHandComputationInBothOrdersAndLayouts() {
        float[] mean = {1, 2, 3}, scale = {0.5f, 0.25f, 2};
        // BGR: ((B - 1) * 0.5, (G - 2) * 0.25, (R - 3) * 2); RGB: ((R - 1) * 0.5, (G - 2) * 0.25, (B - 3) * 2).
        float[][] bgr = {{1.5f, 5.5f, 49.5f, 99.5f}, {2, 2, 2, 2}, {14, 30, 78, 94}};
        float[][] rgb = {{4.5f, 8.5f, 20.5f, 24.5f}, {2, 2, 2, 2}, {2, 18, 194, 394}};
        try (Arena arena = Arena.ofConfined(); Mat image = blockImage()) {
            for (String order : new String[] {"BGR", "RGB"}) {
                float[][] planes = order.equals("BGR") ? bgr : rgb;
                Preprocess pre = new Preprocess(order, mean, scale);
                for (InputLayout layout : InputLayout.values()) {
                    MemorySegment batch = arena.allocate(2 * 12 * 4L);
                    new Preprocessor(new InputShape(3, 2, 2, layout), pre).write(image, batch, 1);
                    float[] second = Arrays.copyOfRange(batch.toArray(JAVA_FLOAT), 12, 24), want = new float[12];
                    for (int c = 0; c < 3; c++) {
                        for (int p = 0; p < 4; p++) want[layout == InputLayout.NHWC ? p * 3 + c : c * 4 + p] = planes[c][p];
                    }
                    assertArrayEquals(want, second, 1e-5f, order + " " + layout);
                    assertArrayEquals(new float[12], Arrays.copyOfRange(batch.toArray(JAVA_FLOAT), 0, 12), "image 0 untouched");
                }
            }
        }
    }

    /**
     * A real photo (non-square output, so height and width cannot be swapped unnoticed) preprocessed into NHWC
     * is the NCHW output transposed, in both channel orders with per-channel scales (torchvision's).
     */
    @Test
    void nhwcIsTheNchwOutputTransposed() {
        int h = 37, w = 53;
        Preprocess[] variants = {new Preprocess("RGB", new float[] {123.675f, 116.28f, 103.53f}, new float[] {1 / 58.395f, 1 / 57.12f, 1 / 57.375f}),
                new Preprocess("BGR", new float[] {103.939f, 116.779f, 123.68f}, new float[] {1, 0.5f, 0.25f})};
        try (Arena arena = Arena.ofConfined(); Mat chelsea = DECODER.read(fixtureUnchecked("images/chelsea.png"), DecodeOptions.EXACT, null, null).bgr()) {
            for (Preprocess pre : variants) {
                MemorySegment planar = arena.allocate(2 * 3L * h * w * 4), interleaved = arena.allocate(2 * 3L * h * w * 4);
                new Preprocessor(new InputShape(3, h, w, InputLayout.NCHW), pre).write(chelsea, planar, 1);
                new Preprocessor(new InputShape(3, h, w, InputLayout.NHWC), pre).write(chelsea, interleaved, 1);
                long base = 3L * h * w;
                double max = 0, spread = 0;
                for (int c = 0; c < 3; c++) {
                    for (int p = 0; p < h * w; p++) {
                        float want = planar.getAtIndex(JAVA_FLOAT, base + (long) c * h * w + p);
                        max = Math.max(max, Math.abs(interleaved.getAtIndex(JAVA_FLOAT, base + p * 3L + c) - want));
                        spread = Math.max(spread, Math.abs(want));
                    }
                }
                System.out.printf("%s: NHWC vs NCHW transposed: max abs diff %.3g (values up to %.3g)%n", pre, max, spread);
                assertTrue(spread > 1, "a photo should not preprocess to nothing: " + spread);
                assertTrue(max <= 1e-5, pre + ": max abs diff " + max);
            }
        }
    }

    @Test
    void grayscaleAndAlphaImagesBecomeThreeChannelBgr() throws IOException {
        BufferedImage gray = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        gray.getRaster().setSample(1, 0, 0, 77);
        try (Mat m = DECODER.decode(png(gray), "gray.png", DecodeOptions.EXACT, null, null).bgr()) {
            assertEquals(CV_8UC3, m.type());
            assertArrayEquals(new int[] {77, 77, 77}, pixel(m, 0, 1));
        }
        BufferedImage argb = new BufferedImage(2, 2, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(1, 1, 0x80_10_20_30); // alpha 0x80, R 0x10, G 0x20, B 0x30
        try (Mat m = DECODER.decode(png(argb), "alpha.png", DecodeOptions.EXACT, null, null).bgr()) {
            assertEquals(CV_8UC3, m.type());
            assertArrayEquals(new int[] {0x30, 0x20, 0x10}, pixel(m, 1, 1), "alpha dropped, colour kept, BGR order");
        }
    }

    @Test
    void webpTiffBmpAndLosslessFormatsRoundTrip() {
        try (Mat original = DECODER.read(fixtureUnchecked("images/chelsea.png"), DecodeOptions.EXACT, null, null).bgr()) {
            for (String ext : new String[] {".bmp", ".tiff", ".png", ".webp"}) {
                byte[] encoded = encode(original, ext, ext.equals(".webp") ? new int[] {64, 101} : new int[0]); // IMWRITE_WEBP_QUALITY > 100: lossless
                try (Mat decoded = DECODER.decode(encoded, "chelsea" + ext, DecodeOptions.EXACT, null, null).bgr()) {
                    assertEquals(original.cols(), decoded.cols(), ext);
                    assertEquals(original.rows(), decoded.rows(), ext);
                    assertArrayEquals(pixel(original, 10, 20), pixel(decoded, 10, 20), ext);
                    assertArrayEquals(pixel(original, original.rows() - 1, original.cols() - 1),
                            pixel(decoded, decoded.rows() - 1, decoded.cols() - 1), ext);
                }
            }
            try (Mat jpeg = DECODER.decode(encode(original, ".jpg", new int[0]), "chelsea.jpg", DecodeOptions.EXACT, null, null).bgr()) {
                assertEquals(original.cols(), jpeg.cols());
            }
        }
    }

    @Test
    void badFilesGiveSpecificErrors(@TempDir Path dir) throws IOException {
        assertMessage(dir.resolve("missing.jpg"), "no such file");
        assertMessage(Files.write(dir.resolve("empty.jpg"), new byte[0]), "empty file");
        assertMessage(Files.writeString(dir.resolve("notes.jpg"), "hello, this is text"), "not a recognised image");
        byte[] jpeg;
        try (Mat chelsea = DECODER.read(fixtureUnchecked("images/chelsea.png"), DecodeOptions.EXACT, null, null).bgr()) {
            jpeg = encode(chelsea, ".jpg", new int[0]);
        }
        assertMessage(Files.write(dir.resolve("truncated.jpg"), Arrays.copyOf(jpeg, jpeg.length / 2)), "truncated");
        assertMessage(Files.write(dir.resolve("huge.png"), pngHeaderOnly(100_000, 100_000)), "exceeds the limit of 50.0 MP");
        assertMessage(Files.createDirectory(dir.resolve("folder.jpg")), "directory");
        ImageDecoder tiny = new ImageDecoder(100, 1000);
        var e = assertThrows(ImageException.class, () -> tiny.decode(jpeg, "big.jpg", DecodeOptions.EXACT, null, null).bgr());
        assertTrue(e.getMessage().contains("exceeds the limit of 100 bytes"), e.getMessage());
    }

    @Test
    void aOnePixelImageDecodesAndPreprocesses() throws IOException {
        BufferedImage one = new BufferedImage(1, 1, BufferedImage.TYPE_3BYTE_BGR);
        one.setRGB(0, 0, 0x00_64_32_10);
        try (Arena arena = Arena.ofConfined(); Mat m = DECODER.decode(png(one), "one.png", DecodeOptions.EXACT, null, null).bgr()) {
            MemorySegment batch = arena.allocate(VGG.elements() * 4);
            new Preprocessor(VGG, new Preprocess("BGR", new float[] {0, 0, 0}, 1f)).write(m, batch, 0);
            assertEquals(0x10, batch.getAtIndex(JAVA_FLOAT, 0), "blue plane, upscaled");
            assertEquals(0x64, batch.getAtIndex(JAVA_FLOAT, 2 * 224 * 224 + 500), "red plane");
        }
    }

    private static void assertMessage(Path file, String expected) {
        var e = assertThrows(ImageException.class, () -> {
            try (Mat ignored = DECODER.read(file, DecodeOptions.EXACT, null, null).bgr()) {
                // decoding must fail
            }
        });
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(file.getFileName().toString()),
                "message for " + file.getFileName() + ": " + e.getMessage());
    }

    private static Path fixtureUnchecked(String relative) {
        try {
            return fixture(relative);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] png(BufferedImage image) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    private static byte[] encode(Mat image, String ext, int[] params) {
        try (BytePointer out = new BytePointer();
             org.bytedeco.javacpp.IntPointer p = new org.bytedeco.javacpp.IntPointer(params)) {
            assertTrue(imencode(ext, image, out, p), "imencode " + ext);
            byte[] bytes = new byte[(int) out.limit()];
            out.get(bytes);
            return bytes;
        }
    }

    private static int[] pixel(Mat m, int row, int col) {
        MemorySegment px = MemorySegment.ofAddress(m.ptr(row, col).address()).reinterpret(3);
        return new int[] {Byte.toUnsignedInt(px.get(JAVA_BYTE, 0)), Byte.toUnsignedInt(px.get(JAVA_BYTE, 1)),
                Byte.toUnsignedInt(px.get(JAVA_BYTE, 2))};
    }

    /** A PNG signature and a valid IHDR chunk claiming the given size, and nothing else. */
    private static byte[] pngHeaderOnly(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer png = ByteBuffer.allocate(8 + 4 + 17 + 4);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return png.array();
    }
}
