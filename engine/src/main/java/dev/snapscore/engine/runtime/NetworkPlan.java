package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.Primitive;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Window;

import java.util.ArrayList;
import java.util.List;

/**
 * The network compiled for one batch size: oneDNN primitives in execution order, the layouts they chose,
 * and which activation buffer each reads and writes. Built once per batch size and shared by every
 * session; executing it needs a {@link PlanBuffers} of the session's own.
 *
 * <p>Activations stay in oneDNN's blocked layouts from the first convolution to the logits; the only
 * reorders are the caller's NCHW input into the first convolution's layout, and any layout change a
 * primitive asks for (rare). Flatten costs nothing: the first dense layer reads the 4-D feature map with
 * weights viewed as (out, C, H, W) in NCHW or NHWC order.
 */
final class NetworkPlan implements AutoCloseable {
    /** Buffer ids: the caller's input, two ping-pong activation buffers, the logits, the probabilities. */
    static final int INPUT = 0, PING = 1, PONG = 2, LOGITS = 3, PROBS = 4;

    /** One primitive execution: what it reads and writes, and the model weights it uses (or null). */
    record Step(String name, Primitive primitive, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                MemoryDesc dstDesc, ReorderedWeights.Entry weights, ReorderedWeights.Entry bias,
                MemoryDesc scratchpadDesc, String implementation) {
    }

    final int batch;
    final List<Step> steps;
    final MemoryDesc inputDesc;   // (N, C, H, W) nchw, as callers pass it
    final MemoryDesc logitsDesc;  // (N, classes) nc
    final MemoryDesc probsDesc;   // (N, classes) nc
    final long pingPongBytes;     // size of each ping-pong buffer: the largest activation
    final long scratchpadBytes;   // the largest scratchpad any step needs

    private NetworkPlan(int batch, List<Step> steps, MemoryDesc inputDesc, MemoryDesc logitsDesc,
                        MemoryDesc probsDesc, long pingPongBytes, long scratchpadBytes) {
        this.batch = batch;
        this.steps = List.copyOf(steps);
        this.inputDesc = inputDesc;
        this.logitsDesc = logitsDesc;
        this.probsDesc = probsDesc;
        this.pingPongBytes = pingPongBytes;
        this.scratchpadBytes = scratchpadBytes;
    }

    /** Compiles {@code spec} for {@code batch} images; weights are reordered (or reused) through {@code weights}. */
    static NetworkPlan compile(DnnlEngine engine, ModelSpec spec, int batch, ReorderedWeights weights,
                               int convAlgorithm) {
        return new Compiler(engine, spec, batch, weights, convAlgorithm).compile();
    }

    @Override
    public void close() {
        closeAll(steps, inputDesc, logitsDesc, probsDesc);
    }

    /** Frees the steps' primitives and descriptors, then the given descriptors (nulls skipped). */
    private static void closeAll(List<Step> steps, MemoryDesc... descs) {
        for (Step s : steps) {
            s.primitive().close();
            s.srcDesc().close();
            s.dstDesc().close();
            s.scratchpadDesc().close();
        }
        for (MemoryDesc d : descs) if (d != null) d.close();
    }

    /** One-shot builder; tracks where the current activation lives and in which layout. */
    private static final class Compiler {
        private final DnnlEngine engine;
        private final ModelSpec spec;
        private final int batch;
        private final ReorderedWeights weights;
        private final int convAlgorithm;
        private final List<Step> steps = new ArrayList<>();

        private int current = INPUT;          // buffer holding the current activation
        private MemoryDesc currentDesc;       // its layout (owned by the step that wrote it, or the plan)
        private long[] currentDims;           // (N, C, H, W) or (N, features)
        private FlattenOrder flatten;         // set once the flatten has been passed and not yet consumed
        private long maxActivation;
        private long maxScratchpad;

        Compiler(DnnlEngine engine, ModelSpec spec, int batch, ReorderedWeights weights, int convAlgorithm) {
            this.engine = engine;
            this.spec = spec;
            this.batch = batch;
            this.weights = weights;
            this.convAlgorithm = convAlgorithm;
        }

