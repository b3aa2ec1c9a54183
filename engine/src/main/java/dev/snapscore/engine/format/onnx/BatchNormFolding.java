package dev.snapscore.engine.format.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folds BatchNormalization (inference form: y = γ·(x − μ)/√(σ² + ε) + β = s·x + t, per channel) into the weights
 * and bias of the layer before it: a Conv (per output channel), a Gemm or a MatMul, with or without a bias Add.
 * A BN on a flat [N, features] tensor after anything else (e.g. Linear → ReLU → BN) folds into the dense layer after
 * it instead: W·(s·x + t) = (W·diag s)·x + W·t. Anything else is refused; a BN before a padded Conv cannot be folded
 * forward exactly, as the padding would no longer be zero.
 */
final class BatchNormFolding {
    private BatchNormFolding() {
    }

    static void apply(Graph graph) {
        for (Node bn : new ArrayList<>(graph.nodes)) {
            if (!bn.op.equals("BatchNormalization")) continue;
            String refusal = fold(graph, bn);
            if (refusal != null) graph.problem(bn, refusal);
        }
    }

    /** Folds {@code bn}, or says why it cannot be. */
    private static String fold(Graph graph, Node bn) {
        for (int i = 1; i < bn.outputs.size(); i++) {
            if (graph.isUsed(bn.output(i))) return "has its training output '" + bn.output(i) + "' read; snapscore runs inference only";
        }
        if (bn.integer("training_mode", 0) != 0) return "is in training mode; snapscore runs inference only";
        if (bn.integer("spatial", 1) == 0) return "has spatial 0 (per-position statistics); snapscore folds per-channel statistics";
        float[][] p = new float[4][];
        for (int i = 0; i < 4; i++) {
            Constant c = graph.constant(bn.input(i + 1));
            if (c == null) return "reads '" + bn.input(i + 1) + "' as a parameter, which is not a constant";
            p[i] = c.floats();
        }
        int channels = p[0].length;
        for (float[] v : p) if (v.length != channels) return "has parameters of different lengths";
        double epsilon = bn.real("epsilon", 1e-5f);
        float[] scale = new float[channels], shift = new float[channels];
        for (int c = 0; c < channels; c++) {
            scale[c] = (float) (p[0][c] / Math.sqrt(p[3][c] + epsilon));
            shift[c] = p[1][c] - p[2][c] * scale[c];
        }
        Node layer = graph.producer(bn.input(0));
        Node next = graph.soleConsumer(bn.output(0));
        boolean backward = layer != null && graph.soleConsumer(bn.input(0)) == bn
                && Set.of("Conv", "Gemm", "MatMul", "Add").contains(layer.op);
        if (!backward && next != null && (next.op.equals("Gemm") || next.op.equals("MatMul")) && next.input(0).equals(bn.output(0))) {
            String refusal = forward(graph, bn, next, scale, shift);
            if (refusal != null) return refusal;
            graph.bypass(bn);
            graph.rewrite(bn, "folded into the weights and bias of the dense layer after it, " + next.describe() + " (epsilon " + epsilon + ")");
            return null;
        }
        if (layer == null || graph.soleConsumer(bn.input(0)) != bn) {
            return "does not follow a Conv, Gemm or MatMul whose output it alone reads; snapscore folds BatchNormalization into the layer before it";
        }
        Node bias = null;
        if (layer.op.equals("Add") && graph.producer(otherInput(graph, layer)) instanceof Node m && m.op.equals("MatMul")
                && graph.soleConsumer(m.output(0)) == layer) {
            bias = layer;
            layer = m;
        }
        String refusal = switch (layer.op) {
            case "Conv" -> conv(graph, layer, scale, shift);
            case "Gemm" -> gemm(graph, layer, scale, shift);
            case "MatMul" -> matMul(graph, layer, bias, bn, scale, shift);
            default -> "follows " + layer.describe() + "; snapscore folds BatchNormalization only into a Conv, Gemm or MatMul before it";
        };
        if (refusal != null) return refusal;
        if (bn.op.equals("BatchNormalization")) {
            graph.bypass(bn);
            graph.rewrite(bn, "folded into the weights and bias of " + layer.describe() + " (epsilon " + epsilon + ")");
        }
        return null;
    }

