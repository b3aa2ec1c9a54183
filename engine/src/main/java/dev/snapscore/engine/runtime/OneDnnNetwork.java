package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model compiled for oneDNN: the CPU engine, the weights in the layouts the primitives chose, and one
 * {@link NetworkPlan} per batch size seen so far (with AUTO, per batch size and thread count: the faster form of a
 * convolution depends on both). Thread-safe. Executors borrow its plans; it must outlive
 * them.
 */
public final class OneDnnNetwork implements AutoCloseable {
    private final ModelSpec spec;
    private final Lowering lowering;
    private final boolean timeConvolutions; // ConvolutionAlgorithm.AUTO: Winograd per layer where timed faster
    private final int maxBatch, threads;
    private final DnnlEngine engine;
    private final Arena arena = Arena.ofShared(); // the reordered weights and their oneDNN handles
    private final ReorderedWeights weights;
    private final PlanCache cache; // null without one; closed after the weights that may point into it
    private final Map<Run, NetworkPlan> plans = new HashMap<>();
    private final Lowering candidates; // AUTO: Winograd on every layer worth timing
    private final Map<Run, Set<String>> choices = new HashMap<>(); // AUTO: Winograd layers per power-of-two batch and threads
    private boolean closed;

    /** As below, with {@link ModelOptions#defaults()}. */
    public OneDnnNetwork(ModelSpec spec, Weights weights) {
        this(spec, weights, ModelOptions.defaults());
    }

    /**
     * Compiles {@code spec} over {@code weights} (which must stay open while this is) as {@code options} say, and
     * prepares the batch-1 plan, so every weight is reordered now rather than on the first request.
     *
     * @throws IllegalArgumentException if {@code options} ask for bf16 on a CPU without bf16 instructions, or for an int8 model
     */
    public OneDnnNetwork(ModelSpec spec, Weights weights, ModelOptions options) {
        this(spec, weights, options, null);
    }

    /**
     * As above, with the prepared weights and {@code auto}'s choices taken from {@code cache} where it holds them and
     * written to it after each new plan. Takes ownership of {@code cache} (closed with this, or on failure).
     */
    public OneDnnNetwork(ModelSpec spec, Weights weights, ModelOptions options, PlanCache cache) {
        this(spec, weights, lowering(spec, options, CpuCapabilities.detect(), cache), options, cache);
    }

