package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Arg;
import dev.snapscore.dnnl.DataType;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlMemory;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.dnnl.ExecArgs;
import dev.snapscore.dnnl.FormatTag;
import dev.snapscore.dnnl.MemoryDesc;
import dev.snapscore.dnnl.Primitive;
import dev.snapscore.dnnl.PrimitiveAttr;
import dev.snapscore.dnnl.PrimitiveDesc;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Model weights in the layouts oneDNN's primitives chose, each made once by a reorder from the source
 * tensors (usually a memory-mapped file) and shared by every plan and session. A plan for another batch
 * size that wants the same layout reuses the same buffer; only a new layout costs a new reorder.
 *
 * <p>The source stays open for such later reorders, but each source tensor is {@linkplain Weights#release
 * released} once copied: a mapped file's pages then leave the resident set instead of doubling the
 * weights' share of it, and come back from the page cache only if another layout is ever needed.
 *
 * <p>With a {@link PlanCache}, a tensor the cache holds in exactly the layout asked for is not made at all: its
 * memory object points into the cache's mapping, and the source is never read.
 */
sealed class ReorderedWeights permits ReorderedWeights.Trial {
    /**
     * A weight buffer in a oneDNN layout: {@code data} is this store's arena's memory, or a plan cache's mapping;
     * the descriptor and memory object belong to the arena.
     */
    record Entry(MemoryDesc desc, DnnlMemory memory, MemorySegment data) {
    }

    private final DnnlEngine engine;
    private final Weights source;
    private final Arena arena;
    private final PlanCache cache; // null: every tensor is made from the source
    private final Map<String, List<Entry>> entries = new HashMap<>();
    private final Map<Float, Entry> scalars = new HashMap<>();

    /**
     * Reordered buffers, and the descriptors and memory objects of every entry, live in {@code arena}, which the
     * caller owns: closing it frees them all.
     */
    ReorderedWeights(DnnlEngine engine, Weights source, Arena arena) {
        this(engine, source, arena, null);
    }

    /**
     * As above, taking each tensor from {@code cache} (owned by the caller, closed after the arena) where it holds it in
     * the layout asked for, instead of making it.
     */
    ReorderedWeights(DnnlEngine engine, Weights source, Arena arena, PlanCache cache) {
        this.engine = engine;
        this.source = source;
        this.arena = arena;
        this.cache = cache;
    }

    /**
     * A store for trying out a plan: its {@linkplain #derived derived} constants (Winograd's transformed filters)
     * are made in {@code arena}, freed when the caller closes it, unless this store already holds them; the
     * weights, biases and scales are this store's, shared.
     */
    ReorderedWeights trial(Arena arena) {
        return new Trial(this, arena);
    }

    /** {@link #trial}'s store: everything but new derived constants comes from {@code base}. */
    static final class Trial extends ReorderedWeights {
        private final ReorderedWeights base;

        private Trial(ReorderedWeights base, Arena arena) {
            super(base.engine, base.source, arena, null);
            this.base = base;
        }

        @Override
        Entry get(String name, long[] dims, FormatTag userTag, PrimitiveDesc pd) {
            return base.get(name, dims, userTag, pd);
        }

        @Override
        synchronized Entry derived(String key, String from, long[] dims, FormatTag userTag, MemoryDesc wanted, Derivation derive) {
            Entry shared = base.holding(key, wanted); // e.g. filters an earlier batch size's plan runs as Winograd
            if (shared == null) return super.derived(key, from, dims, userTag, wanted, derive);
            wanted.close();
            return shared;
        }

        @Override
        synchronized MemoryDesc layoutOf(String name) {
            MemoryDesc own = super.layoutOf(name);
            return own != null ? own : base.layoutOf(name);
        }

        @Override
        Entry vector(String name, int length) {
            return base.vector(name, length);
        }

        @Override
        Entry row(String name, int length) {
            return base.row(name, length);
        }

