package dev.snapscore.engine.format.onnx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PassThroughRemovalTest {
    @Test
    void identityAndOneByOnePoolsGoTheirReadersReadTheirInput() {
        Graph g = graph(13, 1, 3, 8, 8);
        node(g, "Identity", List.of("x"), "i");
        node(g, "AveragePool", List.of("i"), "a", ints("kernel_shape", 1, 1), ints("strides", 1, 1));
        node(g, "MaxPool", List.of("a"), "m", ints("kernel_shape", 1, 1));
        node(g, "MaxPool", List.of("m"), "p", ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        g.outputs.add("p");
        PassThroughRemoval.apply(g);
        assertEquals(List.of("MaxPool"), ops(g));
        assertEquals(List.of("x"), g.nodes.getFirst().inputs);
        assertEquals(3, g.rewrites.size());
    }

    @Test
    void dropoutKeepsItsRatioFromTheAttributeBeforeTwelveAndTheInputFromTwelve() {
        Graph old = graph(10, 1, 3, 8, 8);
        Node a = node(old, "Dropout", List.of("x"), "d", real("ratio", 0.3f));
        a.outputs.add("mask");
        PassThroughRemoval.apply(old);
        assertEquals(0.3f, a.real("ratio", 0), 0);
        assertEquals(List.of("d"), a.outputs);

        Graph recent = graph(13, 1, 3, 8, 8);
        recent.constants.put("r", floats(dims(), 0.25f));
        recent.constants.put("training", longs(dims(), 0));
        Node b = node(recent, "Dropout", List.of("x", "r", "training"), "d");
        PassThroughRemoval.apply(recent);
        assertEquals(0.25f, b.real("ratio", 0), 0);
        assertEquals(List.of("x"), b.inputs);
        assertTrue(recent.problems.isEmpty());
    }

    @Test
    void dropoutInTrainingOrWithItsMaskReadIsRefused() {
        Graph g = graph(13, 1, 3, 8, 8);
        g.constants.put("on", longs(dims(), 1));
        node(g, "Dropout", List.of("x", "", "on"), "d");
        Node masked = node(g, "Dropout", List.of("d"), "e");
        masked.outputs.add("mask");
        g.outputs.add("mask");
        PassThroughRemoval.apply(g);
        assertProblem(g, "node 0 'dropout0' (op Dropout) has training_mode 'on' not a constant false");
        assertProblem(g, "node 1 'dropout1' (op Dropout) has its mask output 'mask' read");
    }

    @Test
    void aTransposeBeforeAGemmWithTransACancels() {
        Graph g = graph(9, 1, 3, 8, 8);
        g.constants.put("w", floats(dims(2, 2), 1, 2, 3, 4));
        node(g, "Transpose", List.of("x"), "t", ints("perm", 1, 0));
        Node gemm = node(g, "Gemm", List.of("t", "w"), "y", integer("transA", 1));
        PassThroughRemoval.apply(g);
        assertEquals(List.of("Gemm"), ops(g));
        assertEquals("x", gemm.input(0));
        assertEquals(0, gemm.integer("transA", 1));
    }
}
