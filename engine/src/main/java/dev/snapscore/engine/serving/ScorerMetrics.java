package dev.snapscore.engine.serving;

import java.util.Arrays;

/**
 * Counters and distributions of a {@link Scorer}: queue depth, batch sizes, latency percentiles over the
 * most recent requests, acceptances, rejections and errors, and how many requests the inference thread
 * prepared itself. Thread-safe.
 */
public final class ScorerMetrics {
    private static final int LATENCY_WINDOW = 4096;

    private final long[] batchSizes; // index = images in the batch
    private final double[] latenciesMs = new double[LATENCY_WINDOW];
    private long latencyCount;
    private long accepted, rejected, errors, completed, batches, preparedByInference;

    ScorerMetrics(int maxBatch) {
        batchSizes = new long[maxBatch + 1];
    }

    synchronized void accepted() {
        accepted++;
    }

    synchronized void rejected() {
        rejected++;
    }

    synchronized void failed() {
        errors++;
    }

    synchronized void preparedByInference() {
        preparedByInference++;
    }

    synchronized void batch(int size) {
        batches++;
        batchSizes[size]++;
    }

    synchronized void completed(double latencyMs) {
        completed++;
        latenciesMs[(int) (latencyCount++ % LATENCY_WINDOW)] = latencyMs;
    }

    /** A consistent copy of the numbers. */
    public synchronized Snapshot snapshot(int queueDepth) {
        int n = (int) Math.min(latencyCount, LATENCY_WINDOW);
        double[] recent = Arrays.copyOf(latenciesMs, n);
        Arrays.sort(recent);
        return new Snapshot(queueDepth, accepted, rejected, errors, completed, batches, preparedByInference, batchSizes.clone(),
                percentile(recent, 0.5), percentile(recent, 0.9), percentile(recent, 0.99));
    }

    private static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        return sorted[(int) Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    }

    /**
     * @param preparedByInference requests the inference thread decoded and preprocessed itself, while it had
     *                            no full batch and they were still queued for the workers
     * @param batchSizes count of batches by size (index = images)
     * @param p50Ms      latency from submission to result, over the last 4096 requests
     */
    public record Snapshot(int queueDepth, long accepted, long rejected, long errors, long completed, long batches,
                           long preparedByInference, long[] batchSizes, double p50Ms, double p90Ms, double p99Ms) {
    }
}
