package dev.snapscore.training;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chance bound against binomial tails worked out by hand, and the learning-rate schedule's shape. */
class LearningCheckTest {
    @Test
    void thresholdIsTheBinomialTailBound() {
        // n = 16, p = 1/2: P(X >= 12) = (1820 + 560 + 120 + 16 + 1) / 2^16 = 0.0384 <= 5%; P(X >= 11) = 0.105
        assertEquals(12, LearningCheck.threshold(16, 0.5, 0.05));
        // n = 100, p = 1/2: P(X >= 59) = 0.0443, P(X >= 58) = 0.0666
        assertEquals(59, LearningCheck.threshold(100, 0.5, 0.05));
        // n = 10, p = 0.7 (an unbalanced set): P(X = 10) = 0.0282, P(X >= 9) = 0.149: only all ten will do
        assertEquals(10, LearningCheck.threshold(10, 0.7, 0.05));
        // n = 4, p = 1/2: P(X = 4) = 1/16 > 5%: no accuracy on 4 images is clearly above chance
        assertEquals(5, LearningCheck.threshold(4, 0.5, 0.05));
    }

    @Test
    void judgesTheKeptEpochAndTheLoss() {
        int[] labels = new int[32];
        for (int i = 16; i < 32; i++) labels[i] = 1;
        int[] validation = java.util.stream.IntStream.range(0, 32).filter(i -> i % 2 == 0).toArray(); // 8 + 8
        var e1 = new Trainer.Epoch(1, 0.69, 0.70, 0.5, 8, 1);
        var e2 = new Trainer.Epoch(2, 0.40, 0.30, 0.875, 14, 1);
        LearningCheck good = LearningCheck.of(new Trainer.Outcome(List.of(e1, e2), e2, validation, false), labels, 2);
        assertEquals(12, good.threshold());
        assertTrue(good.learned(), good.toString());

        var flat = new Trainer.Epoch(2, 0.70, 0.69, 0.5, 8, 1);
        LearningCheck chance = LearningCheck.of(new Trainer.Outcome(List.of(e1, flat), flat, validation, false), labels, 2);
        assertFalse(chance.learned());
        assertTrue(chance.explain().contains("8 of 16 validation images right (0.500) is not clearly above chance"), chance.explain());
        assertTrue(chance.explain().contains("needed: 12, 0.750"), chance.explain());

        var lucky = new Trainer.Epoch(2, 0.75, 0.60, 0.875, 14, 1); // accurate, but the training loss rose
        LearningCheck noFall = LearningCheck.of(new Trainer.Outcome(List.of(e1, lucky), lucky, validation, false), labels, 2);
        assertFalse(noFall.learned());
        assertTrue(noFall.explain().contains("training loss never fell"), noFall.explain());

        int[] tiny = {0, 16}; // one image a class, both right
        var allRight = new Trainer.Epoch(2, 0.40, 0.30, 1.0, 2, 1);
        LearningCheck few = LearningCheck.of(new Trainer.Outcome(List.of(e1, allRight), allRight, tiny, false), labels, 2);
        assertEquals(3, few.threshold());
        assertFalse(few.learned());
        assertTrue(few.explain().contains("on 2 validation images even all right happens by chance"), few.explain());
    }

    @Test
    void learningRateWarmsUpThenDecaysToTheFloor() {
        double peak = 1e-3;
        assertEquals(peak / 4, LearningRate.at(peak, 4, 40, 0), 1e-15);
        assertEquals(peak, LearningRate.at(peak, 4, 40, 3), 1e-15);
        assertEquals(peak, LearningRate.at(peak, 4, 40, 4), 1e-15); // the cosine starts at the peak
        assertEquals(peak * LearningRate.FLOOR, LearningRate.at(peak, 4, 40, 39), 1e-15);
        // halfway through the decay (steps 4..39): cos(pi/2) = 0, so floor + half the rest
        assertEquals(peak * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * 17.0 / 35))), LearningRate.at(peak, 4, 40, 21), 1e-15);
        for (int t = 4; t < 39; t++) assertTrue(LearningRate.at(peak, 4, 40, t + 1) < LearningRate.at(peak, 4, 40, t));
        // DL4J reads the same values from the schedule it is given
        var schedule = LearningRate.warmupCosine(peak, 4, 40);
        for (int t : new int[] {0, 3, 21, 39}) assertEquals(LearningRate.at(peak, 4, 40, t), schedule.valueAt(t, 0), 1e-15);
    }
}