        @Override
        Entry scalar(float value) {
            return base.scalar(value);
        }
    }

    /**
     * The tensor {@code name}, viewed as {@code dims} in the plain layout {@code userTag}, in the weights
     * layout that {@code pd} chose.
     */
    synchronized Entry get(String name, long[] dims, FormatTag userTag, PrimitiveDesc pd) {
        MemoryDesc wanted = pd.weightsDesc();
        Entry held = held(name, wanted);
        if (held != null) return held;
        Entry e = cached(name, wanted);
        if (e == null) e = reorder(name, dims, userTag, wanted);
        entries.get(name).add(e);
        return e;
    }

    /** Computes a constant's plain values: from a source tensor's data (null when made from nothing), in {@code arena}. */
    interface Derivation {
        MemorySegment values(MemorySegment source, Arena arena);
    }

    /**
     * A constant derived from the source tensor {@code from} (or from nothing, if null) by {@code derive}, which
     * gives plain f32 values of {@code dims} in {@code userTag}; held under {@code key} in {@code wanted}'s
     * layout (which this takes ownership of), made once.
     */
    synchronized Entry derived(String key, String from, long[] dims, FormatTag userTag, MemoryDesc wanted, Derivation derive) {
        Entry held = held(key, wanted);
        if (held != null) return held;
        Entry hit = cached(key, wanted);
        if (hit != null) {
            entries.get(key).add(hit);
            return hit;
        }
        Tensor t = from == null ? null : source.tensors().get(from);
        try (Arena tmp = Arena.ofShared()) { // a derivation may fill it from several threads
            Entry e = reorder(derive.values(t == null ? null : t.toF32(tmp).data(), tmp), DataType.F32, dims, userTag, wanted);
            if (t != null) source.release(t);
            entries.get(key).add(e);
            return e;
        }
    }

    /** {@code name} in {@code wanted}'s layout from the plan cache, or null. */
    private Entry cached(String name, MemoryDesc wanted) {
        MemorySegment data = cache == null ? null : cache.find(name, wanted);
        return data == null ? null : new Entry(wanted, DnnlMemory.wrap(engine, wanted, data).ownedBy(arena), data);
    }

    /** Every tensor held, for the plan cache. */
    synchronized List<PlanCache.Tensor> all() {
        List<PlanCache.Tensor> all = new ArrayList<>();
        entries.forEach((name, list) -> list.forEach(e -> all.add(new PlanCache.Tensor(name, e.desc(), e.data()))));
        return all;
    }

    /**
     * The entry of {@code name} already in {@code wanted}'s layout (then {@code wanted} is closed), or null: then
     * {@code wanted} belongs to this store's arena, for the entry about to be made.
     */
    private Entry held(String name, MemoryDesc wanted) {
        for (Entry e : entries.computeIfAbsent(name, k -> new ArrayList<>())) {
            if (e.desc().sameLayoutAs(wanted)) {
                wanted.close();
                return e;
            }
        }
        wanted.ownedBy(arena);
        return null;
    }

    /** The entry of {@code name} in {@code wanted}'s layout if this store holds one (else null); {@code wanted} stays the caller's. */
    private synchronized Entry holding(String name, MemoryDesc wanted) {
        for (Entry e : entries.getOrDefault(name, List.of())) if (e.desc().sameLayoutAs(wanted)) return e;
        return null;
    }

    /** The layout {@code name} was first reordered into (in this store's arena; do not close), or null if none yet. */
    synchronized MemoryDesc layoutOf(String name) {
        List<Entry> known = entries.get(name);
        return known == null || known.isEmpty() ? null : known.getFirst().desc();
    }

    /** How many layouts of {@code name} are held. */
    synchronized int copies(String name) {
        List<Entry> known = entries.get(name);
        return known == null ? 0 : known.size();
    }

