package dev.snapscore.engine.runtime;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** Inputs and runs shared by the engine's tests. */
public final class TestRuns {
    /**
     * Direct convolutions, for tests that compare two loads (or a load and pinned numbers) exactly: the default,
     * {@link ConvolutionAlgorithm#AUTO}, times its layers at each load and may pick Winograd for some, which moves
     * logits by about 1e-5 of their size.
     */
    public static final ModelOptions DIRECT = ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT);

    private TestRuns() {
    }

    /** {@code n} pixel-like images (smooth waves plus noise, roughly the range preprocessing gives), deterministic per seed. */
    public static MemorySegment images(Arena arena, long perImage, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment s = arena.allocate(n * perImage * Float.BYTES, 64);
        for (long i = 0; i < n * perImage; i++) {
            s.setAtIndex(JAVA_FLOAT, i, (float) (60 * Math.sin(i * 0.01 + r.nextDouble()) + r.nextDouble(-40, 40)));
        }
        return s;
    }

    /** The logits of {@code n} images from {@code input}, (n, classes) row-major. */
    static float[] logits(OneDnnExecutor executor, MemorySegment input, int n, int classes) {
        float[] logits = new float[n * classes], probs = new float[n * classes];
        executor.run(input, n, logits, probs);
        return logits;
    }

    /** The index of the largest of {@code count} values from {@code from}. */
    static int argmax(float[] v, int from, int count) {
        int best = 0;
        for (int i = 1; i < count; i++) if (v[from + i] > v[from + best]) best = i;
        return best;
    }

    /** ‖a − b‖ / ‖a‖ over all values. */
    static double relativeError(float[] a, float[] b) {
        double diff = 0, norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += (a[i] - b[i]) * (double) (a[i] - b[i]);
            norm += a[i] * (double) a[i];
        }
        return Math.sqrt(diff / norm);
    }
}
