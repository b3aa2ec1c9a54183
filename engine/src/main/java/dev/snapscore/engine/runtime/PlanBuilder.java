package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlException;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.runtime.NetworkPlan.Constant;
import dev.snapscore.engine.runtime.NetworkPlan.Step;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static dev.snapscore.engine.runtime.NetworkPlan.INPUT;
import static dev.snapscore.engine.runtime.NetworkPlan.LOGITS;
import static dev.snapscore.engine.runtime.NetworkPlan.PING;
import static dev.snapscore.engine.runtime.NetworkPlan.PONG;
import static dev.snapscore.engine.runtime.NetworkPlan.WINOGRAD_A;
import static dev.snapscore.engine.runtime.NetworkPlan.WINOGRAD_B;

/**
 * The steps of a plan being emitted, and the buffers they need: where the current activation lives, in
 * which layout and storage, and the largest size each buffer has to hold. Emitters add steps through it;
 * it owns every primitive and descriptor they add until {@link #build} hands them to the plan, or
 * {@link #close} frees them after a failure.
 */
final class PlanBuilder implements AutoCloseable {
    final DnnlEngine engine;
    final ReorderedWeights weights;
    final int batch;
    private final List<Step> steps = new ArrayList<>();
    private final List<MemoryDesc> owned = new ArrayList<>(); // descriptors no step names (the input's, Winograd's outputs)

    private int current = INPUT;        // buffer holding the current activation
    private MemoryDesc currentDesc;     // its layout (owned by a step or by this)
    private Storage currentStorage = Storage.F32;
    private long maxActivation, maxScratchpad, maxWinogradA, maxWinogradB;

    /** Starts at the caller's f32 input, in {@code inputDesc}'s layout (owned by this from now on). */
    PlanBuilder(DnnlEngine engine, ReorderedWeights weights, int batch, MemoryDesc inputDesc) {
        this.engine = engine;
        this.weights = weights;
        this.batch = batch;
        this.currentDesc = inputDesc;
        owned.add(inputDesc);
    }

    int current() {
        return current;
    }

    MemoryDesc currentDesc() {
        return currentDesc;
    }

    /** The ping-pong buffer the current activation is not in. */
    int nextBuffer() {
        return current == PING ? PONG : PING;
    }

    /**
     * Adds {@code pd} reading {@code srcBuffer} as {@code srcArg} (in {@code srcDesc}, which the step owns) and
     * writing {@code dstBuffer}; returns its output's layout, owned by the step.
     */
    MemoryDesc step(String name, PrimitiveDesc pd, Arg srcArg, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                    List<Constant> constants) {
        MemoryDesc dstDesc = null, scratchpad = null;
        try {
            dstDesc = pd.dstDesc();
            scratchpad = pd.scratchpadDesc();
            steps.add(new Step(name, pd.createPrimitive(), srcArg, srcBuffer, srcDesc, dstBuffer, dstDesc, constants,
                    scratchpad, pd.implementation()));
        } catch (RuntimeException e) {
            for (MemoryDesc d : new MemoryDesc[] {srcDesc, dstDesc, scratchpad}) if (d != null) d.close();
            throw e;
        }
        maxScratchpad = Math.max(maxScratchpad, scratchpad.byteSize());
        grow(dstBuffer, dstDesc.byteSize());
        return dstDesc;
    }

    /** Adds {@code pd} reading the current activation as its source and writing the other ping-pong buffer. */
    void then(String name, PrimitiveDesc pd, List<Constant> constants, Storage output) {
        int dst = nextBuffer();
        currentDesc = step(name, pd, Arg.SRC, current, pd.srcDesc(), dst, constants);
        current = dst;
        currentStorage = output;
    }

    /** A reorder between two views; the step owns both descriptors. */
    void reorder(String name, int srcBuffer, MemoryDesc srcDesc, int dstBuffer, MemoryDesc dstDesc) {
        PrimitiveDesc pd;
        try (PrimitiveAttr attr = PrimitiveAttr.create(false)) {
            pd = PrimitiveDesc.reorder(engine, srcDesc, dstDesc, attr);
        } catch (RuntimeException e) {
            srcDesc.close();
            dstDesc.close();
            throw e;
        }
        try (pd) {
            stepWithDst(name, pd, srcBuffer, srcDesc, dstBuffer, dstDesc, List.of());
        }
    }

    /** A step whose output descriptor is {@code dstDesc} (owned by the step) rather than the one {@code pd} reports. */
    private void stepWithDst(String name, PrimitiveDesc pd, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                             MemoryDesc dstDesc, List<Constant> constants) {
        MemoryDesc scratchpad = null;
        try {
            scratchpad = pd.scratchpadDesc();
            steps.add(new Step(name, pd.createPrimitive(), Arg.SRC, srcBuffer, srcDesc, dstBuffer, dstDesc,
                    constants, scratchpad, pd.implementation()));
        } catch (RuntimeException e) {
            srcDesc.close();
            dstDesc.close();
            if (scratchpad != null) scratchpad.close();
            throw e;
        }
        maxScratchpad = Math.max(maxScratchpad, scratchpad.byteSize());
        grow(dstBuffer, dstDesc.byteSize());
    }

