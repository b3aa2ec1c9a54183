package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Preprocess;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The ONNX graph while it is normalised: nodes in file (topological) order, the constants, the one image input and
 * the outputs, plus what the passes did (rewrites) and what they could not do (problems). Passes edit it in place.
 */
final class Graph {
    /** The batch dimension in inferred shapes and folded shape constants, where the file leaves it open. */
    static final long BATCH = Long.MIN_VALUE;

    final long opset;
    final String producer;
    final String name;
    final List<Node> nodes = new ArrayList<>();
    final Map<String, Constant> constants = new HashMap<>();
    final List<String> outputs = new ArrayList<>();
    /** Initializers that could not be decoded (each already a problem). */
    final Set<String> unreadable = new HashSet<>();
    String input;
    /** The input's dims as NCHW ([N, C, H, W]; N may be {@link #BATCH}), whatever {@link #inputLayout} the file uses. */
    long[] inputDims;
    InputLayout inputLayout = InputLayout.NCHW;
    /** Normalisation found baked into the graph and moved out of it, or null. */
    Preprocess preprocess;
    String preprocessing = "none baked into the model; Caffe's (BGR minus the ImageNet means) assumed";
    /** External data files the initializers were read from. */
    List<Path> externalData = List.of();
    final List<String> rewrites = new ArrayList<>();
    final List<String> problems = new ArrayList<>();

    Graph(long opset, String producer, String name) {
        this.opset = opset;
        this.producer = producer;
        this.name = name;
    }

    /** Nodes already refused by a pass, which lowering passes over rather than report again. */
    final Set<Node> refused = new HashSet<>();

    void problem(Node node, String why) {
        problems.add(node.describe() + " " + why);
        refused.add(node);
    }

    void rewrite(Node node, String what) {
        rewrites.add(node.describe() + " " + what);
    }

    Constant constant(String tensor) {
        return constants.get(tensor);
    }

    boolean isConstant(String tensor) {
        return constants.containsKey(tensor);
    }

    Node producer(String tensor) {
        if (tensor.isEmpty()) return null;
        for (Node n : nodes) if (n.outputs.contains(tensor)) return n;
        return null;
    }

    List<Node> consumers(String tensor) {
        List<Node> result = new ArrayList<>();
        for (Node n : nodes) if (n.inputs.contains(tensor)) result.add(n);
        return result;
    }

    /** Whether anything reads {@code tensor}: a node, or the graph's outputs. Empty names (omitted outputs) are unused. */
    boolean isUsed(String tensor) {
        return !tensor.isEmpty() && (outputs.contains(tensor) || !consumers(tensor).isEmpty());
    }

    /** The one node that reads {@code tensor}, or null when none or several do, or it is a graph output. */
    Node soleConsumer(String tensor) {
        List<Node> c = consumers(tensor);
        return c.size() == 1 && !outputs.contains(tensor) ? c.getFirst() : null;
    }

    /** Removes {@code node}, whose first output equals its first input: readers of the output read the input instead. */
    void bypass(Node node) {
        String in = node.input(0), out = node.output(0);
        nodes.remove(node);
        replaceUses(out, in);
    }

    /** Every reader of {@code from} (nodes and graph outputs) reads {@code to} instead. */
    void replaceUses(String from, String to) {
        for (Node n : nodes) n.inputs.replaceAll(t -> t.equals(from) ? to : t);
        outputs.replaceAll(t -> t.equals(from) ? to : t);
        List<String> distinct = new ArrayList<>(new LinkedHashSet<>(outputs));
        outputs.clear();
        outputs.addAll(distinct);
    }

    /** A tensor name not used yet, made from {@code base}. */
    String freshName(String base) {
        String candidate = base;
        for (int i = 2; isConstant(candidate) || producer(candidate) != null || candidate.equals(input); i++) candidate = base + "_" + i;
        return candidate;
    }

    /** The inferred shape of every tensor whose shape is known (input, constants, supported ops). */
    Map<String, long[]> shapes() {
        return Shapes.infer(this);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("input " + input + " " + Arrays.toString(inputDims) + "\n");
        for (Node n : nodes) s.append(n).append('\n');
        return s.append("outputs ").append(outputs).toString();
    }
}
