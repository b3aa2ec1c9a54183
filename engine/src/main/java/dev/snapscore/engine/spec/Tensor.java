package dev.snapscore.engine.spec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A named tensor, little-endian, row-major, viewed in native memory (often a slice of a memory-mapped
 * file, so it may be unaligned: read f32 values with {@code JAVA_FLOAT_UNALIGNED}). F32, BF16 for weights
 * stored at half size, or S8 for quantised weights.
 */
public record Tensor(String name, long[] shape, ElementType type, MemorySegment data) {
    /** A bf16 value's 16 bits, as stored (any alignment, native little-endian order like the f32 reads). */
    private static final ValueLayout.OfShort BF16_BITS = JAVA_SHORT_UNALIGNED;

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

    /** This tensor as F32: itself when it is F32; a BF16 tensor widened into {@code arena} (exactly: bf16 is an f32's upper half). */
    public Tensor toF32(Arena arena) {
        if (type == ElementType.F32) return this;
        requireType(ElementType.BF16, "widen to f32");
        long n = elements();
        MemorySegment out = arena.allocate(n * Float.BYTES, 64);
        for (long i = 0; i < n; i++) {
            out.setAtIndex(JAVA_FLOAT, i, Float.intBitsToFloat(data.getAtIndex(BF16_BITS, i) << 16));
        }
        return new Tensor(name, shape, ElementType.F32, out);
    }

    /** This F32 tensor rounded to BF16 (to nearest, ties to even, as oneDNN's reorders round) in {@code arena}. */
    public Tensor toBf16(Arena arena) {
        requireType(ElementType.F32, "narrow to bf16");
        long n = elements();
        MemorySegment out = arena.allocate(n * 2, 64);
        for (long i = 0; i < n; i++) out.setAtIndex(BF16_BITS, i, bf16Bits(data.getAtIndex(JAVA_FLOAT_UNALIGNED, i)));
        return new Tensor(name, shape, ElementType.BF16, out);
    }

    /** Every value as a Java float (F32 or BF16 tensors), copied to the heap: for handing weights to other libraries. */
    public float[] toFloatArray() {
        try (Arena arena = Arena.ofConfined()) {
            return toF32(arena).data.toArray(JAVA_FLOAT_UNALIGNED);
        }
    }

    /** The bf16 nearest {@code v} (ties to even); a NaN stays a (quiet) NaN instead of rounding into infinity. */
    static short bf16Bits(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private void requireType(ElementType wanted, String what) {
        if (type != wanted) throw new IllegalStateException("cannot " + what + " tensor " + name + " of type " + type.specName());
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
