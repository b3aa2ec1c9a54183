package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.Primitive;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;

import java.lang.foreign.Arena;
import java.util.List;

/**
 * The network compiled for one batch size: oneDNN primitives in execution order, the layouts they chose,
 * and which activation buffer each reads and writes. Built once per batch size and shared by every
 * session; executing it needs a {@link PlanBuffers} of the session's own.
 *
 * <p>Activations stay in oneDNN's blocked layouts from the first convolution to the logits; the only
 * reorders are the caller's input (NCHW or NHWC, as the spec says) into the first convolution's layout, and any layout change a
 * primitive asks for (rare). Flatten costs nothing: the first dense layer reads the 4-D feature map with
 * weights viewed as (out, C, H, W) in NCHW or NHWC order. Convolutions run as {@link Winograd} read channel
 * planes (nchw) and write nchw for another such layer or nhwc for the rest; a reorder enters the first.
 *
 * <p>In an int8 model ({@link Quantization}) a quantised layer reads u8/s8 activations and s8 weights, and
 * writes its output already requantised (oneDNN applies the source, per-channel weight and destination
 * scales inside the kernel, after the fused ReLU); max-pools work on the integers as they are. Reorders
 * quantise the caller's f32 input, and dequantise before any layer left in f32. In bf16 the reorder into the
 * first convolution converts the input to bf16, and the last dense layer writes f32 logits.
 *
 * <p>{@link Lowering} decides what each layer becomes; {@link #compile} emits each lowered layer through a
 * {@link PlanBuilder}: {@link Convolutions}, {@link Winograd}, {@link Pools}, {@link DenseLayers}.
 */
final class NetworkPlan implements AutoCloseable {
    /**
     * Buffer ids: the caller's input, two ping-pong activation buffers, the logits, the probabilities, and
     * two buffers for the intermediate results of Winograd convolutions.
     */
    static final int INPUT = 0, PING = 1, PONG = 2, LOGITS = 3, PROBS = 4, WINOGRAD_A = 5, WINOGRAD_B = 6;

    /** A constant argument of a step: weights, bias, or int8 scales, owned by {@link ReorderedWeights}. */
    record Constant(Arg arg, ReorderedWeights.Entry value) {
    }

    /**
     * One primitive execution: what it reads (as {@code srcArg}, usually {@code ARG_SRC}) and writes, and its
     * constant arguments.
     */
    record Step(String name, Primitive primitive, Arg srcArg, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                MemoryDesc dstDesc, List<Constant> constants, MemoryDesc scratchpadDesc, String implementation) {
    }

    final int batch;
    final List<Step> steps;
    final MemoryDesc inputDesc;   // (N, C, H, W) in the spec's input layout (nchw or nhwc), as callers pass it
    final MemoryDesc logitsDesc;  // (N, classes) nc
    final MemoryDesc probsDesc;   // (N, classes) nc
    final long pingPongBytes;     // size of each ping-pong buffer: the largest activation
    final long scratchpadBytes;   // the largest scratchpad any step needs
    final long winogradABytes, winogradBBytes; // sizes of the Winograd buffers (0 without such layers)
    private final Arena arena; // owns every primitive and descriptor above

    NetworkPlan(int batch, List<Step> steps, MemoryDesc inputDesc, MemoryDesc logitsDesc, MemoryDesc probsDesc,
                long pingPongBytes, long scratchpadBytes, long winogradABytes, long winogradBBytes, Arena arena) {
        this.batch = batch;
        this.steps = List.copyOf(steps);
        this.inputDesc = inputDesc;
        this.logitsDesc = logitsDesc;
        this.probsDesc = probsDesc;
        this.pingPongBytes = pingPongBytes;
        this.scratchpadBytes = scratchpadBytes;
        this.winogradABytes = winogradABytes;
        this.winogradBBytes = winogradBBytes;
        this.arena = arena;
    }

    /** Compiles {@code spec} for {@code batch} images as {@code lowering} decides; weights are reordered (or reused) through {@code weights}. */
    static NetworkPlan compile(DnnlEngine engine, ModelSpec spec, Lowering lowering, int batch, ReorderedWeights weights) {
        return emit(engine, spec, lowering.lower(spec, batch), batch, weights);
    }

    /** Emits {@code lowered} (the lowering of {@code spec} for {@code batch}) with oneDNN. */
    static NetworkPlan emit(DnnlEngine engine, ModelSpec spec, List<Lowered> lowered, int batch, ReorderedWeights weights) {
        var in = spec.input();
        MemoryDesc inputDesc = MemoryDesc.of(new long[] {batch, in.channels(), in.height(), in.width()},
                in.layout() == InputLayout.NHWC ? FormatTag.ACDB : FormatTag.ABCD);
        try (PlanBuilder b = new PlanBuilder(engine, weights, batch, inputDesc)) {
            MemoryDesc logitsDesc = null, probsDesc = null;
            for (Lowered l : lowered) {
                switch (l) {
                    case Lowered.DirectConv c -> Convolutions.direct(b, c);
                    case Lowered.WinogradConv c -> Winograd.emit(b, c);
                    case Lowered.MaxPool p -> Pools.max(b, p);
                    case Lowered.GlobalAveragePool p -> Pools.globalAverage(b, p);
                    case Lowered.InnerProduct d -> DenseLayers.innerProduct(b, d);
                    case Lowered.DecompressedDense d -> DenseLayers.decompressed(b, d);
                    case Lowered.Softmax s -> {
                        logitsDesc = b.own(MemoryDesc.of(s.logits(), FormatTag.AB));
                        probsDesc = b.own(MemoryDesc.of(s.logits(), FormatTag.AB));
                        try (PrimitiveAttr attr = PrimitiveAttr.create(false);
                             PrimitiveDesc pd = PrimitiveDesc.softmax(engine, logitsDesc, probsDesc, 1, attr)) {
                            b.step("softmax", pd, Arg.SRC, LOGITS, pd.srcDesc(), PROBS, List.of());
                        }
                    }
                }
            }
            return b.build(inputDesc, logitsDesc, probsDesc);
        }
    }

    /** Frees the plan's primitives and descriptors; using them afterwards is an {@link IllegalStateException}. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
