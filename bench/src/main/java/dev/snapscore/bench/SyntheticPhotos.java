package dev.snapscore.bench;

import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.bytedeco.opencv.opencv_core.Size;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_core.add;
import static org.bytedeco.opencv.global.opencv_core.randn;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.bytedeco.opencv.global.opencv_imgproc.GaussianBlur;
import static org.bytedeco.opencv.global.opencv_imgproc.circle;
import static org.bytedeco.opencv.global.opencv_imgproc.ellipse;
import static org.bytedeco.opencv.global.opencv_imgproc.line;
import static org.bytedeco.opencv.global.opencv_imgproc.rectangle;

/**
 * Photo-like PNGs that vary (shaded backgrounds, shapes, lines, blur, sensor noise, sizes around 0.1–0.3
 * MP) for calibrating and checking int8 models where no real photos may be downloaded. Deterministic per
 * seed. {@code java -cp bench/target/snapscore-bench.jar dev.snapscore.bench.SyntheticPhotos N DIR [SEED]}
 */
public final class SyntheticPhotos {
    private SyntheticPhotos() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: SyntheticPhotos N DIR [SEED]");
            System.exit(2);
        }
        List<Path> written = write(Path.of(args[1]), Integer.parseInt(args[0]), args.length > 2 ? Long.parseLong(args[2]) : 1);
        System.out.println("wrote " + written.size() + " photos to " + args[1]);
    }

    /** Writes {@code n} photos named {@code synthetic-<seed>-<i>.png} into {@code dir}. */
    public static List<Path> write(Path dir, int n, long seed) throws IOException {
        return write(dir, n, seed, "png");
    }

    /**
     * Writes {@code n} photos named {@code synthetic-<seed>-<i>.<extension>} into {@code dir}, encoded as the
     * extension says (OpenCV's defaults: "jpg" is quality 95, as photos usually arrive).
     */
    public static List<Path> write(Path dir, int n, long seed, String extension) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom r = new SplittableRandom(seed);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path f = dir.resolve(String.format("synthetic-%d-%04d.%s", seed, i, extension));
            try (Mat photo = photo(r)) {
                if (!imwrite(f.toString(), photo)) throw new IOException("could not write " + f);
            }
            files.add(f);
        }
        return files;
    }

    private static Mat photo(SplittableRandom r) {
        int w = 320 + r.nextInt(320), h = 240 + r.nextInt(240);
        Mat m = new Mat(h, w, CV_8UC3, color(r));
        // A shaded background: horizontal bands blending two colours.
        Scalar top = color(r), bottom = color(r);
        for (int y = 0; y < h; y += 4) {
            double t = (double) y / h;
            Scalar c = new Scalar(mix(top.get(0), bottom.get(0), t), mix(top.get(1), bottom.get(1), t),
                    mix(top.get(2), bottom.get(2), t), 0);
            rectangle(m, new Point(0, y), new Point(w - 1, y + 3), c, -1, 8, 0);
        }
        int shapes = 3 + r.nextInt(12);
        for (int s = 0; s < shapes; s++) {
            Point a = new Point(r.nextInt(w), r.nextInt(h));
            switch (r.nextInt(4)) {
                case 0 -> circle(m, a, 5 + r.nextInt(Math.min(w, h) / 3), color(r), r.nextBoolean() ? -1 : 1 + r.nextInt(6), 16, 0);
                case 1 -> rectangle(m, a, new Point(r.nextInt(w), r.nextInt(h)), color(r), r.nextBoolean() ? -1 : 1 + r.nextInt(6), 8, 0);
                case 2 -> ellipse(m, a, new Size(5 + r.nextInt(w / 3), 5 + r.nextInt(h / 3)), r.nextInt(180), 0, 360,
                        color(r), -1, 16, 0);
                default -> line(m, a, new Point(r.nextInt(w), r.nextInt(h)), color(r), 1 + r.nextInt(8), 16, 0);
            }
        }
        int k = 1 + 2 * r.nextInt(3);
        GaussianBlur(m, m, new Size(k, k), 0);
        try (Mat noise = new Mat(h, w, CV_8UC3)) {
            randn(noise, new Mat(new double[] {0, 0, 0}), new Mat(new double[] {6, 6, 6}));
            add(m, noise, m);
        }
        return m;
    }

    private static Scalar color(SplittableRandom r) {
        return new Scalar(r.nextInt(256), r.nextInt(256), r.nextInt(256), 0);
    }

    private static double mix(double a, double b, double t) {
        return a + (b - a) * t;
    }
}
