package dev.snapscore.engine.runtime;

import dev.snapscore.dnnl.Dnnl;
import dev.snapscore.dnnl.DnnlEngine;
import dev.snapscore.dnnl.DnnlStream;
import dev.snapscore.engine.spec.ModelSpec;

import java.lang.foreign.Arena;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Times each convolution that Winograd can run both ways, and names those where Winograd was faster, for some
 * batch sizes. Per batch size both forms of the network are compiled over one workspace and run in turns, only
 * the steps of the layers being timed, waiting after each: a layer's time is that of its steps (its own, the
 * reorder into it, and Winograd's transforms), the fastest of its runs, so that other work on the machine does
 * not decide. The first run of each form counts (the buffers are already touched, the kernels made): a layer
 * whose one form took over {@value #CLEAR} times the other's is decided by it; after {@value #DECIDE_AFTER} runs
 * one whose forms are more than {@value #MARGIN} apart, and only the closer ones run again, up to {@value #RUNS}
 * times.
 */
final class ConvolutionTimer {
    /** Runs of each form per layer, at most: VGG16's convolutions at batch 8 take about a second per run on two cores. */
    private static final int RUNS = 4;
    /** Runs of each form before a clear winner is taken. */
    private static final int DECIDE_AFTER = 2;
    /** How far apart (as a fraction of the faster) two forms' best times must be to stop timing a layer. */
    private static final double MARGIN = 0.1;
    /** A ratio of two forms' times that one run decides (VGG16's first layers as Winograd at batch 8: 2 to 4). */
    private static final double CLEAR = 2;

    private ConvolutionTimer() {
    }

    /**
     * The layers of {@code spec} that run faster as Winograd, for each of {@code batches}, on {@code threads}
     * threads. The direct form ({@code direct}'s lowering) uses {@code weights}, which the final plans share;
     * the Winograd form ({@code winograd}'s: Winograd wherever it applies) makes its transformed filters once
     * for all batch sizes in a {@linkplain ReorderedWeights#trial trial store}, freed after.
     */
    static Map<Integer, Set<String>> winogradFaster(DnnlEngine engine, ModelSpec spec, ReorderedWeights weights,
                                                    Lowering direct, Lowering winograd, Collection<Integer> batches,
                                                    int threads) {
        Map<Integer, Set<String>> faster = new TreeMap<>();
        try (Arena arena = Arena.ofShared()) {
            ReorderedWeights trial = weights.trial(arena);
            for (int batch : batches) {
                faster.put(batch, winogradFaster(engine, spec, weights, trial, direct, winograd, batch, threads));
            }
        }
        return faster;
    }

    private static Set<String> winogradFaster(DnnlEngine engine, ModelSpec spec, ReorderedWeights weights,
                                              ReorderedWeights trial, Lowering direct, Lowering winograd, int batch,
                                              int threads) {
        List<String> candidates = winograd.lower(spec, batch).stream()
                .filter(l -> l instanceof Lowered.WinogradConv)
                .map(l -> ((Lowered.WinogradConv) l).layer().name())
                .toList();
        if (candidates.isEmpty()) return Set.of();
        Map<String, Long> directNanos = new HashMap<>(), winogradNanos = new HashMap<>();
        try (NetworkPlan directPlan = NetworkPlan.compile(engine, spec, direct, batch, weights);
             NetworkPlan winogradPlan = NetworkPlan.compile(engine, spec, winograd, batch, trial);
             Workspace workspace = Workspace.of(directPlan, winogradPlan);
             Arena arena = Arena.ofConfined();
             DnnlStream stream = DnnlStream.create(engine)) {
            PlanBuffers directRun = new PlanBuffers(engine, directPlan, arena, workspace);
            PlanBuffers winogradRun = new PlanBuffers(engine, winogradPlan, arena, workspace);
            Dnnl.setThreadsForCurrentThread(threads);
            Set<String> timing = new LinkedHashSet<>(candidates);
            for (int run = 1; run <= RUNS && !timing.isEmpty(); run++) {
                // In turns, each form first every other run, so neither always finds the other's data in the caches.
                boolean directFirst = run % 2 == 1;
                time(directFirst ? directRun : winogradRun, stream, timing, directFirst ? directNanos : winogradNanos);
                time(directFirst ? winogradRun : directRun, stream, timing, directFirst ? winogradNanos : directNanos);
                double apart = run >= DECIDE_AFTER ? 1 + MARGIN : CLEAR;
                timing.removeIf(layer -> {
                    long d = directNanos.get(layer), w = winogradNanos.get(layer);
                    return Math.max(d, w) > apart * Math.min(d, w);
                });
            }
        }
        Set<String> faster = new LinkedHashSet<>();
        for (String layer : candidates) if (winogradNanos.get(layer) < directNanos.get(layer)) faster.add(layer);
        return faster;
    }

    /** Runs the steps of {@code layers} once, keeping each layer's time in {@code best} if faster than before. */
    private static void time(PlanBuffers buffers, DnnlStream stream, Set<String> layers, Map<String, Long> best) {
        // Every buffer starts zeroed, and a step's input holds some earlier step's finite output: the
        // values mean nothing, but no kernel meets a NaN or a denormal.
        Map<String, Long> nanos = new HashMap<>();
        long[] last = {System.nanoTime()};
        buffers.run(stream, buffers.inputStaging, step -> layers.contains(layerOf(step)), (step, output) -> {
            long now = System.nanoTime();
            nanos.merge(layerOf(step), now - last[0], Long::sum);
            last[0] = now;
        });
        nanos.forEach((layer, t) -> best.merge(layer, t, Math::min));
    }

    /** The layer a step belongs to: "reorder to conv3_2" and "conv3_2 (winograd input)" to "conv3_2". */
    private static String layerOf(String step) {
        String s = step.startsWith("reorder to ") ? step.substring("reorder to ".length()) : step;
        int paren = s.indexOf(" (");
        return paren < 0 ? s : s.substring(0, paren);
    }
}
