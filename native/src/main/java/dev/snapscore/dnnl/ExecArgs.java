package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A primitive's execution arguments ({@code dnnl_exec_arg_t[]}), laid out once in native memory so the
 * per-run path is a single downcall. The memory objects must stay open while these args are used.
 */
public final class ExecArgs {
    private final MemorySegment segment;
    private final int count;

    private ExecArgs(MemorySegment segment, int count) {
        this.segment = segment;
        this.count = count;
    }

    /** Each argument and the memory passed as it, allocated in {@code arena}. */
    public static ExecArgs of(Arena arena, Map<Arg, DnnlMemory> args) {
        MemorySegment s = arena.allocate(Dnnl.EXEC_ARG, args.size());
        long base = 0;
        for (var a : args.entrySet()) {
            s.set(JAVA_INT, base, a.getKey().value);
            s.set(ADDRESS, base + 8, a.getValue().handle());
            base += Dnnl.EXEC_ARG.byteSize();
        }
        return new ExecArgs(s, args.size());
    }

    int count() {
        return count;
    }

    MemorySegment segment() {
        return segment;
    }
}
