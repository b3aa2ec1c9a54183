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
import java.util.Optional;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_180;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_CLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_COUNTERCLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.flip;
import static org.bytedeco.opencv.global.opencv_core.rotate;
import static org.bytedeco.opencv.global.opencv_core.transpose;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
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
    /** The longest side of an EXIF thumbnail worth decoding instead of the photo (cameras write 160 to 512 pixels). */
    static final int MAX_THUMBNAIL_SIDE = 1024;

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
        ImageHeader header = checkedHeader(encoded, source);
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
     * The EXIF thumbnail of a JPEG, upright, as a {@link Photo} of the photo's own upright size (its pixels are the
     * thumbnail's, as a reduced decode's are a fraction of the photo's), if the file has one it vouches for (see
     * {@link ExifThumbnail}) with the photo's shape (within 2%, for the rounding of a thumbnail's sides). Empty for
     * other formats, for a JPEG that does not end with its end-of-image marker (a truncated photo must reach the
     * decoder, which reports it, rather than be judged by its intact thumbnail), and for a thumbnail larger than the
     * photo or than {@value #MAX_THUMBNAIL_SIDE} pixels on a side. The caller closes the photo.
     *
     * @throws ImageException as {@link #decode} does, for bytes that are no image or too large
     */
    public Optional<Photo> thumbnail(byte[] encoded, String source) {
        ImageHeader header = checkedHeader(encoded, source);
        int n = encoded.length;
        if (!header.format().equals("JPEG") || (encoded[n - 2] & 0xff) != 0xff || (encoded[n - 1] & 0xff) != 0xd9) {
            return Optional.empty();
        }
        Optional<ExifThumbnail> found = ExifThumbnail.read(encoded, header.width(), header.height());
        if (found.isEmpty()) return Optional.empty();
        ExifThumbnail thumbnail = found.get();
        // Its size is checked before OpenCV allocates for it, as a photo's is: a thumbnail is small and inside its photo.
        ImageHeader own = ImageHeader.read(thumbnail.jpeg()).orElse(null);
        if (own == null || !own.format().equals("JPEG") || own.width() > header.width() || own.height() > header.height()
                || Math.max(own.width(), own.height()) > MAX_THUMBNAIL_SIDE) {
            return Optional.empty();
        }
        Mat image;
        try (BytePointer bytes = new BytePointer(thumbnail.jpeg());
             Mat buffer = new Mat(1, thumbnail.jpeg().length, CV_8UC1, bytes)) {
            // Decoded as stored: the photo's orientation tag turns it, whatever its own bytes say.
            image = imdecode(buffer, IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
        }
        if (image == null || image.empty()) {
            if (image != null) image.close();
            return Optional.empty();
        }
        image = upright(image, thumbnail.orientation());
        int width = thumbnail.turnsAQuarter() ? header.height() : header.width();
        int height = thumbnail.turnsAQuarter() ? header.width() : header.height();
        long cross = (long) image.cols() * height, expected = (long) image.rows() * width;
        if (image.cols() > width || image.rows() > height || Math.abs(cross - expected) > 0.02 * expected) {
            image.close();
            return Optional.empty();
        }
        return Optional.of(new Photo(image, width, height));
    }

    /** The picture stored with EXIF orientation {@code tag}, upright: {@code stored} itself for 1, else a new Mat (closing it). */
    private static Mat upright(Mat stored, int tag) {
        if (tag == 1) return stored;
        // OpenCV transposes only square pictures in place, so every turn writes a new one.
        Mat turned = new Mat();
        try (stored) {
            switch (tag) {
                case 2 -> flip(stored, turned, 1);
                case 3 -> rotate(stored, turned, ROTATE_180);
                case 4 -> flip(stored, turned, 0);
                case 5 -> transpose(stored, turned);
                case 6 -> rotate(stored, turned, ROTATE_90_CLOCKWISE);
                case 7 -> {
                    try (Mat quarter = new Mat()) {
                        rotate(stored, quarter, ROTATE_90_CLOCKWISE);
                        flip(quarter, turned, 0);
                    }
                }
                case 8 -> rotate(stored, turned, ROTATE_90_COUNTERCLOCKWISE);
                default -> throw new IllegalArgumentException("EXIF orientation must be 1 to 8, got " + tag);
            }
        } catch (RuntimeException e) {
            turned.close();
            throw e;
        }
        return turned;
    }

    /** The header of encoded image bytes, refusing empty, unrecognised and oversized ones. */
    private ImageHeader checkedHeader(byte[] encoded, String source) {
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
        return header;
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
