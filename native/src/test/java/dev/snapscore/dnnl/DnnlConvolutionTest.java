package dev.snapscore.dnnl;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bindings end to end on a case small enough to check by hand. */
class DnnlConvolutionTest {

    @Test
    void reportsItsVersion() {
        assertTrue(Dnnl.version().startsWith("3."), Dnnl.version());
    }

    /**
     * 3x3 all-ones kernel, pad 1, on a 4x4 input holding 1..16, bias 0.5, fused ReLU after a -100 shift of
     * the first output: each output is the sum of the input's 3x3 neighbourhood (zeros outside) + 0.5.
     */
    @Test
    void convolutionWithPaddingAndBiasMatchesHandComputedSums() {
        float[] input = new float[16];
        for (int i = 0; i < 16; i++) input[i] = i + 1;
        // Neighbourhood sums of [[1,2,3,4],[5,6,7,8],[9,10,11,12],[13,14,15,16]]:
        float[] expected = {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54};
        for (int i = 0; i < 16; i++) expected[i] += 0.5f;

        try (Arena arena = Arena.ofConfined();
             DnnlEngine engine = DnnlEngine.cpu();
             DnnlStream stream = DnnlStream.create(engine);
             MemoryDesc src = MemoryDesc.of(new long[] {1, 1, 4, 4}, FormatTag.ABCD);
             MemoryDesc weights = MemoryDesc.of(new long[] {1, 1, 3, 3}, FormatTag.ABCD);
             MemoryDesc bias = MemoryDesc.of(new long[] {1}, FormatTag.A);
             MemoryDesc dst = MemoryDesc.of(new long[] {1, 1, 4, 4}, FormatTag.ABCD);
             PrimitiveAttr attr = PrimitiveAttr.create(true);
             PrimitiveDesc pd = PrimitiveDesc.convolution(engine, src, weights, bias, dst,
                     new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, attr);
             Primitive conv = pd.createPrimitive();
             MemoryDesc scratchDesc = pd.scratchpadDesc()) {
            MemorySegment in = arena.allocateFrom(JAVA_FLOAT, input);
            MemorySegment w = arena.allocate(JAVA_FLOAT, 9).fill((byte) 0);
            for (int i = 0; i < 9; i++) w.setAtIndex(JAVA_FLOAT, i, 1f);
            MemorySegment b = arena.allocateFrom(JAVA_FLOAT, 0.5f);
            MemorySegment out = arena.allocate(JAVA_FLOAT, 16);
            MemorySegment scratch = scratchDesc.allocate(arena);
            try (DnnlMemory inMem = DnnlMemory.wrap(engine, src, in);
                 DnnlMemory wMem = DnnlMemory.wrap(engine, weights, w);
                 DnnlMemory bMem = DnnlMemory.wrap(engine, bias, b);
                 DnnlMemory outMem = DnnlMemory.wrap(engine, dst, out);
                 DnnlMemory scratchMem = DnnlMemory.wrap(engine, scratchDesc, scratch)) {
                conv.execute(stream, ExecArgs.of(arena, Map.of(Arg.SRC, inMem, Arg.WEIGHTS, wMem,
                        Arg.BIAS, bMem, Arg.DST, outMem, Arg.SCRATCHPAD, scratchMem)));
                stream.await();
            }
            assertArrayEquals(expected, out.toArray(JAVA_FLOAT), 1e-5f);
        }
    }

    @Test
    void unsupportedShapesFailWithTheCallNamed() {
        try (DnnlEngine engine = DnnlEngine.cpu();
             MemoryDesc src = MemoryDesc.of(new long[] {1, 2, 4, 4}, FormatTag.ABCD);
             MemoryDesc weights = MemoryDesc.of(new long[] {1, 3, 3, 3}, FormatTag.ABCD); // 3 != 2 input channels
             MemoryDesc dst = MemoryDesc.of(new long[] {1, 1, 4, 4}, FormatTag.ABCD);
             PrimitiveAttr attr = PrimitiveAttr.create(false)) {
            DnnlException e = assertThrows(DnnlException.class, () -> PrimitiveDesc.convolution(engine,
                    src, weights, null, dst, new long[] {1, 1}, new long[] {1, 1},
                    new long[] {1, 1}, attr));
            assertTrue(e.getMessage().startsWith("dnnl_convolution_forward_primitive_desc_create failed"), e.getMessage());
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseIsRejected() {
        MemoryDesc md = MemoryDesc.of(new long[] {2, 3}, FormatTag.AB);
        assertEquals(24, md.byteSize());
        md.close();
        md.close();
        assertThrows(IllegalStateException.class, md::byteSize);
    }

    @Test
    void threadCountIsPerCallingThread() {
        Dnnl.setThreadsForCurrentThread(1);
        assertEquals(1, Dnnl.maxThreadsForCurrentThread());
        assertThrows(IllegalArgumentException.class, () -> Dnnl.setThreadsForCurrentThread(0));
    }
}
