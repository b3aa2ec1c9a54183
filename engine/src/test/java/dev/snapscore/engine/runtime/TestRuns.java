package dev.snapscore.engine.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** Inputs and runs shared by the engine's tests. */
public final class TestRuns {
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
}
