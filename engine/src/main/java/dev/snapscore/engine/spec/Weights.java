package dev.snapscore.engine.spec;

import dev.snapscore.engine.ModelFormatException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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

    /** The tensor, checked to have the shape and type a spec needs (BF16 also serves where F32 is needed). */
    public Tensor get(Tensor.ShapeRequirement required) {
        Tensor t = get(required.name(), required.shape());
        // bf16-stored weights stand in for f32 ones: oneDNN reorders widen them, Java readers use Tensor.toF32.
        boolean narrowedFloat = required.type() == ElementType.F32 && t.type() == ElementType.BF16;
        if (t.type() != required.type() && !narrowedFloat) {
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

    /**
     * Says that {@code t}'s bytes will not be read again soon, so they need not stay in this process's
     * memory. For a read-only file mapping (safetensors) its pages leave the resident set ({@link
     * MemorySegment#unload()}: {@code madvise(MADV_DONTNEED)} on Linux, over the whole pages the tensor
     * touches); they stay in the OS page cache and a later read faults them back, so the tensor keeps its
     * values. Any other memory (an ONNX import, a generated model) is left as it is: dropping anonymous
     * pages would zero them.
     *
     * @throws IllegalArgumentException if {@code t} is not one of these weights
     */
    public void release(Tensor t) {
        if (tensors.get(t.name()) != t) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' is not one of these weights");
        }
        MemorySegment data = t.data();
        if (data.isMapped() && data.isReadOnly() && data.byteSize() > 0) data.unload();
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
