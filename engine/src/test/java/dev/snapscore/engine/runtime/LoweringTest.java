package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DataType;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.InMemoryModels;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Quantization.Encoding;
import dev.snapscore.engine.spec.Window;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lowering pass on its own, in plain Java: which operation each layer becomes, with its shapes and storage. */
class LoweringTest {
    private static final CpuCapabilities VNNI = new CpuCapabilities(true, false);
    private static final CpuCapabilities NO_VNNI = new CpuCapabilities(false, false);
    private static final CpuCapabilities BF16_CPU = new CpuCapabilities(true, true);
    private static final Winograd.Rule EVERYWHERE = new Winograd.Rule(1, 1);

    // (3, 16, 16) -> conv1 (8) -> conv2 (8) -> pool -> conv3 (16, 8x8) -> flatten -> fc1 (32) -> dropout -> fc2 (10)
    private static final List<Layer> LAYERS = List.of(
            new Layer.Conv("conv1", 8, Window.square(3, 1, 1), Activation.RELU),
            new Layer.Conv("conv2", 8, Window.square(3, 1, 1), Activation.RELU),
            new Layer.MaxPool(Window.square(2, 2, 0)),
            new Layer.Conv("conv3", 16, Window.square(3, 1, 1), Activation.RELU),
            new Layer.Flatten(FlattenOrder.NCHW),
            new Layer.Dense("fc1", 32, Activation.RELU),
            new Layer.Dropout(0.5f),
            new Layer.Dense("fc2", 10, Activation.NONE));
    private static final ModelSpec F32 = InMemoryModels.spec(new InputShape(3, 16, 16), LAYERS);

    @Test
    void f32DirectGivesOneOperationPerLayerWithItsShapes() {
        List<Lowered> l = new Lowering(VNNI, false, Winograd.Rule.NEVER).lower(F32, 4);
        assertEquals(7, l.size(), "conv1, conv2, pool, conv3, fc1, fc2, softmax: " + l);
        var conv1 = assertInstanceOf(Lowered.DirectConv.class, l.get(0));
        assertArrayEquals(new long[] {4, 3, 16, 16}, conv1.src());
        assertArrayEquals(new long[] {4, 8, 16, 16}, conv1.dst());
        assertArrayEquals(new long[] {8, 3, 3, 3}, conv1.weights());
        assertEquals(Storage.F32, conv1.in());
        assertEquals(DataType.F32, conv1.weightType());
        var pool = assertInstanceOf(Lowered.MaxPool.class, l.get(2));
        assertArrayEquals(new long[] {4, 8, 8, 8}, pool.dst());
        var fc1 = assertInstanceOf(Lowered.InnerProduct.class, l.get(4));
        assertArrayEquals(new long[] {4, 16, 8, 8}, fc1.src(), "the first dense layer reads the feature map");
        assertArrayEquals(new long[] {32, 16, 8, 8}, fc1.weights());
        assertEquals(FlattenOrder.NCHW, fc1.flatten());
        assertFalse(fc1.logits());
        var fc2 = assertInstanceOf(Lowered.InnerProduct.class, l.get(5));
        assertArrayEquals(new long[] {4, 32}, fc2.src());
        assertArrayEquals(new long[] {10, 32}, fc2.weights());
        assertNull(fc2.flatten());
        assertTrue(fc2.logits());
        assertArrayEquals(new long[] {4, 10}, assertInstanceOf(Lowered.Softmax.class, l.get(6)).logits());
    }

    @Test
    void winogradLayersWritePlanesOnlyForAnotherWinogradLayer() {
        List<Lowered> l = new Lowering(VNNI, false, EVERYWHERE).lower(F32, 1);
        assertTrue(assertInstanceOf(Lowered.WinogradConv.class, l.get(0)).planesOut(), "conv2 is Winograd too");
        assertFalse(assertInstanceOf(Lowered.WinogradConv.class, l.get(1)).planesOut(), "a pool follows conv2");
        assertFalse(assertInstanceOf(Lowered.WinogradConv.class, l.get(3)).planesOut(), "a dense layer follows conv3");
        // The measured rule: 3 input channels are too few.
        List<Lowered> measured = new Lowering(VNNI, false, Winograd.Rule.MEASURED).lower(F32, 8);
        assertTrue(measured.stream().noneMatch(x -> x instanceof Lowered.WinogradConv), measured.toString());
    }

    @Test
    void timedChoicesRunWinogradOnlyWhereNamed() {
        List<Lowered> l = new Lowering(VNNI, false, Winograd.Rule.NEVER).withWinogradOnly(java.util.Set.of("conv1", "conv3")).lower(F32, 1);
        assertFalse(assertInstanceOf(Lowered.WinogradConv.class, l.get(0)).planesOut(), "conv2 runs directly");
        assertInstanceOf(Lowered.DirectConv.class, l.get(1));
        assertInstanceOf(Lowered.WinogradConv.class, l.get(3));
    }

    @Test
    void bf16RunsEveryLayerInBf16ButTheLogitsAndNeverAsWinograd() {
        List<Lowered> l = new Lowering(BF16_CPU, true, EVERYWHERE).lower(F32, 2);
        for (int i : new int[] {0, 1, 3}) {
            var conv = assertInstanceOf(Lowered.DirectConv.class, l.get(i));
            assertEquals(Storage.BF16, conv.in());
            assertEquals(Storage.BF16, conv.out());
            assertEquals(DataType.BF16, conv.weightType());
        }
        assertEquals(Storage.BF16, l.get(2).in(), "the pool keeps bf16");
        var fc1 = assertInstanceOf(Lowered.InnerProduct.class, l.get(4));
        assertEquals(Storage.BF16, fc1.out());
        var fc2 = assertInstanceOf(Lowered.InnerProduct.class, l.get(5));
        assertEquals(Storage.BF16, fc2.in());
        assertEquals(DataType.BF16, fc2.weightType());
        assertEquals(Storage.F32, fc2.out(), "logits stay f32");
    }

