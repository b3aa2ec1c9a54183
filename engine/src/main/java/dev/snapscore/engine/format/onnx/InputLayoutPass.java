package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.InputLayout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * tf2onnx's Keras input: an NHWC image [N, H, W, C] that a Transpose(0, 3, 1, 2) turns into NCHW, perhaps after
 * per-channel arithmetic. The Transpose is removed and the input recorded as NHWC (the engine reads it so directly);
 * per-channel constants on the way ([C], [1, 1, C], [1, 1, 1, C]) are reshaped to NCHW's [1, C, 1, 1].
 */
final class InputLayoutPass {
    static final Set<String> ELEMENTWISE = Set.of("Sub", "Add", "Mul", "Div");

    private InputLayoutPass() {
    }

    static void apply(Graph graph) {
        List<Node> arithmetic = new ArrayList<>();
        String t = graph.input;
        Node next = graph.soleConsumer(t);
        while (next != null && ELEMENTWISE.contains(next.op) && constantOperand(graph, next) != null) {
            arithmetic.add(next);
            t = next.output(0);
            next = graph.soleConsumer(t);
        }
        if (next == null || !next.op.equals("Transpose") || !Arrays.equals(next.integers("perm", null), new long[] {0, 3, 1, 2})) return;
        long[] nhwc = graph.inputDims;
        long channels = nhwc[3];
        for (Node op : arithmetic) {
            String name = constantOperand(graph, op);
            Constant c = graph.constant(name);
            long[] s = c.shape();
            boolean perChannel = s.length > 0 && s[s.length - 1] == channels && c.elements() == channels;
            if (c.elements() == 1) continue;
            if (!perChannel) {
                graph.problem(op, "applies a constant of shape " + Arrays.toString(s) + " to the NHWC input; snapscore takes a scalar or per-channel one");
                return;
            }
            String converted = graph.freshName(name + ".nchw");
            graph.constants.put(converted, c.reshaped(new long[] {1, channels, 1, 1}));
            op.inputs.replaceAll(in -> in.equals(name) ? converted : in);
        }
        graph.bypass(next);
        graph.inputLayout = InputLayout.NHWC;
        graph.inputDims = new long[] {nhwc[0], nhwc[3], nhwc[1], nhwc[2]};
        graph.rewrite(next, "removed: the input is NHWC " + dims(nhwc) + ", which the engine reads directly");
    }

    /** The constant operand of a two-input elementwise node whose other operand is not constant, or null. */
    static String constantOperand(Graph graph, Node node) {
        if (node.inputs.size() != 2) return null;
        boolean first = graph.isConstant(node.input(0)), second = graph.isConstant(node.input(1));
        if (first == second) return null;
        return first ? node.input(0) : node.input(1);
    }

    static String dims(long[] dims) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) s.append(i > 0 ? ", " : "").append(dims[i] == Graph.BATCH ? "N" : Long.toString(dims[i]));
        return s.append(']').toString();
    }
}
