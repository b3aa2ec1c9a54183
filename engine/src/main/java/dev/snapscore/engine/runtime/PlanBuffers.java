package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlMemory;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.dnnl.ExecArgs;
import dev.snapscore.dnnl.MemoryDesc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One session's working memory for one {@link NetworkPlan}: two ping-pong activation buffers, the
 * logits, the probabilities and a scratchpad, with every primitive's arguments laid out once, so a run
 * is one downcall per primitive and nothing else.
 */
final class PlanBuffers implements AutoCloseable {
    private final NetworkPlan plan;
    private final List<DnnlMemory> memories = new ArrayList<>();
    private final List<DnnlMemory> inputReaders = new ArrayList<>(); // re-pointed at the caller's input each run
    private final List<ExecArgs> args = new ArrayList<>();
    private final MemorySegment[] buffers;
    final MemorySegment inputStaging; // (N, C, H, W) nchw, for inputs that are not native or not aligned
    final MemorySegment logits;       // (N, classes)
    final MemorySegment probs;        // (N, classes)

    PlanBuffers(DnnlEngine engine, NetworkPlan plan, Arena arena) {
        this.plan = plan;
        inputStaging = plan.inputDesc.allocate(arena);
        buffers = new MemorySegment[] {
                inputStaging,
                arena.allocate(plan.pingPongBytes, 64),
                arena.allocate(plan.pingPongBytes, 64),
                logits = plan.logitsDesc.allocate(arena),
                probs = plan.probsDesc.allocate(arena),
        };
        MemorySegment scratchpad = arena.allocate(Math.max(plan.scratchpadBytes, 1), 64);
        try {
            for (NetworkPlan.Step step : plan.steps) {
                DnnlMemory src = wrap(engine, step.srcDesc(), buffers[step.srcBuffer()]);
                if (step.srcBuffer() == NetworkPlan.INPUT) inputReaders.add(src);
                DnnlMemory dst = wrap(engine, step.dstDesc(), buffers[step.dstBuffer()]);
                DnnlMemory scratch = wrap(engine, step.scratchpadDesc(), scratchpad);
                List<Object> a = new ArrayList<>(List.of(Dnnl.ARG_SRC, src, Dnnl.ARG_DST, dst, Dnnl.ARG_SCRATCHPAD, scratch));
                for (NetworkPlan.Constant c : step.constants()) a.addAll(List.of(c.arg(), c.value().memory()));
                args.add(ExecArgs.of(arena, a.toArray()));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private DnnlMemory wrap(DnnlEngine engine, MemoryDesc desc, MemorySegment buffer) {
        DnnlMemory m = DnnlMemory.wrap(engine, desc, buffer);
        memories.add(m);
        return m;
    }

    /** Runs every step on {@code input} ((N, C, H, W) nchw, native, float-aligned) and waits. */
    void run(DnnlStream stream, MemorySegment input) {
        for (DnnlMemory m : inputReaders) m.setBuffer(input);
        for (int i = 0; i < plan.steps.size(); i++) {
            plan.steps.get(i).primitive().execute(stream, args.get(i));
        }
        stream.await();
    }

    /** Like {@link #run}, waiting after every step to show its output (in the step's layout) to {@code observer}. */
    void run(DnnlStream stream, MemorySegment input, StepObserver observer) {
        for (DnnlMemory m : inputReaders) m.setBuffer(input);
        for (int i = 0; i < plan.steps.size(); i++) {
            NetworkPlan.Step step = plan.steps.get(i);
            step.primitive().execute(stream, args.get(i));
            stream.await();
            observer.output(step.name(), buffers[step.dstBuffer()].asSlice(0, step.dstDesc().byteSize()));
        }
    }

    @Override
    public void close() {
        for (DnnlMemory m : memories) m.close();
        memories.clear();
    }
}
