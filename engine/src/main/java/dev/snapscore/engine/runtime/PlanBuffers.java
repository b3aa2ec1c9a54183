package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlMemory;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.dnnl.ExecArgs;
import dev.snapscore.dnnl.MemoryDesc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * One session's working memory for one {@link NetworkPlan}: the input staging buffer, the logits and the
 * probabilities of its own, and the activation, scratchpad and Winograd buffers of the session's shared
 * {@link Workspace}, with every primitive's arguments laid out once, so a run is one downcall per
 * primitive and nothing else.
 */
final class PlanBuffers {
    /** A memory object and the buffer it views: one of {@code NetworkPlan}'s buffer ids, or {@link #SCRATCHPAD}. */
    private record Bound(DnnlMemory memory, int buffer) {
    }

    private static final int SCRATCHPAD = -1;

    private final NetworkPlan plan;
    private final List<Bound> memories = new ArrayList<>();
    private final List<DnnlMemory> inputReaders = new ArrayList<>(); // re-pointed at the caller's input each run
    private final List<ExecArgs> args = new ArrayList<>();
    private Workspace workspace;
    final MemorySegment inputStaging; // the input in the spec's layout, for inputs that are not native or not aligned
    final MemorySegment logits;       // (N, classes)
    final MemorySegment probs;        // (N, classes)

    /**
     * Small buffers, and the memory objects over every buffer, in {@code arena}, which frees them when it closes;
     * activations and scratchpad in {@code workspace}, which must {@linkplain Workspace#fits fit} the plan.
     */
    PlanBuffers(DnnlEngine engine, NetworkPlan plan, Arena arena, Workspace workspace) {
        this.plan = plan;
        this.workspace = workspace;
        inputStaging = plan.inputDesc.allocate(arena);
        logits = plan.logitsDesc.allocate(arena);
        probs = plan.probsDesc.allocate(arena);
        for (NetworkPlan.Step step : plan.steps) {
            DnnlMemory src = wrap(engine, step.srcDesc(), step.srcBuffer(), arena);
            if (step.srcBuffer() == NetworkPlan.INPUT) inputReaders.add(src);
            DnnlMemory dst = wrap(engine, step.dstDesc(), step.dstBuffer(), arena);
            DnnlMemory scratch = wrap(engine, step.scratchpadDesc(), SCRATCHPAD, arena);
            Map<Arg, DnnlMemory> a = new LinkedHashMap<>(Map.of(step.srcArg(), src, Arg.DST, dst, Arg.SCRATCHPAD, scratch));
            for (NetworkPlan.Constant c : step.constants()) a.put(c.arg(), c.value().memory());
            args.add(ExecArgs.of(arena, a));
        }
    }

    private DnnlMemory wrap(DnnlEngine engine, MemoryDesc desc, int buffer, Arena arena) {
        DnnlMemory m = DnnlMemory.wrap(engine, desc, segment(buffer)).ownedBy(arena);
        memories.add(new Bound(m, buffer));
        return m;
    }

    private MemorySegment segment(int buffer) {
        return switch (buffer) {
            case NetworkPlan.INPUT -> inputStaging;
            case NetworkPlan.PING -> workspace.ping;
            case NetworkPlan.PONG -> workspace.pong;
            case NetworkPlan.LOGITS -> logits;
            case NetworkPlan.PROBS -> probs;
            case SCRATCHPAD -> workspace.scratchpad;
            case NetworkPlan.WINOGRAD_A -> workspace.winogradA;
            case NetworkPlan.WINOGRAD_B -> workspace.winogradB;
            default -> throw new IllegalStateException("no buffer " + buffer);
        };
    }

    /** Re-points the activations, scratchpad and Winograd buffers at {@code bigger}, which replaces the current workspace. */
    void moveTo(Workspace bigger) {
        workspace = bigger;
        for (Bound b : memories) {
            if (b.buffer() != NetworkPlan.INPUT && b.buffer() != NetworkPlan.LOGITS && b.buffer() != NetworkPlan.PROBS) {
                b.memory().setBuffer(segment(b.buffer()));
            }
        }
    }

    /** Runs every step on {@code input} (in the spec's input layout, native, float-aligned) and waits. */
    void run(DnnlStream stream, MemorySegment input) {
        runSteps(stream, input, plan.steps.size());
    }

    /** Runs the first step alone on {@code input} and waits: the rest of the plan is left as it was. */
    void runFirstStep(DnnlStream stream, MemorySegment input) {
        runSteps(stream, input, 1);
    }

    private void runSteps(DnnlStream stream, MemorySegment input, int count) {
        for (DnnlMemory m : inputReaders) m.setBuffer(input);
        for (int i = 0; i < count; i++) {
            plan.steps.get(i).primitive().execute(stream, args.get(i));
        }
        stream.await();
    }

    /** Like {@link #run}, waiting after every step to show its output (in the step's layout) to {@code observer}. */
    void run(DnnlStream stream, MemorySegment input, StepObserver observer) {
        run(stream, input, step -> true, observer);
    }

    /**
     * Like {@link #run(DnnlStream, MemorySegment, StepObserver)}, but only the steps whose names {@code include}
     * accepts, for timing parts of a plan (the others' outputs are left as they were, so results mean nothing).
     */
    void run(DnnlStream stream, MemorySegment input, Predicate<String> include, StepObserver observer) {
        for (DnnlMemory m : inputReaders) m.setBuffer(input);
        for (int i = 0; i < plan.steps.size(); i++) {
            NetworkPlan.Step step = plan.steps.get(i);
            if (!include.test(step.name())) continue;
            step.primitive().execute(stream, args.get(i));
            stream.await();
            observer.output(step.name(), segment(step.dstBuffer()).asSlice(0, step.dstDesc().byteSize()));
        }
    }
}
