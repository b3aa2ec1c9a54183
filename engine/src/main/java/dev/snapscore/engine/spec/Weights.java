package dev.snapscore.engine.spec;

import dev.snapscore.engine.ModelFormatException;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A model's named tensors and the arena that owns their memory (a file mapping, or memory filled
 * from an ONNX file). Closing it unmaps or frees every tensor.
 */
public final class Weights implements AutoCloseable {
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    public Weights(Arena arena, Map<String, Tensor> tensors) {
        this.arena = arena;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** The tensor, checked to have the shape and type a spec needs. */
    public Tensor get(Tensor.ShapeRequirement required) {
        Tensor t = get(required.name(), required.shape());
        if (t.type() != required.type()) {
            throw new ModelFormatException("weight tensor '" + t.name() + "' is " + t.type().safetensorsName
                    + ", the spec needs " + required.type().safetensorsName);
        }
        return t;
    }

    /** The tensor, checked to have the expected shape. */
    public Tensor get(String name, long... expectedShape) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException("missing weight tensor '" + name + "'; the weights hold " + tensors.keySet());
        }
        if (!Arrays.equals(t.shape(), expectedShape)) {
            throw new ModelFormatException("weight tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + ", the spec needs " + Arrays.toString(expectedShape));
        }
        return t;
    }

    public Set<String> names() {
        return tensors.keySet();
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The arena that owns the tensors' memory; closed by {@link #close()}. */
    public Arena arena() {
        return arena;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
