package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * A tensor whose value is known at import: f32 values (little-endian, often a view of the file mapping, so large
 * weights are not copied until lowering) or integers (shapes, indices). Exactly one of {@code f32} and {@code ints}
 * is set.
 */
record Constant(long[] shape, MemorySegment f32, long[] ints) {
    static final ValueLayout.OfFloat F32_LE = JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    Constant {
        shape = shape.clone();
        long n = Tensor.elementCount(shape);
        if ((f32 == null) == (ints == null)) throw new IllegalArgumentException("a constant holds floats or integers");
        if (f32 != null && f32.byteSize() != n * Float.BYTES || ints != null && ints.length != n) {
            throw new IllegalArgumentException("constant of shape " + Arrays.toString(shape) + " has the wrong number of values");
        }
    }

    static Constant ofFloats(long[] shape, float[] values) {
        MemorySegment data = MemorySegment.ofArray(new byte[values.length * Float.BYTES]);
        for (int i = 0; i < values.length; i++) data.setAtIndex(F32_LE, i, values[i]);
        return new Constant(shape, data, null);
    }

    static Constant ofInts(long[] shape, long[] values) {
        return new Constant(shape, null, values.clone());
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    boolean isFloat() {
        return f32 != null;
    }

    long elements() {
        return Tensor.elementCount(shape);
    }

    int rank() {
        return shape.length;
    }

    /** The values as floats (integers converted). */
    float[] floats() {
        if (f32 != null) return f32.toArray(F32_LE);
        float[] v = new float[ints.length];
        for (int i = 0; i < v.length; i++) v[i] = ints[i];
        return v;
    }

    /** The values as integers; floats are truncated, as ONNX's Cast does. */
    long[] longs() {
        if (ints != null) return ints.clone();
        float[] f = floats();
        long[] v = new long[f.length];
        for (int i = 0; i < v.length; i++) v[i] = (long) f[i];
        return v;
    }

    /** The same values in another shape of the same size. */
    Constant reshaped(long[] newShape) {
        return new Constant(newShape, f32, ints);
    }

    @Override
    public String toString() {
        return (isFloat() ? "float" : "int") + Arrays.toString(shape);
    }
}
