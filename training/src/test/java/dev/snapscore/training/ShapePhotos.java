package dev.snapscore.training;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Photos of simple, clearly different content, as a new user's first data set might be: class "circles" has
 * one to three bright filled discs, class "stripes" parallel bars at a random angle, both in random colours
 * on a random darker background, at random sizes (never the network's), with pixel noise. Written with the
 * JDK's encoders (JPEG and PNG), not OpenCV, which reads them.
 */
final class ShapePhotos {
    private ShapePhotos() {
    }

    static final String[] CLASSES = {"circles", "stripes"};

    /** {@code perClass} photos of each class into {@code dir/<class>/}. */
    static void writeFolders(Path dir, int perClass, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        for (int c = 0; c < CLASSES.length; c++) {
            Path classDir = Files.createDirectories(dir.resolve(CLASSES[c]));
            for (int i = 0; i < perClass; i++) {
                String format = i % 3 == 0 ? "png" : "jpg";
                SyntheticPhotos.write(photo(c == 0, random), classDir.resolve(String.format("%03d.%s", i, format)), format);
            }
        }
    }

    static BufferedImage photo(boolean circles, SplittableRandom r) {
        int w = r.nextInt(80, 200), h = r.nextInt(80, 200);
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(new Color(r.nextInt(100), r.nextInt(100), r.nextInt(100)));
        g.fillRect(0, 0, w, h);
        g.setColor(new Color(r.nextInt(150, 256), r.nextInt(150, 256), r.nextInt(150, 256)));
        int side = Math.min(w, h);
        if (circles) {
            for (int n = r.nextInt(1, 4); n > 0; n--) {
                int d = r.nextInt(side / 4, side / 2);
                g.fillOval(r.nextInt(0, w - d), r.nextInt(0, h - d), d, d);
            }
        } else {
            int period = r.nextInt(side / 6, side / 3);
            g.rotate(r.nextDouble(Math.PI), w / 2.0, h / 2.0);
            g.setStroke(new BasicStroke(period / 2f));
            for (int x = -2 * side; x < 2 * side; x += period) g.drawLine(w / 2 + x, -2 * side, w / 2 + x, 2 * side);
        }
        g.dispose();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y), noise = r.nextInt(-25, 26);
                image.setRGB(x, y, new Color(clamp((rgb >> 16 & 255) + noise), clamp((rgb >> 8 & 255) + noise),
                        clamp((rgb & 255) + noise)).getRGB());
            }
        }
        return image;
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    /** For trying settings by hand: {@code ShapePhotos DIR PER_CLASS SEED}. */
    public static void main(String[] args) throws IOException {
        writeFolders(Path.of(args[0]), Integer.parseInt(args[1]), Long.parseLong(args[2]));
    }
}
