package dev.snapscore.dnnl;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** int8 primitives with runtime scales, and s8 weights in an f32 matmul, on cases small enough to check by hand. */
class DnnlInt8Test {

    /**
     * u8 input 1..9 (scale 0.5) under two 3x3 s8 filters with per-channel scales, bias, fused ReLU and a
     * u8 output (scale 0.5). Real value of each output = 0.5·wscale·Σ(x·w) + bias, then ReLU, then / 0.5:
     * <ul>
     * <li>filter 0, all ones, scale 0.25, bias 1: 0.5·0.25·45 + 1 = 6.625 → 13.25 → 13</li>
     * <li>filter 1, 2 at the centre, scale 0.1, bias 0: 0.5·0.1·(2·5) = 0.5 → 1</li>
     * <li>filter 2, all -1, scale 1, bias 3: 0.5·(-45) + 3 = -19.5 → ReLU 0 → 0</li>
     * <li>filter 3, all 1, scale 1, bias 0: 22.5 → 45</li>
     * </ul>
     */
    @Test
    void u8ConvolutionWithPerChannelScalesAndRequantisedOutput() {
        byte[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        byte[] w = new byte[4 * 9];
        for (int i = 0; i < 9; i++) {
            w[i] = 1;
            w[9 + i] = (byte) (i == 4 ? 2 : 0);
            w[18 + i] = -1;
            w[27 + i] = 1;
        }
        float[] weightScales = {0.25f, 0.1f, 1f, 1f};
        float[] bias = {1, 0, 3, 0};
        try (Arena arena = Arena.ofConfined();
             DnnlEngine engine = DnnlEngine.cpu();
             DnnlStream stream = DnnlStream.create(engine);
             MemoryDesc srcDesc = MemoryDesc.of(new long[] {1, 1, 3, 3}, DataType.U8, FormatTag.ABCD);
             MemoryDesc userWeightsDesc = MemoryDesc.of(new long[] {4, 1, 3, 3}, DataType.S8, FormatTag.ABCD);
             // Weights in the layout the kernel picks, as the engine does: a given plain layout is not
             // always honoured by int8 kernels (oneDNN 3.11's gemm int8 convolution reads oihw as hwio).
             MemoryDesc weightsAny = MemoryDesc.of(new long[] {4, 1, 3, 3}, DataType.S8, FormatTag.ANY);
             MemoryDesc biasDesc = MemoryDesc.of(new long[] {4}, FormatTag.A);
             MemoryDesc dstDesc = MemoryDesc.of(new long[] {1, 4, 1, 1}, DataType.U8, FormatTag.ABCD);
             MemoryDesc oneScale = MemoryDesc.of(new long[] {1}, FormatTag.A);
             MemoryDesc channelScales = MemoryDesc.of(new long[] {4}, FormatTag.A);
             PrimitiveAttr attr = PrimitiveAttr.create(true)
                     .scales(Arg.SRC, 0).scales(Arg.WEIGHTS, 1).scales(Arg.DST, 0);
             PrimitiveDesc pd = PrimitiveDesc.convolution(engine, srcDesc, weightsAny,
                     biasDesc, dstDesc, new long[] {1, 1}, new long[] {0, 0}, new long[] {0, 0}, attr);
             Primitive conv = pd.createPrimitive();
             MemoryDesc scratchDesc = pd.scratchpadDesc();
             MemoryDesc weightsDesc = pd.weightsDesc()) {
            MemorySegment out = arena.allocate(4);
            MemorySegment reordered = weightsDesc.allocate(arena);
            reorder(engine, stream, arena, userWeightsDesc, arena.allocateFrom(JAVA_BYTE, w), weightsDesc, reordered);
            try (DnnlMemory src = DnnlMemory.wrap(engine, srcDesc, arena.allocateFrom(JAVA_BYTE, x));
                 DnnlMemory weights = DnnlMemory.wrap(engine, weightsDesc, reordered);
                 DnnlMemory b = DnnlMemory.wrap(engine, biasDesc, arena.allocateFrom(JAVA_FLOAT, bias));
                 DnnlMemory dst = DnnlMemory.wrap(engine, dstDesc, out);
                 DnnlMemory srcScale = DnnlMemory.wrap(engine, oneScale, arena.allocateFrom(JAVA_FLOAT, 0.5f));
                 DnnlMemory wScale = DnnlMemory.wrap(engine, channelScales, arena.allocateFrom(JAVA_FLOAT, weightScales));
                 DnnlMemory dstScale = DnnlMemory.wrap(engine, oneScale, arena.allocateFrom(JAVA_FLOAT, 0.5f));
                 DnnlMemory scratch = DnnlMemory.wrap(engine, scratchDesc, scratchDesc.allocate(arena))) {
                conv.execute(stream, ExecArgs.of(arena, Map.of(Arg.SRC, src, Arg.WEIGHTS, weights,
                        Arg.BIAS, b, Arg.DST, dst, Arg.SCRATCHPAD, scratch,
                        Arg.SRC.scales(), srcScale, Arg.WEIGHTS.scales(), wScale,
                        Arg.DST.scales(), dstScale)));
                stream.await();
            }
            assertArrayEquals(new byte[] {13, 1, 0, 45}, out.toArray(JAVA_BYTE));
        }
    }

    /**
     * An f32 matmul that reads s8 weights (oneDNN's weights decompression): x (2×3) times the weights
     * stored [out][in] = [[10, -20, 30], [127, -128, 1]], viewed as (in, out) column-major, each weight
     * times its output's scale (0.1, 0.5), plus bias (1, -2):
     * <ul>
     * <li>x = (1, 2, 3): 0.1·(10 - 40 + 90) + 1 = 7; 0.5·(127 - 256 + 3) - 2 = -65</li>
     * <li>x = (-1, 0.5, 2): 0.1·(-10 - 10 + 60) + 1 = 5; 0.5·(-127 - 64 + 2) - 2 = -96.5</li>
     * </ul>
     */
    @Test
    void matmulReadsS8WeightsIntoF32() {
        float[] x = {1, 2, 3, -1, 0.5f, 2};
        byte[] w = {10, -20, 30, 127, -128, 1};
        try (Arena arena = Arena.ofConfined();
             DnnlEngine engine = DnnlEngine.cpu();
             DnnlStream stream = DnnlStream.create(engine);
             MemoryDesc srcDesc = MemoryDesc.of(new long[] {2, 3}, FormatTag.AB);
             MemoryDesc userWeightsDesc = MemoryDesc.of(new long[] {3, 2}, DataType.S8, FormatTag.BA);
             MemoryDesc weightsAny = MemoryDesc.of(new long[] {3, 2}, DataType.S8, FormatTag.ANY);
             MemoryDesc biasDesc = MemoryDesc.of(new long[] {1, 2}, FormatTag.AB);
             MemoryDesc dstDesc = MemoryDesc.of(new long[] {2, 2}, FormatTag.AB);
             MemoryDesc channelScales = MemoryDesc.of(new long[] {2}, FormatTag.A);
             PrimitiveAttr attr = PrimitiveAttr.create(false).scales(Arg.WEIGHTS, 1 << 1).integerWeightsInFloat();
             PrimitiveDesc pd = PrimitiveDesc.matmul(engine, srcDesc, weightsAny, biasDesc, dstDesc, attr);
             Primitive matmul = pd.createPrimitive();
             MemoryDesc scratchDesc = pd.scratchpadDesc();
             MemoryDesc weightsDesc = pd.weightsDesc()) {
            assertEquals(DataType.S8, weightsDesc.dataType(), "the weights stay s8");
            MemorySegment out = arena.allocate(JAVA_FLOAT, 4);
            MemorySegment reordered = weightsDesc.allocate(arena);
            reorder(engine, stream, arena, userWeightsDesc, arena.allocateFrom(JAVA_BYTE, w), weightsDesc, reordered);
            try (DnnlMemory src = DnnlMemory.wrap(engine, srcDesc, arena.allocateFrom(JAVA_FLOAT, x));
                 DnnlMemory weights = DnnlMemory.wrap(engine, weightsDesc, reordered);
                 DnnlMemory b = DnnlMemory.wrap(engine, biasDesc, arena.allocateFrom(JAVA_FLOAT, 1f, -2f));
                 DnnlMemory dst = DnnlMemory.wrap(engine, dstDesc, out);
                 DnnlMemory wScale = DnnlMemory.wrap(engine, channelScales, arena.allocateFrom(JAVA_FLOAT, 0.1f, 0.5f));
                 DnnlMemory scratch = DnnlMemory.wrap(engine, scratchDesc, scratchDesc.allocate(arena))) {
                matmul.execute(stream, ExecArgs.of(arena, Map.of(Arg.SRC, src, Arg.WEIGHTS, weights,
                        Arg.BIAS, b, Arg.DST, dst, Arg.SCRATCHPAD, scratch,
                        Arg.WEIGHTS.scales(), wScale)));
                stream.await();
            }
            assertArrayEquals(new float[] {7, -65, 5, -96.5f}, out.toArray(JAVA_FLOAT), 1e-5f);
        }
    }

    /** Quantising f32 to s8 with scale 0.01: x / 0.01 rounded to nearest, saturating at -128 and 127. */
    @Test
    void reorderQuantisesWithSaturation() {
        float[] x = {-1.3f, 2.6f, 0.24f, -0.006f, 0.5f, 0f};
        try (Arena arena = Arena.ofConfined();
             DnnlEngine engine = DnnlEngine.cpu();
             DnnlStream stream = DnnlStream.create(engine);
             MemoryDesc f32 = MemoryDesc.of(new long[] {1, 6}, FormatTag.AB);
             MemoryDesc s8 = MemoryDesc.of(new long[] {1, 6}, DataType.S8, FormatTag.AB);
             MemoryDesc oneScale = MemoryDesc.of(new long[] {1}, FormatTag.A);
             PrimitiveAttr attr = PrimitiveAttr.create(false).scales(Arg.DST, 0);
             PrimitiveDesc pd = PrimitiveDesc.reorder(engine, f32, s8, attr);
             Primitive reorder = pd.createPrimitive();
             MemoryDesc scratchDesc = pd.scratchpadDesc()) {
            MemorySegment out = arena.allocate(6);
            try (DnnlMemory src = DnnlMemory.wrap(engine, f32, arena.allocateFrom(JAVA_FLOAT, x));
                 DnnlMemory dst = DnnlMemory.wrap(engine, s8, out);
                 DnnlMemory scale = DnnlMemory.wrap(engine, oneScale, arena.allocateFrom(JAVA_FLOAT, 0.01f));
                 DnnlMemory scratch = DnnlMemory.wrap(engine, scratchDesc, scratchDesc.allocate(arena))) {
                reorder.execute(stream, ExecArgs.of(arena, Map.of(Arg.SRC, src, Arg.DST, dst,
                        Arg.SCRATCHPAD, scratch, Arg.DST.scales(), scale)));
                stream.await();
            }
            assertArrayEquals(new byte[] {-128, 127, 24, -1, 50, 0}, out.toArray(JAVA_BYTE));
        }
    }

    private static void reorder(DnnlEngine engine, DnnlStream stream, Arena arena, MemoryDesc fromDesc,
                                MemorySegment from, MemoryDesc toDesc, MemorySegment to) {
        try (PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.reorder(engine, fromDesc, toDesc, attr);
             Primitive reorder = pd.createPrimitive();
             MemoryDesc scratchDesc = pd.scratchpadDesc();
             DnnlMemory src = DnnlMemory.wrap(engine, fromDesc, from);
             DnnlMemory dst = DnnlMemory.wrap(engine, toDesc, to);
             DnnlMemory scratch = DnnlMemory.wrap(engine, scratchDesc, scratchDesc.allocate(arena))) {
            reorder.execute(stream, ExecArgs.of(arena, Map.of(Arg.SRC, src, Arg.DST, dst, Arg.SCRATCHPAD, scratch)));
            stream.await();
        }
    }
}
