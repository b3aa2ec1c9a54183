package dev.snapscore.spark;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.batch.PhotoCleaner;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Preprocessor;
import dev.snapscore.engine.spec.ModelSpec;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.TaskCompletionListener;
import org.bytedeco.opencv.opencv_core.Mat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.nio.file.Path;

/**
 * Scores one partition of (path[, content]) rows on an executor: leases a session from the
 * {@link ExecutorEngine}, then reads, decodes, optionally cleans and preprocesses photos into the lease's
 * batch buffer on the task's thread, runs each full batch, and yields one output row per input row, in
 * input order, a batch at a time (a partition is never held in memory whole). A photo that cannot be read
 * or decoded is an error row; only a model that cannot be loaded fails the task.
 */
final class PartitionScorer implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final ScoreSettings settings;
    private final int pathColumn;
    private final int contentColumn; // -1: read each file on the executor

    PartitionScorer(ScoreSettings settings, int pathColumn, int contentColumn) {
        this.settings = settings;
        this.pathColumn = pathColumn;
        this.contentColumn = contentColumn;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        if (!input.hasNext()) return input; // an empty partition needs no session
        TaskContext task = TaskContext.get();
        // spark.task.cpus is the share of the executor's cores this task may use: give them all to oneDNN.
        int threads = task != null ? task.cpus() : 1;
        ExecutorEngine.Lease lease = ExecutorEngine.lease(settings.model().resolve(), threads, settings.batch());
        // Also when the task fails or stops early, the session goes back to the pool.
        if (task != null) task.addTaskCompletionListener((TaskCompletionListener) t -> lease.close());
        return new Rows(input, lease);
    }

    /** The output rows, computed a batch at a time as Spark pulls them. */
    private final class Rows implements Iterator<Row> {
        private final Iterator<Row> input;
        private final ExecutorEngine.Lease lease;
        private final ModelSpec spec;
        private final Preprocessor preprocessor;
        private final ImageDecoder decoder;
        private final PhotoCleaner cleaner;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();

        Rows(Iterator<Row> input, ExecutorEngine.Lease lease) {
            this.input = input;
            this.lease = lease;
            this.spec = lease.session().model().spec();
            this.preprocessor = new Preprocessor(spec.input(), spec.preprocess());
            this.decoder = new ImageDecoder(settings.maxBytes(), settings.maxPixels());
            this.cleaner = settings.cleaning() == null ? null : ExecutorEngine.cleaner(settings.cleaning(), decoder);
        }

        @Override
        public boolean hasNext() {
            if (ready.isEmpty() && input.hasNext()) scoreNextBatch();
            if (ready.isEmpty()) lease.close(); // done with the session: the next task may have it
            return !ready.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            return ready.poll();
        }

        /** A photo of the batch: a finished row (error, rejected), or the slot its pixels went to. */
        private record Pending(String file, Row done, int slot, Double faceFraction) {
        }

        private void scoreNextBatch() {
            int labels = spec.classes();
            List<Pending> pending = new ArrayList<>(settings.batch());
            int inBatch = 0;
            // Take photos until the buffer is full; error and rejected rows take no slot.
            while (inBatch < settings.batch() && input.hasNext()) {
                Row row = input.next();
                String path = row.getString(pathColumn);
                String file = ImageSource.displayName(path);
                try {
                    byte[] bytes = contentColumn >= 0 ? row.<byte[]>getAs(contentColumn) : ImageSource.read(path, decoder);
                    if (bytes == null) throw new ImageException(file + ": no content");
                    try (Mat bgr = decoder.decode(bytes, file)) {
                        Double fraction = null;
                        if (cleaner != null) {
                            PhotoCleaner.Outcome outcome = cleaner.check(Path.of(file), bgr);
                            fraction = outcome.largestFaceFraction();
                            if (outcome.decision() != PhotoCleaner.Decision.KEEP) {
                                pending.add(new Pending(file, ScoreColumns.rejected(file, fraction, labels), -1, null));
                                continue;
                            }
                        }
                        preprocessor.write(bgr, lease.buffer(), inBatch);
                        pending.add(new Pending(file, null, inBatch++, fraction));
                    }
                } catch (ImageException e) {
                    pending.add(new Pending(file, ScoreColumns.error(file, e.getMessage(), labels), -1, null));
                } catch (RuntimeException e) {
                    // What BatchScorer does too: an unexpected failure on one photo is that photo's row.
                    pending.add(new Pending(file, ScoreColumns.error(file, e.toString(), labels), -1, null));
                }
            }
            Result result = inBatch > 0 ? lease.session().run(lease.buffer(), inBatch) : null;
            for (Pending p : pending) {
                ready.add(p.done() != null ? p.done()
                        : ScoreColumns.ok(p.file(), Prediction.of(Path.of(p.file()), result, p.slot(), spec), p.faceFraction()));
            }
        }
    }
}
