package dev.snapscore.engine.runtime;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.spec.FlattenOrder;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.snapscore.engine.runtime.TestRuns.DIRECT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An executor's batch sizes share one workspace, which grows in place of the plans it already serves. */
class OneDnnExecutorTest {
    /** A VGG16 at 1/16 width on 24 x 16 inputs: every layer kind, in milliseconds. */
    private static final ModelGenerator.Config SMALL_VGG =
            new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(24, 16), 5, FlattenOrder.NCHW, 3, 64);

    @Test
    void batchSizesShareOneWorkspaceSizedForTheLargest() {
        try (LoadedModel m = ModelGenerator.generate(SMALL_VGG); Arena arena = Arena.ofConfined();
             OneDnnNetwork network = new OneDnnNetwork(m.spec(), m.weights(), DIRECT)) {
            MemorySegment input = TestRuns.images(arena, m.spec().input().elements(), 8, 3);
            float[] small, smallAgain, large, largeAlone;
            long shared, alone;
            try (OneDnnExecutor executor = network.newExecutor(2)) {
                small = TestRuns.logits(executor, input, 2, m.spec().classes());
                long afterSmall = executor.workspaceBytes();
                // Every size up to 8: each new plan either fits or grows the workspace, re-pointing the others.
                for (int n = 1; n <= 8; n++) executor.prepare(n);
                assertTrue(executor.workspaceBytes() > afterSmall, "batch 8 needs more than batch 2");
                large = TestRuns.logits(executor, input, 8, m.spec().classes());
                smallAgain = TestRuns.logits(executor, input, 2, m.spec().classes());
                shared = executor.workspaceBytes();
            }
            try (OneDnnExecutor executor = network.newExecutor(2)) {
                largeAlone = TestRuns.logits(executor, input, 8, m.spec().classes());
                alone = executor.workspaceBytes();
            }
            assertArrayEquals(small, smallAgain, 0f, "batch 2 after its buffers moved to the grown workspace");
            assertArrayEquals(largeAlone, large, 0f, "batch 8 beside seven other sizes");
            assertEquals(alone, shared, "eight batch sizes hold what batch 8 alone needs");
        }
    }

    @Test
    void preparingWarmsUpWithoutChangingAnyResult() {
        try (LoadedModel m = ModelGenerator.generate(SMALL_VGG); Arena arena = Arena.ofConfined();
             OneDnnNetwork network = new OneDnnNetwork(m.spec(), m.weights(), DIRECT)) {
            MemorySegment input = TestRuns.images(arena, m.spec().input().elements(), 4, 5);
            int classes = m.spec().classes();
            float[] four, one;
            try (OneDnnExecutor cold = network.newExecutor(2)) {
                four = TestRuns.logits(cold, input, 4, classes);
                one = TestRuns.logits(cold, input, 1, classes);
            }
            try (OneDnnExecutor warmed = network.newExecutor(2)) {
                // The warm-up runs zeros through batch 1's first step, whose activations share the workspace with batch 4's.
                warmed.prepare(4);
                assertArrayEquals(four, TestRuns.logits(warmed, input, 4, classes), 0f, "batch 4 after the warm-up");
                assertArrayEquals(one, TestRuns.logits(warmed, input, 1, classes), 0f, "batch 1 after the warm-up");
            }
        }
    }
}
