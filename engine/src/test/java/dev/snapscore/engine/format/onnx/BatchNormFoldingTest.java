package dev.snapscore.engine.format.onnx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchNormFoldingTest {
    private static final float[] GAMMA = {2, 3}, BETA = {0.5f, -1}, MEAN = {1, 4}, VAR = {0, 1};
    private static final float EPSILON = 1;

    private static Node batchNorm(Graph g, String input, String output) {
        g.constants.put("gamma", floats(dims(2), GAMMA));
        g.constants.put("beta", floats(dims(2), BETA));
        g.constants.put("mean", floats(dims(2), MEAN));
        g.constants.put("var", floats(dims(2), VAR));
        return node(g, "BatchNormalization", List.of(input, "gamma", "beta", "mean", "var"), output, real("epsilon", EPSILON));
    }

    /** s = γ/√(σ² + ε): 2 and 3/√2; t = β − μ·s. */
    private static float[] scale() {
        return new float[] {GAMMA[0] / (float) Math.sqrt(VAR[0] + EPSILON), GAMMA[1] / (float) Math.sqrt(VAR[1] + EPSILON)};
    }

    @Test
    void foldsIntoTheConvBeforeIt() {
        Graph g = graph(9, 1, 1, 4, 4);
        g.constants.put("w", floats(dims(2, 1, 1, 2), 1, 2, 3, 4));
        g.constants.put("b", floats(dims(2), 10, 20));
        node(g, "Conv", List.of("x", "w", "b"), "c");
        batchNorm(g, "c", "y");
        g.outputs.add("y");
        BatchNormFolding.apply(g);
        assertEquals(List.of("Conv"), ops(g));
        Node conv = g.nodes.getFirst();
        assertEquals(List.of("c"), g.outputs, "the output is the conv's now");
        float[] s = scale();
        assertFloats(new float[] {1 * s[0], 2 * s[0], 3 * s[1], 4 * s[1]}, g.constant("w").floats(), 1e-6);
        assertFloats(new float[] {(10 - MEAN[0]) * s[0] + BETA[0], (20 - MEAN[1]) * s[1] + BETA[1]},
                g.constant(conv.input(2)).floats(), 1e-5);
        assertTrue(g.rewrites.getFirst().contains("folded into the weights and bias of node 0 'conv0' (op Conv)"));
    }

    @Test
    void foldsIntoGemmsOfBothWeightLayoutsWithBeta() {
        for (long transB : new long[] {0, 1}) {
            Graph g = graph(9, 1, 3, 1, 1);
            // The same matrix: rows are outputs when transB is 1.
            g.constants.put("w", transB == 1 ? floats(dims(2, 3), 1, 2, 3, 4, 5, 6) : floats(dims(3, 2), 1, 4, 2, 5, 3, 6));
            g.constants.put("c", floats(dims(2), 1, 2));
            Node gemm = node(g, "Gemm", List.of("x", "w", "c"), "d", integer("transB", transB), real("beta", 2));
            batchNorm(g, "d", "y");
            BatchNormFolding.apply(g);
            float[] s = scale();
            float[] w = {s[0], 2 * s[0], 3 * s[0], 4 * s[1], 5 * s[1], 6 * s[1]};
            assertFloats(transB == 1 ? w : new float[] {w[0], w[3], w[1], w[4], w[2], w[5]}, g.constant("w").floats(), 1e-6);
            assertFloats(new float[] {(2 * 1 - MEAN[0]) * s[0] + BETA[0], (2 * 2 - MEAN[1]) * s[1] + BETA[1]},
                    g.constant(gemm.input(2)).floats(), 1e-5);
            assertEquals(1f, gemm.real("beta", 0), 0);
        }
    }

    @Test
    void aMatMulWithoutBiasGetsTheShiftAsAnAdd() {
        Graph g = graph(13, 1, 3, 1, 1);
        g.constants.put("w", floats(dims(3, 2), 1, 4, 2, 5, 3, 6));
        node(g, "MatMul", List.of("x", "w"), "d");
        batchNorm(g, "d", "y");
        BatchNormFolding.apply(g);
        assertEquals(List.of("MatMul", "Add"), ops(g));
        float[] s = scale();
        assertFloats(new float[] {BETA[0] - MEAN[0] * s[0], BETA[1] - MEAN[1] * s[1]}, g.constant(g.nodes.get(1).input(1)).floats(), 1e-6);
    }

    @Test
    void afterAnActivationItFoldsForwardIntoTheDenseLayer() {
        Graph g = graph(11, 1, 2, 1, 1);
        g.constants.put("w", floats(dims(1, 2), 1, 10));
        g.constants.put("c", floats(dims(1), 5));
        node(g, "Relu", List.of("x"), "r");
        batchNorm(g, "r", "n");
        Node gemm = node(g, "Gemm", List.of("n", "w", "c"), "y", integer("transB", 1), real("alpha", 2));
        BatchNormFolding.apply(g);
        assertEquals(List.of("Relu", "Gemm"), ops(g));
        float[] s = scale();
        float t0 = BETA[0] - MEAN[0] * s[0], t1 = BETA[1] - MEAN[1] * s[1];
        assertFloats(new float[] {s[0], 10 * s[1]}, g.constant("w").floats(), 1e-5);
        assertFloats(new float[] {5 + 2 * (t0 + 10 * t1)}, g.constant(gemm.input(2)).floats(), 1e-4);
    }

    @Test
    void beforeAMatMulItFoldsForwardWithANewBiasAdd() {
        Graph g = graph(13, 1, 2, 1, 1);
        g.constants.put("w", floats(dims(2, 3), 1, 2, 3, 4, 5, 6));
        node(g, "Relu", List.of("x"), "r");
        batchNorm(g, "r", "n");
        node(g, "MatMul", List.of("n", "w"), "y");
        g.outputs.add("y");
        BatchNormFolding.apply(g);
        assertEquals(List.of("Relu", "MatMul", "Add"), ops(g));
        assertEquals("y", g.nodes.get(2).output(0));
        float[] s = scale();
        float t0 = BETA[0] - MEAN[0] * s[0], t1 = BETA[1] - MEAN[1] * s[1];
        assertFloats(new float[] {s[0], 2 * s[0], 3 * s[0], 4 * s[1], 5 * s[1], 6 * s[1]}, g.constant("w").floats(), 1e-5);
        assertFloats(new float[] {t0 + 4 * t1, 2 * t0 + 5 * t1, 3 * t0 + 6 * t1}, g.constant(g.nodes.get(2).input(1)).floats(), 1e-5);
    }

    @Test
    void withoutALayerToFoldIntoOrWithTrainingOutputsItIsRefused() {
        Graph g = graph(11, 1, 2, 4, 4);
        node(g, "Relu", List.of("x"), "r");
        Node bn = batchNorm(g, "r", "n");
        node(g, "Relu", List.of("n"), "y");
        BatchNormFolding.apply(g);
        assertProblem(g, "node 1 'batchnormalization1' (op BatchNormalization) follows node 0 'relu0' (op Relu); snapscore folds");
        assertEquals("BatchNormalization", bn.op);

        Graph training = graph(9, 1, 2, 4, 4);
        training.constants.put("w", floats(dims(2, 2, 1, 1), 1, 2, 3, 4));
        node(training, "Conv", List.of("x", "w"), "c");
        batchNorm(training, "c", "n").outputs.add("running_mean");
        training.outputs.add("running_mean");
        BatchNormFolding.apply(training);
        assertProblem(training, "has its training output 'running_mean' read");
    }
}
