package dev.snapscore.bench;

import dev.snapscore.bench.InferenceEngine.Outputs;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.bench.Agreement.Precision.F32;
import static dev.snapscore.bench.Agreement.Precision.INT8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cross-check's comparison on hand-made outputs of 2 images × 3 classes. */
class AgreementTest {
    private static final Outputs REFERENCE = ofProbabilities(0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f);

    @Test
    void roundingDifferencesPass() {
        Agreement a = Agreement.of("opencv-dnn", F32, REFERENCE, ofProbabilities(0.7002f, 0.1998f, 0.1f, 0.1f, 0.3f, 0.6f), 2, 3);
        assertEquals("ok", a.verdict());
        assertEquals(2e-4, a.maxAbsDiff(), 1e-6);
        assertEquals(2, a.top1Same());
    }

    @Test
    void aProbabilityDifferenceBeyondTheToleranceFailsF32ThoughTop1IsTheSame() {
        Agreement a = Agreement.of("snapscore", F32, REFERENCE, ofProbabilities(0.7f, 0.2f, 0.1f, 0.1f, 0.305f, 0.595f), 2, 3);
        assertFalse(a.passed());
        assertEquals(2, a.top1Same());
        assertEquals(5e-3, a.maxAbsDiff(), 1e-6);
        assertTrue(a.verdict().startsWith("FAIL: max abs Δp"), a.verdict());
    }

    @Test
    void logitsOffByMoreThanTheToleranceFailF32WhereASaturatedSoftmaxHidesIt() {
        Outputs reference = new Outputs(new float[] {500, 100, -300, -200, 400, 0}, new float[] {1, 0, 0, 0, 1, 0});
        Outputs output = new Outputs(new float[] {480, 100, -300, -200, 400, 0}, new float[] {1, 0, 0, 0, 1, 0});
        Agreement a = Agreement.of("opencv-dnn", F32, reference, output, 2, 3);
        assertEquals(0, a.maxAbsDiff());
        assertEquals(0.04, a.maxRelLogitDiff(), 1e-9);
        assertEquals("FAIL: max rel Δlogit 0.040 > 0.001", a.verdict());
    }

    @Test
    void logitsBelowOneAreComparedAsIfTheLargestWereOne() {
        Outputs reference = new Outputs(new float[] {0.001f, 0, 0, 0, 0, 0}, new float[] {0.3334f, 0.3333f, 0.3333f, 1f / 3, 1f / 3, 1f / 3});
        Outputs output = new Outputs(new float[] {0.0015f, 0, 0, 0, 0, 0}, reference.probabilities());
        Agreement a = Agreement.of("snapscore", F32, reference, output, 2, 3);
        assertEquals(5e-4, a.maxRelLogitDiff(), 1e-6);
        assertTrue(a.passed(), a.verdict());
    }

    @Test
    void aDifferentTop1FailsF32EvenWithinTheTolerance() {
        Outputs reference = ofProbabilities(0.5004f, 0.4995f, 0.0001f, 0.9998f, 0.0001f, 0.0001f);
        Outputs output = ofProbabilities(0.4995f, 0.5004f, 0.0001f, 0.9998f, 0.0001f, 0.0001f);
        Agreement a = Agreement.of("onnxruntime", F32, reference, output, 2, 3);
        assertEquals(1, a.top1Same());
        assertEquals("FAIL: top-1 differs on 1 of 2 images", a.verdict());
    }

    @Test
    void int8IsReportedNotHeldToTheF32Tolerance() {
        Outputs output = ofProbabilities(0.3f, 0.6f, 0.1f, 0.1f, 0.3f, 0.6f); // image 0's top class moved
        Agreement a = Agreement.of("snapscore-int8", INT8, REFERENCE, output, 2, 3);
        assertTrue(a.passed(), a.verdict());
        assertEquals(1, a.top1Same());
        assertEquals(0.4, a.maxAbsDiff(), 1e-6);
        assertFalse(Agreement.of("snapscore", F32, REFERENCE, output, 2, 3).passed());
    }

