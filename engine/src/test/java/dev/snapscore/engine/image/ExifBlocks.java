package dev.snapscore.engine.image;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Test photos as phone cameras write them: a JPEG with an APP1 EXIF block right after its start marker, holding the
 * orientation tag (IFD0), the picture's pixel size (EXIF IFD) and a JPEG thumbnail (IFD1), laid out by the TIFF
 * rules, in either byte order. Written by hand from the EXIF 2.32 layout, independently of the
 * library that reads it in the engine; the committed fixtures made by piexif check the reading against a real tool.
 */
public final class ExifBlocks {
    private ExifBlocks() {
    }

    /** {@code jpeg} (which must carry no APP1 block) with a big-endian EXIF block of these tags and this thumbnail inserted. */
    public static byte[] withThumbnail(byte[] jpeg, int orientation, int pixelWidth, int pixelHeight, byte[] thumbnail) {
        return withThumbnail(jpeg, orientation, pixelWidth, pixelHeight, thumbnail, ByteOrder.BIG_ENDIAN);
    }

    /** As above, the TIFF structure in {@code order} ("MM" big-endian as Apple writes, "II" little-endian as many others). */
    public static byte[] withThumbnail(byte[] jpeg, int orientation, int pixelWidth, int pixelHeight, byte[] thumbnail,
                                       ByteOrder order) {
        if ((jpeg[0] & 0xff) != 0xff || (jpeg[1] & 0xff) != 0xd8) throw new IllegalArgumentException("not a JPEG");
        // TIFF header (8), IFD0 with 2 entries (2 + 24 + 4 = 30), EXIF IFD with 2 (30), IFD1 with 2 (30), thumbnail.
        int ifd0 = 8, exifIfd = ifd0 + 30, ifd1 = exifIfd + 30, thumbnailAt = ifd1 + 30;
        ByteBuffer tiff = ByteBuffer.allocate(thumbnailAt + thumbnail.length).order(order);
        byte mark = (byte) (order == ByteOrder.BIG_ENDIAN ? 'M' : 'I');
        tiff.put(mark).put(mark).putShort((short) 42).putInt(ifd0);
        tiff.putShort((short) 2);
        entry(tiff, 0x0112, 3, orientation);          // Orientation, SHORT
        entry(tiff, 0x8769, 4, exifIfd);              // EXIF IFD pointer, LONG
        tiff.putInt(ifd1);                            // next IFD: IFD1, the thumbnail's
        tiff.putShort((short) 2);
        entry(tiff, 0xa002, 4, pixelWidth);           // PixelXDimension, LONG
        entry(tiff, 0xa003, 4, pixelHeight);          // PixelYDimension, LONG
        tiff.putInt(0);
        tiff.putShort((short) 2);
        entry(tiff, 0x0201, 4, thumbnailAt);          // JPEGInterchangeFormat (offset from the TIFF header)
        entry(tiff, 0x0202, 4, thumbnail.length);     // JPEGInterchangeFormatLength
        tiff.putInt(0);
        tiff.put(thumbnail);
        byte[] payload = tiff.array();
        int segmentLength = 2 + 6 + payload.length;
        if (segmentLength > 0xffff) throw new IllegalArgumentException("thumbnail too large for one APP1 segment");
        ByteArrayOutputStream out = new ByteArrayOutputStream(jpeg.length + segmentLength + 2);
        out.write(0xff);
        out.write(0xd8);
        out.write(0xff);
        out.write(0xe1);
        out.write(segmentLength >> 8);
        out.write(segmentLength & 0xff);
        out.writeBytes(new byte[] {'E', 'x', 'i', 'f', 0, 0});
        out.writeBytes(payload);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    private static void entry(ByteBuffer tiff, int tag, int type, int value) {
        tiff.putShort((short) tag).putShort((short) type).putInt(1);
        if (type == 3) tiff.putShort((short) value).putShort((short) 0); // a SHORT sits first in the 4-byte field
        else tiff.putInt(value);
    }
}
