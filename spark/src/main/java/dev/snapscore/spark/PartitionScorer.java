package dev.snapscore.spark;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.PhotoSource;
import dev.snapscore.engine.photo.PreparedPhoto;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.TaskCompletionListener;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

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
        ExecutorEngine.Lease lease = ExecutorEngine.lease(settings.model().resolve(), settings.model().shipped(),
                settings.preparation(), threads, settings.batch());
        // Also when the task fails or stops early, the session goes back to the pool.
        if (task != null) task.addTaskCompletionListener((TaskCompletionListener) t -> lease.close());
        return new Rows(input, lease);
    }

    /** The output rows, computed a batch at a time as Spark pulls them. */
    private final class Rows implements Iterator<Row> {
        private final Iterator<Row> input;
        private final ExecutorEngine.Lease lease;
        private final int labels;
        private final PhotoPipeline pipeline;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();

        Rows(Iterator<Row> input, ExecutorEngine.Lease lease) {
            this.input = input;
            this.lease = lease;
            this.labels = lease.session().model().spec().classes();
            this.pipeline = lease.pipeline(settings.maxBytes(), settings.maxPixels(), settings.cleaning(), settings.decode());
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

        private void scoreNextBatch() {
            List<PreparedPhoto> pending = new ArrayList<>(settings.batch());
            int inBatch = 0;
            // Take photos until the buffer is full; error and rejected rows take no slot.
            while (inBatch < settings.batch() && input.hasNext()) {
                Row row = input.next();
                String path = row.getString(pathColumn);
                String file = ImageSource.displayName(path);
                PreparedPhoto p = pipeline.prepare(PhotoSource.reading(file, () -> {
                    byte[] bytes = contentColumn >= 0 ? row.<byte[]>getAs(contentColumn) : ImageSource.read(path, pipeline.decoder());
                    if (bytes == null) throw new ImageException(file + ": no content");
                    return bytes;
                }), lease.buffer(), inBatch);
                if (p.status() == ScoredPhoto.Status.OK) inBatch++;
                pending.add(p);
            }
            for (ScoredPhoto s : pipeline.score(lease.session(), lease.buffer(), pending)) ready.add(ScoreColumns.row(s, labels, settings.cleaning() != null));
        }
    }
}
