package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.runtime.NetworkPlan.Constant;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Window;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.stream.IntStream;

import static dev.snapscore.engine.runtime.NetworkPlan.WINOGRAD_A;
import static dev.snapscore.engine.runtime.NetworkPlan.WINOGRAD_B;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * The arithmetic of Winograd's F(4×4, 3×3) convolution (Lavin and Gray, 2016, points 0, ±1, ±2, ∞): each
 * 4×4 block of output comes from a 6×6 input tile d and a 3×3 filter g as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, with
 * 36 multiplications per channel pair where the direct form needs 144. It runs as oneDNN primitives: the
 * transforms and the 36 channel matrix products ({@link #emit}), with the constants made here.
 */
final class Winograd {
    /** Input tile side, output block side, and tile positions (36 matrix products per layer). */
    static final int TILE = 6, BLOCK = 4, POSITIONS = TILE * TILE;

    /**
     * Which convolutions run as Winograd: those with at least {@code minChannels} input channels and
     * {@code minTiles} tiles per run (images × tiles per image).
     */
    record Rule(int minChannels, int minTiles) {
        /**
         * Measured per VGG16 layer on a 2-core AVX2 machine (oneDNN's verbose timings): with 256 input channels
         * conv3_2 takes 15 ms against 24 at batch 1; below 32 tiles the 36 matrix products are too small to run
         * fast (conv5 at batch 1, 16 tiles: 6.3 ms either way; at batch 2, 32 tiles: 9.4 against 12.2 ms). With
         * 128 channels it pays only from batch 8 (conv3_1: 75 against 98 ms; at batch 1, 13.6 against 12.6),
         * and little against its buffers (conv2_2 at batch 8 would need 2 × 116 MB for 2 ms a photo), so those
         * layers stay direct.
         */
        static final Rule MEASURED = new Rule(256, 32);
        static final Rule NEVER = new Rule(Integer.MAX_VALUE, Integer.MAX_VALUE);
        /** Every 3×3 stride-1 convolution with one pixel of padding. */
        static final Rule ANY = new Rule(1, 1);
        /**
         * The layers {@link ConvolutionTimer} times. Per 4×4 output tile and input channel, the direct form does
         * 144·K multiplications for K outputs, Winograd 36·K in its products, 1296 in its input transform (a
         * dense 6×6 convolution with 36 kernels) and 576·K/C in its output transform: with five or fewer input
         * channels (an RGB image's first layer) that is more than direct's whatever K, so those are not tried.
         */
        static final Rule CANDIDATES = new Rule(6, 1);
    }

    private static final double[][] BT = {
            {4, 0, -5, 0, 1, 0},
            {0, -4, -4, 1, 1, 0},
            {0, 4, -4, -1, 1, 0},
            {0, -2, -1, 2, 1, 0},
            {0, 2, -1, -2, 1, 0},
            {0, 4, 0, -5, 0, 1}};
    private static final double[][] G = {
            {1 / 4.0, 0, 0},
            {-1 / 6.0, -1 / 6.0, -1 / 6.0},
            {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0},
            {1 / 24.0, -1 / 12.0, 1 / 6.0},
            {0, 0, 1}};
    private static final double[][] AT = {
            {1, 1, 1, 1, 1, 0},
            {0, 1, -1, 2, -2, 0},
            {0, 1, 1, 4, 4, 0},
            {0, 1, -1, 8, -8, 1}};

    private Winograd() {
    }

    /**
     * Whether a convolution with {@code channels} inputs of {@code height}×{@code width}, {@code images} at a
     * time, runs as F(4, 3) under {@code rule}: it must have a 3×3 kernel, stride 1 and one pixel of padding on
     * every side (so the output is the input's size).
     */
    static boolean applies(Layer.Conv conv, long channels, long images, long height, long width, Rule rule) {
        Window w = conv.window();
        long tiles = images * Math.ceilDiv(height, BLOCK) * Math.ceilDiv(width, BLOCK);
        return w.kernelH() == 3 && w.kernelW() == 3 && w.strideH() == 1 && w.strideW() == 1
                && w.padTop() == 1 && w.padLeft() == 1 && w.padBottom() == 1 && w.padRight() == 1
                && channels >= rule.minChannels() && tiles >= rule.minTiles();
    }

    /**
     * Emits a 3×3 convolution as F(4, 3): five primitives from the (N, C, H, W) nchw activation to the next
     * one, through the two Winograd buffers.
     * <ol>
     * <li>The input transform: every channel of every image, as a one-channel image, convolved at stride 4
     *     with the 36 kernels of {@link #inputKernels} (its padding is the layer's).
     * <li>A reorder of those (N·C, 36, tiles) values to 36 matrices of (N·tiles, C).
     * <li>The multiplications: 36 matrix products by the transformed filters, (N·tiles, C) × (C, K).
     * <li>The output transform, a (16, 36) × (36, N·tiles·K) product, plus the bias, then the ReLU.
     * <li>A reorder of those (16, N·tiles, K) outputs, 4×4 blocks of the image, to (N, K, H, W) in nchw
     *     ({@code planesOut}) or nhwc; a partial last block takes a second reorder, to crop.
     * </ol>
     */
    static void emit(PlanBuilder b, Lowered.WinogradConv lowered) {
        Layer.Conv conv = lowered.layer();
        String name = conv.name();
        b.ensureInput(MemoryDesc.of(lowered.src(), FormatTag.ABCD), Storage.F32, name);
        long n = lowered.src()[0], c = lowered.src()[1], h = lowered.src()[2], w = lowered.src()[3], k = conv.out();
        // Sides that are not whole blocks get a last, partial block: its tile reads padding, its extra
        // outputs are computed and then cropped.
        long tilesH = Math.ceilDiv(h, BLOCK), tilesW = Math.ceilDiv(w, BLOCK), perImage = tilesH * tilesW, tiles = n * perImage;
        long paddedH = tilesH * BLOCK, paddedW = tilesW * BLOCK;

        long[] kernelDims = {POSITIONS, 1, TILE, TILE};
        try (MemoryDesc planes = MemoryDesc.of(new long[] {n * c, 1, h, w}, FormatTag.ABCD);
             MemoryDesc kernelsAny = MemoryDesc.of(kernelDims, FormatTag.ANY);
             MemoryDesc transformed = MemoryDesc.of(new long[] {n * c, POSITIONS, tilesH, tilesW}, FormatTag.ABCD);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.convolution(b.engine, planes, kernelsAny, null,
                     transformed, new long[] {BLOCK, BLOCK}, new long[] {1, 1}, new long[] {paddedH + 1 - h, paddedW + 1 - w}, attr)) {
            var kernels = b.weights.derived("winograd input kernels", null, kernelDims, FormatTag.ABCD,
                    pd.weightsDesc(), (none, arena) -> inputKernels(arena));
            b.step(name + " (winograd input)", pd, Arg.SRC, b.current(), pd.srcDesc(), WINOGRAD_A,
                    List.of(new Constant(Arg.WEIGHTS, kernels)));
        }

        long[] gathered = {n, c, POSITIONS, tilesH, tilesW};
        b.reorder(name + " (winograd gather)",
                WINOGRAD_A, MemoryDesc.ofStrides(gathered, new long[] {c * POSITIONS * perImage, POSITIONS * perImage, perImage, tilesW, 1}),
                WINOGRAD_B, MemoryDesc.ofStrides(gathered, new long[] {perImage * c, 1, tiles * c, tilesW * c, c}));

        String filtersKey = conv.weightName() + " (winograd)";
        long[] filterDims = {POSITIONS, c, k};
        try (MemoryDesc src = MemoryDesc.of(new long[] {POSITIONS, tiles, c}, FormatTag.ABC);
             MemoryDesc filtersAny = MemoryDesc.of(filterDims, FormatTag.ANY);
             MemoryDesc dst = MemoryDesc.of(new long[] {POSITIONS, tiles, k}, FormatTag.ABC);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = b.sharingWeightsLayout(filtersKey, filtersAny,
                     filtersDesc -> PrimitiveDesc.matmul(b.engine, src, filtersDesc, null, dst, attr))) {
            var filters = b.weights.derived(filtersKey, conv.weightName(), filterDims, FormatTag.ABC, pd.weightsDesc(),
                    (g, arena) -> filters(g, (int) k, (int) c, arena));
            b.step(name + " (winograd products)", pd, Arg.SRC, WINOGRAD_B, pd.srcDesc(), WINOGRAD_A,
                    List.of(new Constant(Arg.WEIGHTS, filters)));
        }

        long[] matrixDims = {BLOCK * BLOCK, POSITIONS}, biasDims = {1, tiles * k};
        try (MemoryDesc matrix = MemoryDesc.of(matrixDims, FormatTag.AB);
             MemoryDesc products = MemoryDesc.of(new long[] {POSITIONS, tiles * k}, FormatTag.AB);
             MemoryDesc bias = MemoryDesc.of(biasDims, FormatTag.AB);
             MemoryDesc outputs = MemoryDesc.of(new long[] {BLOCK * BLOCK, tiles * k}, FormatTag.AB);
             PrimitiveAttr attr = PrimitiveAttr.create(conv.activation() == Activation.RELU);
             PrimitiveDesc pd = PrimitiveDesc.matmul(b.engine, matrix, products, bias, outputs, attr)) {
            var outputMatrix = b.weights.derived("winograd output matrix", null, matrixDims, FormatTag.AB,
                    pd.srcDesc(), (none, arena) -> outputMatrix(arena));
            var biasRow = b.weights.derived(conv.biasName() + " (winograd, " + tiles + " tiles)", conv.biasName(),
                    biasDims, FormatTag.AB, MemoryDesc.of(biasDims, FormatTag.AB),
                    (bias0, arena) -> biasRow(bias0, (int) k, tiles, arena));
            // The products are this step's "weights": the output transform is the fixed left operand.
            b.step(name + " (winograd output)", pd, Arg.WEIGHTS, WINOGRAD_A, pd.weightsDesc(), WINOGRAD_B,
                    List.of(new Constant(Arg.SRC, outputMatrix), new Constant(Arg.BIAS, biasRow)));
        }

        FormatTag outputTag = lowered.planesOut() ? FormatTag.ABCD : FormatTag.ACDB;
        long[] blocks = {n, k, tilesH, BLOCK, tilesW, BLOCK};
        MemoryDesc outputBlocks = MemoryDesc.ofStrides(blocks, new long[] {perImage * k, 1, tilesW * k, BLOCK * tiles * k, k, tiles * k});
        int dst = b.nextBuffer();
        long[] dstDims = lowered.dst();
        if (paddedH == h && paddedW == w) {
            b.reorder(name, WINOGRAD_B, outputBlocks, dst, MemoryDesc.ofStrides(blocks, imageStrides(outputTag, k, h, w, true)));
        } else {
            b.reorder(name + " (winograd blocks)", WINOGRAD_B, outputBlocks,
                    WINOGRAD_A, MemoryDesc.ofStrides(blocks, imageStrides(outputTag, k, paddedH, paddedW, true)));
            b.reorder(name, WINOGRAD_A, MemoryDesc.ofStrides(dstDims, imageStrides(outputTag, k, paddedH, paddedW, false)),
                    dst, MemoryDesc.of(dstDims, outputTag));
        }
        b.moveTo(dst, MemoryDesc.of(dstDims, outputTag), Storage.F32);
    }

    /**
     * Strides of an (N, K, H, W) image in {@code tag} (nchw or nhwc), over (N, K, H, W), or with
     * {@code inBlocks} over (N, K, H / 4, 4, W / 4, 4).
     */
    private static long[] imageStrides(FormatTag tag, long k, long h, long w, boolean inBlocks) {
        long[] s = tag == FormatTag.ABCD ? new long[] {k * h * w, h * w, w, 1} : new long[] {h * w * k, 1, w * k, k};
        return inBlocks ? new long[] {s[0], s[1], BLOCK * s[2], s[2], BLOCK * s[3], s[3]} : s;
    }

    /**
     * The input transform as 36 convolution kernels of 6×6, (36, 1, 6, 6) oihw: kernel (i, j) is row i of Bᵀ
     * times row j of Bᵀ, so convolving a channel with stride 4 gives (Bᵀ d B)[i][j] of every tile d.
     */
    static MemorySegment inputKernels(Arena arena) {
        MemorySegment k = arena.allocate(POSITIONS * POSITIONS * Float.BYTES, 64);
        for (int i = 0; i < TILE; i++)
            for (int j = 0; j < TILE; j++)
                for (int y = 0; y < TILE; y++)
                    for (int x = 0; x < TILE; x++)
                        k.setAtIndex(JAVA_FLOAT, ((i * TILE + j) * TILE + y) * TILE + x, (float) (BT[i][y] * BT[j][x]));
        return k;
    }

    /**
     * The output transform as a (16, 36) matrix: row (a, b) holds Aᵀ[a][i] × Aᵀ[b][j] at column (i, j), so
     * multiplying it by a tile's 36 products gives the tile's 4×4 outputs.
     */
    static MemorySegment outputMatrix(Arena arena) {
        MemorySegment m = arena.allocate(BLOCK * BLOCK * POSITIONS * Float.BYTES, 64);
        for (int a = 0; a < BLOCK; a++)
            for (int b = 0; b < BLOCK; b++)
                for (int i = 0; i < TILE; i++)
                    for (int j = 0; j < TILE; j++)
                        m.setAtIndex(JAVA_FLOAT, (a * BLOCK + b) * POSITIONS + i * TILE + j, (float) (AT[a][i] * AT[b][j]));
        return m;
    }

    /**
     * Transformed filters G g Gᵀ of a (out, in, 3, 3) f32 weight tensor (any alignment), in a shared
     * {@code arena}, as (36, in, out) row-major: for each tile position, the (in, out) matrix the transformed inputs are multiplied by.
     */
    static MemorySegment filters(MemorySegment weights, int out, int in, Arena arena) {
        MemorySegment u = arena.allocate((long) POSITIONS * in * out * Float.BYTES, 64);
        // In parallel over input channels, output channels innermost: each task writes 36 runs of consecutive
        // floats (its row of each position's matrix), not one float per cache line as a loop over output
        // channels would, which other tasks' columns then share.
        IntStream.range(0, in).parallel().forEach(c -> {
            double[] g = new double[9];
            double[][] gg = new double[TILE][3];
            for (int k = 0; k < out; k++) {
                long base = ((long) k * in + c) * 9;
                for (int e = 0; e < 9; e++) g[e] = weights.getAtIndex(JAVA_FLOAT_UNALIGNED, base + e);
                for (int i = 0; i < TILE; i++)
                    for (int b = 0; b < 3; b++)
                        gg[i][b] = G[i][0] * g[b] + G[i][1] * g[3 + b] + G[i][2] * g[6 + b];
                for (int i = 0; i < TILE; i++) {
                    for (int j = 0; j < TILE; j++) {
                        double v = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
                        u.setAtIndex(JAVA_FLOAT, ((long) (i * TILE + j) * in + c) * out + k, (float) v);
                    }
                }
            }
        });
        return u;
    }

    /**
     * A bias of {@code out} values (any alignment) repeated for each of {@code tiles} tiles, (1, tiles × out):
     * the output transform's bias, whose columns run over (tile, output channel).
     */
    static MemorySegment biasRow(MemorySegment bias, int out, long tiles, Arena arena) {
        MemorySegment row = arena.allocate(tiles * out * Float.BYTES, 64);
        for (long t = 0; t < tiles; t++) {
            MemorySegment.copy(bias, JAVA_FLOAT_UNALIGNED, 0, row, JAVA_FLOAT, t * out * Float.BYTES, out);
        }
        return row;
    }
}
