package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.snapscore.engine.runtime.TestRuns.DIRECT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Plans for several batch sizes share one copy of each dense layer's weights, in the layout the first plan
 * chose, even where oneDNN would pick another layout for the later batch size on its own.
 */
class WeightLayoutSharingTest {

    @Test
    void laterBatchSizesReuseTheDenseWeightsLayout() {
        var config = new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(64, 32), 5, FlattenOrder.NCHW, 3, 64);
        try (LoadedModel m = ModelGenerator.generate(config); Arena arena = Arena.ofConfined()) {
            List<Layer.Dense> dense = m.spec().layers().stream().filter(l -> l instanceof Layer.Dense)
                    .map(l -> (Layer.Dense) l).toList();
            String first = dense.getFirst().weightName();
            MemorySegment input = TestRuns.images(arena, m.spec().input().elements(), 8, 5);
            float[] shared, alone;
            try (OneDnnNetwork network = new OneDnnNetwork(m.spec(), m.weights(), DIRECT); // batch 1 compiled first
                 OneDnnExecutor executor = network.newExecutor(2);
                 OneDnnNetwork batch8First = new OneDnnNetwork(m.spec(), m.weights(), DIRECT);
                 OneDnnExecutor executor8 = batch8First.newExecutor(2)) {
                alone = TestRuns.logits(executor8, input, 8, m.spec().classes());
                // Where batch 8 would pick batch 1's layout anyway, there is nothing to share.
                assumeTrue(batch8PicksAnotherLayout(m, first, network.weights().layoutOf(first)),
                        "oneDNN picks the same dense weights layout at batches 1 and 8 on this CPU");
                shared = TestRuns.logits(executor, input, 8, m.spec().classes());
                for (Layer.Dense d : dense) assertEquals(1, network.weights().copies(d.weightName()), d.name());
            }
            double spread = 0, diff = 0;
            for (int i = 0; i < alone.length; i++) {
                spread = Math.max(spread, Math.abs(alone[i]));
                diff = Math.max(diff, Math.abs(alone[i] - shared[i]));
            }
            assertTrue(spread > 0, "the network must produce non-zero logits");
            assertTrue(diff <= 1e-5 * spread, "batch 8 on batch 1's layout differs by " + diff + " (spread " + spread + ")");
        }
    }

    /** Whether oneDNN, left to itself, lays out tensor {@code name} for batch 8 differently from {@code batch1}. */
    private static boolean batch8PicksAnotherLayout(LoadedModel m, String name, MemoryDesc batch1) {
        try (DnnlEngine engine = DnnlEngine.cpu(); Arena arena = Arena.ofConfined()) {
            ReorderedWeights fresh = new ReorderedWeights(engine, m.weights(), arena);
            NetworkPlan.compile(engine, m.spec(), new Lowering(CpuCapabilities.detect(), false, Winograd.Rule.NEVER), 8, fresh).close();
            return !fresh.layoutOf(name).sameLayoutAs(batch1);
        }
    }
}