    /** An f32 vector (a bias, or per-channel weight scales), plain and 64-byte aligned. */
    synchronized Entry vector(String name, int length) {
        return plain(name, length, new long[] {length});
    }

    /** An f32 vector as a (1, length) matrix: the shape a matmul takes its bias in. */
    synchronized Entry row(String name, int length) {
        return plain(name, length, new long[] {1, length});
    }

    /** A one-element f32 memory holding {@code value} (an activation scale), shared by equal values. */
    synchronized Entry scalar(float value) {
        Entry known = scalars.get(value);
        if (known != null) return known;
        Entry e = copy(MemorySegment.ofArray(new float[] {value}), MemoryDesc.of(new long[] {1}, FormatTag.A).ownedBy(arena));
        scalars.put(value, e);
        return e;
    }

    private Entry plain(String name, int length, long[] dims) {
        MemoryDesc wanted = MemoryDesc.of(dims, dims.length == 1 ? FormatTag.A : FormatTag.AB);
        Entry held = held(name, wanted);
        if (held != null) return held;
        Entry hit = cached(name, wanted);
        if (hit != null) {
            entries.get(name).add(hit);
            return hit;
        }
        Tensor t = source.get(name, length);
        Entry e;
        try (Arena tmp = Arena.ofConfined()) {
            e = copy(t.toF32(tmp).data(), wanted);
        }
        source.release(t);
        entries.get(name).add(e);
        return e;
    }

    /** {@code desc}'s bytes of {@code values} in a new buffer; {@code desc} belongs to the arena. */
    private Entry copy(MemorySegment values, MemoryDesc desc) {
        MemorySegment buffer = desc.allocate(arena);
        MemorySegment.copy(values, 0, buffer, 0, desc.byteSize());
        return new Entry(desc, DnnlMemory.wrap(engine, desc, buffer).ownedBy(arena), buffer);
    }

    private Entry reorder(String name, long[] dims, FormatTag userTag, MemoryDesc wanted) {
        Tensor t = source.tensors().get(name);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment user = t.data();
            if (user.address() % t.type().bytes != 0) {
                // A mapped file may place a tensor at any byte offset; oneDNN reads floats aligned.
                user = tmp.allocate(user.byteSize(), 64).copyFrom(user);
            }
            Entry e = reorder(user, Storage.typeOf(t.type()), dims, userTag, wanted);
            // The reordered copy is what runs read; the mapped source need not stay resident beside it.
            source.release(t);
            return e;
        }
    }

    /**
     * {@code user} (aligned, {@code dims} of {@code dataType} in {@code userTag}) reordered into a new buffer of
     * {@code wanted} (which belongs to the arena).
     */
    private Entry reorder(MemorySegment user, DataType dataType, long[] dims, FormatTag userTag, MemoryDesc wanted) {
        try (Arena tmp = Arena.ofConfined();
             MemoryDesc userDesc = MemoryDesc.of(dims, dataType, userTag);
             PrimitiveAttr attr = PrimitiveAttr.create(false);
             PrimitiveDesc pd = PrimitiveDesc.reorder(engine, userDesc, wanted, attr);
             MemoryDesc scratchDesc = pd.scratchpadDesc();
             Primitive reorder = pd.createPrimitive();
             DnnlStream stream = DnnlStream.create(engine)) {
            MemorySegment buffer = wanted.allocate(arena);
            DnnlMemory dst = DnnlMemory.wrap(engine, wanted, buffer).ownedBy(arena);
            try (DnnlMemory src = DnnlMemory.wrap(engine, userDesc, user);
                 DnnlMemory scratch = DnnlMemory.wrap(engine, scratchDesc, scratchDesc.allocate(tmp))) {
                reorder.execute(stream, ExecArgs.of(tmp, Map.of(Arg.SRC, src, Arg.DST, dst, Arg.SCRATCHPAD, scratch)));
                stream.await();
            }
            return new Entry(wanted, dst, buffer);
        }
    }
}
