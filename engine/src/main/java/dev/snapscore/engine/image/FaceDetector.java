package dev.snapscore.engine.image;

import dev.snapscore.engine.ImageException;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.RectVector;
import org.bytedeco.opencv.opencv_core.Size;
import org.bytedeco.opencv.opencv_objdetect.CascadeClassifier;

import java.io.File;
import java.io.IOException;

import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGR2GRAY;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.cvtColor;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * Frontal faces with OpenCV's Haar cascade ({@code haarcascade_frontalface_default.xml}, from the OpenCV
 * preset jar), run as the original selfie study ran it, on the grayscale photo, but scaled down (INTER_AREA)
 * to at most the clean resolution on its longer side, by a power of the scale factor
 * ({@link DecodeOptions#cleanShrink}): the study's rule is a share of the photo's area, and the cascade's
 * time grows with the pixels. Not thread-safe (OpenCV's classifier keeps per-call state): one detector per thread.
 */
public final class FaceDetector implements AutoCloseable {
    /** The cascade's window side in pixels: the smallest face it finds in the picture it scans. */
    public static final int WINDOW = 24;
    private static final String CASCADE = "/org/bytedeco/opencv/" + Loader.getPlatform()
            + "/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

    /**
     * @param scaleFactor  image pyramid step (the study: 1.3; OpenCV's default 1.1 is slower and finer)
     * @param minNeighbors overlapping detections a face needs (the study: 0, so every candidate counts;
     *                     OpenCV's default 3 is stricter)
     * @param minSize      smallest face side in the photo's pixels (0: no minimum)
     */
    public record Settings(double scaleFactor, int minNeighbors, int minSize) {
        public static final Settings STUDY = new Settings(1.3, 0, 0);

        public Settings {
            if (!(scaleFactor > 1.0)) throw new IllegalArgumentException("scale factor must be > 1, got " + scaleFactor);
            if (minNeighbors < 0) throw new IllegalArgumentException("min neighbors must be >= 0, got " + minNeighbors);
            if (minSize < 0) throw new IllegalArgumentException("min size must be >= 0, got " + minSize);
        }
    }

    /** The faces found in one photo, and the largest one's share of the photo's area (0 when none). */
    public record Faces(int count, int width, int height, int largestX, int largestY, int largestWidth,
                        int largestHeight) {
        public double largestFraction() {
            return (double) largestWidth * largestHeight / ((double) width * height);
        }
    }

    private final Settings settings;
    private final DecodeOptions options;
    private final CascadeClassifier classifier;

    /** A detector running the cascade at {@code options.cleanResolution()}. */
    public FaceDetector(Settings settings, DecodeOptions options) {
        this.settings = settings;
        this.options = options;
        File file;
        try {
            file = Loader.cacheResource(CASCADE);
        } catch (IOException e) {
            throw new ImageException("cannot extract the Haar cascade from the OpenCV preset jar: " + e.getMessage(), e);
        }
        if (file == null) throw new ImageException("the OpenCV preset jar has no " + CASCADE);
        classifier = new CascadeClassifier(file.getAbsolutePath());
        if (classifier.empty()) {
            classifier.close();
            throw new ImageException("OpenCV could not load the Haar cascade " + file);
        }
    }

    public Settings settings() {
        return settings;
    }

    /** Detects faces in a decoded photo; the box is in the photo's own coordinates, whatever scale it was decoded at. */
    public Faces detect(Photo photo) {
        return detect(photo, 0);
    }

    /**
     * As {@link #detect(Photo)}, looking only for faces that could cover more than {@code fraction} of the photo:
     * the cascade skips the window sizes below that (less two pixels, for the rounding of boxes back to the photo),
     * which are most of its work. Its windows are square and, with {@code minNeighbors} 0, every window that passes
     * is a face, so the largest face, and whether it covers more than {@code fraction}, are exactly those of a full
     * scan whenever it does; below that, smaller faces are not reported.
     */
    public Faces detect(Photo photo, double fraction) {
        if (!(fraction >= 0 && fraction < 1)) throw new IllegalArgumentException("face fraction must be in [0, 1), got " + fraction);
        Mat bgr = photo.bgr();
        int width = photo.width(), height = photo.height();
        double shrink = options.cleanShrink(Math.max(width, height), settings.scaleFactor());
        int copyWidth = Math.min(bgr.cols(), (int) Math.round(width / shrink));
        int copyHeight = Math.min(bgr.rows(), (int) Math.round(height / shrink));
        double scale = (double) copyWidth / width; // photo pixels -> the copy's
        int minSide = settings.minSize() == 0 ? 0 : Math.max(1, (int) Math.round(settings.minSize() * scale));
        minSide = Math.max(minSide, (int) Math.floor(Math.sqrt(fraction * copyWidth * copyHeight)) - 2);
        try (Mat gray = new Mat(); RectVector faces = new RectVector(); Size min = new Size(minSide, minSide); Size max = new Size()) {
            cvtColor(bgr, gray, COLOR_BGR2GRAY);
            if (copyWidth < gray.cols() || copyHeight < gray.rows()) {
                try (Size copy = new Size(copyWidth, copyHeight)) {
                    resize(gray, gray, copy, 0, 0, INTER_AREA);
                }
            }
            classifier.detectMultiScale(gray, faces, settings.scaleFactor(), settings.minNeighbors(), 0, min, max);
            // OpenCV detects in parallel, so candidates come in varying order; break ties in area by
            // position so the same photo always reports the same box.
            int best = -1;
            long bestArea = -1;
            for (int i = 0; i < faces.size(); i++) {
                Rect r = faces.get(i);
                long area = (long) r.width() * r.height();
                if (area > bestArea || area == bestArea && before(r, faces.get(best))) {
                    bestArea = area;
                    best = i;
                }
            }
            if (best < 0) return new Faces(0, width, height, 0, 0, 0, 0);
            Rect r = faces.get(best);
            // Back to the photo's coordinates: each edge scaled and rounded, so the box stays inside the photo.
            double sx = (double) width / gray.cols(), sy = (double) height / gray.rows();
            int x0 = (int) Math.round(r.x() * sx), y0 = (int) Math.round(r.y() * sy);
            int x1 = (int) Math.round((r.x() + r.width()) * sx), y1 = (int) Math.round((r.y() + r.height()) * sy);
            return new Faces((int) faces.size(), width, height, x0, y0, x1 - x0, y1 - y0);
        }
    }

    private static boolean before(Rect a, Rect b) {
        return a.y() < b.y() || a.y() == b.y() && a.x() < b.x();
    }

    @Override
    public void close() {
        classifier.close();
    }
}
