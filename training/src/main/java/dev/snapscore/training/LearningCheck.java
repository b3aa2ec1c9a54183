package dev.snapscore.training;

import java.util.List;

/**
 * Whether training learnt anything, judged on the kept epoch's validation accuracy and on the training loss.
 * <p>
 * Chance is the share of the most common class among the validation images ({@code p}): a model that
 * always answers that class gets it, and one that guesses (each image right with probability at most
 * {@code p}, independently) gets a Binomial(n, p) count right. The accuracy is "clearly above chance" when
 * the count is at least the smallest {@code k} with P(Binomial(n, p) >= k) <= 5%: a guessing model reaches
 * it less than one time in twenty. On 16 images of two balanced classes that is 12 (0.75); on 100, 59.
 * A small validation set needs a large margin: that is the point.
 *
 * @param correct   validation images the kept epoch got right
 * @param n         validation images
 * @param chance    the most common class's share of them
 * @param threshold the count a guessing model reaches with probability at most {@link #ALPHA}
 * @param lossFell  whether any epoch after the first had a lower training loss than the first (true with one epoch)
 */
record LearningCheck(int correct, int n, double chance, int threshold, boolean lossFell) {
    static final double ALPHA = 0.05;

    static LearningCheck of(Trainer.Outcome outcome, int[] labels, int classes) {
        int[] counts = new int[classes];
        for (int i : outcome.validation()) counts[labels[i]]++;
        int n = outcome.validation().length, most = 0;
        for (int c : counts) most = Math.max(most, c);
        double chance = most / (double) n;
        List<Trainer.Epoch> epochs = outcome.epochs();
        double firstLoss = epochs.getFirst().trainLoss();
        boolean fell = epochs.size() == 1 || epochs.stream().skip(1).anyMatch(e -> e.trainLoss() < firstLoss);
        return new LearningCheck(outcome.best().valCorrect(), n, chance, threshold(n, chance, ALPHA), fell);
    }

    boolean learned() {
        return correct >= threshold && lossFell;
    }

    /** The smallest k with P(X >= k) <= alpha for X ~ Binomial(n, p); n + 1 when even n is likelier. */
    static int threshold(int n, double p, double alpha) {
        if (p >= 1) return n + 1;
        double[] logFactorial = new double[n + 1];
        for (int i = 2; i <= n; i++) logFactorial[i] = logFactorial[i - 1] + Math.log(i);
        double tail = 0; // P(X >= k), summed from k = n down
        for (int k = n; k >= 0; k--) {
            double logChoose = logFactorial[n] - logFactorial[k] - logFactorial[n - k];
            double next = tail + Math.exp(logChoose + k * Math.log(p) + (n - k) * Math.log1p(-p));
            if (next > alpha) return k + 1;
            tail = next;
        }
        return 0;
    }

    /** One plain sentence for the user. */
    String explain() {
        String accuracy = String.format("%d of %d validation images right (%.3f)", correct, n, correct / (double) n);
        if (threshold > n) {
            return String.format("the model's learning cannot be told: on %d validation images even all right happens by chance more"
                    + " than %.0f%% of the time (%s); give more photos or a larger --validation.", n, ALPHA * 100, accuracy);
        }
        if (correct < threshold) {
            return String.format("the model did not learn: %s is not clearly above chance. Always answering the most common class"
                    + " gets %.3f; a model that only guessed would get %d or more right %s (needed: %d, %.3f).", accuracy, chance,
                    threshold, String.format("less than %.0f%% of the time", ALPHA * 100), threshold, threshold / (double) n);
        }
        return "the model did not learn: the training loss never fell below the first epoch's (" + accuracy + ").";
    }
}
