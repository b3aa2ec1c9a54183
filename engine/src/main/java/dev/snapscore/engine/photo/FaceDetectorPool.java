package dev.snapscore.engine.photo;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;

import java.util.ArrayList;
import java.util.List;

/** One {@link FaceDetector} per thread (OpenCV's cascade is not thread-safe), all closed together. */
final class FaceDetectorPool implements AutoCloseable {
    private final List<FaceDetector> all = new ArrayList<>();
    private final ThreadLocal<FaceDetector> mine;

    FaceDetectorPool(FaceDetector.Settings settings, DecodeOptions options) {
        mine = ThreadLocal.withInitial(() -> {
            FaceDetector d = new FaceDetector(settings, options);
            synchronized (all) {
                all.add(d);
            }
            return d;
        });
    }

    /** The calling thread's detector. */
    FaceDetector get() {
        return mine.get();
    }

    @Override
    public void close() {
        synchronized (all) {
            all.forEach(FaceDetector::close);
            all.clear();
        }
    }
}
