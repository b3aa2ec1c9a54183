package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.Map;

/**
 * A model compiled for oneDNN: the CPU engine, the weights in the layouts the primitives chose, and one
 * {@link NetworkPlan} per batch size seen so far. Thread-safe. Executors borrow its plans; it must outlive
 * them.
 */
public final class OneDnnNetwork implements AutoCloseable {
    /** Largest batch a single run accepts; bigger inputs are split by callers. */
    public static final int MAX_BATCH = 1024;

    private final ModelSpec spec;
    private final Map<String, String> decompress; // see NonVnniInt8
    private final Winograd.Rule winograd;
    private final DnnlEngine engine;
    private final Arena arena = Arena.ofShared(); // reordered weights
    private final ReorderedWeights weights;
    private final Map<Integer, NetworkPlan> plans = new HashMap<>();
    private boolean closed;

    /**
     * Compiles {@code spec} over {@code weights} (which must stay open while this is) and prepares the
     * batch-1 plan, so every weight is reordered now rather than on the first request.
     */
    public OneDnnNetwork(ModelSpec spec, Weights weights) {
        this(spec, weights, ConvolutionAlgorithm.DIRECT);
    }

    /** As above, running f32 3×3 convolutions as {@code convolutions} says. */
    public OneDnnNetwork(ModelSpec spec, Weights weights, ConvolutionAlgorithm convolutions) {
        this(spec, weights, Dnnl.hasInt8Vnni(),
                convolutions == ConvolutionAlgorithm.WINOGRAD ? Winograd.Rule.MEASURED : Winograd.Rule.NEVER);
    }

    /** As if on a CPU with ({@code vnni}) or without VNNI; tests run the non-VNNI form on any CPU. */
    OneDnnNetwork(ModelSpec spec, Weights weights, boolean vnni) {
        this(spec, weights, vnni, Winograd.Rule.NEVER);
    }

    /** As if on a CPU with or without VNNI, with Winograd where {@code winograd} says (tests run it on small models). */
    OneDnnNetwork(ModelSpec spec, Weights weights, boolean vnni, Winograd.Rule winograd) {
        NonVnniInt8.Adapted runnable = NonVnniInt8.adapt(spec, vnni);
        this.spec = runnable.spec();
        this.decompress = runnable.decompress();
        this.winograd = winograd;
        this.engine = DnnlEngine.cpu();
        this.weights = new ReorderedWeights(engine, weights, arena);
        try {
            plan(1);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
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

    synchronized NetworkPlan plan(int batch) {
        if (closed) throw new IllegalStateException("model is closed");
        if (batch < 1 || batch > MAX_BATCH) {
            throw new IllegalArgumentException("batch size must be 1.." + MAX_BATCH + ", got " + batch);
        }
        return plans.computeIfAbsent(batch, n -> NetworkPlan.compile(engine, spec, decompress, n, weights, winograd));
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
        weights.close();
        arena.close();
        engine.close();
    }
}
