package dev.snapscore.engine;

import java.util.Objects;

/**
 * Every setting of how a {@link Model} runs, in one place (as ONNX Runtime's {@code SessionOptions}).
 *
 * @param precision   the arithmetic of f32 layers ({@link Precision#F32} by default)
 * @param convolution how f32 3×3 convolutions run ({@link ConvolutionAlgorithm#DIRECT} by default)
 * @param threads     oneDNN (OpenMP) threads of a session made by {@link Model#newSession()}: every core by default
 * @param maxBatch    the largest batch one run accepts; callers split bigger inputs
 */
public record ModelOptions(Precision precision, ConvolutionAlgorithm convolution, int threads, int maxBatch) {
    /** The upper bound of {@link #maxBatch}, and its default. */
    public static final int MAX_BATCH = 1024;

    public ModelOptions {
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(convolution, "convolution");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (maxBatch < 1 || maxBatch > MAX_BATCH) {
            throw new IllegalArgumentException("maxBatch must be 1.." + MAX_BATCH + ", got " + maxBatch);
        }
    }

    /** f32, direct convolutions, every core, batches up to {@link #MAX_BATCH}. */
    public static ModelOptions defaults() {
        return new ModelOptions(Precision.F32, ConvolutionAlgorithm.DIRECT, Runtime.getRuntime().availableProcessors(), MAX_BATCH);
    }

    public ModelOptions withPrecision(Precision p) {
        return new ModelOptions(p, convolution, threads, maxBatch);
    }

    public ModelOptions withConvolution(ConvolutionAlgorithm c) {
        return new ModelOptions(precision, c, threads, maxBatch);
    }

    public ModelOptions withThreads(int t) {
        return new ModelOptions(precision, convolution, t, maxBatch);
    }

    public ModelOptions withMaxBatch(int b) {
        return new ModelOptions(precision, convolution, threads, b);
    }
}
