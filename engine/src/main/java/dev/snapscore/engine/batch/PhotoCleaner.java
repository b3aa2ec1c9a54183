package dev.snapscore.engine.batch;

import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * The {@code clean} verb's driver: the selfie study's face rule ({@link PhotoPipeline#check}) over many files
 * on worker threads. Decides; never touches the files.
 */
public final class PhotoCleaner {
    private PhotoCleaner() {
    }

    /**
     * Checks every file on {@code threads} workers, handing outcomes to {@code sink} in input order: OK (keep),
     * REJECTED, or ERROR.
     */
    public static void checkAll(PhotoPipeline pipeline, List<Path> files, int threads, Consumer<PreparedPhoto> sink) {
        try (var workers = new OrderedWorkers<>(files, threads, 4 * threads, "snapscore-clean-",
                (Path file) -> pipeline.check(PhotoSource.of(file)))) {
            while (workers.hasNext()) sink.accept(workers.next());
        }
    }
}
