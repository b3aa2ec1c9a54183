package dev.snapscore.cli;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;

/** Photo folders for CLI tests, made with the JDK's image writers. */
final class PhotoFolders {
    static final Path SAMPLES = Path.of("..", "samples");

    private PhotoFolders() {
    }

    static void noise(Path file, int w, int h, long seed, int type) throws IOException {
        BufferedImage img = new BufferedImage(w, h, type);
        Random r = new Random(seed);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, r.nextInt() | (type == BufferedImage.TYPE_INT_ARGB ? 0 : 0xff000000));
        String format = file.getFileName().toString().endsWith(".png") ? "png" : "jpg";
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (!ImageIO.write(img, format, file.toFile())) throw new IOException("no writer for " + format);
    }

    /** A 4-channel (CMYK/YCCK) JPEG, as print workflows make: ImageIO writes a 4-band raster without conversion. */
    static void cmykJpeg(Path file) throws IOException {
        WritableRaster raster = Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, 32, 24, 4, null);
        Random r = new Random(3);
        for (int y = 0; y < 24; y++) for (int x = 0; x < 32; x++) for (int b = 0; b < 4; b++) raster.setSample(x, y, b, r.nextInt(256));
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (var ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            writer.write(null, new IIOImage(raster, null, null), writer.getDefaultWriteParam());
        } finally {
            writer.dispose();
        }
        Files.write(file, out.toByteArray());
    }

    /** A PNG signature and a valid IHDR claiming the given size, and no pixel data. */
    static void pngHeaderOnly(Path file, int width, int height) throws IOException {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(width).putInt(height).put((byte) 8).put((byte) 2).put(new byte[3]);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer png = ByteBuffer.allocate(33);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        Files.write(file, png.array());
    }

    static void truncatedCopy(Path from, Path to) throws IOException {
        byte[] b = Files.readAllBytes(from);
        Files.write(to, Arrays.copyOf(b, b.length / 2));
    }
}
