package dev.snapscore.engine.runtime;

import dev.snapscore.engine.spec.ModelSpec;
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
 * An int8 model with its dense layers turned f32 in Java (level × output channel scale): the network a
 * CPU without VNNI runs, as a plain model that references, exporters and other engines can take.
 */
public record DenseInF32(ModelSpec spec, Weights weights) {

    /** {@code spec} and {@code weights} as a CPU without VNNI runs them; new tensors live in {@code arena}. */
    public static DenseInF32 of(ModelSpec spec, Weights weights, Arena arena) {
        var adapted = NonVnniInt8.adapt(spec, false);
        if (adapted.decompress().isEmpty()) return new DenseInF32(spec, weights);
        Map<String, Tensor> tensors = new LinkedHashMap<>(weights.tensors());
        adapted.decompress().forEach((weightName, scaleName) -> {
            Tensor levels = tensors.get(weightName), scales = tensors.remove(scaleName);
            long perChannel = levels.elements() / scales.elements();
            MemorySegment f32 = arena.allocate(levels.elements() * Float.BYTES, 64);
            for (long i = 0; i < levels.elements(); i++) {
                float scale = scales.data().getAtIndex(JAVA_FLOAT_UNALIGNED, i / perChannel);
                f32.setAtIndex(JAVA_FLOAT, i, levels.data().get(JAVA_BYTE, i) * scale);
            }
            tensors.put(weightName, new Tensor(weightName, levels.shape(), f32));
        });
        return new DenseInF32(adapted.spec(), new Weights(arena, tensors));
    }
}
