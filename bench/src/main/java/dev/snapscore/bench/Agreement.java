package dev.snapscore.bench;

import dev.snapscore.bench.InferenceEngine.Outputs;

import java.util.Locale;

/**
 * How one engine's outputs for a batch compare with a reference engine's on the same inputs.
 *
 * @param maxAbsDiff      largest |p − p_reference| over every image and class (NaN when the output is unusable)
 * @param maxRelLogitDiff largest |z − z_reference| over the image's largest |z_reference| (at least 1)
 * @param top1Same        images whose most probable class is the reference's
 * @param problem         why the engine fails the check, or null when it passes
 */
record Agreement(String engine, double maxAbsDiff, double maxRelLogitDiff, int top1Same, int images, String problem) {

    /**
     * f32 engines run the same arithmetic in another order, so only rounding separates them: about 1e-6 in
     * a probability on the bundled model. 1e-3 leaves deeper models' longer sums room while still catching a
     * wrong layer, layout or batch order, which moves probabilities by 1e-2 and more.
     */
    static final double F32_MAX_ABS_DIFF = 1e-3;

    /**
     * The same bound on logits, relative to the image's largest one: random-weight VGG16 has logits in the
     * hundreds, which saturate its softmax into 0s and a 1 that any engine with the right top class matches.
     * f32 engines agree to under 1e-5 there (a logit of 1 or less is taken as 1, as softmax sees it).
     */
    static final double F32_MAX_REL_LOGIT_DIFF = 1e-3;

    /**
     * bf16 keeps 8 bits of mantissa: measured 0.8% mean relative logit error on VGG16 against f32 (and a flip
     * where the top two are within 0.3%), so its logits are held to 5% of the largest and its top-1 only reported;
     * a wrong layer or layout still moves them by the order of the logits themselves.
     */
    static final double BF16_MAX_REL_LOGIT_DIFF = 5e-2;

    /** A softmax sums to 1 up to float rounding (about 1e-6 for tens of classes); anything further is not one. */
    static final double SUM_TOLERANCE = 1e-3;

    /**
     * What an engine is held to. Quantised engines only to giving finite logits and probabilities: on random
     * weights and inputs unlike the calibration photos, int8 moves probabilities by up to about 0.45 and can
     * change the top class, so a bound on the difference tight enough to mean something would fail sound engines.
     */
    enum Precision {
        F32, BF16, INT8;

        static Precision of(String engine) {
            return engine.endsWith("-int8") ? INT8 : engine.endsWith("-bf16") ? BF16 : F32;
        }
    }

    /**
     * Compares {@code output} with {@code reference}, (images, classes) row-major; {@code reference} must
     * itself be sound (compare it with itself first).
     */
    static Agreement of(String engine, Precision precision, Outputs reference, Outputs output, int images, int classes) {
        String unusable = unusable(output, images, classes);
        if (unusable != null) return new Agreement(engine, Double.NaN, Double.NaN, 0, images, unusable);
        double maxAbsDiff = 0, maxRelLogitDiff = 0;
        int top1Same = 0;
        for (int i = 0; i < images; i++) {
            double scale = 1;
            for (int c = 0; c < classes; c++) scale = Math.max(scale, Math.abs(reference.logits()[i * classes + c]));
            for (int c = 0; c < classes; c++) {
                int k = i * classes + c;
                maxAbsDiff = Math.max(maxAbsDiff, Math.abs(output.probabilities()[k] - reference.probabilities()[k]));
                maxRelLogitDiff = Math.max(maxRelLogitDiff, Math.abs(output.logits()[k] - reference.logits()[k]) / scale);
            }
            if (top1(output.probabilities(), i, classes) == top1(reference.probabilities(), i, classes)) top1Same++;
        }
        String problem = null;
        if (precision == Precision.F32) {
            if (maxAbsDiff > F32_MAX_ABS_DIFF) {
                problem = String.format(Locale.ROOT, "max abs Δp %.2g > %s", maxAbsDiff, F32_MAX_ABS_DIFF);
            } else if (maxRelLogitDiff > F32_MAX_REL_LOGIT_DIFF) {
                problem = String.format(Locale.ROOT, "max rel Δlogit %.2g > %s", maxRelLogitDiff, F32_MAX_REL_LOGIT_DIFF);
            } else if (top1Same < images) {
                problem = "top-1 differs on " + (images - top1Same) + " of " + images + " images";
            }
        }
        if (precision == Precision.BF16 && maxRelLogitDiff > BF16_MAX_REL_LOGIT_DIFF) {
            problem = String.format(Locale.ROOT, "max rel Δlogit %.2g > %s", maxRelLogitDiff, BF16_MAX_REL_LOGIT_DIFF);
        }
        return new Agreement(engine, maxAbsDiff, maxRelLogitDiff, top1Same, images, problem);
    }

    boolean passed() {
        return problem == null;
    }

    String verdict() {
        return passed() ? "ok" : "FAIL: " + problem;
    }

    /** Why the outputs cannot be those of this batch (wrong count, not finite, not probabilities), or null. */
    private static String unusable(Outputs output, int images, int classes) {
        for (float[] values : new float[][] {output.logits(), output.probabilities()}) {
            if (values.length != images * classes) {
                return String.format(Locale.ROOT, "%d values, expected %d images × %d classes", values.length, images, classes);
            }
        }
        for (int i = 0; i < images; i++) {
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                float z = output.logits()[i * classes + c], p = output.probabilities()[i * classes + c];
                if (!Float.isFinite(z)) return "image " + i + " has a logit of " + z;
                if (!(p >= 0 && p <= 1)) return "image " + i + " has a probability of " + p; // NaN too
                sum += p;
            }
            if (Math.abs(sum - 1) > SUM_TOLERANCE) {
                return String.format(Locale.ROOT, "image %d's probabilities sum to %.4f", i, sum);
            }
        }
        return null;
    }

    /** The most probable class of image {@code i}, the first one on ties (as the engine's {@code Result.argmax}). */
    private static int top1(float[] probabilities, int i, int classes) {
        int base = i * classes, best = 0;
        for (int c = 1; c < classes; c++) {
            if (probabilities[base + c] > probabilities[base + best]) best = c;
        }
        return best;
    }
}
