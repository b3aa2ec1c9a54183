package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * One owned oneDNN handle: created by a {@code dnnl_*_create} call, freed exactly once by its destroy
 * call. {@link #close()} is idempotent; use after close is an {@link IllegalStateException}.
 */
abstract sealed class NativeHandle implements AutoCloseable
        permits DnnlEngine, DnnlStream, MemoryDesc, DnnlMemory, PrimitiveDesc, Primitive, PrimitiveAttr {
    private final String kind;
    private final MethodHandle destroy;
    private MemorySegment handle;

    NativeHandle(String kind, MemorySegment handle, MethodHandle destroy) {
        if (handle.equals(MemorySegment.NULL)) throw new DnnlException(kind + ": oneDNN returned a null handle");
        this.kind = kind;
        this.handle = handle;
        this.destroy = destroy;
    }

    /** The raw handle, for passing to oneDNN. */
    final MemorySegment handle() {
        MemorySegment h = handle;
        if (h == null) throw new IllegalStateException(kind + " is closed");
        return h;
    }

    @Override
    public final synchronized void close() {
        if (handle == null) return;
        MemorySegment h = handle;
        handle = null;
        try {
            Dnnl.check((int) destroy.invokeExact(h), "dnnl_" + kind + "_destroy");
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    /** Runs a {@code dnnl_*_create(&out, ...)} call and returns the handle it wrote. */
    static MemorySegment create(String call, CreateCall body) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ADDRESS);
            Dnnl.check(body.invoke(out, tmp), call);
            return out.get(ADDRESS, 0);
        } catch (DnnlException | IllegalArgumentException | IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }

    @FunctionalInterface
    interface CreateCall {
        /** Makes the call with {@code out} as its first argument; {@code tmp} holds other temporaries. */
        int invoke(MemorySegment out, Arena tmp) throws Throwable;
    }
}
