package dev.snapscore.engine.runtime;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelGenerator;
import dev.snapscore.engine.quantize.InputSet;
import dev.snapscore.engine.quantize.Quantizer;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Quantization;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The int8 model a CPU without VNNI runs: dense layers in f32, their s8 weights dequantised by the weight reorder. */
class NonVnniInt8Test {
    private static final Quantizer.Options MAX = new Quantizer.Options(Quantizer.Method.MAX, 100, true, 4, 2);

    @Test
    void withoutVnniOnlyTheDenseLayersChange() {
        try (LoadedModel int8 = quantised(FlattenOrder.NCHW)) {
            var spec = int8.spec();
            assertTrue(NonVnniInt8.adapt(spec, true).spec() == spec, "VNNI needs nothing");
            assertTrue(NonVnniInt8.adapt(spec, true).dequantise().isEmpty());
            var adapted = NonVnniInt8.adapt(spec, false);
            int convs = 0, dense = 0;
            for (Layer l : spec.layers()) {
                if (l instanceof Layer.Dense d) {
                    assertTrue(!adapted.spec().isQuantised(d.name()), d.name() + " runs in f32");
                    assertEquals(Quantization.weightScaleName(d.name()), adapted.dequantise().get(d.weightName()));
                    dense++;
                } else if (l instanceof Layer.Conv c) {
                    assertEquals(spec.quantization().layers().get(c.name()), adapted.spec().quantization().layers().get(c.name()));
                    convs++;
                }
            }
            assertEquals(13, convs);
            assertEquals(3, dense);
            assertEquals(3, adapted.dequantise().size());
            assertTrue(NonVnniInt8.adapt(adapted.spec(), false).dequantise().isEmpty(), "nothing left to adapt");
        }
    }

    /**
     * The engine's non-VNNI path (s8 dense weights turned f32 by oneDNN's reorder with per-output-channel
     * scales) gives exactly the logits of the same network whose dense weights were multiplied out in Java
     * beforehand: both flatten orders, so the 4-D first dense layer's channel axis is checked too.
     */
    @Test
    void reorderDequantisesDenseWeightsExactlyAsLevelTimesScale() {
        for (FlattenOrder order : FlattenOrder.values()) {
            try (LoadedModel int8 = quantised(order); Arena arena = Arena.ofConfined()) {
                int n = 3;
                MemorySegment input = TestRuns.images(arena, int8.spec().input().elements(), n, 9);
                var reference = DenseInF32.of(int8.spec(), int8.weights(), arena);
                float[] viaReorder = logits(new OneDnnNetwork(int8.spec(), int8.weights(), false), input, n);
                float[] viaJava = logits(new OneDnnNetwork(reference.spec(), reference.weights(), true), input, n);
                double spread = 0;
                for (float v : viaJava) spread = Math.max(spread, Math.abs(v));
                assertTrue(spread > 0, "the network must produce non-zero logits");
                assertArrayEquals(viaJava, viaReorder, 0f, order + " flatten");
            }
        }
    }

    private static float[] logits(OneDnnNetwork network, MemorySegment input, int n) {
        try (network; OneDnnExecutor executor = network.newExecutor(2)) {
            return TestRuns.logits(executor, input, n, network.spec().classes());
        }
    }

    private static LoadedModel quantised(FlattenOrder order) {
        var config = new ModelGenerator.Config("vgg16", 1.0 / 16, List.of(24, 16), 5, order, 3, 32);
        try (LoadedModel f32 = ModelGenerator.generate(config); Arena arena = Arena.ofConfined();
             InputSet calibration = InputSet.of(TestRuns.images(arena, f32.spec().input().elements(), 4, 5), 4, f32.spec())) {
            return Quantizer.quantize(f32, calibration, MAX, line -> { });
        }
    }
}
