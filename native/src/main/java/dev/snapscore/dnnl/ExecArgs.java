package dev.snapscore.dnnl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

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

    /** Pairs of ({@code Dnnl.ARG_*}, memory), allocated in {@code arena}. */
    public static ExecArgs of(Arena arena, Object... argAndMemory) {
        if (argAndMemory.length % 2 != 0) throw new IllegalArgumentException("expected (arg, memory) pairs");
        int n = argAndMemory.length / 2;
        MemorySegment s = arena.allocate(Dnnl.EXEC_ARG, n);
        for (int i = 0; i < n; i++) {
            int arg = (Integer) argAndMemory[2 * i];
            DnnlMemory mem = (DnnlMemory) argAndMemory[2 * i + 1];
            long base = i * Dnnl.EXEC_ARG.byteSize();
            s.set(JAVA_INT, base, arg);
            s.set(ADDRESS, base + 8, mem.handle());
        }
        return new ExecArgs(s, n);
    }

    int count() {
        return count;
    }

    MemorySegment segment() {
        return segment;
    }
}