    @Test
    void nanOrInfinityFailsAnyEngine() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            for (Agreement.Precision precision : Agreement.Precision.values()) {
                float[] probabilities = REFERENCE.probabilities().clone(), logits = REFERENCE.logits().clone();
                probabilities[4] = bad;
                logits[5] = bad;
                Agreement badProbability = Agreement.of("snapscore", precision, REFERENCE, new Outputs(REFERENCE.logits(), probabilities), 2, 3);
                assertEquals("FAIL: image 1 has a probability of " + bad, badProbability.verdict());
                assertTrue(Double.isNaN(badProbability.maxAbsDiff()));
                Agreement badLogit = Agreement.of("snapscore", precision, REFERENCE, new Outputs(logits, REFERENCE.probabilities()), 2, 3);
                assertEquals("FAIL: image 1 has a logit of " + bad, badLogit.verdict());
            }
        }
    }

    @Test
    void theWrongNumberOfValuesFails() {
        Outputs oneImage = ofProbabilities(0.7f, 0.2f, 0.1f);
        assertEquals("FAIL: 3 values, expected 2 images × 3 classes", Agreement.of("opencv-dnn", INT8, REFERENCE, oneImage, 2, 3).verdict());
        Outputs shortLogits = new Outputs(oneImage.logits(), REFERENCE.probabilities());
        assertFalse(Agreement.of("opencv-dnn", F32, REFERENCE, shortLogits, 2, 3).passed());
    }

    @Test
    void valuesThatAreNotProbabilitiesFailInt8Too() {
        Outputs logitsAsProbabilities = new Outputs(REFERENCE.logits(), new float[] {2.1f, -0.3f, 0.4f, 0.1f, 0.3f, 0.6f});
        assertEquals("FAIL: image 0 has a probability of 2.1", Agreement.of("onnxruntime-int8", INT8, REFERENCE, logitsAsProbabilities, 2, 3).verdict());
        Outputs unnormalised = new Outputs(REFERENCE.logits(), new float[] {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.5f});
        assertEquals("FAIL: image 1's probabilities sum to 0.9000", Agreement.of("onnxruntime-int8", INT8, REFERENCE, unnormalised, 2, 3).verdict());
    }

    @Test
    void precisionFollowsTheEngineName() {
        assertEquals(INT8, Agreement.Precision.of("onnxruntime-int8"));
        assertEquals(F32, Agreement.Precision.of("opencv-dnn"));
        assertEquals(Agreement.Precision.BF16, Agreement.Precision.of("snapscore-bf16"));
    }

    @Test
    void bf16IsHeldToFivePercentOfTheLargestLogitWhateverItsTop1() {
        Outputs reference = new Outputs(new float[] {500, 490, -300, -200, 400, 0}, new float[] {1, 0, 0, 0, 1, 0});
        Outputs rounded = new Outputs(new float[] {492, 495, -300, -200, 404, 0}, new float[] {0, 1, 0, 0, 1, 0});
        assertEquals("ok", Agreement.of("snapscore-bf16", Agreement.Precision.BF16, reference, rounded, 2, 3).verdict());
        Outputs wrong = new Outputs(new float[] {500, 490, -300, -200, 370, 0}, reference.probabilities());
        assertEquals("FAIL: max rel Δlogit 0.075 > 0.05", Agreement.of("snapscore-bf16", Agreement.Precision.BF16, reference, wrong, 2, 3).verdict());
    }

    @Test
    void theCheckFailsWhenAnyRowFailsAndTheTableSaysWhich() {
        Agreement ok = Agreement.of("onnxruntime", F32, REFERENCE, REFERENCE, 2, 3);
        Agreement bad = Agreement.of("opencv-dnn", F32, REFERENCE, ofProbabilities(0.7f, 0.2f, 0.1f), 2, 3);
        assertTrue(new CrossCheck("onnxruntime", List.of(ok)).passed());
        CrossCheck failed = new CrossCheck("onnxruntime", List.of(ok, bad));
        assertFalse(failed.passed());
        String md = failed.markdown();
        assertTrue(md.contains("| onnxruntime | — | — | — | reference |"), md);
        assertTrue(md.contains("| opencv-dnn | — | — | — | FAIL: 3 values, expected 2 images × 3 classes |"), md);
    }

    /** Probabilities with logits that give them (ln p, softmax's inverse up to a constant). */
    private static Outputs ofProbabilities(float... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.log(probabilities[i]);
        return new Outputs(logits, probabilities);
    }
}
