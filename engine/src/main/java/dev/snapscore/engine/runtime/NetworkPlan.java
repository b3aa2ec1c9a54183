package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlException;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.Primitive;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Quantization.Encoding;
import dev.snapscore.engine.spec.Window;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

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
 * quantise the caller's f32 input, and dequantise before any layer left in f32.
 */
final class NetworkPlan implements AutoCloseable {
    /**
     * Buffer ids: the caller's input, two ping-pong activation buffers, the logits, the probabilities, and
     * two buffers for the intermediate results of Winograd convolutions.
     */
    static final int INPUT = 0, PING = 1, PONG = 2, LOGITS = 3, PROBS = 4, WINOGRAD_A = 5, WINOGRAD_B = 6;

    /** A constant argument of a step: weights, bias, or int8 scales, owned by {@link ReorderedWeights}. */
    record Constant(int arg, ReorderedWeights.Entry value) {
    }

    /**
     * One primitive execution: what it reads (as {@code srcArg}, usually {@code ARG_SRC}) and writes, and its
     * constant arguments.
     */
    record Step(String name, Primitive primitive, int srcArg, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
                MemoryDesc dstDesc, List<Constant> constants, MemoryDesc scratchpadDesc, String implementation) {
        Step(String name, Primitive primitive, int srcBuffer, MemoryDesc srcDesc, int dstBuffer,
             MemoryDesc dstDesc, List<Constant> constants, MemoryDesc scratchpadDesc, String implementation) {
            this(name, primitive, Dnnl.ARG_SRC, srcBuffer, srcDesc, dstBuffer, dstDesc, constants, scratchpadDesc, implementation);
        }
    }

    final int batch;
    final List<Step> steps;
    final MemoryDesc inputDesc;   // (N, C, H, W) in the spec's input layout (nchw or nhwc), as callers pass it
    final MemoryDesc logitsDesc;  // (N, classes) nc
    final MemoryDesc probsDesc;   // (N, classes) nc
    final long pingPongBytes;     // size of each ping-pong buffer: the largest activation
    final long scratchpadBytes;   // the largest scratchpad any step needs
    final long winogradABytes, winogradBBytes; // sizes of the Winograd buffers (0 without such layers)
    private final List<MemoryDesc> activationDescs; // layouts of activations that no step's descriptor names

    private NetworkPlan(int batch, List<Step> steps, MemoryDesc inputDesc, MemoryDesc logitsDesc,
                        MemoryDesc probsDesc, long pingPongBytes, long scratchpadBytes, long winogradABytes,
                        long winogradBBytes, List<MemoryDesc> activationDescs) {
        this.batch = batch;
        this.steps = List.copyOf(steps);
        this.inputDesc = inputDesc;
        this.logitsDesc = logitsDesc;
        this.probsDesc = probsDesc;
        this.pingPongBytes = pingPongBytes;
        this.scratchpadBytes = scratchpadBytes;
        this.winogradABytes = winogradABytes;
        this.winogradBBytes = winogradBBytes;
        this.activationDescs = List.copyOf(activationDescs);
    }

    /**
     * Compiles {@code spec} for {@code batch} images; weights are reordered (or reused) through {@code weights}.
     * The dense layers whose weight tensors {@code decompress} names run in f32 on their s8 weights, scaled
     * per output by the tensor it maps them to ({@link NonVnniInt8}). f32 convolutions that {@code winograd}
     * picks run as Winograd F(4, 3).
     */
    static NetworkPlan compile(DnnlEngine engine, ModelSpec spec, Map<String, String> decompress, int batch,
                               ReorderedWeights weights, Winograd.Rule winograd) {
        return new Compiler(engine, spec, decompress, batch, weights, winograd).compile();
    }

