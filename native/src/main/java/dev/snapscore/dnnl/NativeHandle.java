package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * One owned oneDNN handle: created by a {@code dnnl_*_create} call, freed exactly once by its destroy call, either
 * by {@link #close()} (short-lived handles, in try-with-resources) or, once {@linkplain #ownedBy handed to an
 * arena}, when that arena closes (handles that live as long as a plan or a store of weights). Using it after
 * either is an {@link IllegalStateException}, never a call into freed memory.
 */
abstract sealed class NativeHandle<H extends NativeHandle<H>> implements AutoCloseable
        permits DnnlEngine, DnnlStream, MemoryDesc, DnnlMemory, PrimitiveDesc, Primitive, PrimitiveAttr {
    /** Handles created and not yet destroyed, process-wide: see {@link Dnnl#liveHandles()}. */
    static final AtomicLong LIVE = new AtomicLong();

    private final String kind;
    private final MethodHandle destroy;
    private MemorySegment handle; // null once closed; scoped to the owning arena once owned
    private boolean owned;

    NativeHandle(String kind, MemorySegment handle, MethodHandle destroy) {
        if (handle.equals(MemorySegment.NULL)) throw new DnnlException(kind + ": oneDNN returned a null handle");
        this.kind = kind;
        this.handle = handle;
        this.destroy = destroy;
        LIVE.incrementAndGet();
    }

    /** The raw handle, for passing to oneDNN. */
    final MemorySegment handle() {
        MemorySegment h = handle;
        if (h == null) throw new IllegalStateException(kind + " is closed");
        if (!h.scope().isAlive()) throw new IllegalStateException(kind + " was freed with the arena that owned it");
        return h;
    }

    /**
     * Hands this handle to {@code owner}: it is destroyed when that arena closes, and {@link #close()} no longer
     * does anything. Returns this.
     *
     * @throws IllegalStateException if this is closed or already owned, or {@code owner} is closed
     */
    @SuppressWarnings("unchecked")
    public final synchronized H ownedBy(Arena owner) {
        if (owned) throw new IllegalStateException(kind + " already belongs to an arena");
        MemorySegment h = handle();
        handle = h.reinterpret(owner, this::destroy);
        owned = true;
        return (H) this;
    }

    /** Destroys the handle, unless an arena owns it (then that arena's closing does); idempotent. */
    @Override
    public final synchronized void close() {
        if (handle == null || owned) return;
        MemorySegment h = handle;
        handle = null;
        destroy(h);
    }

    private void destroy(MemorySegment h) {
        LIVE.decrementAndGet();
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
