package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Small graphs for the pass tests, built on the graph model directly. */
final class TestGraphs {
    private TestGraphs() {
    }

    /** A graph at {@code opset} whose input 'x' has NCHW dims (batch {@link Graph#BATCH} for an open one). */
    static Graph graph(long opset, long... inputDims) {
        Graph g = new Graph(opset, "test", "test");
        g.input = "x";
        g.inputDims = inputDims;
        return g;
    }

    static Node node(Graph g, String op, List<String> inputs, String output, AttributeProto... attributes) {
        Map<String, AttributeProto> map = new LinkedHashMap<>();
        for (AttributeProto a : attributes) map.put(a.getName(), a);
        Node n = new Node(g.nodes.size(), op.toLowerCase() + g.nodes.size(), op, inputs, List.of(output), map);
        g.nodes.add(n);
        return n;
    }

    static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) a.addInts(v);
        return a.build();
    }

    static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto real(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    static Constant floats(long[] shape, float... values) {
        return Constant.ofFloats(shape, values);
    }

    static Constant longs(long[] shape, long... values) {
        return Constant.ofInts(shape, values);
    }

    static long[] dims(long... d) {
        return d;
    }

    static List<String> ops(Graph g) {
        return g.nodes.stream().map(n -> n.op).toList();
    }

    static void assertFloats(float[] want, float[] got, double tolerance) {
        assertEquals(want.length, got.length, "lengths");
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tolerance, "element " + i + " of " + Arrays.toString(got));
        }
    }

    static void assertProblem(Graph g, String expected) {
        assertTrue(g.problems.stream().anyMatch(p -> p.contains(expected)), "expected '" + expected + "' in " + g.problems);
    }
}
