package dev.snapscore.engine.format.onnx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GlobalPoolingTest {
    @Test
    void anAveragePoolOverTheWholePlaneIsGlobal() {
        Graph g = graph(11, Graph.BATCH, 8, 7, 7);
        node(g, "AveragePool", List.of("x"), "a", ints("kernel_shape", 7, 7), ints("strides", 7, 7));
        node(g, "AveragePool", List.of("a"), "b", ints("kernel_shape", 1, 1));
        Graph partial = graph(11, Graph.BATCH, 8, 7, 7);
        node(partial, "AveragePool", List.of("x"), "a", ints("kernel_shape", 3, 3));
        GlobalPooling.apply(g);
        GlobalPooling.apply(partial);
        // The second pool's 1x1 kernel covers the 1x1 plane the first one leaves.
        assertEquals(List.of("GlobalAveragePool", "GlobalAveragePool"), ops(g));
        assertEquals(List.of("AveragePool"), ops(partial));
    }

    @Test
    void reduceMeanOverHeightAndWidthIsGlobalWithAFlattenWithoutKeepdims() {
        Graph attribute = graph(13, Graph.BATCH, 8, 7, 7);
        node(attribute, "ReduceMean", List.of("x"), "m", ints("axes", -1, -2));
        GlobalPooling.apply(attribute);
        assertEquals(List.of("GlobalAveragePool"), ops(attribute));
        assertArrayEquals(new long[] {Graph.BATCH, 8, 1, 1}, attribute.shapes().get("m"));

        Graph input = graph(18, Graph.BATCH, 8, 7, 7);
        input.constants.put("axes", longs(dims(2), 2, 3));
        node(input, "ReduceMean", List.of("x", "axes"), "m", integer("keepdims", 0));
        GlobalPooling.apply(input);
        assertEquals(List.of("GlobalAveragePool", "Flatten"), ops(input));
        assertEquals(List.of("x"), input.nodes.getFirst().inputs);
        assertArrayEquals(new long[] {Graph.BATCH, 8}, input.shapes().get("m"));

        Graph channels = graph(13, Graph.BATCH, 8, 7, 7);
        node(channels, "ReduceMean", List.of("x"), "m", ints("axes", 1));
        GlobalPooling.apply(channels);
        assertEquals(List.of("ReduceMean"), ops(channels));
    }

    @Test
    void kerasChannelsLastReduceMeanLosesItsTranspose() {
        Graph g = graph(13, Graph.BATCH, 8, 7, 7);
        node(g, "Transpose", List.of("x"), "t", ints("perm", 0, 2, 3, 1));
        node(g, "ReduceMean", List.of("t"), "m", ints("axes", 1, 2), integer("keepdims", 0));
        GlobalPooling.apply(g);
        assertEquals(List.of("GlobalAveragePool", "Flatten"), ops(g));
        assertEquals(List.of("x"), g.nodes.getFirst().inputs);
    }
}
