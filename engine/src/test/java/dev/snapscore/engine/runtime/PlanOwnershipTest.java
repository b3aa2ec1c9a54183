package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlException;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.dnnl.ExecArgs;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.spec.FlattenOrder;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every oneDNN handle of a network (plans, weights, session buffers) is destroyed when its owner closes, once, and a
 * plan whose owner closed refuses use instead of calling into freed memory. Counts {@link Dnnl#liveHandles()}, so
 * it relies on test classes running one at a time, as surefire runs them here.
 */
class PlanOwnershipTest {
    private static final ModelGenerator.Config SMALL =
            new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(32), 5, FlattenOrder.NCHW, 3, 32);

    @Test
    void closingTheNetworkDestroysEveryHandleItMade() {
        try (LoadedModel m = ModelGenerator.generate(SMALL); Arena arena = Arena.ofConfined()) {
            long before = Dnnl.liveHandles();
            MemorySegment input = TestRuns.images(arena, m.spec().input().elements(), 2, 3);
            OneDnnNetwork network = new OneDnnNetwork(m.spec(), m.weights());
            OneDnnExecutor executor = network.newExecutor(1);
            TestRuns.logits(executor, input, 1, m.spec().classes());
            TestRuns.logits(executor, input, 2, m.spec().classes());
            NetworkPlan plan = network.plan(2);
            long steps = network.plan(1).steps.size() + plan.steps.size();
            // per step at least a primitive, three descriptors and, in the session, three memory objects
            assertTrue(Dnnl.liveHandles() - before >= 7 * steps, (Dnnl.liveHandles() - before) + " handles for " + steps + " steps");
            executor.close();
            network.close();
            assertEquals(before, Dnnl.liveHandles(), "handles left after the network closed");
            network.close();
            assertEquals(before, Dnnl.liveHandles());

            var e = assertThrows(IllegalStateException.class, plan.inputDesc::byteSize);
            assertTrue(e.getMessage().contains("freed with the arena"), e.getMessage());
            try (DnnlEngine engine = DnnlEngine.cpu(); DnnlStream stream = DnnlStream.create(engine)) {
                ExecArgs none = ExecArgs.of(arena, Map.of());
                assertThrows(IllegalStateException.class, () -> plan.steps.getFirst().primitive().execute(stream, none));
            }
        }
    }

    /** A plan that fails half-way (a convolution oneDNN refuses) frees the steps it had emitted. */
    @Test
    void aFailedCompileFreesWhatItEmitted() {
        try (LoadedModel m = ModelGenerator.generate(SMALL)) {
            long before = Dnnl.liveHandles();
            try (DnnlEngine engine = DnnlEngine.cpu()) {
                Arena weightsArena = Arena.ofShared();
                ReorderedWeights weights = new ReorderedWeights(engine, m.weights(), weightsArena);
                List<Lowered> lowered = new ArrayList<>(new Lowering(CpuCapabilities.detect(), false, Winograd.Rule.NEVER)
                        .lower(m.spec(), 1));
                int second = 0;
                for (int i = 0, convs = 0; i < lowered.size(); i++) if (lowered.get(i) instanceof Lowered.DirectConv && ++convs == 2) second = i;
                var c = (Lowered.DirectConv) lowered.get(second);
                long[] wrongDst = c.dst().clone();
                wrongDst[2]++;
                lowered.set(second, new Lowered.DirectConv(c.layer(), c.src(), wrongDst, c.weights(), c.in(), c.out(), c.weightType()));
                long withWeights = Dnnl.liveHandles();
                var e = assertThrows(DnnlException.class, () -> NetworkPlan.emit(engine, m.spec(), lowered, 1, weights));
                assertTrue(e.getMessage().contains("convolution"), e.getMessage());
                assertTrue(Dnnl.liveHandles() > withWeights, "the first convolution's weights stay in the store");
                weightsArena.close();
            }
            assertEquals(before, Dnnl.liveHandles(), "handles left after a failed compile");
        }
    }
}
