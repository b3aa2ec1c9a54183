package dev.snapscore.engine.format.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Rewrites the forms of a global average pool into one GlobalAveragePool node: an AveragePool whose unpadded kernel
 * covers the whole plane, and ReduceMean over H and W (axes an attribute before opset 18, an input from 18). With
 * keepdims 0 a Flatten follows, as the result is [N, C]. tf2onnx's Keras form, Transpose(0, 2, 3, 1) then ReduceMean
 * over axes 1 and 2, is the same pool (the order of a 1×1 plane does not matter).
 */
final class GlobalPooling {
    private GlobalPooling() {
    }

    static void apply(Graph graph) {
        Map<String, long[]> shapes = graph.shapes();
        for (Node node : new ArrayList<>(graph.nodes)) {
            long[] x = shapes.get(node.input(0));
            if (x == null || x.length != 4) continue;
            if (node.op.equals("AveragePool") && wholePlane(node, x)) {
                graph.rewrite(node, "is a global average pool: its " + x[2] + "x" + x[3] + " kernel covers the whole plane");
                node.op = "GlobalAveragePool";
                node.attributes.clear();
            } else if (node.op.equals("ReduceMean")) {
                reduceMean(graph, node);
            }
        }
    }

    private static boolean wholePlane(Node pool, long[] x) {
        return Arrays.equals(pool.integers("kernel_shape", null), new long[] {x[2], x[3]})
                && Arrays.stream(pool.integers("pads", new long[4])).allMatch(p -> p == 0)
                && pool.text("auto_pad", "NOTSET").matches("NOTSET|VALID");
    }

    private static void reduceMean(Graph graph, Node node) {
        long[] axes = Shapes.reduceAxes(node, graph);
        if (axes == null) return;
        long[] sorted = Arrays.stream(axes).map(a -> a < 0 ? a + 4 : a).sorted().toArray();
        Node transpose = graph.producer(node.input(0));
        String keras = null;
        if (Arrays.equals(sorted, new long[] {1, 2}) && transpose != null && transpose.op.equals("Transpose")
                && Arrays.equals(transpose.integers("perm", null), new long[] {0, 2, 3, 1}) && graph.soleConsumer(transpose.output(0)) == node) {
            keras = " (after " + transpose.describe() + ", channels last)";
        } else if (!Arrays.equals(sorted, new long[] {2, 3})) {
            return;
        }
        if (keras != null) {
            graph.bypass(transpose);
            graph.rewrite(transpose, "removed: the global average pool after it makes a 1x1 plane, whose order does not matter");
        }
        boolean keep = node.integer("keepdims", 1) != 0;
        String why = "is a global average pool: a mean over height and width" + (keras != null ? keras : "");
        if (!keep) {
            String pooled = graph.freshName(node.output(0) + "_pooled");
            Node flatten = new Node(node.index, node.name, "Flatten", List.of(pooled), List.of(node.output(0)), Map.of());
            node.outputs.set(0, pooled);
            graph.nodes.add(graph.nodes.indexOf(node) + 1, flatten);
            why += ", then a flatten (keepdims 0)";
        }
        graph.rewrite(node, why);
        node.op = "GlobalAveragePool";
        node.inputs.subList(1, node.inputs.size()).clear();
        node.attributes.clear();
    }
}