    @Override
    public void close() {
        closeAll(steps, inputDesc, logitsDesc, probsDesc);
        activationDescs.forEach(MemoryDesc::close);
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
        private final Map<String, String> decompress;
        private final int batch;
        private final ReorderedWeights weights;
        private final Winograd.Rule winograd;
        private final Quantization quantization; // null for an f32 model
        private final List<Step> steps = new ArrayList<>();

        private int current = INPUT;          // buffer holding the current activation
        private MemoryDesc currentDesc;       // its layout (owned by the step that wrote it, or the plan)
        private long[] currentDims;           // (N, C, H, W) or (N, features)
        private Encoding currentEncoding = Encoding.F32; // how the current buffer stores the activation
        private Encoding specEncoding;        // how the spec says the next quantised layer receives it
        private FlattenOrder flatten;         // set once the flatten has been passed and not yet consumed
        private long maxActivation;
        private long maxScratchpad;
        private long maxWinogradA, maxWinogradB;
        private final List<MemoryDesc> activationDescs = new ArrayList<>();

        Compiler(DnnlEngine engine, ModelSpec spec, Map<String, String> decompress, int batch,
                 ReorderedWeights weights, Winograd.Rule winograd) {
            this.engine = engine;
            this.spec = spec;
            this.decompress = decompress;
            this.batch = batch;
            this.weights = weights;
            this.winograd = winograd;
            this.quantization = spec.quantization();
            this.specEncoding = quantization == null ? Encoding.F32 : quantization.input();
        }

        NetworkPlan compile() {
            var in = spec.input();
            currentDims = new long[] {batch, in.channels(), in.height(), in.width()};
            MemoryDesc inputDesc = MemoryDesc.of(currentDims, in.layout() == InputLayout.NHWC ? Dnnl.TAG_ACDB : Dnnl.TAG_ABCD);
            MemoryDesc logitsDesc = null, probsDesc = null;
            try {
                currentDesc = inputDesc;
                Layer.Dense last = lastDense();
                List<Layer> layers = spec.layers();
                for (int i = 0; i < layers.size(); i++) {
                    Layer next = i + 1 < layers.size() ? layers.get(i + 1) : null;
                    switch (layers.get(i)) {
                        case Layer.Conv conv -> convolution(conv, next);
                        case Layer.MaxPool pool -> maxPool(pool);
                        case Layer.GlobalAveragePool g -> globalAveragePool();
                        case Layer.Flatten f -> flatten = f.order();
                        case Layer.Dense dense when decompress.containsKey(dense.weightName()) ->
                                decompressingMatmul(dense, dense == last);
                        case Layer.Dense dense -> innerProduct(dense, dense == last);
                        case Layer.Dropout d -> { } // identity at inference
                    }
                }
                logitsDesc = MemoryDesc.of(new long[] {batch, spec.classes()}, Dnnl.TAG_AB);
                probsDesc = MemoryDesc.of(new long[] {batch, spec.classes()}, Dnnl.TAG_AB);
                softmax(logitsDesc, probsDesc);
                return new NetworkPlan(batch, steps, inputDesc, logitsDesc, probsDesc, maxActivation, maxScratchpad,
                        maxWinogradA, maxWinogradB, activationDescs);
            } catch (RuntimeException e) {
                closeAll(steps, inputDesc, logitsDesc, probsDesc);
                activationDescs.forEach(MemoryDesc::close);
                throw e;
            }
        }

        private Layer.Dense lastDense() {
            Layer.Dense last = null;
            for (Layer l : spec.layers()) if (l instanceof Layer.Dense d) last = d;
            return last;
        }

        private void convolution(Layer.Conv conv, Layer next) {
            if (runsWinograd(conv, currentDims[1])) {
                // Winograd reads channel planes (nchw); anything else reads oneDNN's nhwc faster (pooling nchw
                // takes 5 to 9 times as long).
                boolean nextReadsPlanes = next instanceof Layer.Conv c
                        && runsWinograd(c, conv.out());
                winogradConvolution(conv, nextReadsPlanes ? Dnnl.TAG_ABCD : Dnnl.TAG_ACDB);
                return;
            }
            Window w = conv.window();
            long outH = w.outHeight((int) currentDims[2]), outW = w.outWidth((int) currentDims[3]);
            long[] dstDims = {batch, conv.out(), outH, outW};
            long[] weightDims = {conv.out(), currentDims[1], w.kernelH(), w.kernelW()};
            Precision p = precision(conv.name());
            try (MemoryDesc srcAny = MemoryDesc.of(currentDims, DataTypes.of(p.src.type()), Dnnl.TAG_ANY);
                 MemoryDesc weightsAny = MemoryDesc.of(weightDims, p.weightType(), Dnnl.TAG_ANY);
                 MemoryDesc biasDesc = MemoryDesc.of(new long[] {conv.out()}, Dnnl.TAG_A);
                 MemoryDesc dstAny = MemoryDesc.of(dstDims, DataTypes.of(p.dst.type()), Dnnl.TAG_ANY);
                 PrimitiveAttr attr = p.attr(conv.activation() == Activation.RELU);
                 PrimitiveDesc pd = sharingWeightsLayout(conv.weightName(), weightsAny,
                         weightsDesc -> PrimitiveDesc.convolution(engine, Dnnl.CONVOLUTION_DIRECT, srcAny, weightsDesc, biasDesc,
                                 dstAny, new long[] {w.strideH(), w.strideW()}, new long[] {w.padTop(), w.padLeft()},
                                 new long[] {w.padBottom(), w.padRight()}, attr))) {
                ensureLayout(pd.srcDesc(), p.src, conv.name());
                var wEntry = weights.get(conv.weightName(), weightDims, Dnnl.TAG_ABCD, pd);
                var bEntry = weights.vector(conv.biasName(), conv.out());
                addStep(conv.name(), pd, p.constants(conv.name(), conv.out(), wEntry, bEntry), dstDims, p.dst);
            }
        }

        /** Whether {@code conv}, reading {@code channels} of the current activation's size, runs as Winograd. */
        private boolean runsWinograd(Layer.Conv conv, long channels) {
            boolean f32 = quantization == null || !quantization.layers().containsKey(conv.name());
            return f32 && Winograd.applies(conv, channels, batch, currentDims[2], currentDims[3], winograd);
        }

        /**
         * A 3×3 convolution as {@link Winograd} F(4, 3): five primitives from the (N, C, H, W) nchw activation
         * to the next one, through the two Winograd buffers.
         * <ol>
         * <li>The input transform: every channel of every image, as a one-channel image, convolved at stride 4
         *     with the 36 kernels of {@link Winograd#inputKernels} (its padding is the layer's).
         * <li>A reorder of those (N·C, 36, tiles) values to 36 matrices of (N·tiles, C).
         * <li>The multiplications: 36 matrix products by the transformed filters, (N·tiles, C) × (C, K).
         * <li>The output transform, a (16, 36) × (36, N·tiles·K) product, plus the bias, then the ReLU.
         * <li>A reorder of those (16, N·tiles, K) outputs, 4×4 blocks of the image, to (N, K, H, W) in
         *     {@code outputTag} (nchw or nhwc); a partial last block takes a second reorder, to crop.
         * </ol>
         */
        private void winogradConvolution(Layer.Conv conv, int outputTag) {
            Precision p = precision(conv.name());
            ensureLayout(MemoryDesc.of(currentDims, Dnnl.TAG_ABCD), p.src, conv.name());
            final int tile = Winograd.TILE, block = Winograd.BLOCK, positions = Winograd.POSITIONS;
            long n = batch, c = currentDims[1], h = currentDims[2], w = currentDims[3], k = conv.out();
            // Sides that are not whole blocks get a last, partial block: its tile reads padding, its extra
            // outputs are computed and then cropped.
            long tilesH = Math.ceilDiv(h, block), tilesW = Math.ceilDiv(w, block), perImage = tilesH * tilesW, tiles = n * perImage;
            long paddedH = tilesH * block, paddedW = tilesW * block;
            String name = conv.name();

            long[] kernelDims = {positions, 1, tile, tile};
            try (MemoryDesc planes = MemoryDesc.of(new long[] {n * c, 1, h, w}, Dnnl.TAG_ABCD);
                 MemoryDesc kernelsAny = MemoryDesc.of(kernelDims, Dnnl.TAG_ANY);
                 MemoryDesc transformed = MemoryDesc.of(new long[] {n * c, positions, tilesH, tilesW}, Dnnl.TAG_ABCD);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.convolution(engine, Dnnl.CONVOLUTION_DIRECT, planes, kernelsAny, null,
                         transformed, new long[] {block, block}, new long[] {1, 1}, new long[] {paddedH + 1 - h, paddedW + 1 - w}, attr)) {
                var kernels = weights.derived("winograd input kernels", null, kernelDims, Dnnl.TAG_ABCD,
                        pd.weightsDesc(), (none, arena) -> Winograd.inputKernels(arena));
                step(name + " (winograd input)", pd, Dnnl.ARG_SRC, current, pd.srcDesc(), WINOGRAD_A,
                        List.of(new Constant(Dnnl.ARG_WEIGHTS, kernels)));
            }

            long[] gathered = {n, c, positions, tilesH, tilesW};
            reorderStep(name + " (winograd gather)",
                    WINOGRAD_A, MemoryDesc.ofStrides(gathered, new long[] {c * positions * perImage, positions * perImage, perImage, tilesW, 1}),
                    WINOGRAD_B, MemoryDesc.ofStrides(gathered, new long[] {perImage * c, 1, tiles * c, tilesW * c, c}));

            String filtersKey = conv.weightName() + " (winograd)";
            long[] filterDims = {positions, c, k};
            try (MemoryDesc src = MemoryDesc.of(new long[] {positions, tiles, c}, Dnnl.TAG_ABC);
                 MemoryDesc filtersAny = MemoryDesc.of(filterDims, Dnnl.TAG_ANY);
                 MemoryDesc dst = MemoryDesc.of(new long[] {positions, tiles, k}, Dnnl.TAG_ABC);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = sharingWeightsLayout(filtersKey, filtersAny,
                         filtersDesc -> PrimitiveDesc.matmul(engine, src, filtersDesc, null, dst, attr))) {
                var filters = weights.derived(filtersKey, conv.weightName(), filterDims, Dnnl.TAG_ABC, pd.weightsDesc(),
                        (g, arena) -> Winograd.filters(g, (int) k, (int) c, arena));
                step(name + " (winograd products)", pd, Dnnl.ARG_SRC, WINOGRAD_B, pd.srcDesc(), WINOGRAD_A,
                        List.of(new Constant(Dnnl.ARG_WEIGHTS, filters)));
            }

            long[] matrixDims = {block * block, positions}, biasDims = {1, tiles * k};
            try (MemoryDesc matrix = MemoryDesc.of(matrixDims, Dnnl.TAG_AB);
                 MemoryDesc products = MemoryDesc.of(new long[] {positions, tiles * k}, Dnnl.TAG_AB);
                 MemoryDesc bias = MemoryDesc.of(biasDims, Dnnl.TAG_AB);
                 MemoryDesc outputs = MemoryDesc.of(new long[] {block * block, tiles * k}, Dnnl.TAG_AB);
                 PrimitiveAttr attr = PrimitiveAttr.create(conv.activation() == Activation.RELU);
                 PrimitiveDesc pd = PrimitiveDesc.matmul(engine, matrix, products, bias, outputs, attr)) {
                var outputMatrix = weights.derived("winograd output matrix", null, matrixDims, Dnnl.TAG_AB,
                        pd.srcDesc(), (none, arena) -> Winograd.outputMatrix(arena));
                var biasRow = weights.derived(conv.biasName() + " (winograd, " + tiles + " tiles)", conv.biasName(),
                        biasDims, Dnnl.TAG_AB, MemoryDesc.of(biasDims, Dnnl.TAG_AB),
                        (b, arena) -> Winograd.biasRow(b, (int) k, tiles, arena));
                // The products are this step's "weights": the output transform is the fixed left operand.
                step(name + " (winograd output)", pd, Dnnl.ARG_WEIGHTS, WINOGRAD_A, pd.weightsDesc(), WINOGRAD_B,
                        List.of(new Constant(Dnnl.ARG_SRC, outputMatrix), new Constant(Dnnl.ARG_BIAS, biasRow)));
            }

            long[] blocks = {n, k, tilesH, block, tilesW, block};
            MemoryDesc outputBlocks = MemoryDesc.ofStrides(blocks, new long[] {perImage * k, 1, tilesW * k, block * tiles * k, k, tiles * k});
            int dst = nextBuffer();
            long[] dstDims = {n, k, h, w};
            if (paddedH == h && paddedW == w) {
                reorderStep(name, WINOGRAD_B, outputBlocks, dst, MemoryDesc.ofStrides(blocks, imageStrides(outputTag, k, h, w, true)));
            } else {
                reorderStep(name + " (winograd blocks)", WINOGRAD_B, outputBlocks,
                        WINOGRAD_A, MemoryDesc.ofStrides(blocks, imageStrides(outputTag, k, paddedH, paddedW, true)));
                reorderStep(name, WINOGRAD_A, MemoryDesc.ofStrides(dstDims, imageStrides(outputTag, k, paddedH, paddedW, false)),
                        dst, MemoryDesc.of(dstDims, outputTag));
            }
            MemoryDesc output = MemoryDesc.of(dstDims, outputTag);
            activationDescs.add(output);
            current = dst;
            currentDesc = output;
            currentDims = dstDims;
            currentEncoding = p.dst;
        }

        /**
         * Strides of an (N, K, H, W) image in {@code tag} (nchw or nhwc), over (N, K, H, W), or with
         * {@code inBlocks} over (N, K, H / 4, 4, W / 4, 4).
         */
        private static long[] imageStrides(int tag, long k, long h, long w, boolean inBlocks) {
            int block = Winograd.BLOCK;
            long[] s = tag == Dnnl.TAG_ABCD ? new long[] {k * h * w, h * w, w, 1} : new long[] {h * w * k, 1, w * k, k};
            return inBlocks ? new long[] {s[0], s[1], block * s[2], s[2], block * s[3], s[3]} : s;
        }

        /** Adds {@code pd} reading {@code srcBuffer} as {@code srcArg} and writing {@code dstBuffer}; returns its output's layout. */
        private MemoryDesc step(String name, PrimitiveDesc pd, int srcArg, int srcBuffer, MemoryDesc srcDesc,
                                int dstBuffer, List<Constant> constants) {
            MemoryDesc dstDesc = pd.dstDesc();
            steps.add(new Step(name, pd.createPrimitive(), srcArg, srcBuffer, srcDesc, dstBuffer, dstDesc, constants,
                    trackScratchpad(pd), pd.implementation()));
            grow(dstBuffer, dstDesc.byteSize());
            return dstDesc;
        }

        /** A reorder between two views; the step takes ownership of both descriptors. */
        private void reorderStep(String name, int srcBuffer, MemoryDesc srcDesc, int dstBuffer, MemoryDesc dstDesc) {
            try (PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.reorder(engine, srcDesc, dstDesc, attr)) {
                steps.add(new Step(name, pd.createPrimitive(), srcBuffer, srcDesc, dstBuffer, dstDesc, List.of(),
                        trackScratchpad(pd), pd.implementation()));
            } catch (RuntimeException e) {
                srcDesc.close();
                dstDesc.close();
                throw e;
            }
            grow(dstBuffer, dstDesc.byteSize());
        }

        private void grow(int buffer, long bytes) {
            switch (buffer) {
                case WINOGRAD_A -> maxWinogradA = Math.max(maxWinogradA, bytes);
                case WINOGRAD_B -> maxWinogradB = Math.max(maxWinogradB, bytes);
                default -> maxActivation = Math.max(maxActivation, bytes);
            }
        }

        /**
         * The primitive {@code make} gives for weights in {@code anyLayout}, unless another batch size's plan
         * already reordered these weights into a layout it did not pick: then the primitive for that layout, if
         * oneDNN has an optimised (not reference) implementation of it. A second copy of the weights costs more
         * than the other layout gains: VGG16's first dense layer is plain at batch 1 and blocked from batch 2,
         * 205 MB each, and it takes under 1% of a batch's time either way.
         */
        private PrimitiveDesc sharingWeightsLayout(String weightName, MemoryDesc anyLayout, Function<MemoryDesc, PrimitiveDesc> make) {
            PrimitiveDesc chosen = make.apply(anyLayout);
            MemoryDesc existing = weights.layoutOf(weightName);
            if (existing == null) return chosen;
            try (MemoryDesc wanted = chosen.weightsDesc()) {
                if (wanted.sameLayoutAs(existing)) return chosen;
            } catch (RuntimeException e) {
                chosen.close();
                throw e;
            }
            PrimitiveDesc shared;
            try {
                shared = make.apply(existing);
            } catch (DnnlException e) {
                return chosen; // no implementation for that layout at this batch size
            }
            if (shared.implementation().startsWith("ref")) {
                shared.close();
                return chosen;
            }
            chosen.close();
            return shared;
        }

        /** The encodings a conv or dense layer reads and writes, and its attributes and scale arguments. */
        private Precision precision(String layer) {
            Encoding out = quantization == null ? null : quantization.layers().get(layer);
            Precision p = out == null ? new Precision(Encoding.F32, Encoding.F32, false)
                    : new Precision(specEncoding, out, true);
            specEncoding = p.dst;
            return p;
        }

        private final class Precision {
            final Encoding src, dst;
            final boolean int8;

            Precision(Encoding src, Encoding dst, boolean int8) {
                this.src = src;
                this.dst = dst;
                this.int8 = int8;
            }

            int weightType() {
                return int8 ? Dnnl.S8 : Dnnl.F32;
            }

            PrimitiveAttr attr(boolean relu) {
                PrimitiveAttr attr = PrimitiveAttr.create(relu);
                try {
                    if (int8) attr.scales(Dnnl.ARG_SRC, 0).scales(Dnnl.ARG_WEIGHTS, 1); // per output channel
                    if (dst.type().isInteger()) attr.scales(Dnnl.ARG_DST, 0);
                    return attr;
                } catch (RuntimeException e) {
                    attr.close();
                    throw e;
                }
            }

            List<Constant> constants(String layer, int channels, ReorderedWeights.Entry w, ReorderedWeights.Entry b) {
                List<Constant> c = new ArrayList<>(List.of(new Constant(Dnnl.ARG_WEIGHTS, w), new Constant(Dnnl.ARG_BIAS, b)));
                if (int8) {
                    c.add(new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_SRC, weights.scalar(src.scale())));
                    c.add(new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_WEIGHTS,
                            weights.vector(Quantization.weightScaleName(layer), channels)));
                }
                if (dst.type().isInteger()) c.add(new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_DST, weights.scalar(dst.scale())));
                return c;
            }
        }

        private void maxPool(Layer.MaxPool pool) {
            Window w = pool.window();
            long[] dstDims = {batch, currentDims[1], w.outHeight((int) currentDims[2]), w.outWidth((int) currentDims[3])};
            // Max commutes with a positive scale: pooling integers keeps their encoding.
            try (MemoryDesc dstAny = MemoryDesc.of(dstDims, DataTypes.of(currentEncoding.type()), Dnnl.TAG_ANY);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.maxPooling(engine, currentDesc, dstAny,
                         new long[] {w.strideH(), w.strideW()}, new long[] {w.kernelH(), w.kernelW()},
                         new long[] {w.padTop(), w.padLeft()}, new long[] {w.padBottom(), w.padRight()}, attr)) {
                addStep("maxpool", pd, List.of(), dstDims, currentEncoding);
            }
        }

        /** One average over each whole plane; like max pooling, it keeps an integer activation's encoding. */
        private void globalAveragePool() {
            long[] dstDims = {batch, currentDims[1], 1, 1};
            long[] kernel = {currentDims[2], currentDims[3]};
            try (MemoryDesc dstAny = MemoryDesc.of(dstDims, DataTypes.of(currentEncoding.type()), Dnnl.TAG_ANY);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.averagePooling(engine, currentDesc, dstAny, kernel, kernel,
                         new long[] {0, 0}, new long[] {0, 0}, attr)) {
                addStep("global_avgpool", pd, List.of(), dstDims, currentEncoding);
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
            Precision p = precision(dense.name());
            try (MemoryDesc srcAny = MemoryDesc.of(currentDims, DataTypes.of(p.src.type()), Dnnl.TAG_ANY);
                 MemoryDesc weightsAny = MemoryDesc.of(weightDims, p.weightType(), Dnnl.TAG_ANY);
                 MemoryDesc biasDesc = MemoryDesc.of(new long[] {dense.out()}, Dnnl.TAG_A);
                 // Logits (always f32) land plain (N, classes) so callers read them without a reorder.
                 MemoryDesc dst = MemoryDesc.of(dstDims, DataTypes.of(p.dst.type()), last ? Dnnl.TAG_AB : Dnnl.TAG_ANY);
                 PrimitiveAttr attr = p.attr(dense.activation() == Activation.RELU);
                 PrimitiveDesc pd = sharingWeightsLayout(dense.weightName(), weightsAny,
                         weightsDesc -> PrimitiveDesc.innerProduct(engine, srcAny, weightsDesc, biasDesc, dst, attr))) {
                ensureLayout(pd.srcDesc(), p.src, dense.name());
                var wEntry = weights.get(dense.weightName(), weightDims, userTag, pd);
                var bEntry = weights.vector(dense.biasName(), dense.out());
                addStep(dense.name(), pd, p.constants(dense.name(), dense.out(), wEntry, bEntry), dstDims, p.dst);
                if (last) moveToLogits();
            }
        }

        /**
         * A dense layer that runs in f32 on s8 weights: a matmul of the (N, in) activations, read plain in
         * flatten order, by the (in, out) weights that the stored [out, in] tensor already is in column-major
         * order, each weight multiplied by its output's scale inside the kernel.
         */
        private void decompressingMatmul(Layer.Dense dense, boolean last) {
            long in = 1;
            for (int i = 1; i < currentDims.length; i++) in *= currentDims[i];
            int plainTag = flatten == null ? Dnnl.TAG_AB : flatten == FlattenOrder.NCHW ? Dnnl.TAG_ABCD : Dnnl.TAG_ACDB;
            flatten = null;
            Precision p = precision(dense.name()); // f32 in and out: the adapted spec left this layer unquantised
            // A plain feature map in flatten order is already the matmul's (N, in) row-major input.
            ensureLayout(MemoryDesc.of(currentDims, DataTypes.of(p.src.type()), plainTag), p.src, dense.name());
            long[] weightDims = {in, dense.out()};
            long[] dstDims = {batch, dense.out()};
            try (MemoryDesc src = MemoryDesc.of(new long[] {batch, in}, Dnnl.TAG_AB);
                 MemoryDesc weightsAny = MemoryDesc.of(weightDims, Dnnl.S8, Dnnl.TAG_ANY);
                 MemoryDesc bias = MemoryDesc.of(new long[] {1, dense.out()}, Dnnl.TAG_AB);
                 MemoryDesc dst = MemoryDesc.of(dstDims, Dnnl.TAG_AB);
                 PrimitiveAttr attr = decompressing(PrimitiveAttr.create(dense.activation() == Activation.RELU));
                 PrimitiveDesc pd = sharingWeightsLayout(dense.weightName(), weightsAny,
                         weightsDesc -> PrimitiveDesc.matmul(engine, src, weightsDesc, bias, dst, attr))) {
                List<Constant> constants = List.of(
                        new Constant(Dnnl.ARG_WEIGHTS, weights.get(dense.weightName(), weightDims, Dnnl.TAG_BA, pd)),
                        new Constant(Dnnl.ARG_BIAS, weights.row(dense.biasName(), dense.out())),
                        new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_WEIGHTS,
                                weights.vector(decompress.get(dense.weightName()), dense.out())));
                addStep(dense.name(), pd, constants, dstDims, p.dst);
                if (last) moveToLogits();
            }
        }

        private static PrimitiveAttr decompressing(PrimitiveAttr attr) {
            try {
                // one scale per index of the weights' second (output) dimension
                return attr.scales(Dnnl.ARG_WEIGHTS, 1 << 1).integerWeightsInFloat();
            } catch (RuntimeException e) {
                attr.close();
                throw e;
            }
        }

        /** Moves the last step's output, the logits, out of the ping-pong buffers into their own. */
        private void moveToLogits() {
            Step s = steps.removeLast();
            steps.add(new Step(s.name(), s.primitive(), s.srcBuffer(), s.srcDesc(), LOGITS, s.dstDesc(),
                    s.constants(), s.scratchpadDesc(), s.implementation()));
            current = LOGITS;
        }

        private void softmax(MemoryDesc logitsDesc, MemoryDesc probsDesc) {
            try (PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.softmax(engine, logitsDesc, probsDesc, 1, attr)) {
                steps.add(new Step("softmax", pd.createPrimitive(), LOGITS, pd.srcDesc(), PROBS, pd.dstDesc(),
                        List.of(), trackScratchpad(pd), pd.implementation()));
            }
        }

        /**
         * Inserts a reorder when a primitive wants its input in another layout or encoding than the current
         * one: the reorder computes stored = real / scale on the way in and real = scale × stored on the way out.
         */
        private void ensureLayout(MemoryDesc wanted, Encoding wantedEncoding, String forLayer) {
            if (wanted.sameLayoutAs(currentDesc) && wantedEncoding.equals(currentEncoding)) {
                wanted.close();
                return;
            }
            List<Constant> constants = new ArrayList<>();
            try (PrimitiveAttr attr = PrimitiveAttr.create(false)) {
                if (currentEncoding.type().isInteger()) {
                    attr.scales(Dnnl.ARG_SRC, 0);
                    constants.add(new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_SRC, weights.scalar(currentEncoding.scale())));
                }
                if (wantedEncoding.type().isInteger()) {
                    attr.scales(Dnnl.ARG_DST, 0);
                    constants.add(new Constant(Dnnl.ARG_ATTR_SCALES | Dnnl.ARG_DST, weights.scalar(wantedEncoding.scale())));
                }
                try (PrimitiveDesc pd = PrimitiveDesc.reorder(engine, currentDesc, wanted, attr)) {
                    int dst = nextBuffer();
                    steps.add(new Step("reorder to " + forLayer, pd.createPrimitive(), current, pd.srcDesc(),
                            dst, wanted, constants, trackScratchpad(pd), pd.implementation()));
                    current = dst;
                    currentDesc = wanted;
                    currentEncoding = wantedEncoding;
                    maxActivation = Math.max(maxActivation, wanted.byteSize());
                }
            } catch (RuntimeException e) {
                wanted.close();
                throw e;
            }
        }

        private void addStep(String name, PrimitiveDesc pd, List<Constant> constants, long[] dstDims, Encoding dstEncoding) {
            int dst = nextBuffer();
            currentDesc = step(name, pd, Dnnl.ARG_SRC, current, pd.srcDesc(), dst, constants);
            current = dst;
            currentDims = dstDims;
            currentEncoding = dstEncoding;
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
