package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;

import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Times each convolution that Winograd can run both ways, for one batch size, and names those where Winograd
 * was faster. Each form of the whole network runs a few times step by step; a layer's time is that of its
 * steps (its own, the reorder into it, and Winograd's transforms), the fastest of the runs, so that other
 * work on the machine does not decide.
 */
final class ConvolutionTimer {
    /** Runs per form after one to warm up: VGG16 at batch 8 takes about a second per run on two cores. */
    private static final int RUNS = 3;

    private ConvolutionTimer() {
    }

    /**
     * The layers of {@code spec} that run faster as Winograd at {@code batch} on {@code threads} threads. The
     * direct form uses {@code weights}, which the final plan shares; the Winograd form's transformed filters
     * are made in a temporary store from {@code source} and freed.
     */
    static Set<String> winogradFaster(DnnlEngine engine, ModelSpec spec, Weights source, ReorderedWeights weights,
                                      Lowering direct, Lowering winograd, int batch, int threads) {
        Map<String, Long> directNanos = time(engine, spec, weights, direct, batch, threads);
        Map<String, Long> winogradNanos;
        try (Arena arena = Arena.ofShared()) {
            winogradNanos = time(engine, spec, new ReorderedWeights(engine, source, arena), winograd, batch, threads);
        }
        Set<String> faster = new LinkedHashSet<>();
        for (Lowered l : winograd.lower(spec, batch)) {
            if (l instanceof Lowered.WinogradConv w) {
                String name = w.layer().name();
                if (winogradNanos.get(name) < directNanos.get(name)) faster.add(name);
            }
        }
        return faster;
    }

    /** The fastest time of each layer over {@link #RUNS} runs of the plan {@code lowering} gives. */
    private static Map<String, Long> time(DnnlEngine engine, ModelSpec spec, ReorderedWeights weights, Lowering lowering,
                                          int batch, int threads) {
        Map<String, Long> best = new HashMap<>();
        try (NetworkPlan plan = NetworkPlan.compile(engine, spec, lowering, batch, weights);
             Workspace workspace = Workspace.of(plan);
             Arena arena = Arena.ofConfined();
             DnnlStream stream = DnnlStream.create(engine)) {
            PlanBuffers buffers = new PlanBuffers(engine, plan, arena, workspace);
            Dnnl.setThreadsForCurrentThread(threads);
            buffers.inputStaging.fill((byte) 0x3f); // about 0.75 per float: finite values for every kernel
            buffers.run(stream, buffers.inputStaging);
            for (int run = 0; run < RUNS; run++) {
                Map<String, Long> nanos = new HashMap<>();
                long[] last = {System.nanoTime()};
                buffers.run(stream, buffers.inputStaging, (step, output) -> {
                    long now = System.nanoTime();
                    nanos.merge(layerOf(step), now - last[0], Long::sum);
                    last[0] = now;
                });
                nanos.forEach((layer, t) -> best.merge(layer, t, Math::min));
            }
        }
        return best;
    }

    /** The layer a step belongs to: "reorder to conv3_2" and "conv3_2 (winograd input)" to "conv3_2". */
    private static String layerOf(String step) {
        String s = step.startsWith("reorder to ") ? step.substring("reorder to ".length()) : step;
        int paren = s.indexOf(" (");
        return paren < 0 ? s : s.substring(0, paren);
    }
}
