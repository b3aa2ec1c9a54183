package dev.snapscore.dnnl;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The typed constants carry oneDNN's values: checked against what oneDNN itself does with them. */
class ConstantsTest {

    /** Each plain tag lays out its dimensions as the strides (in elements) its letters spell. */
    @Test
    void formatTagsAreTheLayoutsTheyName() {
        Map<FormatTag, long[][]> dimsAndStrides = Map.of(
                FormatTag.A, new long[][] {{5}, {1}},
                FormatTag.AB, new long[][] {{2, 3}, {3, 1}},
                FormatTag.BA, new long[][] {{2, 3}, {1, 2}},
                FormatTag.ABC, new long[][] {{2, 3, 4}, {12, 4, 1}},
                FormatTag.ABCD, new long[][] {{2, 3, 4, 5}, {60, 20, 5, 1}},
                FormatTag.ACDB, new long[][] {{2, 3, 4, 5}, {60, 1, 15, 3}});
        assertEquals(FormatTag.values().length - 1, dimsAndStrides.size(), "every tag but ANY is checked");
        dimsAndStrides.forEach((tag, ds) -> {
            try (MemoryDesc byTag = MemoryDesc.of(ds[0], tag); MemoryDesc byStrides = MemoryDesc.ofStrides(ds[0], ds[1])) {
                assertTrue(byTag.sameLayoutAs(byStrides), tag.name());
            }
        });
        // A layout left to the primitive has no size until one is chosen.
        try (MemoryDesc any = MemoryDesc.of(new long[] {2, 3}, FormatTag.ANY)) {
            assertEquals(0, any.byteSize());
        }
    }

    /** Each type reads back as itself, with its element size (s8 against u8: the saturation test of {@link DnnlInt8Test}). */
    @Test
    void dataTypesHaveTheirSizes() {
        Map<DataType, Integer> bytes = Map.of(DataType.F32, 4, DataType.BF16, 2, DataType.S8, 1, DataType.U8, 1);
        assertEquals(DataType.values().length, bytes.size());
        bytes.forEach((type, size) -> {
            try (MemoryDesc md = MemoryDesc.of(new long[] {2, 3}, type, FormatTag.AB)) {
                assertEquals(type, md.dataType());
                assertEquals(6L * size, md.byteSize(), type.name());
            }
        });
    }

    /** A primitive descriptor reports, for each argument id, the tensor passed as that argument (all shapes differ). */
    @Test
    void argumentsNameTheTensorsAPrimitiveTakes() {
        try (DnnlEngine engine = DnnlEngine.cpu();
             MemoryDesc src = MemoryDesc.of(new long[] {1, 2, 5, 5}, FormatTag.ABCD);
             MemoryDesc weights = MemoryDesc.of(new long[] {3, 2, 3, 3}, FormatTag.ABCD);
             MemoryDesc bias = MemoryDesc.of(new long[] {3}, FormatTag.A);
             MemoryDesc dst = MemoryDesc.of(new long[] {1, 3, 2, 2}, FormatTag.ABCD);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.convolution(engine, src, weights, bias, dst, new long[] {2, 2},
                     new long[] {0, 0}, new long[] {0, 0}, attr)) {
            for (var e : Map.of(Arg.SRC, src, Arg.WEIGHTS, weights, Arg.BIAS, bias, Arg.DST, dst).entrySet()) {
                try (MemoryDesc reported = pd.desc(e.getKey())) {
                    assertTrue(reported.sameLayoutAs(e.getValue()), e.getKey().toString());
                }
            }
        }
    }

    @Test
    void scalesBelongToATensorArgument() {
        assertEquals(Arg.WEIGHTS.scales(), Arg.WEIGHTS.scales());
        assertTrue(!Arg.WEIGHTS.scales().equals(Arg.SRC.scales()));
        assertThrows(IllegalArgumentException.class, () -> Arg.SRC.scales().scales());
        try (PrimitiveAttr attr = PrimitiveAttr.create(false)) {
            assertThrows(IllegalArgumentException.class, () -> attr.scales(Arg.DST.scales(), 0));
        }
    }
}
