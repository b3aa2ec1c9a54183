package dev.snapscore.engine.batch;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.spec.ModelSpec;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scores a list of photos as a pipeline: worker threads read, decode, clean (optionally) and preprocess
 * ahead of the inference thread, which runs full batches and hands rows to a sink in input order.
 * One photo's failure is that photo's error row; the run goes on.
 */
public final class BatchScorer {
    public enum Status { OK, REJECTED, ERROR }

    /** One photo's row: a prediction when OK, the face fraction when cleaning, the reason when ERROR. */
    public record Row(Path file, Status status, Prediction prediction, Double faceFraction, String error) {
    }

    /**
     * @param batch   images per inference run
     * @param workers threads that decode and preprocess (inference uses the session's own threads)
     * @param cleaner when not null, photos it does not keep are REJECTED rows and are not scored
     */
    public record Options(int batch, int workers, ImageDecoder decoder, PhotoCleaner cleaner) {
        public Options {
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
            if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        }
    }

    /** Receives rows in input order, a batch at a time (write and flush them). */
    public interface Sink {
        void write(List<Row> rows) throws IOException;
    }

    /** Totals: decode and clean are CPU time summed over workers; inference is the wall time of its runs. */
    public record Stats(int scored, int rejected, int errors, double seconds, double decodeSeconds,
                        double cleanSeconds, double inferenceSeconds) {
        public int total() {
            return scored + rejected + errors;
        }
    }

    private BatchScorer() {
    }

    /** A worker's output for one photo: a filled buffer to score, or a finished row. */
    private record Prepared(Path file, MemorySegment image, Double faceFraction, Row done) {
    }

    public static Stats run(Session session, List<Path> files, Options options, Sink sink) throws IOException {
        ModelSpec spec = session.model().spec();
        Preprocessor preprocessor = new Preprocessor(spec.input(), spec.preprocess());
        long imageBytes = spec.input().elements() * Float.BYTES;
        int window = 2 * options.batch() + 2 * options.workers();
        LongAdder decodeNanos = new LongAdder(), cleanNanos = new LongAdder();
        long inferenceNanos = 0;
        int scored = 0, rejected = 0, errors = 0;
        long start = System.nanoTime();
        try (Arena arena = Arena.ofShared()) {
            // One preprocessed image per photo in flight; at most `window` are, so take() never waits long.
            BlockingQueue<MemorySegment> free = new ArrayBlockingQueue<>(window);
            for (int i = 0; i < window; i++) free.add(arena.allocate(imageBytes, 64));
            MemorySegment batch = arena.allocate(options.batch() * imageBytes, 64);

            java.util.function.Function<Path, Prepared> prepare = file -> {
                long t0 = System.nanoTime();
                try (Mat bgr = options.decoder().read(file)) {
                    Double fraction = null;
                    if (options.cleaner() != null) {
                        long t1 = System.nanoTime();
                        decodeNanos.add(t1 - t0);
                        PhotoCleaner.Outcome outcome = options.cleaner().check(file, bgr);
                        t0 = System.nanoTime();
                        cleanNanos.add(t0 - t1);
                        fraction = outcome.largestFaceFraction();
                        if (outcome.decision() != PhotoCleaner.Decision.KEEP) {
                            return new Prepared(file, null, fraction, new Row(file, Status.REJECTED, null, fraction, null));
                        }
                    }
                    MemorySegment image = free.take();
                    preprocessor.write(bgr, image, 0);
                    decodeNanos.add(System.nanoTime() - t0);
                    return new Prepared(file, image, fraction, null);
                } catch (ImageException e) {
                    return new Prepared(file, null, null, new Row(file, Status.ERROR, null, null, e.getMessage()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return new Prepared(file, null, null, new Row(file, Status.ERROR, null, null, "interrupted"));
                } catch (RuntimeException e) {
                    return new Prepared(file, null, null, new Row(file, Status.ERROR, null, null, e.toString()));
                }
            };

            List<Prepared> pending = new ArrayList<>(); // rows of this batch, in input order
            int inBatch = 0;
            try (var workers = new OrderedWorkers<>(files, options.workers(), window, "snapscore-decode-", prepare)) {
                session.prepare(Math.min(options.batch(), Math.max(1, files.size()))); // while the first photos decode
                while (workers.hasNext() || !pending.isEmpty()) {
                    Prepared p = workers.hasNext() ? workers.next() : null;
                    if (p != null) {
                        pending.add(p);
                        if (p.image() != null) {
                            MemorySegment.copy(p.image(), 0, batch, inBatch++ * imageBytes, imageBytes);
                            free.add(p.image());
                        }
                    }
                    boolean onlyFinishedRows = inBatch == 0 && pending.size() >= options.batch();
                    if (inBatch < options.batch() && p != null && !onlyFinishedRows) continue;
                    // A full batch, the end of the input, or a stretch of error/rejected rows: score what
                    // there is, then emit the rows in input order.
                    Result result = null;
                    if (inBatch > 0) {
                        long t = System.nanoTime();
                        result = session.run(batch, inBatch);
                        inferenceNanos += System.nanoTime() - t;
                    }
                    List<Row> rows = new ArrayList<>(pending.size());
                    int k = 0;
                    for (Prepared q : pending) {
                        Row row = q.done() != null ? q.done()
                                : new Row(q.file(), Status.OK, Prediction.of(q.file(), result, k++, spec), q.faceFraction(), null);
                        switch (row.status()) {
                            case OK -> scored++;
                            case REJECTED -> rejected++;
                            case ERROR -> errors++;
                        }
                        rows.add(row);
                    }
                    sink.write(rows);
                    pending.clear();
                    inBatch = 0;
                }
            }
        }
        return new Stats(scored, rejected, errors, (System.nanoTime() - start) / 1e9, decodeNanos.sum() / 1e9,
                cleanNanos.sum() / 1e9, inferenceNanos / 1e9);
    }
}
