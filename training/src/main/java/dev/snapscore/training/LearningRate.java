package dev.snapscore.training;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;

import java.util.HashMap;
import java.util.Map;

/**
 * The learning rate over training steps: a linear warm-up from peak/warmup to {@code peak} over
 * {@code warmup} steps (Adam's first steps, on freshly initialised layers, are the ones that blow up),
 * then a cosine decay to a hundredth of the peak at the last step. Given to DL4J as a {@link MapSchedule}
 * with one entry a step: a built-in schedule, so it is saved and restored with the network's configuration.
 */
final class LearningRate {
    private LearningRate() {
    }

    /** Where the cosine ends, as a fraction of the peak: not zero, so the last epochs still move. */
    static final double FLOOR = 0.01;

    static ISchedule warmupCosine(double peak, int warmup, int total) {
        if (!(peak > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + peak);
        if (total < 1 || warmup < 0 || warmup > total) {
            throw new IllegalArgumentException("need 0 <= warm-up (" + warmup + ") <= total steps (" + total + ")");
        }
        Map<Integer, Double> values = new HashMap<>();
        for (int t = 0; t < total; t++) values.put(t, at(peak, warmup, total, t));
        return new MapSchedule(ScheduleType.ITERATION, values);
    }

    /** The rate at step {@code t} (0-based); past the end, the floor. */
    static double at(double peak, int warmup, int total, int t) {
        if (t < warmup) return peak * (t + 1) / warmup;
        if (t >= total) return peak * FLOOR;
        double progress = total - warmup <= 1 ? 0 : (t - warmup) / (double) (total - warmup - 1);
        return peak * (FLOOR + (1 - FLOOR) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
