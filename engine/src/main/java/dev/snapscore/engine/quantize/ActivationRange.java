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
     * The clipping magnitude that minimises the expected squared quantisation error over the histogram with
     * {@code levels} steps: values below it cost step²/12 of rounding noise, values above it their distance
     * to it. Trades a few clipped outliers for finer steps where most values lie.
     */
    float clipMinimisingError(int levels) {
        if (histogram == null || total == 0) return absMax();
        double best = Double.MAX_VALUE;
        int bestBin = BINS - 1;
        for (int c = BINS / 64; c < BINS; c++) {
            double clip = (c + 1) * (double) binWidth, step = clip / levels, error = 0, inside = 0;
            for (int b = 0; b <= c; b++) inside += histogram[b];
            error += inside * step * step / 12;
            for (int b = c + 1; b < BINS; b++) {
                double over = (b + 0.5) * binWidth - clip;
                error += histogram[b] * over * over;
            }
            if (error < best) {
                best = error;
                bestBin = c;
            }
        }
        return Math.min((bestBin + 1) * binWidth, absMax());
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
