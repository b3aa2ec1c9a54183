package dev.snapscore.engine.quantize;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A generated but learnable ten-class photo set, the data of the trained int8 fixture
 * ({@code src/test/resources/trained/shapes10}): five shapes (disc, square, triangle, cross, stripes) in two
 * colour families (red, blue), one shape a photo, at a random place, size and rotation on a random dark,
 * slightly tinted background, with pixel noise; photos of random size (72 to 160 pixels a side, never the
 * network's), PNG and JPEG. Each photo has its own seed (set, class, index), so a subset (e.g. the first k
 * of each class, for calibration) is the same photos as the whole set. Written with the JDK's encoders,
 * not OpenCV, which reads them.
 */
public final class ShapeColourPhotos {
    private ShapeColourPhotos() {
    }

    private static final String[] SHAPES = {"disc", "square", "triangle", "cross", "stripes"};
    private static final String[] COLOURS = {"red", "blue"};

    /** Class names in label order (the trained model's labels: training sorts the class folders by name). */
    static String[] classes() {
        String[] names = new String[SHAPES.length * COLOURS.length];
        for (int s = 0; s < SHAPES.length; s++) {
            for (int c = 0; c < COLOURS.length; c++) names[s * COLOURS.length + c] = COLOURS[c] + "-" + SHAPES[s];
        }
        java.util.Arrays.sort(names);
        return names;
    }

    /** Photos {@code 0 .. perClass-1} of each class of set {@code seed} into {@code dir/<class>/}. */
    static void writeFolders(Path dir, int perClass, long seed) throws IOException {
        for (String name : classes()) {
            Path classDir = Files.createDirectories(dir.resolve(name));
            for (int i = 0; i < perClass; i++) {
                String format = i % 3 == 2 ? "jpg" : "png";
                BufferedImage image = photo(name, new SplittableRandom(seed * 1_000_003L + name.hashCode() * 1009L + i));
                Path file = classDir.resolve(String.format("%03d.%s", i, format));
                if (!ImageIO.write(image, format, file.toFile())) throw new IOException("no " + format + " writer");
            }
        }
    }

    static BufferedImage photo(String name, SplittableRandom r) {
        String colour = name.substring(0, name.indexOf('-')), shape = name.substring(name.indexOf('-') + 1);
        int w = r.nextInt(72, 161), h = r.nextInt(72, 161);
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        int grey = r.nextInt(10, 110);
        g.setColor(new Color(clamp(grey + r.nextInt(-15, 16)), clamp(grey + r.nextInt(-15, 16)), clamp(grey + r.nextInt(-15, 16))));
        g.fillRect(0, 0, w, h);
        g.setColor(colour.equals("red")
                ? new Color(r.nextInt(170, 256), r.nextInt(0, 90), r.nextInt(0, 90))
                : new Color(r.nextInt(0, 80), r.nextInt(40, 150), r.nextInt(170, 256)));
        int side = Math.min(w, h), size = r.nextInt(side * 2 / 5, side * 3 / 4);
        int cx = r.nextInt(size / 2, w - size / 2 + 1), cy = r.nextInt(size / 2, h - size / 2 + 1);
        g.rotate(r.nextDouble(Math.PI / 2), cx, cy);
        int half = size / 2;
        switch (shape) {
            case "disc" -> g.fillOval(cx - half, cy - half, size, size);
            case "square" -> g.fillRect(cx - half * 4 / 5, cy - half * 4 / 5, half * 8 / 5, half * 8 / 5);
            case "triangle" -> g.fillPolygon(new Polygon(new int[]{cx, cx + half, cx - half},
                    new int[]{cy - half, cy + half * 3 / 4, cy + half * 3 / 4}, 3));
            case "cross" -> {
                int arm = Math.max(3, size / 5);
                g.fillRect(cx - half, cy - arm / 2, size, arm);
                g.fillRect(cx - arm / 2, cy - half, arm, size);
            }
            case "stripes" -> {
                // Bars across the whole photo, a rotated grating.
                int period = Math.max(8, size / 3);
                g.setStroke(new BasicStroke(period / 2f));
                for (int x = -2 * (w + h); x < 2 * (w + h); x += period) g.drawLine(cx + x, -2 * (w + h), cx + x, 2 * (w + h));
            }
            default -> throw new IllegalArgumentException("no shape " + shape);
        }
        g.dispose();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y), noise = r.nextInt(-20, 21);
                image.setRGB(x, y, new Color(clamp((rgb >> 16 & 255) + noise), clamp((rgb >> 8 & 255) + noise),
                        clamp((rgb & 255) + noise)).getRGB());
            }
        }
        return image;
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    /** Writes a set, e.g. the fixture's training photos: {@code ShapeColourPhotos DIR PER_CLASS SEED}. */
    public static void main(String[] args) throws IOException {
        writeFolders(Path.of(args[0]), Integer.parseInt(args[1]), Long.parseLong(args[2]));
    }
}
