package dev.snapscore.engine.image;

import dev.snapscore.engine.ImageException;
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
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;

/**
 * Decodes photos with OpenCV into 3-channel 8-bit BGR, as {@code cv2.imread(path)} does: grayscale
 * expanded, alpha dropped, CMYK JPEG converted, EXIF orientation applied. Sizes are checked from the file
 * and its header before any pixel is decoded. Thread-safe.
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

    /** Reads and decodes {@code file}; the caller closes the returned Mat. */
    public Mat read(Path file) {
        return decode(readBytes(file), file.toString());
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
     * Decodes encoded image bytes; {@code source} names them in error messages. The caller closes the Mat.
     *
     * @throws ImageException if the bytes are empty, not an image, too large, or corrupt
     */
    public Mat decode(byte[] encoded, String source) {
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
        Mat image;
        try (BytePointer bytes = new BytePointer(encoded);
             Mat buffer = new Mat(1, encoded.length, CV_8UC1, bytes)) {
            image = imdecode(buffer, IMREAD_COLOR);
        }
        if (image == null || image.empty()) {
            if (image != null) image.close();
            throw new ImageException(source + ": " + header.format() + " data is corrupt or truncated (OpenCV could not decode it)");
        }
        return image;
    }

    private static String firstBytes(byte[] b) {
        int n = Math.min(8, b.length);
        StringBuilder printable = new StringBuilder();
        for (int i = 0; i < n; i++) printable.append(b[i] >= 32 && b[i] < 127 ? (char) b[i] : '.');
        return HexFormat.ofDelimiter(" ").formatHex(b, 0, n) + " (\"" + printable + "\")";
    }
}
