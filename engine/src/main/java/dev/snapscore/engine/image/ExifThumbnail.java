package dev.snapscore.engine.image;

import com.drew.lang.ByteArrayReader;
import com.drew.metadata.Directory;
import com.drew.metadata.Metadata;
import com.drew.metadata.exif.ExifIFD0Directory;
import com.drew.metadata.exif.ExifReader;
import com.drew.metadata.exif.ExifSubIFDDirectory;
import com.drew.metadata.exif.ExifThumbnailDirectory;

import java.util.Arrays;
import java.util.Optional;

/**
 * The small JPEG a camera embeds in a photo's EXIF block (IFD1; phones write 160 × 120 or larger), and the photo's
 * orientation tag, which applies to it too. The EXIF block (an APP1 segment, before the picture data, so nothing of
 * the picture is touched) is read with metadata-extractor.
 *
 * <p>Only a thumbnail the file vouches for is returned: the EXIF block's pixel dimensions must be the picture's
 * own, in either order. An editor that crops or resizes a photo and keeps its old EXIF block leaves them stale, and
 * its thumbnail with them. Anything unreadable, absent or out of bounds is "no thumbnail", never an error: the
 * photo is then decoded as any other.
 *
 * @param jpeg        the thumbnail's own JPEG bytes
 * @param orientation the EXIF orientation tag, 1 to 8 (1 when absent)
 */
record ExifThumbnail(byte[] jpeg, int orientation) {
    private static final byte[] EXIF_PREAMBLE = {'E', 'x', 'i', 'f', 0, 0};

    /** The thumbnail of a JPEG whose picture is {@code width} × {@code height} as stored, if it has one it vouches for. */
    static Optional<ExifThumbnail> read(byte[] encoded, int width, int height) {
        byte[] segment = exifSegment(encoded);
        if (segment == null) return Optional.empty();
        try {
            Metadata metadata = new Metadata();
            new ExifReader().extract(new ByteArrayReader(segment), metadata, ExifReader.JPEG_SEGMENT_PREAMBLE.length());
            return of(metadata, segment, width, height);
        } catch (RuntimeException e) {
            return Optional.empty(); // a malformed EXIF block: no thumbnail to trust
        }
    }

    /**
     * The first APP1 segment that holds EXIF (its payload, from "Exif\0\0"), found by walking the markers before the
     * picture data; null if there is none or the markers run past the file. The first is the one OpenCV takes the
     * orientation from. Only that segment is copied, whatever else a file carries before its picture.
     */
    private static byte[] exifSegment(byte[] jpeg) {
        int at = 2; // after SOI
        while (at + 4 <= jpeg.length && (jpeg[at] & 0xff) == 0xff) {
            int marker = jpeg[at + 1] & 0xff;
            if (marker == 0xff) { // a fill byte before a marker
                at++;
                continue;
            }
            if (marker == 0xda || marker == 0xd9) return null; // start of scan or end of image: no EXIF before it
            int length = (jpeg[at + 2] & 0xff) << 8 | jpeg[at + 3] & 0xff; // counts itself, not the marker
            if (length < 2 || length > jpeg.length - at - 2) return null;
            if (marker == 0xe1 && length >= 2 + EXIF_PREAMBLE.length
                    && Arrays.equals(jpeg, at + 4, at + 4 + EXIF_PREAMBLE.length, EXIF_PREAMBLE, 0, EXIF_PREAMBLE.length)) {
                return Arrays.copyOfRange(jpeg, at + 4, at + 2 + length);
            }
            at += 2 + length;
        }
        return null;
    }

    private static Optional<ExifThumbnail> of(Metadata metadata, byte[] segment, int width, int height) {
        ExifThumbnailDirectory ifd1 = metadata.getFirstDirectoryOfType(ExifThumbnailDirectory.class);
        ExifSubIFDDirectory exif = metadata.getFirstDirectoryOfType(ExifSubIFDDirectory.class);
        if (ifd1 == null || exif == null) return Optional.empty();
        Integer compression = integer(ifd1, ExifThumbnailDirectory.TAG_THUMBNAIL_COMPRESSION);
        Integer offset = ifd1.getAdjustedThumbnailOffset(); // from the segment's start
        Integer length = integer(ifd1, ExifThumbnailDirectory.TAG_THUMBNAIL_LENGTH);
        if (compression != null && compression != 6) return Optional.empty(); // 6: JPEG; 1 would be raw pixels
        if (offset == null || length == null || offset < 0 || length < 4 || offset > segment.length - length) {
            return Optional.empty();
        }
        Integer exifWidth = integer(exif, ExifSubIFDDirectory.TAG_EXIF_IMAGE_WIDTH);
        Integer exifHeight = integer(exif, ExifSubIFDDirectory.TAG_EXIF_IMAGE_HEIGHT);
        if (exifWidth == null || exifHeight == null) return Optional.empty();
        boolean sameSize = exifWidth == width && exifHeight == height || exifWidth == height && exifHeight == width;
        if (!sameSize) return Optional.empty();
        ExifIFD0Directory ifd0 = metadata.getFirstDirectoryOfType(ExifIFD0Directory.class);
        Integer orientation = ifd0 == null ? null : integer(ifd0, ExifIFD0Directory.TAG_ORIENTATION);
        int tag = orientation == null ? 1 : orientation;
        if (tag < 1 || tag > 8) return Optional.empty();
        return Optional.of(new ExifThumbnail(Arrays.copyOfRange(segment, offset, offset + length), tag));
    }

    private static Integer integer(Directory directory, int tag) {
        return directory.containsTag(tag) ? directory.getInteger(tag) : null;
    }

    /** Whether the orientation turns the picture a quarter (5 to 8), swapping its width and height. */
    boolean turnsAQuarter() {
        return orientation >= 5;
    }
}
