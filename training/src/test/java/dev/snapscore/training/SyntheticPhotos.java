package dev.snapscore.training;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Photos with learnable structure, written with the JDK's own encoders (not OpenCV, which reads them):
 * class "horizontal" has horizontal stripes, class "vertical" vertical ones, in random colours, periods,
 * phases and sizes (never 224x224, so the engine's resize is exercised), with pixel noise.
 */
final class SyntheticPhotos {
    private SyntheticPhotos() {
    }

    static final String[] CLASSES = {"horizontal", "vertical"};

    /** {@code perClass} photos of each class into {@code dir/<class>/}, PNG and JPEG mixed. */
    static void writeFolders(Path dir, int perClass, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        for (int c = 0; c < CLASSES.length; c++) {
            Path classDir = Files.createDirectories(dir.resolve(CLASSES[c]));
            for (int i = 0; i < perClass; i++) {
                String format = i % 2 == 0 ? "png" : "jpg";
                write(stripes(c == 0, random), classDir.resolve(String.format("%03d.%s", i, format)), format);
            }
        }
    }

    static void write(BufferedImage image, Path file, String format) throws IOException {
        if (!ImageIO.write(image, format, file.toFile())) throw new IOException("no " + format + " writer");
    }

    static BufferedImage stripes(boolean horizontal, SplittableRandom random) {
        int w = random.nextInt(160, 320), h = random.nextInt(160, 320);
        int period = random.nextInt(48, 96), phase = random.nextInt(period);
        Color a = color(random), b = color(random);
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int t = (horizontal ? y : x) + phase;
                Color base = (t / (period / 2)) % 2 == 0 ? a : b;
                int noise = random.nextInt(-20, 21);
                image.setRGB(x, y, new Color(clamp(base.getRed() + noise), clamp(base.getGreen() + noise),
                        clamp(base.getBlue() + noise)).getRGB());
            }
        }
        return image;
    }

    /** A plain photo of one colour, for data tests that need files but no structure. */
    static BufferedImage plain(int w, int h) {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return image;
    }

    private static Color color(SplittableRandom r) {
        return new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256));
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }
}
