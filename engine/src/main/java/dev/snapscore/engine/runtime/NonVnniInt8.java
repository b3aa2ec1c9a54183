package dev.snapscore.engine.runtime;

import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Quantization.Encoding;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * Adapts an int8 model to a CPU without VNNI. There oneDNN multiplies u8 inputs by s8 weights with
 * vpmaddubsw, which adds products into a saturating s16 before widening them:
 * <ul>
 * <li>the gemm behind int8 inner products adds four (measured: the engine matches a Java simulation of
 *     the network with dense levels ≤ 32 and not with ≤ 64), so the dense layers run in f32 on their
 *     dequantised weights (their input is dequantised on the way in);
 * <li>the direct convolutions add two, which overflows only when both products are near 255 × 127 with
 *     the same sign. Measured on VGG16 that is rare enough to cost nothing (logits 3.9% from f32, as on a
 *     VNNI CPU), while halving the levels to rule it out gives 6.8%, so convolutions stay as they are.
 * </ul>
 */
public final class NonVnniInt8 {
    /** A spec and weights to compile in place of the model's own. */
    public record Adapted(ModelSpec spec, Weights weights) {
    }

    private NonVnniInt8() {
    }

    /**
     * The model as this CPU's int8 kernels need it: the model itself when {@code vnni}, when it is f32 or has
     * no int8 dense layer, else with f32 dense layers allocated in {@code arena} (the caller's; it must outlive
     * the result). The result's other tensors are {@code weights}' own.
     */
    public static Adapted adapt(ModelSpec spec, Weights weights, boolean vnni, Arena arena) {
        Quantization q = spec.quantization();
        if (vnni || q == null) return new Adapted(spec, weights);
        Map<String, Tensor> tensors = new LinkedHashMap<>(weights.tensors());
        Map<String, Encoding> int8Layers = new LinkedHashMap<>(q.layers());
        for (Layer layer : spec.layers()) {
            if (layer instanceof Layer.Dense d && q.isQuantised(d.name())) {
                dequantise(tensors.get(d.weightName()), tensors.get(Quantization.weightScaleName(d.name())), arena, tensors);
                int8Layers.remove(d.name());
            }
        }
        if (int8Layers.size() == q.layers().size()) return new Adapted(spec, weights);
        var adaptedSpec = spec.withQuantization(new Quantization(q.input(), int8Layers, q.method(), q.calibrationImages()));
        return new Adapted(adaptedSpec, new Weights(arena, tensors));
    }

    /** f32 weights = level × its output channel's scale. */
    private static void dequantise(Tensor levels, Tensor scales, Arena arena, Map<String, Tensor> out) {
        long perChannel = levels.elements() / scales.elements();
        MemorySegment src = levels.data(), f32 = arena.allocate(levels.elements() * Float.BYTES, 64);
        for (long i = 0; i < levels.elements(); i++) {
            float scale = scales.data().getAtIndex(JAVA_FLOAT_UNALIGNED, i / perChannel);
            f32.setAtIndex(JAVA_FLOAT, i, src.get(JAVA_BYTE, i) * scale);
        }
        out.put(levels.name(), new Tensor(levels.name(), levels.shape(), f32));
        out.remove(scales.name());
    }
}
