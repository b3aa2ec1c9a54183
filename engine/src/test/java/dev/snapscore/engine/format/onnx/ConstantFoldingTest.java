package dev.snapscore.engine.format.onnx;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.snapscore.engine.format.onnx.TestGraphs.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConstantFoldingTest {
    /** x.view(x.size(0), -1) as torch.onnx writes it: Shape → Gather → Unsqueeze → Concat → Reshape. */
    private static Graph viewFlatten(long opset, long batch) {
        Graph g = graph(opset, batch, 4, 7, 7);
        node(g, "Relu", List.of("x"), "r");
        node(g, "Shape", List.of("r"), "shape");
        g.constants.put("zero", longs(dims(), 0));
        node(g, "Gather", List.of("shape", "zero"), "n", integer("axis", 0));
        if (opset < 13) {
            node(g, "Unsqueeze", List.of("n"), "n1", ints("axes", 0));
        } else {
            g.constants.put("axes", longs(dims(1), 0));
            node(g, "Unsqueeze", List.of("n", "axes"), "n1");
        }
        g.constants.put("minus1", longs(dims(1), -1));
        node(g, "Concat", List.of("n1", "minus1"), "target", integer("axis", 0));
        node(g, "Reshape", List.of("r", "target"), "flat");
        return g;
    }

    @Test
    void theViewFlattenFoldsToTheBatchAndMinusOne() {
        for (long opset : new long[] {9, 13}) {
            Graph g = viewFlatten(opset, Graph.BATCH);
            ConstantFolding.apply(g);
            assertEquals(List.of("Relu", "Reshape"), ops(g), "opset " + opset);
            assertArrayEquals(new long[] {Graph.BATCH, -1}, g.constant("target").longs());
            assertArrayEquals(new long[] {Graph.BATCH, 196}, g.shapes().get("flat"));
            assertEquals(4, g.rewrites.size());
            assertTrue(g.problems.isEmpty(), g.problems.toString());
        }
        Graph fixed = viewFlatten(13, 2);
        ConstantFolding.apply(fixed);
        assertArrayEquals(new long[] {2, -1}, fixed.constant("target").longs());
    }

    @Test
    void arithmeticOnTheOpenBatchIsRefusedNamingTheNode() {
        Graph g = viewFlatten(13, Graph.BATCH);
        g.constants.put("two", longs(dims(), 2));
        g.nodes.add(3, new Node(9, "double", "Mul", List.of("n", "two"), List.of("n2"), java.util.Map.of()));
        ConstantFolding.apply(g);
        assertProblem(g, "node 9 'double' (op Mul) cannot be computed at import: it computes with the open batch size");
    }

    @Test
    void anOpItDoesNotComputeOnConstantsIsReported() {
        Graph g = graph(13, 1, 3, 4, 4);
        g.constants.put("a", longs(dims(), 0));
        node(g, "Range", List.of("a", "a", "a"), "r");
        ConstantFolding.apply(g);
        assertProblem(g, "node 0 'range0' (op Range) reads only constants, and snapscore does not compute op Range at import");
    }

    @Test
    void foldsEachOpAsOnnxDefinesIt() {
        // Mul broadcasting [2, 1] by [3]: hand-computed.
        Constant product = ConstantFolding.arithmetic("Mul", floats(dims(2, 1), 2, 3), floats(dims(3), 1, 10, 100));
        assertArrayEquals(new long[] {2, 3}, product.shape());
        assertFloats(new float[] {2, 20, 200, 3, 30, 300}, product.floats(), 0);
        assertArrayEquals(new long[] {3, -3}, ConstantFolding.arithmetic("Div", longs(dims(2), 7, -7), longs(dims(), 2)).longs());
        assertArrayEquals(new long[] {5, 9}, ConstantFolding.arithmetic("Sub", longs(dims(2), 7, 11), longs(dims(1), 2)).longs());
        // Gather along axis 1 of a [2, 3] tensor, with a negative index.
        Constant gathered = ConstantFolding.gather(longs(dims(2, 3), 1, 2, 3, 4, 5, 6), longs(dims(2), 2, -3), 1);
        assertArrayEquals(new long[] {2, 2}, gathered.shape());
        assertArrayEquals(new long[] {3, 1, 6, 4}, gathered.longs());
        // Concat along axis 1.
        Constant joined = ConstantFolding.concat(List.of(longs(dims(2, 1), 1, 2), longs(dims(2, 2), 3, 4, 5, 6)), -1);
        assertArrayEquals(new long[] {2, 3}, joined.shape());
        assertArrayEquals(new long[] {1, 3, 4, 2, 5, 6}, joined.longs());
        // Squeeze/Unsqueeze with negative axes, Cast both ways.
        assertArrayEquals(new long[] {3, 1, 1}, ConstantFolding.unsqueeze(longs(dims(3), 1, 2, 3), new long[] {-1, 1}).shape());
        assertArrayEquals(new long[] {3}, ConstantFolding.squeeze(longs(dims(1, 3, 1), 1, 2, 3), null).shape());
        assertArrayEquals(new long[] {1, 3}, ConstantFolding.squeeze(longs(dims(1, 3, 1), 1, 2, 3), new long[] {2}).shape());
        assertArrayEquals(new long[] {2, -1}, ConstantFolding.cast(floats(dims(2), 2.7f, -1.2f), 7).longs());
        assertFloats(new float[] {3, 4}, ConstantFolding.cast(longs(dims(2), 3, 4), 1).floats(), 0);
    }

    @Test
    void reshapeShapeAndIdentityOfConstantsFold() {
        Graph g = graph(15, Graph.BATCH, 3, 4, 4);
        g.constants.put("w", floats(dims(6), 1, 2, 3, 4, 5, 6));
        g.constants.put("s", longs(dims(2), 3, -1));
        node(g, "Reshape", List.of("w", "s"), "w2");
        node(g, "Identity", List.of("w2"), "w3");
        node(g, "Shape", List.of("x"), "hw", integer("start", 2));
        node(g, "Shape", List.of("x"), "last", integer("start", -1));
        ConstantFolding.apply(g);
        assertTrue(g.nodes.isEmpty(), g.toString());
        assertArrayEquals(new long[] {3, 2}, g.constant("w3").shape());
        assertFloats(new float[] {1, 2, 3, 4, 5, 6}, g.constant("w3").floats(), 0);
        assertArrayEquals(new long[] {4, 4}, g.constant("hw").longs());
        assertArrayEquals(new long[] {4}, g.constant("last").longs());
    }
}
