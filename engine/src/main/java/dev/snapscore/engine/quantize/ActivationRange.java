package dev.snapscore.engine.quantize;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * What calibration saw of one activation tensor: its smallest and largest value, then (second pass) a
 * histogram of magnitudes over [0, the largest magnitude] for percentile clipping.
 */
final class ActivationRange {
    private static final int BINS = 4096;

    private float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
    private long[] histogram;
    private float binWidth;
    private long total;

    /** First pass: extends the range by every f32 value in {@code values}. */
    void addRange(MemorySegment values) {
        float lo = min, hi = max;
        long n = values.byteSize() / Float.BYTES;
        for (long i = 0; i < n; i++) {
            float v = values.getAtIndex(JAVA_FLOAT, i);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        min = lo;
        max = hi;
    }

    /** Second pass: counts magnitudes into the histogram. */
    void addHistogram(MemorySegment values) {
        if (histogram == null) {
            histogram = new long[BINS];
            binWidth = Math.max(absMax(), Float.MIN_NORMAL) / BINS;
        }
        long n = values.byteSize() / Float.BYTES;
        for (long i = 0; i < n; i++) {
            int bin = (int) (Math.abs(values.getAtIndex(JAVA_FLOAT, i)) / binWidth);
            histogram[Math.min(bin, BINS - 1)]++;
        }
        total += n;
    }

    float min() {
        return min;
    }

    float absMax() {
        return Math.max(Math.abs(min), Math.abs(max));
    }

    /**
     * The magnitude below which {@code percentile} % of the values lie (the upper edge of that bin), or
     * the largest magnitude when no histogram was taken.
     */
    float clip(double percentile) {
        if (histogram == null || total == 0) return absMax();
        long wanted = (long) Math.ceil(total * percentile / 100.0);
        long seen = 0;
        for (int b = 0; b < BINS; b++) {
            seen += histogram[b];
            if (seen >= wanted) return Math.min((b + 1) * binWidth, absMax());
        }
        return absMax();
    }
}
