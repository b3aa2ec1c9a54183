package dev.snapscore.bench;

import dev.snapscore.bench.InferenceEngine.Outputs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Before anything is timed, each engine runs the same batch once and its logits and softmax probabilities
 * are compared with a reference engine's ({@link Agreement}), so a fast but wrong engine cannot go
 * unnoticed. The reference is ONNX Runtime f32 when it is benchmarked, else snapscore f32 (run for this only).
 */
record CrossCheck(String reference, List<Agreement> rows) {
    /** Two images, not one, so an engine that mixes up the images of a batch shows. */
    static final int IMAGES = 2;

    /** Runs the reference, then every other engine in {@code engines}; stops at a broken reference. */
    static CrossCheck run(List<String> engines, Path modelDir, Path int8Dir, int classes, int threads) throws Exception {
        String reference = engines.contains("onnxruntime") ? "onnxruntime" : "snapscore";
        Outputs expected = outputs(reference, modelDir, int8Dir, threads);
        List<Agreement> rows = new ArrayList<>();
        rows.add(Agreement.of(reference, Agreement.Precision.F32, expected, expected, IMAGES, classes));
        if (rows.getFirst().passed()) {
            for (String engine : engines) {
                if (engine.equals(reference)) continue;
                rows.add(Agreement.of(engine, Agreement.Precision.of(engine), expected,
                        outputs(engine, modelDir, int8Dir, threads), IMAGES, classes));
            }
        }
        return new CrossCheck(reference, List.copyOf(rows));
    }

    private static Outputs outputs(String engine, Path modelDir, Path int8Dir, int threads) throws Exception {
        try (InferenceEngine e = InferenceEngine.open(engine, modelDir, int8Dir, IMAGES, threads)) {
            return e.outputs();
        }
    }

    boolean passed() {
        return rows.stream().allMatch(Agreement::passed);
    }

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "Cross-check before timing: logits and softmax probabilities of the same %d "
                + "random images, each engine against %s.%n", IMAGES, reference));
        md.append(String.format(Locale.ROOT, "f32 engines must agree to max abs Δp ≤ %s and max rel Δlogit ≤ %s (over the "
                        + "image's largest |logit|, at least 1) with the same top-1 class; bf16 engines to max rel Δlogit ≤ %s. int8 engines are reported, and fail "
                        + "only on output that cannot be right (wrong count, NaN/Inf, probabilities outside [0, 1] or not summing "
                        + "to 1 ± %s).%n%n",
                Agreement.F32_MAX_ABS_DIFF, Agreement.F32_MAX_REL_LOGIT_DIFF, Agreement.BF16_MAX_REL_LOGIT_DIFF,
                Agreement.SUM_TOLERANCE));
        md.append("| engine | max abs Δp | max rel Δlogit | top-1 same | verdict |\n| --- | ---: | ---: | ---: | --- |\n");
        for (Agreement a : rows) {
            boolean isReference = a.engine().equals(reference);
            boolean compared = !isReference && !Double.isNaN(a.maxAbsDiff()); // not when the output was unusable
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", a.engine(),
                    compared ? String.format(Locale.ROOT, "%.2g", a.maxAbsDiff()) : "—",
                    compared ? String.format(Locale.ROOT, "%.2g", a.maxRelLogitDiff()) : "—",
                    compared ? a.top1Same() + "/" + a.images() : "—",
                    isReference && a.passed() ? "reference" : a.verdict()));
        }
        return md.toString();
    }

    void write(Path dir) throws IOException {
        Files.writeString(dir.resolve("crosscheck.md"), markdown());
    }
}