    /** Holds {@code desc} until the plan takes it, or frees it on failure; returns it. */
    MemoryDesc own(MemoryDesc desc) {
        owned.add(desc);
        return desc;
    }

    /** The activation is now in {@code buffer}, laid out as {@code desc} (owned by this from now on). */
    void moveTo(int buffer, MemoryDesc desc, Storage storage) {
        own(desc);
        current = buffer;
        currentDesc = desc;
        currentStorage = storage;
    }

    /**
     * Inserts a reorder when the next primitive wants its input in another layout or storage than the
     * current one: the reorder computes stored = real / scale on the way in and real = scale × stored on the
     * way out. Takes ownership of {@code wanted}.
     */
    void ensureInput(MemoryDesc wanted, Storage storage, String forLayer) {
        if (wanted.sameLayoutAs(currentDesc) && storage.equals(currentStorage)) {
            wanted.close();
            return;
        }
        List<Constant> constants = new ArrayList<>();
        PrimitiveDesc pd;
        try (PrimitiveAttr attr = PrimitiveAttr.create(false)) {
            if (currentStorage.type().isInteger()) {
                attr.scales(Arg.SRC, 0);
                constants.add(new Constant(Arg.SRC.scales(), weights.scalar(currentStorage.scale())));
            }
            if (storage.type().isInteger()) {
                attr.scales(Arg.DST, 0);
                constants.add(new Constant(Arg.DST.scales(), weights.scalar(storage.scale())));
            }
            pd = PrimitiveDesc.reorder(engine, currentDesc, wanted, attr);
        } catch (RuntimeException e) {
            wanted.close();
            throw e;
        }
        try (pd) {
            int dst = nextBuffer();
            stepWithDst("reorder to " + forLayer, pd, current, pd.srcDesc(), dst, wanted, constants);
            current = dst;
            currentDesc = wanted;
            currentStorage = storage;
        }
    }

    /** Moves the last step's output, the logits, out of the ping-pong buffers into their own. */
    void moveToLogits() {
        Step s = steps.removeLast();
        steps.add(new Step(s.name(), s.primitive(), s.srcArg(), s.srcBuffer(), s.srcDesc(), LOGITS, s.dstDesc(),
                s.constants(), s.scratchpadDesc(), s.implementation()));
        current = LOGITS;
    }

    /**
     * The primitive {@code make} gives for weights in {@code anyLayout}, unless another batch size's plan
     * already reordered these weights into a layout it did not pick: then the primitive for that layout, if
     * oneDNN has an optimised (not reference) implementation of it. A second copy of the weights costs more
     * than the other layout gains: VGG16's first dense layer is plain at batch 1 and blocked from batch 2,
     * 205 MB each, and it takes under 1% of a batch's time either way.
     */
    PrimitiveDesc sharingWeightsLayout(String weightName, MemoryDesc anyLayout, Function<MemoryDesc, PrimitiveDesc> make) {
        PrimitiveDesc chosen = make.apply(anyLayout);
        MemoryDesc existing = weights.layoutOf(weightName);
        if (existing == null) return chosen;
        PrimitiveDesc shared;
        try (MemoryDesc wanted = chosen.weightsDesc()) {
            if (wanted.sameLayoutAs(existing)) return chosen;
            shared = make.apply(existing);
        } catch (DnnlException e) {
            if (!e.isUnimplemented()) {
                chosen.close();
                throw e;
            }
            return chosen; // no implementation for that layout at this batch size
        } catch (RuntimeException e) {
            chosen.close();
            throw e;
        }
        if (shared.implementation().startsWith("ref")) {
            shared.close();
            return chosen;
        }
        chosen.close();
        return shared;
    }

    private void grow(int buffer, long bytes) {
        switch (buffer) {
            case WINOGRAD_A -> maxWinogradA = Math.max(maxWinogradA, bytes);
            case WINOGRAD_B -> maxWinogradB = Math.max(maxWinogradB, bytes);
            case LOGITS, NetworkPlan.PROBS -> { } // their own buffers, sized by the plan
            default -> maxActivation = Math.max(maxActivation, bytes);
        }
    }

    /** The plan, which takes over every step and descriptor; this builder is then empty. */
    NetworkPlan build(MemoryDesc inputDesc, MemoryDesc logitsDesc, MemoryDesc probsDesc) {
        owned.remove(inputDesc);
        owned.remove(logitsDesc);
        owned.remove(probsDesc);
        NetworkPlan plan = new NetworkPlan(batch, steps, inputDesc, logitsDesc, probsDesc, maxActivation, maxScratchpad,
                maxWinogradA, maxWinogradB, owned);
        steps.clear();
        owned.clear();
        return plan;
    }

    /** Frees whatever was emitted and not yet built into a plan. */
    @Override
    public void close() {
        NetworkPlan.closeAll(steps, owned);
        steps.clear();
        owned.clear();
    }
}