        NetworkPlan compile() {
            var in = spec.input();
            currentDims = new long[] {batch, in.channels(), in.height(), in.width()};
            MemoryDesc inputDesc = MemoryDesc.of(currentDims, Dnnl.TAG_ABCD);
            MemoryDesc logitsDesc = null, probsDesc = null;
            try {
                currentDesc = inputDesc;
                Layer.Dense last = lastDense();
                for (Layer layer : spec.layers()) {
                    switch (layer) {
                        case Layer.Conv conv -> convolution(conv);
                        case Layer.MaxPool pool -> maxPool(pool);
                        case Layer.Flatten f -> flatten = f.order();
                        case Layer.Dense dense -> innerProduct(dense, dense == last);
                        case Layer.Dropout d -> { } // identity at inference
                    }
                }
                logitsDesc = MemoryDesc.of(new long[] {batch, spec.classes()}, Dnnl.TAG_AB);
                probsDesc = MemoryDesc.of(new long[] {batch, spec.classes()}, Dnnl.TAG_AB);
                softmax(logitsDesc, probsDesc);
                return new NetworkPlan(batch, steps, inputDesc, logitsDesc, probsDesc, maxActivation, maxScratchpad);
            } catch (RuntimeException e) {
                closeAll(steps, inputDesc, logitsDesc, probsDesc);
                throw e;
            }
        }

        private Layer.Dense lastDense() {
            Layer.Dense last = null;
            for (Layer l : spec.layers()) if (l instanceof Layer.Dense d) last = d;
            return last;
        }

        private void convolution(Layer.Conv conv) {
            Window w = conv.window();
            long outH = w.outHeight((int) currentDims[2]), outW = w.outWidth((int) currentDims[3]);
            long[] dstDims = {batch, conv.out(), outH, outW};
            long[] weightDims = {conv.out(), currentDims[1], w.kernelH(), w.kernelW()};
            try (MemoryDesc srcAny = MemoryDesc.of(currentDims, Dnnl.TAG_ANY);
                 MemoryDesc weightsAny = MemoryDesc.of(weightDims, Dnnl.TAG_ANY);
                 MemoryDesc biasDesc = MemoryDesc.of(new long[] {conv.out()}, Dnnl.TAG_A);
                 MemoryDesc dstAny = MemoryDesc.of(dstDims, Dnnl.TAG_ANY);
                 PrimitiveAttr attr = PrimitiveAttr.create(conv.activation() == Activation.RELU);
                 PrimitiveDesc pd = PrimitiveDesc.convolution(engine, convAlgorithm, srcAny, weightsAny, biasDesc,
                         dstAny, new long[] {w.strideH(), w.strideW()}, new long[] {w.padTop(), w.padLeft()},
                         new long[] {w.padBottom(), w.padRight()}, attr)) {
                ensureLayout(pd.srcDesc(), conv.name());
                var wEntry = weights.get(conv.weightName(), weightDims, Dnnl.TAG_ABCD, pd);
                var bEntry = weights.bias(conv.biasName(), conv.out());
                addStep(conv.name(), pd, wEntry, bEntry, dstDims);
            }
        }

        private void maxPool(Layer.MaxPool pool) {
            Window w = pool.window();
            long[] dstDims = {batch, currentDims[1], w.outHeight((int) currentDims[2]), w.outWidth((int) currentDims[3])};
            try (MemoryDesc dstAny = MemoryDesc.of(dstDims, Dnnl.TAG_ANY);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.maxPooling(engine, currentDesc, dstAny,
                         new long[] {w.strideH(), w.strideW()}, new long[] {w.kernelH(), w.kernelW()},
                         new long[] {w.padTop(), w.padLeft()}, new long[] {w.padBottom(), w.padRight()}, attr)) {
                addStep("maxpool", pd, null, null, dstDims);
            }
        }

