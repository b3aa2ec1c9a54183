package dev.snapscore.dnnl;

import java.lang.foreign.MemorySegment;

/**
 * A compiled oneDNN primitive. Immutable once created: several threads may execute it at once as long as
 * each passes its own destination and scratchpad memory.
 */
public final class Primitive extends NativeHandle<Primitive> {
    Primitive(MemorySegment handle) {
        super("primitive", handle, Dnnl.primitive_destroy);
    }

    /** Submits this primitive to {@code stream} with arguments prepared once in {@code args}. */
    public void execute(DnnlStream stream, ExecArgs args) {
        int status;
        try {
            status = (int) Dnnl.primitive_execute.invokeExact(handle(), stream.handle(), args.count(), args.segment());
        } catch (Throwable t) {
            throw Dnnl.rethrow(t);
        }
        Dnnl.check(status, "dnnl_primitive_execute");
    }
}
