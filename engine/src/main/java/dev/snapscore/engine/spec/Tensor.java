package dev.snapscore.engine.spec;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named tensor, little-endian, row-major, viewed in native memory (often a slice of a memory-mapped
 * file, so it may be unaligned: read f32 values with {@code JAVA_FLOAT_UNALIGNED}). F32, or S8 for
 * quantised weights.
 */
public record Tensor(String name, long[] shape, ElementType type, MemorySegment data) {

    /** An f32 tensor. */
    public Tensor(String name, long[] shape, MemorySegment data) {
        this(name, shape, ElementType.F32, data);
    }

    public Tensor {
        shape = shape.clone();
        long bytes = elementCount(shape) * type.bytes;
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " needs "
                    + bytes + " bytes, data has " + data.byteSize());
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elements() {
        return elementCount(shape);
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** A tensor name and the shape and type a spec needs it to have. */
    public record ShapeRequirement(String name, long[] shape, ElementType type) {
        public ShapeRequirement(String name, long[] shape) {
            this(name, shape, ElementType.F32);
        }
    }

    @Override
    public String toString() {
        return "Tensor[" + name + " " + type.specName() + Arrays.toString(shape) + "]";
    }
}
