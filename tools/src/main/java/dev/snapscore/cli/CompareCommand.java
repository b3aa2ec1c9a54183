package dev.snapscore.cli;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.Result;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.quantize.InputSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/** Two models on the same inputs: how often their top-1 agrees and how far their probabilities are apart. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = {"Compare two models (e.g. f32 and its int8 version) on the same photos or tensors.",
                "Prints top-1 agreement, probability differences and the relative logit error; the models",
                "need the same input shape and labels. The last line is machine-readable.",
                "MODEL_A runs f32 with direct convolutions; --convolution and --precision apply to MODEL_B: give the",
                "same model twice to see what the default (auto), Winograd or bf16 changes.",
                "Exit 0, or 1 when --min-agreement is not met."})
final class CompareCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL_A", description = "The reference model (e.g. f32).")
    Path modelA;

    @Parameters(index = "1", paramLabel = "MODEL_B", description = "The model under test (e.g. int8).")
    Path modelB;

    @Option(names = "--inputs", required = true, paramLabel = "DIR",
            description = "Photos and/or .safetensors files holding an 'input' tensor; keep them apart from the calibration set.")
    Path inputs;

    @Option(names = "--images", defaultValue = "1000", description = "Use at most this many inputs. Default: ${DEFAULT-VALUE}.")
    int images;

    @Option(names = "--min-agreement", defaultValue = "0", description = "Fail (exit 1) below this top-1 agreement, in %%. Default: ${DEFAULT-VALUE}.")
    double minAgreement;

    @picocli.CommandLine.Mixin
    InferenceThreadsOption threads;

    @picocli.CommandLine.Mixin
    ModelFlags modelFlags;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int t = threads.count();
        // The sessions' threads in the options too: the load plans (with auto, times) batch 1 for the model's threads.
        try (Model a = Model.load(modelA, modelFlags.reference().withThreads(t)); Model b = Model.load(modelB, modelFlags.options().withThreads(t));
             Session sa = a.newSession(t); Session sb = b.newSession(t)) {
            if (!a.spec().input().equals(b.spec().input()) || !a.spec().labels().equals(b.spec().labels())) {
                throw new IllegalArgumentException("the models differ in input shape or labels: " + a.spec().input()
                        + " " + a.spec().labels() + " vs " + b.spec().input() + " " + b.spec().labels());
            }
            try (InputSet set = InputSet.read(inputs, a.spec(), images, s -> err.println("skipped: " + s))) {
                int n = set.count(), agree = 0;
                double maxDiff = 0, sumDiff = 0, sumLogitError = 0, maxFlippedMargin = 0;
                double[] margins = new double[n];
                long values = 0;
                for (int first = 0; first < n; first += 8) {
                    int k = Math.min(8, n - first);
                    Result ra = sa.run(set.slice(first, k), k), rb = sb.run(set.slice(first, k), k);
                    for (int i = 0; i < k; i++) {
                        margins[first + i] = relativeMargin(ra.logits(i));
                        if (ra.argmax(i) == rb.argmax(i)) agree++;
                        else maxFlippedMargin = Math.max(maxFlippedMargin, margins[first + i]);
                        sumLogitError += relativeError(ra.logits(i), rb.logits(i));
                        float[] pa = ra.probabilities(i), pb = rb.probabilities(i);
                        for (int c = 0; c < pa.length; c++) {
                            double d = Math.abs(pa[c] - pb[c]);
                            maxDiff = Math.max(maxDiff, d);
                            sumDiff += d;
                            values++;
                        }
                    }
                }
                double agreement = 100.0 * agree / n;
                // The algorithm matters only where B has f32 convolutions: bf16 and int8 ones run directly.
                boolean algorithmApplies = modelFlags.algorithm != ConvolutionAlgorithm.DIRECT && !b.runsBf16()
                        && b.spec().quantization() == null;
                out.printf("A: %s (%s, direct convolutions)%nB: %s (%s%s)%n", modelA, describe(a), modelB, describe(b),
                        algorithmApplies ? ", " + modelFlags.algorithm.name().toLowerCase(java.util.Locale.ROOT) + " convolutions" : "");
                out.printf("inputs: %d from %s%n", n, inputs);
                if (algorithmApplies) {
                    out.printf("B's Winograd layers at batch %d: %s%n", Math.min(8, n), b.implementations(Math.min(8, n)).keySet().stream()
                            .filter(step -> step.endsWith(" (winograd products)"))
                            .map(step -> step.substring(step.indexOf(' ') + 1, step.indexOf(" (")))
                            .toList());
                }
                out.printf("top-1 agreement: %d of %d (%.2f%%)%n", agree, n, agreement);
                out.printf("probabilities: max abs diff %.6f, mean abs diff %.6f%n", maxDiff, sumDiff / values);
                out.printf("logits: mean relative error ‖a−b‖/‖a‖ %.5f%n", sumLogitError / n);
                Arrays.sort(margins);
                out.printf("A's top-1 margin (best minus runner-up logit, /‖a‖): median %.2f%%, 5th percentile %.2f%%%n",
                        100 * margins[n / 2], 100 * margins[n / 20]);
                if (agree < n) {
                    out.printf("the %d disagreements are all on inputs whose margin is at most %.2f%% (%d of %d inputs are that close)%n",
                            n - agree, 100 * maxFlippedMargin, countAtMost(margins, maxFlippedMargin), n);
                }
                out.printf("top1_agreement=%.4f max_abs_prob_diff=%.6g mean_abs_prob_diff=%.6g%n",
                        agreement / 100, maxDiff, sumDiff / values);
                out.flush();
                return agreement >= minAgreement ? SnapscoreCli.OK : SnapscoreCli.BEYOND_TOLERANCE;
            }
        }
    }

    /** How far A's best class leads its runner-up, relative to the logits' size: small means a near tie. */
    static double relativeMargin(float[] logits) {
        double best = Double.NEGATIVE_INFINITY, second = Double.NEGATIVE_INFINITY, norm = 0;
        for (float v : logits) {
            if (v > best) {
                second = best;
                best = v;
            } else if (v > second) {
                second = v;
            }
            norm += v * (double) v;
        }
        if (logits.length < 2) return Double.POSITIVE_INFINITY;
        return norm == 0 ? 0 : (best - second) / Math.sqrt(norm);
    }

    private static int countAtMost(double[] sorted, double limit) {
        int count = 0;
        while (count < sorted.length && sorted[count] <= limit) count++;
        return count;
    }

    private static double relativeError(float[] a, float[] b) {
        double diff = 0, norm = 0;
        for (int c = 0; c < a.length; c++) {
            diff += (a[c] - b[c]) * (double) (a[c] - b[c]);
            norm += a[c] * (double) a[c];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }

    private static String describe(Model m) {
        var q = m.spec().quantization();
        return q == null ? (m.runsBf16() ? "bf16" : "f32") : "int8, " + q.method() + ", " + q.layers().size() + " int8 layers";
    }
}
