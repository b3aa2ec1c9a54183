package dev.snapscore.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The near-tie measure compare reports beside disagreements, on logits worked out by hand. */
class CompareCommandTest {
    @Test
    void marginIsBestMinusRunnerUpOverTheLogitNorm() {
        // ‖(3, 4, 0)‖ = 5; the best (4) leads the runner-up (3) by 1.
        assertEquals(0.2, CompareCommand.relativeMargin(new float[] {3, 4, 0}), 1e-12);
        // Runner-up found after the best: ‖(0, 0, 8, 6)‖ = 10, lead 2.
        assertEquals(0.2, CompareCommand.relativeMargin(new float[] {0, 0, 8, 6}), 1e-12);
        // A tie has no margin; negative logits are measured the same way: ‖(-1, -7, -7)‖ = √99.
        assertEquals(0.0, CompareCommand.relativeMargin(new float[] {-1, -1, -7}), 0);
        assertEquals(6 / Math.sqrt(99), CompareCommand.relativeMargin(new float[] {-1, -7, -7}), 1e-12);
    }
}