    /** Conv weights [O, I, kh, kw]: each output channel times its scale; bias b·s + shift. */
    private static String conv(Graph graph, Node conv, float[] scale, float[] shift) {
        Constant w = graph.constant(conv.input(1));
        if (w == null || w.rank() != 4 || w.shape()[0] != scale.length) return "does not match the weights of " + conv.describe();
        if (graph.consumers(conv.input(1)).size() > 1) return "follows " + conv.describe() + ", whose weights other nodes share";
        float[] v = w.floats();
        int per = v.length / scale.length;
        for (int i = 0; i < v.length; i++) v[i] *= scale[i / per];
        graph.constants.put(conv.input(1), Constant.ofFloats(w.shape(), v));
        setBias(graph, conv, 2, scale, shift);
        return null;
    }

    /** Gemm: weights [out, in] (transB) or [in, out] scaled per output; bias β·C·s + shift, β becomes 1. */
    private static String gemm(Graph graph, Node gemm, float[] scale, float[] shift) {
        Constant w = graph.constant(gemm.input(1));
        boolean transB = gemm.integer("transB", 0) != 0;
        if (w == null || w.rank() != 2 || w.shape()[transB ? 0 : 1] != scale.length) return "does not match the weights of " + gemm.describe();
        if (graph.consumers(gemm.input(1)).size() > 1) return "follows " + gemm.describe() + ", whose weights other nodes share";
        graph.constants.put(gemm.input(1), scaledMatrix(w, transB, scale));
        float beta = gemm.real("beta", 1f);
        float[] b = biasValues(graph, gemm.input(2), scale.length);
        if (b == null) return "follows " + gemm.describe() + ", whose bias is not a per-output constant";
        for (int i = 0; i < b.length; i++) b[i] = beta * b[i] * scale[i] + shift[i];
        putBias(graph, gemm, 2, b);
        gemm.set("beta", 1f);
        return null;
    }

    /** MatMul weights [in, out] scaled per column; its bias Add (or, without one, the BN itself turned into one) gets b·s + shift. */
    private static String matMul(Graph graph, Node matMul, Node add, Node bn, float[] scale, float[] shift) {
        Constant w = graph.constant(matMul.input(1));
        if (w == null || w.rank() != 2 || w.shape()[1] != scale.length) return "does not match the weights of " + matMul.describe();
        if (graph.consumers(matMul.input(1)).size() > 1) return "follows " + matMul.describe() + ", whose weights other nodes share";
        graph.constants.put(matMul.input(1), scaledMatrix(w, false, scale));
        if (add != null) {
            int at = add.inputs.indexOf(otherInput(graph, add)) == 0 ? 1 : 0;
            float[] b = biasValues(graph, add.input(at), scale.length);
            if (b == null) return "follows " + add.describe() + ", whose bias is not a per-output constant";
            for (int i = 0; i < b.length; i++) b[i] = b[i] * scale[i] + shift[i];
            putBias(graph, add, at, b);
        } else {
            String name = graph.freshName(bn.name + ".bias");
            graph.constants.put(name, Constant.ofFloats(new long[] {shift.length}, shift));
            bn.op = "Add";
            bn.inputs.subList(1, bn.inputs.size()).clear();
            bn.inputs.add(name);
            bn.outputs.subList(1, bn.outputs.size()).clear();
            bn.attributes.clear();
            graph.rewrite(bn, "folded into the weights of " + matMul.describe() + " and a bias Add");
        }
        return null;
    }