    /**
     * As decided by {@code lowering} alone, with nothing timed (tests run the non-VNNI and Winograd forms on any CPU
     * and small model).
     */
    OneDnnNetwork(ModelSpec spec, Weights weights, Lowering lowering) {
        this(spec, weights, lowering, ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT), null);
    }

    /** {@link #lowering(ModelSpec, ModelOptions, CpuCapabilities)}, closing {@code cache} if the options are refused. */
    private static Lowering lowering(ModelSpec spec, ModelOptions options, CpuCapabilities cpu, PlanCache cache) {
        try {
            return lowering(spec, options, cpu);
        } catch (RuntimeException e) {
            if (cache != null) cache.close();
            throw e;
        }
    }

    private OneDnnNetwork(ModelSpec spec, Weights weights, Lowering lowering, ModelOptions options, PlanCache cache) {
        this.spec = spec;
        this.lowering = lowering;
        this.timeConvolutions = options.convolution() == ConvolutionAlgorithm.AUTO && !lowering.bf16();
        this.maxBatch = options.maxBatch();
        this.threads = options.threads();
        this.candidates = new Lowering(lowering.cpu(), false, Winograd.Rule.CANDIDATES);
        this.cache = cache;
        this.engine = DnnlEngine.cpu();
        this.weights = new ReorderedWeights(engine, weights, arena, cache);
        try {
            plan(1);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** What {@code options} mean for {@code spec} on a CPU with {@code cpu}. */
    static Lowering lowering(ModelSpec spec, ModelOptions options, CpuCapabilities cpu) {
        boolean int8 = spec.quantization() != null;
        boolean bf16 = switch (options.precision()) {
            case F32 -> false;
            case BF16 -> {
                if (!cpu.bf16()) {
                    throw new IllegalArgumentException("bf16 precision needs a CPU with AVX512_BF16 or AMX-BF16; oneDNN finds "
                            + Dnnl.cpuIsaName() + " here (use f32, or auto to take bf16 only where the CPU has it)");
                }
                if (int8) throw new IllegalArgumentException("bf16 precision runs f32 models; this model is int8");
                yield true;
            }
            case AUTO -> cpu.bf16() && !int8;
        };
        // Winograd's transforms are f32: in bf16 every convolution runs directly.
        Winograd.Rule winograd = options.convolution() == ConvolutionAlgorithm.WINOGRAD && !bf16
                ? Winograd.Rule.MEASURED : Winograd.Rule.NEVER;
        return new Lowering(cpu, bf16, winograd);
    }

    /** Whether this network runs its f32 layers in bf16. */
    public boolean bf16() {
        return lowering.bf16();
    }

    /** The largest batch one run accepts. */
    public int maxBatch() {
        return maxBatch;
    }

    public ModelSpec spec() {
        return spec;
    }

    /** A new executor with its own stream and buffers, running primitives on {@code threads} threads. */
    public OneDnnExecutor newExecutor(int threads) {
        return new OneDnnExecutor(this, threads);
    }

    /** The reordered weights, for tests. */
    ReorderedWeights weights() {
        return weights;
    }

    DnnlEngine engine() {
        return engine;
    }

    /** A batch size and the threads that run it: what a plan, and AUTO's choices, are made for. */
    private record Run(int batch, int threads) {
    }

    /** The plan for {@code batch} on the network's own thread count. */
    synchronized NetworkPlan plan(int batch) {
        return plan(batch, threads);
    }

    /** The plan for {@code batch} images run on {@code threads} threads; only AUTO's plans differ by threads. */
    synchronized NetworkPlan plan(int batch, int threads) {
        if (closed) throw new IllegalStateException("model is closed");
        checkBatch(batch);
        Run run = new Run(batch, timeConvolutions ? threads : this.threads);
        NetworkPlan plan = plans.get(run);
        if (plan == null) {
            plan = NetworkPlan.compile(engine, spec, loweringFor(run), batch, weights);
            plans.put(run, plan);
            if (cache != null) cache.writeIfChanged(weights.all());
        }
        return plan;
    }

    private void checkBatch(int batch) {
        if (batch < 1 || batch > maxBatch) {
            throw new IllegalArgumentException("batch size must be 1.." + maxBatch + ", got " + batch);
        }
    }

    /**
     * With AUTO, times now whatever batches of up to {@code batch} images on {@code threads} threads need timed, so
     * that no plan for such a batch stalls on it later (a server's first requests, a folder's last short batch).
     */
    synchronized void timeUpTo(int batch, int threads) {
        if (closed) throw new IllegalStateException("model is closed");
        checkBatch(batch);
        if (!timeConvolutions) return;
        List<Integer> sizes = new ArrayList<>();
        for (int b = 1; b <= batch; b *= 2) sizes.add(b);
        chosen(sizes, threads);
    }

    /** How this network used its plan cache so far, or null without one. */
    public synchronized PlanCache.Report cacheReport() {
        return cache == null ? null : cache.report();
    }

    /**
     * The lowering for {@code batch}: with AUTO, Winograd for the layers where it ran faster. Timing is per power
     * of two: a batch size takes the choices timed at the largest power of two not above it (Winograd pays more
     * as the tiles per run grow, and neighbouring sizes differ little), so a server taking any batch of up to 8
     * images times four sizes, not eight.
     */
    private Lowering loweringFor(Run run) {
        if (!timeConvolutions) return lowering;
        int timed = Integer.highestOneBit(run.batch());
        return lowering.withWinogradOnly(chosen(List.of(timed), run.threads()).get(timed));
    }

    /** AUTO's Winograd layers for each of {@code sizes} on {@code threads} threads: remembered, from the cache, or timed now (all at once). */
    private Map<Integer, Set<String>> chosen(List<Integer> sizes, int threads) {
        Map<Integer, Set<String>> out = new HashMap<>();
        List<Integer> untimed = new ArrayList<>();
        for (int b : sizes) {
            Set<String> known = choices.get(new Run(b, threads));
            if (known == null && cache != null) known = cache.winogradLayers(b, threads);
            if (known == null && candidates.lower(spec, b).stream().noneMatch(l -> l instanceof Lowered.WinogradConv)) known = Set.of();
            if (known == null) untimed.add(b);
            else out.put(b, known);
        }
        if (!untimed.isEmpty()) {
            Map<Integer, Set<String>> timed = ConvolutionTimer.winogradFaster(engine, spec, weights, lowering, candidates, untimed, threads);
            timed.forEach((b, layers) -> {
                if (cache != null) cache.recordWinogradLayers(b, threads, layers);
            });
            out.putAll(timed);
        }
        out.forEach((b, layers) -> choices.put(new Run(b, threads), layers));
        return out;
    }

    /** Names of oneDNN's chosen implementation per step for {@code batch}, e.g. for logs and benchmarks. */
    public synchronized Map<String, String> implementations(int batch) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        int i = 0;
        for (NetworkPlan.Step s : plan(batch).steps) out.put(i++ + " " + s.name(), s.implementation());
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        plans.values().forEach(NetworkPlan::close);
        plans.clear();
        arena.close(); // the weights' buffers, descriptors and memory objects
        engine.close();
        if (cache != null) cache.close();
    }
}
