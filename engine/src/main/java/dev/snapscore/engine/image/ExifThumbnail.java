package dev.snapscore.engine.image;

import com.drew.imaging.jpeg.JpegProcessingException;
import com.drew.imaging.jpeg.JpegSegmentReader;
import com.drew.imaging.jpeg.JpegSegmentType;
import com.drew.lang.ByteArrayReader;
import com.drew.lang.StreamReader;
import com.drew.metadata.Directory;
import com.drew.metadata.Metadata;
import com.drew.metadata.exif.ExifIFD0Directory;
import com.drew.metadata.exif.ExifReader;
import com.drew.metadata.exif.ExifSubIFDDirectory;
import com.drew.metadata.exif.ExifThumbnailDirectory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The small JPEG a camera embeds in a photo's EXIF block (IFD1; phones write 160 × 120 or larger), and the photo's
 * orientation tag, which applies to it too. Read with metadata-extractor from the APP1 segments, which come before
 * the picture data, so nothing of the picture is touched.
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

    /** The thumbnail of a JPEG whose picture is {@code width} × {@code height} as stored, if it has one it vouches for. */
    static Optional<ExifThumbnail> read(byte[] encoded, int width, int height) {
        try {
            var segments = JpegSegmentReader.readSegments(new StreamReader(new ByteArrayInputStream(encoded)),
                    List.of(JpegSegmentType.APP1));
            for (byte[] segment : segments.getSegments(JpegSegmentType.APP1)) {
                if (!ExifReader.startsWithJpegExifPreamble(segment)) continue;
                Metadata metadata = new Metadata();
                new ExifReader().extract(new ByteArrayReader(segment), metadata, ExifReader.JPEG_SEGMENT_PREAMBLE.length());
                // The first EXIF block is the one OpenCV takes the orientation from.
                return of(metadata, segment, width, height);
            }
        } catch (JpegProcessingException | IOException | RuntimeException e) {
            // A malformed segment table or EXIF block: no thumbnail to trust.
        }
        return Optional.empty();
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
