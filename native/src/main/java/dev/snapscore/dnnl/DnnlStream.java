package dev.snapscore.dnnl;

/** An in-order execution stream on an engine. Not thread-safe: one per session. */
public final class DnnlStream extends NativeHandle<DnnlStream> {
    private DnnlStream(java.lang.foreign.MemorySegment handle) {
        super("stream", handle, Dnnl.stream_destroy);
    }

    public static DnnlStream create(DnnlEngine engine) {
        return new DnnlStream(create("dnnl_stream_create",
                (out, tmp) -> (int) Dnnl.stream_create.invokeExact(out, engine.handle(), Dnnl.STREAM_DEFAULT_FLAGS)));
    }

    /** Blocks until every primitive submitted to this stream has finished. */
    public void await() {
        try {
            Dnnl.check((int) Dnnl.stream_wait.invokeExact(handle()), "dnnl_stream_wait");
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
    }
}