    /**
     * Folds into the dense layer after the BN: weights' input rows (MatMul, Gemm without transB) or columns (transB)
     * times s; bias plus alpha·W·t (Gemm, beta folded in) or a new bias Add after the MatMul.
     */
    private static String forward(Graph graph, Node bn, Node dense, float[] scale, float[] shift) {
        Constant w = graph.constant(dense.input(1));
        boolean inputsAreColumns = dense.op.equals("Gemm") && dense.integer("transB", 0) != 0;
        if (dense.op.equals("Gemm") && dense.integer("transA", 0) != 0) return "is followed by " + dense.describe() + " with transA 1";
        if (w == null || w.rank() != 2 || w.shape()[inputsAreColumns ? 1 : 0] != scale.length) {
            return "does not match the weights of " + dense.describe() + " after it";
        }
        if (graph.consumers(dense.input(1)).size() > 1) return "is followed by " + dense.describe() + ", whose weights other nodes share";
        int outputs = (int) w.shape()[inputsAreColumns ? 0 : 1], cols = (int) w.shape()[1];
        float[] v = w.floats();
        float[] added = new float[outputs];
        float alpha = dense.op.equals("Gemm") ? dense.real("alpha", 1f) : 1f;
        for (int i = 0; i < v.length; i++) {
            int row = i / cols, col = i % cols;
            int in = inputsAreColumns ? col : row, out = inputsAreColumns ? row : col;
            added[out] += alpha * v[i] * shift[in];
            v[i] *= scale[in];
        }
        graph.constants.put(dense.input(1), Constant.ofFloats(w.shape(), v));
        if (dense.op.equals("Gemm")) {
            float[] b = biasValues(graph, dense.input(2), outputs);
            if (b == null) return "is followed by " + dense.describe() + ", whose bias is not a per-output constant";
            float beta = dense.real("beta", 1f);
            for (int i = 0; i < outputs; i++) b[i] = beta * b[i] + added[i];
            putBias(graph, dense, 2, b);
            dense.set("beta", 1f);
        } else {
            String product = graph.freshName(dense.output(0) + "_unbiased"), bias = graph.freshName(bn.name + ".bias");
            graph.constants.put(bias, Constant.ofFloats(new long[] {outputs}, added));
            Node add = new Node(bn.index, bn.name, "Add", List.of(product, bias), List.of(dense.output(0)), Map.of());
            dense.outputs.set(0, product);
            graph.nodes.add(graph.nodes.indexOf(dense) + 1, add);
        }
        return null;
    }

    private static Constant scaledMatrix(Constant w, boolean rowsAreOutputs, float[] scale) {
        float[] v = w.floats();
        int cols = (int) w.shape()[1];
        for (int i = 0; i < v.length; i++) v[i] *= scale[rowsAreOutputs ? i / cols : i % cols];
        return Constant.ofFloats(w.shape(), v);
    }

    private static void setBias(Graph graph, Node layer, int input, float[] scale, float[] shift) {
        float[] b = biasValues(graph, layer.input(input), scale.length);
        for (int i = 0; i < b.length; i++) b[i] = b[i] * scale[i] + shift[i];
        putBias(graph, layer, input, b);
    }

    /** A bias's values, zeros when absent, null when not a constant of {@code n} values. */
    private static float[] biasValues(Graph graph, String name, int n) {
        if (name.isEmpty()) return new float[n];
        Constant c = graph.constant(name);
        return c == null || c.elements() != n ? null : c.floats();
    }

    /** A new bias constant for the layer (an existing one may be shared, so it is not changed in place). */
    private static void putBias(Graph graph, Node layer, int input, float[] values) {
        String old = layer.input(input);
        String name = graph.freshName(old.isEmpty() ? layer.name + ".folded_bias" : old + ".folded");
        graph.constants.put(name, Constant.ofFloats(new long[] {values.length}, values));
        while (layer.inputs.size() <= input) layer.inputs.add("");
        layer.inputs.set(input, name);
    }

    /** The non-constant input of a two-input node, or "" if there is not exactly one. */
    private static String otherInput(Graph graph, Node node) {
        List<String> dynamic = node.inputs.stream().filter(t -> !t.isEmpty() && !graph.isConstant(t)).toList();
        return dynamic.size() == 1 ? dynamic.getFirst() : "";
    }
}
