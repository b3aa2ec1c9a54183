package dev.snapscore.engine.batch;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Scores a list of photos as a pipeline: worker threads run the {@link PhotoPipeline} (read, decode,
 * optionally clean, preprocess) ahead of the inference thread, which runs full batches and hands rows to a
 * sink in input order. While its next batch is not full, the inference thread prepares photos too, so
 * decoding never leaves it waiting while there is a photo left to decode. One photo's failure is that
 * photo's error row; the run goes on.
 */
public final class BatchScorer {
    /**
     * @param batch   images per inference run
     * @param workers threads that decode and preprocess besides the inference thread, which does so while its
     *                batch is not full (inference uses the session's own threads); 0: only the inference thread
     */
    public record Options(int batch, int workers) {
        public Options {
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
            if (workers < 0) throw new IllegalArgumentException("workers must be >= 0, got " + workers);
        }
    }

    /** Receives rows in input order, a batch at a time (write and flush them). */
    public interface Sink {
        void write(List<ScoredPhoto> rows) throws IOException;
    }

    /**
     * Totals: decode and clean are time summed over the threads that prepared photos, {@code helpedSeconds}
     * the part of them the inference thread did; inference is the wall time of its runs, and
     * {@code waitingSeconds} the inference thread's time blocked on a photo a worker was still preparing.
     */
    public record Stats(int scored, int rejected, int rejectedFromThumbnails, int errors, double seconds, double decodeSeconds,
                        double cleanSeconds, double helpedSeconds, double inferenceSeconds, double waitingSeconds) {
        public int total() {
            return scored + rejected + errors;
        }
    }

    private BatchScorer() {
    }

    /** A worker's output for one photo: its buffer (null unless the photo is to be scored) and how it went. */
    private record Staged(MemorySegment image, PreparedPhoto photo) {
    }

    /**
     * Scores {@code files} through {@code pipeline} (whose face check, if any, rejects photos before they are
     * scored), with the session's model.
     */
    public static Stats run(Session session, PhotoPipeline pipeline, List<Path> files, Options options, Sink sink)
            throws IOException {
        long imageBytes = session.model().spec().input().elements() * Float.BYTES;
        int window = 2 * options.batch() + 2 * options.workers();
        LongAdder decodeNanos = new LongAdder(), cleanNanos = new LongAdder(), helpedNanos = new LongAdder();
        LongAdder fromThumbnails = new LongAdder();
        Thread inferenceThread = Thread.currentThread();
        long inferenceNanos = 0, waitingNanos;
        int scored = 0, rejected = 0, errors = 0;
        long start = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            // One preprocessed image per photo in flight; at most `window` are, so take() never waits long.
            BlockingQueue<MemorySegment> free = new ArrayBlockingQueue<>(window);
            for (int i = 0; i < window; i++) free.add(arena.allocate(imageBytes, 64));
            MemorySegment batch = arena.allocate(options.batch() * imageBytes, 64);

            Function<Path, Staged> prepare = file -> {
                MemorySegment image;
                try {
                    image = free.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return new Staged(null, PreparedPhoto.failed(file.toString(), new ImageException("interrupted")));
                }
                PreparedPhoto p = pipeline.prepare(PhotoSource.of(file), image, 0);
                decodeNanos.add(p.prepareNanos());
                cleanNanos.add(p.cleanNanos());
                if (p.fromThumbnail()) fromThumbnails.increment();
                if (Thread.currentThread() == inferenceThread) helpedNanos.add(p.prepareNanos() + p.cleanNanos());
                if (p.status() == ScoredPhoto.Status.OK) return new Staged(image, p);
                free.add(image);
                return new Staged(null, p);
            };

            List<PreparedPhoto> pending = new ArrayList<>(); // photos of this batch, in input order
            int inBatch = 0;
            try (var workers = new OrderedWorkers<>(files, options.workers(), window, "snapscore-decode-", prepare)) {
                session.prepare(Math.min(options.batch(), Math.max(1, files.size()))); // while the first photos decode
                while (workers.hasNext() || !pending.isEmpty()) {
                    Staged s = workers.hasNext() ? workers.next() : null;
                    if (s != null) {
                        if (s.image() != null) {
                            MemorySegment.copy(s.image(), 0, batch, inBatch * imageBytes, imageBytes);
                            free.add(s.image());
                            pending.add(s.photo().inSlot(inBatch++));
                        } else {
                            pending.add(s.photo());
                        }
                    }
                    boolean onlyFinishedRows = inBatch == 0 && pending.size() >= options.batch();
                    if (inBatch < options.batch() && s != null && !onlyFinishedRows) continue;
                    // A full batch, the end of the input, or a stretch of error/rejected rows: score what
                    // there is, then emit the rows in input order.
                    long t = System.nanoTime();
                    List<ScoredPhoto> rows = pipeline.score(session, batch, pending);
                    if (inBatch > 0) inferenceNanos += System.nanoTime() - t;
                    for (ScoredPhoto row : rows) {
                        switch (row.status()) {
                            case OK -> scored++;
                            case REJECTED -> rejected++;
                            case ERROR -> errors++;
                        }
                    }
                    sink.write(rows);
                    pending.clear();
                    inBatch = 0;
                }
                waitingNanos = workers.waitedNanos();
            }
        }
        return new Stats(scored, rejected, fromThumbnails.intValue(), errors, (System.nanoTime() - start) / 1e9, decodeNanos.sum() / 1e9,
                cleanNanos.sum() / 1e9, helpedNanos.sum() / 1e9, inferenceNanos / 1e9, waitingNanos / 1e9);
    }
}
