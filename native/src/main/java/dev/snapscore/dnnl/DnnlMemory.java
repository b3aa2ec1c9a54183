package dev.snapscore.dnnl;

import java.lang.foreign.MemorySegment;

/**
 * A oneDNN memory object over a buffer that Java owns (a {@link MemorySegment} of an arena): oneDNN never
 * allocates or frees the data. The buffer must outlive this object and hold {@link MemoryDesc#byteSize()}.
 */
public final class DnnlMemory extends NativeHandle<DnnlMemory> {
    private final long byteSize;

    private DnnlMemory(MemorySegment handle, long byteSize) {
        super("memory", handle, Dnnl.memory_destroy);
        this.byteSize = byteSize;
    }

    public static DnnlMemory wrap(DnnlEngine engine, MemoryDesc desc, MemorySegment buffer) {
        long need = desc.byteSize();
        checkBuffer(buffer, need);
        return new DnnlMemory(create("dnnl_memory_create",
                (out, tmp) -> (int) Dnnl.memory_create.invokeExact(out, desc.handle(), engine.handle(), buffer)),
                need);
    }

    /** Points this memory object at another buffer of the same layout (e.g. the caller's input). */
    public void setBuffer(MemorySegment buffer) {
        checkBuffer(buffer, byteSize);
        try {
            Dnnl.check((int) Dnnl.memory_set_data_handle.invokeExact(handle(), buffer), "dnnl_memory_set_data_handle");
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    private static void checkBuffer(MemorySegment buffer, long need) {
        if (!buffer.isNative()) {
            throw new IllegalArgumentException("oneDNN needs a native (off-heap) buffer");
        }
        if (buffer.byteSize() < need) {
            throw new IllegalArgumentException("buffer of " + buffer.byteSize() + " bytes is smaller than the "
                    + need + " bytes its layout needs");
        }
    }
}
