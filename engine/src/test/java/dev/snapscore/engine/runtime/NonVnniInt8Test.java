package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.DataType;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The int8 model a CPU without VNNI runs: dense layers in f32 on their s8 weights, decompressed inside oneDNN's matmul. */
class NonVnniInt8Test {
    private static final Quantizer.Options MAX = new Quantizer.Options(Quantizer.Method.MAX, 100, true, 4, 2);

    @Test
    void withoutVnniOnlyTheDenseLayersChange() {
        try (LoadedModel int8 = quantised(FlattenOrder.NCHW)) {
            var spec = int8.spec();
            assertTrue(NonVnniInt8.adapt(spec, true).spec() == spec, "VNNI needs nothing");
            assertTrue(NonVnniInt8.adapt(spec, true).decompress().isEmpty());
            var adapted = NonVnniInt8.adapt(spec, false);
            int convs = 0, dense = 0;
            for (Layer l : spec.layers()) {
                if (l instanceof Layer.Dense d) {
                    assertTrue(!adapted.spec().isQuantised(d.name()), d.name() + " runs in f32");
                    assertEquals(Quantization.weightScaleName(d.name()), adapted.decompress().get(d.weightName()));
                    dense++;
                } else if (l instanceof Layer.Conv c) {
                    assertEquals(spec.quantization().layers().get(c.name()), adapted.spec().quantization().layers().get(c.name()));
                    convs++;
                }
            }
            assertEquals(13, convs);
            assertEquals(3, dense);
            assertEquals(3, adapted.decompress().size());
            assertTrue(NonVnniInt8.adapt(adapted.spec(), false).decompress().isEmpty(), "nothing left to adapt");
        }
    }

    /**
     * The engine's non-VNNI path (matmuls that keep the dense weights s8 and apply the per-output-channel
     * scales in the kernel) gives the logits of the same network whose dense weights were multiplied out
     * in Java beforehand, up to f32 summation order: both flatten orders, so the first dense layer's
     * reading of the 4-D feature map is checked too. The weights stay one byte each.
     */
    @Test
    void denseLayersRunOnS8WeightsAsLevelTimesScale() {
        for (FlattenOrder order : FlattenOrder.values()) {
            try (LoadedModel int8 = quantised(order); Arena arena = Arena.ofConfined()) {
                int n = 3;
                MemorySegment input = TestRuns.images(arena, int8.spec().input().elements(), n, 9);
                var reference = DenseInF32.of(int8.spec(), int8.weights(), arena);
                float[] decompressed;
                try (var network = new OneDnnNetwork(int8.spec(), int8.weights(), new Lowering(new CpuCapabilities(false, false), false, Winograd.Rule.NEVER))) {
                    decompressed = logits(network, input, n);
                    for (Layer l : int8.spec().layers()) {
                        if (!(l instanceof Layer.Dense d)) continue;
                        assertEquals(DataType.S8, network.weights().layoutOf(d.weightName()).dataType(), d.name());
                    }
                }
                float[] viaJava;
                try (var network = new OneDnnNetwork(reference.spec(), reference.weights(), new Lowering(new CpuCapabilities(true, false), false, Winograd.Rule.NEVER))) {
                    viaJava = logits(network, input, n);
                }
                double spread = 0, diff = 0;
                for (int i = 0; i < viaJava.length; i++) {
                    spread = Math.max(spread, Math.abs(viaJava[i]));
                    diff = Math.max(diff, Math.abs(viaJava[i] - decompressed[i]));
                }
                assertTrue(spread > 0, "the network must produce non-zero logits");
                assertTrue(diff <= 1e-5 * spread, order + " flatten: logits differ by " + diff + " (spread " + spread + ")");
            }
        }
    }

    private static float[] logits(OneDnnNetwork network, MemorySegment input, int n) {
        try (OneDnnExecutor executor = network.newExecutor(2)) {
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
