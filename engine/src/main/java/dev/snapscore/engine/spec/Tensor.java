package dev.snapscore.engine.spec;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named f32 tensor, little-endian, row-major, viewed in native memory (often a slice of a
 * memory-mapped file, so it may be unaligned: read it with {@code JAVA_FLOAT_UNALIGNED}).
 */
public record Tensor(String name, long[] shape, MemorySegment data) {

    public Tensor {
        shape = shape.clone();
        long bytes = elementCount(shape) * Float.BYTES;
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

    /** A tensor name and the shape a spec needs it to have. */
    public record ShapeRequirement(String name, long[] shape) {
    }

    @Override
    public String toString() {
        return "Tensor[" + name + " " + Arrays.toString(shape) + "]";
    }
}
