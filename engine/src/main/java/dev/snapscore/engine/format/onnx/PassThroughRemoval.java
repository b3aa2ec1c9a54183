package dev.snapscore.engine.format.onnx;

import java.util.ArrayList;
import java.util.Arrays;

/**
 * Removes what computes nothing at inference: Identity, and 1×1 stride-1 unpadded AveragePool/MaxPool (torchvision's
 * AdaptiveAvgPool2d((7, 7)) on a 7×7 map). Dropout is reduced to its input and its ratio (the attribute before opset
 * 12, the input from 12), which lowering keeps as the spec's Dropout layer; its mask output must be unused and its
 * training mode off. A Transpose(1, 0) read only as a Gemm's A with transA 1 cancels with it (the model zoo writes
 * that form).
 */
final class PassThroughRemoval {
    private PassThroughRemoval() {
    }

    static void apply(Graph graph) {
        for (Node node : new ArrayList<>(graph.nodes)) {
            switch (node.op) {
                case "Identity" -> {
                    graph.bypass(node);
                    graph.rewrite(node, "removed: it passes its input through");
                }
                case "Dropout" -> dropout(graph, node);
                case "Transpose" -> {
                    Node gemm = graph.soleConsumer(node.output(0));
                    if (Arrays.equals(node.integers("perm", null), new long[] {1, 0}) && gemm != null && gemm.op.equals("Gemm")
                            && gemm.input(0).equals(node.output(0)) && !gemm.input(1).equals(node.output(0)) && gemm.integer("transA", 0) != 0) {
                        graph.bypass(node);
                        gemm.set("transA", 0L);
                        graph.rewrite(node, "removed with the transA 1 of " + gemm.describe() + ": the two transposes cancel");
                    }
                }
                case "AveragePool", "MaxPool" -> {
                    if (isIdentityPool(node)) {
                        graph.bypass(node);
                        graph.rewrite(node, "removed: a 1x1 stride-1 pool passes its input through");
                    }
                }
                default -> { }
            }
        }
    }

    private static boolean isIdentityPool(Node node) {
        long[] ones = {1, 1};
        return Arrays.equals(node.integers("kernel_shape", null), ones)
                && Arrays.equals(node.integers("strides", ones), ones)
                && Arrays.stream(node.integers("pads", new long[4])).allMatch(p -> p == 0)
                && node.text("auto_pad", "NOTSET").matches("NOTSET|VALID|SAME_UPPER|SAME_LOWER")
                && (node.outputs.size() < 2 || node.output(1).isEmpty());
    }

    private static void dropout(Graph graph, Node node) {
        if (node.outputs.size() > 1 && !node.output(1).isEmpty() && graph.isUsed(node.output(1))) {
            graph.problem(node, "has its mask output '" + node.output(1) + "' read; snapscore runs inference only");
            return;
        }
        float ratio = node.real("ratio", 0.5f);
        if (graph.opset >= 12) {
            ratio = 0.5f;
            if (!node.input(1).isEmpty()) {
                Constant r = graph.constant(node.input(1));
                if (r == null || r.elements() != 1) {
                    graph.problem(node, "reads its ratio from '" + node.input(1) + "', which is not a constant scalar");
                    return;
                }
                ratio = r.floats()[0];
            }
            if (!node.input(2).isEmpty()) {
                Constant training = graph.constant(node.input(2));
                if (training == null || training.elements() != 1 || training.longs()[0] != 0) {
                    graph.problem(node, "has training_mode '" + node.input(2) + "' not a constant false; snapscore runs inference only");
                    return;
                }
            }
        }
        node.inputs.subList(1, node.inputs.size()).clear();
        node.outputs.subList(1, node.outputs.size()).clear();
        node.attributes.clear();
        node.set("ratio", ratio);
        graph.rewrite(node, "kept as a Dropout layer with ratio " + ratio + " (identity at inference)");
    }
}
