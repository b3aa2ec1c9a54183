package dev.snapscore.engine;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Every setting of how a {@link Model} runs, in one place (as ONNX Runtime's {@code SessionOptions}).
 *
 * @param precision   the arithmetic of f32 layers ({@link Precision#F32} by default)
 * @param convolution how f32 3×3 convolutions run ({@link ConvolutionAlgorithm#AUTO} by default: timed per layer)
 * @param threads     oneDNN (OpenMP) threads of a session made by {@link Model#newSession()}: every core by default
 * @param maxBatch    the largest batch one run accepts; callers split bigger inputs
 * @param cache       whether {@link Model#load} keeps the prepared weights and {@code auto}'s choices in a plan cache
 *                    file and memory-maps them on later loads (on by default)
 * @param cacheDir    the plan cache's folder; null for the default: a {@code .snapscore-cache} folder beside the
 *                    model where that is writable, else {@code $XDG_CACHE_HOME/snapscore} ({@code ~/.cache/snapscore})
 * @param cacheLimit  bytes of plan files a cache folder may hold: after a load writes one there, the least recently
 *                    used others are removed until they fit ({@link #DEFAULT_CACHE_LIMIT} by default)
 */
public record ModelOptions(Precision precision, ConvolutionAlgorithm convolution, int threads, int maxBatch,
                           boolean cache, Path cacheDir, long cacheLimit) {
    /** The upper bound of {@link #maxBatch}, and its default. */
    public static final int MAX_BATCH = 1024;
    /** 4 GiB: about fifteen VGG16 f32 plans (275 MB each), every precision and convolution of a few models. */
    public static final long DEFAULT_CACHE_LIMIT = 4L << 30;

    public ModelOptions {
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(convolution, "convolution");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (maxBatch < 1 || maxBatch > MAX_BATCH) {
            throw new IllegalArgumentException("maxBatch must be 1.." + MAX_BATCH + ", got " + maxBatch);
        }
        if (cacheLimit <= 0) throw new IllegalArgumentException("cacheLimit must be > 0 bytes, got " + cacheLimit);
    }

    /**
     * f32, convolutions chosen per layer ({@link ConvolutionAlgorithm#AUTO}), every core, batches up to
     * {@link #MAX_BATCH}, the plan cache in its default folder, holding up to {@link #DEFAULT_CACHE_LIMIT}.
     */
    public static ModelOptions defaults() {
        return new ModelOptions(Precision.F32, ConvolutionAlgorithm.AUTO, Runtime.getRuntime().availableProcessors(),
                MAX_BATCH, true, null, DEFAULT_CACHE_LIMIT);
    }

    public ModelOptions withPrecision(Precision p) {
        return new ModelOptions(p, convolution, threads, maxBatch, cache, cacheDir, cacheLimit);
    }

    public ModelOptions withConvolution(ConvolutionAlgorithm c) {
        return new ModelOptions(precision, c, threads, maxBatch, cache, cacheDir, cacheLimit);
    }

    public ModelOptions withThreads(int t) {
        return new ModelOptions(precision, convolution, t, maxBatch, cache, cacheDir, cacheLimit);
    }

    public ModelOptions withMaxBatch(int b) {
        return new ModelOptions(precision, convolution, threads, b, cache, cacheDir, cacheLimit);
    }

    /** With the plan cache on or off. */
    public ModelOptions withCache(boolean on) {
        return new ModelOptions(precision, convolution, threads, maxBatch, on, cacheDir, cacheLimit);
    }

    /** With the plan cache in {@code dir} (null: the default folder); a folder turns the cache on. */
    public ModelOptions withCacheDir(Path dir) {
        return new ModelOptions(precision, convolution, threads, maxBatch, cache || dir != null, dir, cacheLimit);
    }

    /**
     * The user's plan cache folder, {@code $XDG_CACHE_HOME/snapscore} or {@code ~/.cache/snapscore}: the default
     * where a model's own folder cannot be written, and the place for models whose folder does not last (a copy
     * shipped to a Spark executor).
     */
    public static Path userCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && Path.of(xdg).isAbsolute() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("snapscore");
    }

    /** With at most {@code bytes} of plan files kept in the cache folder (see {@link #cacheLimit}); must be > 0. */
    public ModelOptions withCacheLimit(long bytes) {
        return new ModelOptions(precision, convolution, threads, maxBatch, cache, cacheDir, bytes);
    }
}
