package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A memory descriptor: dimensions, a data type and a layout (plain, blocked, or "any" for oneDNN to choose). */
public final class MemoryDesc extends NativeHandle<MemoryDesc> {
    private MemoryDesc(MemorySegment handle) {
        super("memory_desc", handle, Dnnl.memory_desc_destroy);
    }

    /** An f32 descriptor in layout {@code tag} ({@link FormatTag#ANY} lets the primitive pick its preferred one). */
    public static MemoryDesc of(long[] dims, FormatTag tag) {
        return of(dims, DataType.F32, tag);
    }

    /** A descriptor of {@code dataType} in layout {@code tag}. */
    public static MemoryDesc of(long[] dims, DataType dataType, FormatTag tag) {
        checkDims(dims);
        return new MemoryDesc(create("dnnl_memory_desc_create_with_tag", (out, tmp) -> {
            MemorySegment d = tmp.allocateFrom(JAVA_LONG, dims);
            return (int) Dnnl.memory_desc_create_with_tag.invokeExact(out, dims.length, d, dataType.value, tag.value);
        }));
    }

    /**
     * An f32 view with an explicit stride (in elements) per dimension: strides may describe any permutation
     * of a plain layout, or windows that overlap.
     */
    public static MemoryDesc ofStrides(long[] dims, long[] strides) {
        checkDims(dims);
        if (strides.length != dims.length) {
            throw new IllegalArgumentException(dims.length + " dimensions but " + strides.length + " strides");
        }
        for (long st : strides) {
            if (st < 0) throw new IllegalArgumentException("strides must be >= 0: " + Arrays.toString(strides));
        }
        return new MemoryDesc(create("dnnl_memory_desc_create_with_strides", (out, tmp) -> {
            MemorySegment d = tmp.allocateFrom(JAVA_LONG, dims);
            MemorySegment st = tmp.allocateFrom(JAVA_LONG, strides);
            return (int) Dnnl.memory_desc_create_with_strides.invokeExact(out, dims.length, d, DataType.F32.value, st);
        }));
    }

    private static void checkDims(long[] dims) {
        if (dims.length < 1 || dims.length > Dnnl.MAX_NDIMS) {
            throw new IllegalArgumentException("1 to " + Dnnl.MAX_NDIMS + " dimensions, got " + dims.length);
        }
        for (long d : dims) {
            if (d < 1) throw new IllegalArgumentException("dimensions must be positive: " + Arrays.toString(dims));
        }
    }

    /** Takes an owned copy of a descriptor that oneDNN lends (e.g. one queried from a primitive descriptor). */
    static MemoryDesc copyOf(MemorySegment borrowed) {
        return new MemoryDesc(create("dnnl_memory_desc_clone",
                (out, tmp) -> (int) Dnnl.memory_desc_clone.invokeExact(out, borrowed)));
    }

    /**
     * This descriptor serialised by oneDNN ({@code dnnl_memory_desc_get_blob}): its dimensions, type and full
     * layout, blocking included, readable back by {@link #fromBlob} with the same oneDNN build.
     */
    public byte[] toBlob() {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment size = tmp.allocate(JAVA_LONG);
            Dnnl.check((int) Dnnl.memory_desc_get_blob.invokeExact(MemorySegment.NULL, size, handle()), "dnnl_memory_desc_get_blob");
            MemorySegment blob = tmp.allocate(size.get(JAVA_LONG, 0));
            Dnnl.check((int) Dnnl.memory_desc_get_blob.invokeExact(blob, size, handle()), "dnnl_memory_desc_get_blob");
            return blob.asSlice(0, size.get(JAVA_LONG, 0)).toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    /**
     * A descriptor from {@link #toBlob()}'s bytes. oneDNN reads the blob without a length, so it must be one this
     * oneDNN build wrote, checked for integrity first (a checksum): this refuses only blobs too short to hold a
     * descriptor's size field.
     */
    public static MemoryDesc fromBlob(byte[] blob) {
        if (blob.length < Long.BYTES) throw new IllegalArgumentException("a memory descriptor blob of " + blob.length + " bytes");
        return new MemoryDesc(create("dnnl_memory_desc_create_with_blob", (out, tmp) -> {
            // Extra zero bytes, so a blob shorter than oneDNN expects is never read past its allocation.
            MemorySegment b = tmp.allocate(blob.length + 4096L);
            MemorySegment.copy(blob, 0, b, JAVA_BYTE, 0, blob.length);
            return (int) Dnnl.memory_desc_create_with_blob.invokeExact(out, b);
        }));
    }

    /** Bytes a buffer of this layout needs (including any blocking padding). */
    public long byteSize() {
        try {
            return (long) Dnnl.memory_desc_get_size.invokeExact(handle());
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    public DataType dataType() {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(JAVA_INT);
            Dnnl.check((int) Dnnl.memory_desc_query.invokeExact(handle(), Dnnl.QUERY_DATA_TYPE, out),
                    "dnnl_memory_desc_query(data_type)");
            return DataType.of(out.get(JAVA_INT, 0));
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    /** True when both describe the same dimensions, type and physical layout. */
    public boolean sameLayoutAs(MemoryDesc other) {
        try {
            return (int) Dnnl.memory_desc_equal.invokeExact(handle(), other.handle()) != 0;
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    /** Allocates a buffer for this layout in {@code arena}, aligned for AVX-512 loads. */
    public MemorySegment allocate(Arena arena) {
        return arena.allocate(Math.max(byteSize(), 1), 64);
    }
}