        private void innerProduct(Layer.Dense dense, boolean last) {
            long[] weightDims;
            int userTag;
            if (flatten != null) {
                // The first dense layer reads the 4-D feature map directly; its [out, C*H*W] (NCHW) or
                // [out, H*W*C] (NHWC) weight matrix is the same bytes as (out, C, H, W) in oihw or ohwi.
                weightDims = new long[] {dense.out(), currentDims[1], currentDims[2], currentDims[3]};
                userTag = flatten == FlattenOrder.NCHW ? Dnnl.TAG_ABCD : Dnnl.TAG_ACDB;
                flatten = null;
            } else {
                weightDims = new long[] {dense.out(), currentDims[1]};
                userTag = Dnnl.TAG_AB;
            }
            long[] dstDims = {batch, dense.out()};
            try (MemoryDesc srcAny = MemoryDesc.of(currentDims, Dnnl.TAG_ANY);
                 MemoryDesc weightsAny = MemoryDesc.of(weightDims, Dnnl.TAG_ANY);
                 MemoryDesc biasDesc = MemoryDesc.of(new long[] {dense.out()}, Dnnl.TAG_A);
                 // Logits land plain (N, classes) so callers read them without a reorder.
                 MemoryDesc dst = MemoryDesc.of(dstDims, last ? Dnnl.TAG_AB : Dnnl.TAG_ANY);
                 PrimitiveAttr attr = PrimitiveAttr.create(dense.activation() == Activation.RELU);
                 PrimitiveDesc pd = PrimitiveDesc.innerProduct(engine, srcAny, weightsAny, biasDesc, dst, attr)) {
                ensureLayout(pd.srcDesc(), dense.name());
                var wEntry = weights.get(dense.weightName(), weightDims, userTag, pd);
                var bEntry = weights.bias(dense.biasName(), dense.out());
                addStep(dense.name(), pd, wEntry, bEntry, dstDims);
                if (last) {
                    // Move the logits out of the ping-pong buffers into their own.
                    Step s = steps.removeLast();
                    steps.add(new Step(s.name(), s.primitive(), s.srcBuffer(), s.srcDesc(), LOGITS, s.dstDesc(),
                            s.weights(), s.bias(), s.scratchpadDesc(), s.implementation()));
                    current = LOGITS;
                }
            }
        }

        private void softmax(MemoryDesc logitsDesc, MemoryDesc probsDesc) {
            try (PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.softmax(engine, logitsDesc, probsDesc, 1, attr)) {
                steps.add(new Step("softmax", pd.createPrimitive(), LOGITS, pd.srcDesc(), PROBS, pd.dstDesc(),
                        null, null, trackScratchpad(pd), pd.implementation()));
            }
        }

        /** Inserts a reorder when a primitive wants its input in another layout than the current one. */
        private void ensureLayout(MemoryDesc wanted, String forLayer) {
            if (wanted.sameLayoutAs(currentDesc)) {
                wanted.close();
                return;
            }
            try (PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.reorder(engine, currentDesc, wanted, attr)) {
                int dst = nextBuffer();
                steps.add(new Step("reorder to " + forLayer, pd.createPrimitive(), current, pd.srcDesc(),
                        dst, wanted, null, null, trackScratchpad(pd), pd.implementation()));
                current = dst;
                currentDesc = wanted;
                maxActivation = Math.max(maxActivation, wanted.byteSize());
            }
        }

        private void addStep(String name, PrimitiveDesc pd, ReorderedWeights.Entry w, ReorderedWeights.Entry b,
                             long[] dstDims) {
            int dst = nextBuffer();
            MemoryDesc dstDesc = pd.dstDesc();
            steps.add(new Step(name, pd.createPrimitive(), current, pd.srcDesc(), dst, dstDesc, w, b,
                    trackScratchpad(pd), pd.implementation()));
            maxActivation = Math.max(maxActivation, dstDesc.byteSize());
            current = dst;
            currentDesc = dstDesc;
            currentDims = dstDims;
        }

        private MemoryDesc trackScratchpad(PrimitiveDesc pd) {
            MemoryDesc s = pd.scratchpadDesc();
            maxScratchpad = Math.max(maxScratchpad, s.byteSize());
            return s;
        }

        private int nextBuffer() {
            return current == PING ? PONG : PING;
        }
    }
}