    private static ModelSpec int8() {
        Encoding u8 = new Encoding(ElementType.U8, 0.05f);
        Quantization q = new Quantization(new Encoding(ElementType.S8, 1.5f), Map.of(
                "conv1", u8, "conv2", new Encoding(ElementType.U8, 0.07f), "conv3", new Encoding(ElementType.U8, 0.09f),
                "fc1", new Encoding(ElementType.U8, 0.11f), "fc2", Encoding.F32), "test", 0);
        return F32.withQuantization(q);
    }

    @Test
    void int8LayersReadTheEncodingTheLayerBeforeWrote() {
        List<Lowered> l = new Lowering(VNNI, false, EVERYWHERE).lower(int8(), 1);
        var conv1 = assertInstanceOf(Lowered.DirectConv.class, l.get(0), "int8 layers never run as Winograd");
        assertEquals(new Storage(DataType.S8, 1.5f), conv1.in());
        assertEquals(new Storage(DataType.U8, 0.05f), conv1.out());
        assertEquals(DataType.S8, conv1.weightType());
        assertEquals(new Storage(DataType.U8, 0.07f), l.get(2).in(), "the pool keeps conv2's encoding");
        assertEquals(new Storage(DataType.U8, 0.07f), l.get(3).in(), "conv3 reads conv2's, through the pool");
        var fc2 = assertInstanceOf(Lowered.InnerProduct.class, l.get(5));
        assertEquals(new Storage(DataType.U8, 0.11f), fc2.in());
        assertEquals(Storage.F32, fc2.out());
        assertEquals(DataType.S8, fc2.weightType());
    }

    @Test
    void withoutVnniInt8DenseLayersRunInF32OnTheirInt8Weights() {
        List<Lowered> l = new Lowering(NO_VNNI, false, Winograd.Rule.NEVER).lower(int8(), 2);
        assertInstanceOf(Lowered.DirectConv.class, l.get(3), "convolutions stay int8");
        var fc1 = assertInstanceOf(Lowered.DecompressedDense.class, l.get(4));
        assertEquals(16 * 8 * 8, fc1.features());
        assertEquals(FlattenOrder.NCHW, fc1.flatten());
        assertEquals("fc1.weight_scale", fc1.scaleTensor());
        assertEquals(Storage.F32, fc1.in());
        assertFalse(fc1.logits());
        var fc2 = assertInstanceOf(Lowered.DecompressedDense.class, l.get(5));
        assertEquals(32, fc2.features());
        assertNull(fc2.flatten());
        assertTrue(fc2.logits());
    }

    @Test
    void globalAveragePoolAndNhwcFlatten() {
        ModelSpec spec = InMemoryModels.spec(new InputShape(3, 6, 6), List.of(
                new Layer.Conv("c", 4, Window.square(3, 1, 0), Activation.RELU),
                new Layer.GlobalAveragePool(),
                new Layer.Flatten(FlattenOrder.NHWC),
                new Layer.Dense("fc", 5, Activation.NONE)));
        List<Lowered> l = new Lowering(VNNI, false, Winograd.Rule.NEVER).lower(spec, 3);
        var gap = assertInstanceOf(Lowered.GlobalAveragePool.class, l.get(1));
        assertArrayEquals(new long[] {3, 4, 4, 4}, gap.src());
        assertArrayEquals(new long[] {3, 4, 1, 1}, gap.dst());
        var fc = assertInstanceOf(Lowered.InnerProduct.class, l.get(2));
        assertArrayEquals(new long[] {5, 4, 1, 1}, fc.weights());
        assertEquals(FlattenOrder.NHWC, fc.flatten());
    }

    @Test
    void optionsResolveAgainstTheCpu() {
        ModelOptions bf16 = ModelOptions.defaults().withPrecision(Precision.BF16);
        var refused = assertThrows(IllegalArgumentException.class, () -> OneDnnNetwork.lowering(F32, bf16, VNNI));
        assertTrue(refused.getMessage().contains("AVX512_BF16"), refused.getMessage());
        assertTrue(OneDnnNetwork.lowering(F32, bf16, BF16_CPU).bf16());
        assertThrows(IllegalArgumentException.class, () -> OneDnnNetwork.lowering(int8(), bf16, BF16_CPU));

        ModelOptions autoPrecision = ModelOptions.defaults().withPrecision(Precision.AUTO);
        assertTrue(OneDnnNetwork.lowering(F32, autoPrecision, BF16_CPU).bf16());
        assertFalse(OneDnnNetwork.lowering(F32, autoPrecision, VNNI).bf16());
        assertFalse(OneDnnNetwork.lowering(int8(), autoPrecision, BF16_CPU).bf16(), "int8 models keep their int8 layers");

        ModelOptions winograd = ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.WINOGRAD);
        assertEquals(Winograd.Rule.MEASURED, OneDnnNetwork.lowering(F32, winograd, VNNI).winograd());
        assertEquals(Winograd.Rule.NEVER, OneDnnNetwork.lowering(F32, ModelOptions.defaults(), VNNI).winograd());
        ModelOptions auto = ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.AUTO);
        assertEquals(Winograd.Rule.NEVER, OneDnnNetwork.lowering(F32, auto, VNNI).winograd(), "direct until timed");
    }
}
