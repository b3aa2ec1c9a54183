package dev.snapscore.engine.image;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.spec.InputShape;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_2;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_4;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_8;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;

/**
 * Decodes photos with OpenCV into 3-channel 8-bit BGR, as {@code cv2.imread(path)} does: grayscale
 * expanded, alpha dropped, CMYK JPEG converted, EXIF orientation applied (in every decode mode). Sizes are
 * checked from the file and its header before any pixel is decoded. Thread-safe.
 * <p>
 * Unless {@link DecodeOptions#exactDecode()}, a JPEG is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg
 * itself ({@code IMREAD_REDUCED_COLOR_*}): the largest reduction whose result still covers the model input on
 * both sides (and, when cleaning, the cascade's copy), since everything is scaled down with INTER_AREA after.
 * A 12 MP photo is decoded and preprocessed 5 times faster so (README, "Photos").
 *
 * @param maxBytes  largest encoded file accepted
 * @param maxPixels largest width × height accepted
 */
public record ImageDecoder(long maxBytes, long maxPixels) {
    public static final long DEFAULT_MAX_BYTES = 256L << 20;
    public static final long DEFAULT_MAX_PIXELS = 50_000_000L;

    static {
        // JavaCPP's pointer classes need OpenCV's JNI libraries loaded before the first allocation.
        Loader.load(opencv_imgcodecs.class);
    }

    public ImageDecoder {
        if (maxBytes < 1 || maxPixels < 1) throw new IllegalArgumentException("limits must be positive");
    }

    public static ImageDecoder withDefaults() {
        return new ImageDecoder(DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS);
    }

    /**
     * Reads and decodes {@code file} for a model taking {@code input} (null: none, only faces are checked), and,
     * unless {@code cleaning} is null, for the face cascade with those settings at {@code options.cleanResolution()}.
     * The caller closes the photo.
     */
    public Photo read(Path file, DecodeOptions options, InputShape input, FaceDetector.Settings cleaning) {
        return decode(readBytes(file), file.toString(), options, input, cleaning);
    }

    /** The file's bytes, refusing missing, empty and oversized files. */
    public byte[] readBytes(Path file) {
        try {
            if (Files.isDirectory(file)) throw new ImageException(file + ": is a directory, not an image");
            long size = Files.size(file);
            if (size == 0) throw new ImageException(file + ": empty file");
            if (size > maxBytes) {
                throw new ImageException(file + ": " + size + " bytes exceeds the limit of " + maxBytes + " bytes");
            }
            try (InputStream in = Files.newInputStream(file)) {
                return in.readNBytes((int) size);
            }
        } catch (NoSuchFileException e) {
            throw new ImageException(file + ": no such file");
        } catch (IOException e) {
            throw new ImageException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Decodes encoded image bytes for a model taking {@code input} (null: none, only faces are checked), and,
     * unless {@code cleaning} is null, for the face cascade with those settings at {@code options.cleanResolution()}. {@code source} names them in error
     * messages. The caller closes the returned photo.
     *
     * @throws ImageException if the bytes are empty, not an image, too large, or corrupt
     */
    public Photo decode(byte[] encoded, String source, DecodeOptions options, InputShape input, FaceDetector.Settings cleaning) {
        if (encoded.length == 0) throw new ImageException(source + ": empty file");
        if (encoded.length > maxBytes) {
            throw new ImageException(source + ": " + encoded.length + " bytes exceeds the limit of " + maxBytes + " bytes");
        }
        ImageHeader header = ImageHeader.read(encoded).orElseThrow(() -> new ImageException(source
                + ": not a recognised image (JPEG, PNG, BMP, WebP, TIFF); it starts with " + firstBytes(encoded)));
        if (header.width() < 1 || header.height() < 1) {
            throw new ImageException(source + ": " + header.format() + " header gives size " + header.width() + "x" + header.height());
        }
        if (header.pixels() > maxPixels) {
            throw new ImageException(String.format("%s: %dx%d = %.1f MP exceeds the limit of %.1f MP", source,
                    header.width(), header.height(), header.pixels() / 1e6, maxPixels / 1e6));
        }
        int longSide = Math.max(header.width(), header.height());
        int cleanSide = cleaning == null ? 0 : (int) Math.round(longSide / options.cleanShrink(longSide, cleaning.scaleFactor()));
        int reduction = options.exactDecode() || !header.format().equals("JPEG") ? 1
                : reduction(header.width(), header.height(), input, cleanSide);
        Mat image;
        try (BytePointer bytes = new BytePointer(encoded);
             Mat buffer = new Mat(1, encoded.length, CV_8UC1, bytes)) {
            image = imdecode(buffer, switch (reduction) {
                case 8 -> IMREAD_REDUCED_COLOR_8;
                case 4 -> IMREAD_REDUCED_COLOR_4;
                case 2 -> IMREAD_REDUCED_COLOR_2;
                default -> IMREAD_COLOR;
            });
        }
        if (image == null || image.empty()) {
            if (image != null) image.close();
            throw new ImageException(source + ": " + header.format() + " data is corrupt or truncated (OpenCV could not decode it)");
        }
        if (reduction == 1) return new Photo(image, image.cols(), image.rows());
        // libjpeg's reduced size is the header's divided and rounded up; EXIF orientations 5 to 8 turn it a quarter.
        boolean turned = image.cols() != Math.ceilDiv(header.width(), reduction);
        return new Photo(image, turned ? header.height() : header.width(), turned ? header.width() : header.height());
    }

    /**
     * The largest JPEG reduction (8, 4, 2, else 1) of a {@code width} × {@code height} image whose result (libjpeg
     * rounds up) has both sides at least the input's larger side (EXIF orientation may yet swap width and
     * height) and its longer side at least {@code cleanSide} (0 when not cleaning). A null input asks only for
     * the cleaning copy.
     */
    static int reduction(int width, int height, InputShape input, int cleanSide) {
        int minSide = input == null ? 0 : Math.max(input.width(), input.height());
        for (int d = 8; d > 1; d /= 2) {
            int w = Math.ceilDiv(width, d), h = Math.ceilDiv(height, d);
            if (Math.min(w, h) >= minSide && Math.max(w, h) >= cleanSide) return d;
        }
        return 1;
    }

    private static String firstBytes(byte[] b) {
        int n = Math.min(8, b.length);
        StringBuilder printable = new StringBuilder();
        for (int i = 0; i < n; i++) printable.append(b[i] >= 32 && b[i] < 127 ? (char) b[i] : '.');
        return HexFormat.ofDelimiter(" ").formatHex(b, 0, n) + " (\"" + printable + "\")";
    }
}
