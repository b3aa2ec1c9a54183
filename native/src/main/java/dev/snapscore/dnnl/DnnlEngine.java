package dev.snapscore.dnnl;

/** A oneDNN CPU engine. Thread-safe; owned by one model. */
public final class DnnlEngine extends NativeHandle<DnnlEngine> {
    private DnnlEngine(java.lang.foreign.MemorySegment handle) {
        super("engine", handle, Dnnl.engine_destroy);
    }

    public static DnnlEngine cpu() {
        return new DnnlEngine(create("dnnl_engine_create",
                (out, tmp) -> (int) Dnnl.engine_create.invokeExact(out, Dnnl.ENGINE_CPU, 0L)));
    }
}
