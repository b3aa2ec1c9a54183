package dev.snapscore.engine;

import java.util.Arrays;

/**
 * What a model computed for a batch: logits and softmax probabilities, (batch, classes) row-major.
 * The arrays are owned by this result; accessors return copies.
 */
public record Result(int batch, int classes, float[] logits, float[] probabilities) {

    public Result {
        if (logits.length != batch * classes || probabilities.length != batch * classes) {
            throw new IllegalArgumentException("expected " + batch + "x" + classes + " values");
        }
    }

    @Override
    public float[] logits() {
        return logits.clone();
    }

    @Override
    public float[] probabilities() {
        return probabilities.clone();
    }

    /** The logits of image {@code i}. */
    public float[] logits(int i) {
        return Arrays.copyOfRange(logits, row(i), row(i) + classes);
    }

    /** The probabilities of image {@code i}. */
    public float[] probabilities(int i) {
        return Arrays.copyOfRange(probabilities, row(i), row(i) + classes);
    }

    /** The index of image {@code i}'s most probable class (the first one on ties). */
    public int argmax(int i) {
        int base = row(i), best = 0;
        for (int c = 1; c < classes; c++) {
            if (probabilities[base + c] > probabilities[base + best]) best = c;
        }
        return best;
    }

    private int row(int i) {
        if (i < 0 || i >= batch) throw new IndexOutOfBoundsException("image " + i + " of a batch of " + batch);
        return i * classes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Result r && r.batch == batch && r.classes == classes
                && Arrays.equals(r.logits, logits) && Arrays.equals(r.probabilities, probabilities);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(logits) * 31 + Arrays.hashCode(probabilities);
    }

    @Override
    public String toString() {
        return "Result[batch=" + batch + ", classes=" + classes + "]";
    }
}
