package dev.snapscore.engine.runtime;

import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Quantization.Encoding;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adapts an int8 model to a CPU without VNNI. There oneDNN multiplies u8 inputs by s8 weights with
 * vpmaddubsw, which adds products into a saturating s16 before widening them:
 * <ul>
 * <li>the gemm behind int8 inner products adds four (measured: the engine matches a Java simulation of
 *     the network with dense levels ≤ 32 and not with ≤ 64), so the dense layers run in f32: as matmuls
 *     that keep the s8 weights and turn each into level × channel scale inside the kernel (oneDNN's
 *     weights decompression). Held as s8 they take a quarter of f32's memory (VGG16's first dense layer:
 *     51 MB, not 205), and at batch 1, where reading them is the cost, they run faster too;
 * <li>the direct convolutions add two, which overflows only when both products are near 255 × 127 with
 *     the same sign. Measured on VGG16 that is rare enough to cost nothing (logits 3.9% from f32, as on a
 *     VNNI CPU), while halving the levels to rule it out gives 6.8%, so convolutions stay as they are.
 * </ul>
 */
public final class NonVnniInt8 {
    /**
     * What to compile in place of the model's spec: {@code spec}, with the layers in {@code decompress}
     * (weight tensor name → its per-output-channel scale tensor name) run in f32 on their s8 weights.
     */
    public record Adapted(ModelSpec spec, Map<String, String> decompress) {
    }

    private NonVnniInt8() {
    }

    /** The model as this CPU's int8 kernels need it: unchanged when {@code vnni}, f32, or without int8 dense layers. */
    public static Adapted adapt(ModelSpec spec, boolean vnni) {
        Quantization q = spec.quantization();
        if (vnni || q == null) return new Adapted(spec, Map.of());
        Map<String, Encoding> int8Layers = new LinkedHashMap<>(q.layers());
        Map<String, String> decompress = new LinkedHashMap<>();
        for (Layer layer : spec.layers()) {
            if (layer instanceof Layer.Dense d && q.isQuantised(d.name())) {
                decompress.put(d.weightName(), Quantization.weightScaleName(d.name()));
                int8Layers.remove(d.name());
            }
        }
        if (decompress.isEmpty()) return new Adapted(spec, Map.of());
        var f32Dense = spec.withQuantization(new Quantization(q.input(), int8Layers, q.method(), q.calibrationImages()));
        return new Adapted(f32Dense, Map.copyOf(decompress));
    }
}
