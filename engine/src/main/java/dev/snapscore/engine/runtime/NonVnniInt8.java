package dev.snapscore.engine.runtime;

import dev.snapscore.engine.spec.ElementType;
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
 * Keeps an int8 model exact on CPUs without VNNI. There oneDNN multiplies u8 inputs by s8 weights with
 * vpmaddubsw, which adds products into a saturating s16 before widening them, and an overflowing layer
 * silently computes something else:
 * <ul>
 * <li>its direct int8 convolutions add two products (255 × 127 × 2 overflows), so a u8-input convolution's
 *     levels are halved and its scales doubled: 7-bit weights, 255 × 64 × 2 fits;
 * <li>the gemm behind int8 inner products adds four (measured: the engine matches a Java simulation of
 *     the network with levels ≤ 32 there and not with ≤ 64), which would leave 6-bit weights, so the dense
 *     layers run in f32 on their dequantised weights instead (their input is dequantised on the way in).
 * </ul>
 * Layers reading s8 (the first convolution) need nothing: oneDNN scales their weights itself.
 */
public final class NonVnniInt8 {
    /** Largest conv weight level whose u8 products cannot overflow an s16 pair sum: 255 × 64 × 2 ≤ 32767. */
    static final int SAFE_CONV_LEVEL = 64;

    /** A spec and weights to compile in place of the model's own. */
    public record Adapted(ModelSpec spec, Weights weights) {
    }

    private NonVnniInt8() {
    }

    /**
     * The model as this CPU's int8 kernels need it: the model itself when {@code vnni} or it is f32, else
     * with the changes above, new tensors allocated in {@code arena} (the caller's; it must outlive the
     * result). The result's other tensors are {@code weights}' own. Adapting an adapted model changes nothing.
     */
    public static Adapted adapt(ModelSpec spec, Weights weights, boolean vnni, Arena arena) {
        Quantization q = spec.quantization();
        if (vnni || q == null) return new Adapted(spec, weights);
        Map<String, Tensor> tensors = new LinkedHashMap<>(weights.tensors());
        Map<String, Encoding> int8Layers = new LinkedHashMap<>(q.layers());
        boolean changed = false;
        Encoding input = q.input();
        for (Layer layer : spec.layers()) {
            switch (layer) {
                case Layer.Conv c -> {
                    Encoding output = q.layers().get(c.name());
                    if (output != null && input.type() == ElementType.U8 && maxLevel(tensors.get(c.weightName())) > SAFE_CONV_LEVEL) {
                        halve(tensors.get(c.weightName()), tensors.get(Quantization.weightScaleName(c.name())), arena, tensors);
                        changed = true;
                    }
                    input = output != null ? output : Encoding.F32;
                }
                case Layer.Dense d when q.isQuantised(d.name()) -> {
                    dequantise(tensors.get(d.weightName()), tensors.get(Quantization.weightScaleName(d.name())), arena, tensors);
                    int8Layers.remove(d.name());
                    changed = true;
                    input = Encoding.F32;
                }
                default -> { }
            }
        }
        if (!changed) return new Adapted(spec, weights);
        var adaptedSpec = spec.withQuantization(new Quantization(q.input(), int8Layers, q.method(), q.calibrationImages()));
        return new Adapted(adaptedSpec, new Weights(arena, tensors));
    }

    private static int maxLevel(Tensor levels) {
        int max = 0;
        MemorySegment data = levels.data();
        for (long i = 0; i < data.byteSize(); i++) max = Math.max(max, Math.abs(data.get(JAVA_BYTE, i)));
        return max;
    }

    /** level → round(level / 2), half away from zero (127 → 64, -127 → -64); scale → 2 × scale. */
    private static void halve(Tensor levels, Tensor scales, Arena arena, Map<String, Tensor> out) {
        MemorySegment src = levels.data(), halved = arena.allocate(src.byteSize(), 64);
        for (long i = 0; i < src.byteSize(); i++) {
            int level = src.get(JAVA_BYTE, i);
            halved.set(JAVA_BYTE, i, (byte) (Integer.signum(level) * ((Math.abs(level) + 1) / 2)));
        }
        long channels = scales.elements();
        MemorySegment doubled = arena.allocate(channels * Float.BYTES, 64);
        for (long c = 0; c < channels; c++) {
            doubled.setAtIndex(JAVA_FLOAT, c, 2 * scales.data().getAtIndex(JAVA_FLOAT_UNALIGNED, c));
        }
        out.put(levels.name(), new Tensor(levels.name(), levels.shape(), ElementType.S8, halved));
        out.put(scales.name(), new Tensor(scales.name(), scales.shape(), doubled));
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
