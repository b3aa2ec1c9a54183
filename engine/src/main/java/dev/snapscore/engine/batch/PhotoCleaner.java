package dev.snapscore.engine.batch;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import org.bytedeco.opencv.opencv_core.Mat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The selfie study's cleaning rule: keep a photo only when its largest detected face covers more than
 * {@code minFaceFraction} of it. Decides; never touches the files.
 */
public final class PhotoCleaner implements AutoCloseable {
    public enum Decision { KEEP, REJECT, ERROR }

    /** One photo's outcome; {@code error} is null unless the decision is ERROR. */
    public record Outcome(Path file, int width, int height, int faces, double largestFaceFraction, Decision decision,
                          String error) {
    }

    private final ImageDecoder decoder;
    private final FaceDetector.Settings settings;
    private final double minFaceFraction;
    private final List<FaceDetector> detectors = new ArrayList<>(); // one per worker thread, closed together
    private final ThreadLocal<FaceDetector> detector;
    private volatile boolean closed;

    public PhotoCleaner(ImageDecoder decoder, FaceDetector.Settings settings, double minFaceFraction) {
        if (!(minFaceFraction >= 0 && minFaceFraction < 1)) {
            throw new IllegalArgumentException("min face fraction must be in [0, 1), got " + minFaceFraction);
        }
        this.decoder = decoder;
        this.settings = settings;
        this.minFaceFraction = minFaceFraction;
        this.detector = ThreadLocal.withInitial(() -> {
            FaceDetector d = new FaceDetector(settings);
            synchronized (detectors) {
                detectors.add(d);
            }
            return d;
        });
    }

    public double minFaceFraction() {
        return minFaceFraction;
    }

    /** Decides one photo on the calling thread. */
    public Outcome check(Path file) {
        try (Photo photo = decoder.read(file, DecodeOptions.DEFAULT, ImageDecoder.DEFAULT_INPUT, settings)) {
            if (closed) throw new IllegalStateException("cleaner is closed");
            return outcome(file, detector.get().detect(photo));
        } catch (ImageException e) {
            return new Outcome(file, 0, 0, 0, 0, Decision.ERROR, e.getMessage());
        }
    }

    /** Decides an already decoded photo on the calling thread. */
    public Outcome check(Path file, Mat bgr) {
        if (closed) throw new IllegalStateException("cleaner is closed");
        return outcome(file, detector.get().detect(bgr));
    }

    private Outcome outcome(Path file, FaceDetector.Faces faces) {
        double fraction = faces.largestFraction();
        return new Outcome(file, faces.width(), faces.height(), faces.count(), fraction,
                fraction > minFaceFraction ? Decision.KEEP : Decision.REJECT, null);
    }

    /** Decides every file on {@code threads} workers, handing outcomes to {@code sink} in input order. */
    public void checkAll(List<Path> files, int threads, Consumer<Outcome> sink) {
        try (var workers = new OrderedWorkers<>(files, threads, 4 * threads, "snapscore-clean-", this::check)) {
            while (workers.hasNext()) sink.accept(workers.next());
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (detectors) {
            detectors.forEach(FaceDetector::close);
            detectors.clear();
        }
    }
}
