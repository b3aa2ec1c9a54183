package dev.snapscore.engine;

import java.nio.file.Path;

/**
 * One photo's score.
 *
 * @param label         the most probable label, at index {@code labelIndex}
 * @param expectedScore Σ pᵢ·valueᵢ over the labels' ordinal values, or NaN when the model has none
 */
public record Prediction(Path file, int labelIndex, String label, float probability, float[] probabilities,
                         double expectedScore) {

    public Prediction {
        probabilities = probabilities.clone();
    }

    @Override
    public float[] probabilities() {
        return probabilities.clone();
    }
}
