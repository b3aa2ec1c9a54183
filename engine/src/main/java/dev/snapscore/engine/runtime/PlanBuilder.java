package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlException;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.runtime.NetworkPlan.Constant;
import dev.snapscore.engine.runtime.NetworkPlan.Step;

import java.lang.foreign.Arena;
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
 * every primitive and descriptor it keeps belongs to its arena, which {@link #build} hands to the plan, or
 * {@link #close} closes after a failure.
 */
final class PlanBuilder implements AutoCloseable {
    final DnnlEngine engine;
    final ReorderedWeights weights;
    final int batch;
    private final Arena arena = Arena.ofShared(); // the plan's handles: its steps run on every session's thread
    private final List<Step> steps = new ArrayList<>();
    private boolean built;

    private int current = INPUT;        // buffer holding the current activation
    private MemoryDesc currentDesc;     // its layout (in the arena)
    private Storage currentStorage = Storage.F32;
    private long maxActivation, maxScratchpad, maxWinogradA, maxWinogradB;

    /** Starts at the caller's f32 input, in {@code inputDesc}'s layout (owned by this from now on). */
    PlanBuilder(DnnlEngine engine, ReorderedWeights weights, int batch, MemoryDesc inputDesc) {
        this.engine = engine;
        this.weights = weights;
        this.batch = batch;
        this.currentDesc = own(inputDesc);
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
     * Adds {@code pd} reading {@code srcBuffer} as {@code srcArg} (in {@code srcDesc}, which this takes ownership of) and
     * writing {@code dstBuffer}; returns its output's layout, in the plan's arena.
     */
    MemoryDesc step(String name, PrimitiveDesc pd, Arg srcArg, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                    List<Constant> constants) {
        own(srcDesc);
        MemoryDesc dstDesc = own(pd.dstDesc());
        add(name, pd, srcArg, srcBuffer, srcDesc, dstBuffer, dstDesc, constants);
        return dstDesc;
    }

    /** A step with descriptors this already owns. */
    private void add(String name, PrimitiveDesc pd, Arg srcArg, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                     MemoryDesc dstDesc, List<Constant> constants) {
        MemoryDesc scratchpad = own(pd.scratchpadDesc());
        steps.add(new Step(name, pd.createPrimitive().ownedBy(arena), srcArg, srcBuffer, srcDesc, dstBuffer, dstDesc,
                constants, scratchpad, pd.implementation()));
        maxScratchpad = Math.max(maxScratchpad, scratchpad.byteSize());
        grow(dstBuffer, dstDesc.byteSize());
    }

    /** Adds {@code pd} reading the current activation as its source and writing the other ping-pong buffer. */
    void then(String name, PrimitiveDesc pd, List<Constant> constants, Storage output) {
        int dst = nextBuffer();
        currentDesc = step(name, pd, Arg.SRC, current, pd.srcDesc(), dst, constants);
        current = dst;
        currentStorage = output;
    }

    /** A reorder between two views, which this takes ownership of. */
    void reorder(String name, int srcBuffer, MemoryDesc srcDesc, int dstBuffer, MemoryDesc dstDesc) {
        own(srcDesc);
        own(dstDesc);
        try (PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.reorder(engine, srcDesc, dstDesc, attr)) {
            add(name, pd, Arg.SRC, srcBuffer, srcDesc, dstBuffer, dstDesc, List.of());
        }
    }

    /** Makes {@code desc} the plan's: freed with it, or with this after a failure; returns it. */
    MemoryDesc own(MemoryDesc desc) {
        return desc.ownedBy(arena);
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
        own(wanted);
        List<Constant> constants = new ArrayList<>();
        try (PrimitiveAttr attr = PrimitiveAttr.create(false)) {
            if (currentStorage.type().isInteger()) {
                attr.scales(Arg.SRC, 0);
                constants.add(new Constant(Arg.SRC.scales(), weights.scalar(currentStorage.scale())));
            }
            if (storage.type().isInteger()) {
                attr.scales(Arg.DST, 0);
                constants.add(new Constant(Arg.DST.scales(), weights.scalar(storage.scale())));
            }
            try (PrimitiveDesc pd = PrimitiveDesc.reorder(engine, currentDesc, wanted, attr)) {
                int dst = nextBuffer();
                add("reorder to " + forLayer, pd, Arg.SRC, current, own(pd.srcDesc()), dst, wanted, constants);
                current = dst;
                currentDesc = wanted;
                currentStorage = storage;
            }
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

    /** The plan, which takes over this builder's arena; {@link #close} then leaves it open. */
    NetworkPlan build(MemoryDesc inputDesc, MemoryDesc logitsDesc, MemoryDesc probsDesc) {
        built = true;
        return new NetworkPlan(batch, steps, inputDesc, logitsDesc, probsDesc, maxActivation, maxScratchpad,
                maxWinogradA, maxWinogradB, arena);
    }

    /** Frees whatever was emitted, unless it was built into a plan. */
    @Override
    public void close() {
        if (!built) arena.close();
    }
}
