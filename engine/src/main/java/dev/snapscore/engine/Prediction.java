package dev.snapscore.engine;

import dev.snapscore.engine.spec.ModelSpec;

/**
 * What the model says about one image (see {@link dev.snapscore.engine.photo.ScoredPhoto} for a photo's whole outcome).
 *
 * @param label         the most probable label, at index {@code labelIndex}
 * @param expectedScore Σ pᵢ·valueᵢ over the labels' ordinal values, or NaN when the model has none
 */
public record Prediction(int labelIndex, String label, float probability, float[] probabilities,
                         double expectedScore) {

    public Prediction {
        probabilities = probabilities.clone();
    }

    /** Image {@code i} of a batch result, labelled with the spec's labels and values. */
    public static Prediction of(Result result, int i, ModelSpec spec) {
        float[] p = result.probabilities(i);
        int best = result.argmax(i);
        double expected = Double.NaN;
        if (spec.values() != null) {
            expected = 0;
            for (int c = 0; c < p.length; c++) expected += p[c] * spec.values().get(c);
        }
        return new Prediction(best, spec.labels().get(best), p[best], p, expected);
    }

    @Override
    public float[] probabilities() {
        return probabilities.clone();
    }
}
