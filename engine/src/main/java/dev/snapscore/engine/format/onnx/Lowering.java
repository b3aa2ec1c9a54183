package dev.snapscore.engine.format.onnx;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.snapscore.engine.format.onnx.Constant.F32_LE;

/**
 * The normalised graph, which must now be a single chain from the input, as a {@link ModelSpec} and its weights:
 * convolutions and pools, a flatten, dense layers, an optional softmax. Every problem is recorded in the graph and
 * the walk goes on, so one import lists them all. Layers are named after their weight initializers without the
 * {@code .weight} suffix, else after their nodes.
 */
final class Lowering {
    static final String SUPPORTED = "Conv, Relu, MaxPool, Flatten, Reshape, Transpose, Gemm, MatMul, Add, Dropout, Identity, "
            + "Softmax, Constant, BatchNormalization, AveragePool (1x1 or over the whole plane), GlobalAveragePool, ReduceMean, "
            + "and shape arithmetic on constants (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Mul, Div, Sub)";

    /** A refusal of the current node; the walk records it and goes on. */
    private static final class Refused extends RuntimeException {
        Refused(String why) {
            super(why, null, false, false);
        }
    }

    private final Graph graph;
    private final Arena arena;
    private final List<Layer> layers = new ArrayList<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Set<String> names = new HashSet<>();
    // Tensors that hold the network's result: the last layer's output and its Dropout/Softmax successors. Graph
    // outputs must be among them (e.g. `logits` and `probs`).
    private final Set<String> results = new HashSet<>();
    private String current;              // the tensor flowing down the chain
    private long channels, height, width; // its shape per image before the flatten
    private long features = -1;           // its length per image after the flatten; -1 before
    private FlattenOrder pendingOrder;   // NHWC after a Transpose [0,2,3,1], until the flatten
    private boolean softmaxSeen;
    private boolean refused;             // whether the previous node was refused (no layer to fuse a ReLU into)
    private boolean lost;                // whether any node was refused: the tracked shape may be wrong, so sizes go unchecked
    private Node node;

    private Lowering(Graph graph, Arena arena) {
        this.graph = graph;
        this.arena = arena;
    }

    /** The model, or null when the graph has problems (recorded in it). Weights are copied into {@code arena}. */
    static LoadedModel lower(Graph graph, Arena arena) {
        return new Lowering(graph, arena).run();
    }

    private LoadedModel run() {
        current = graph.input;
        channels = graph.inputDims[1];
        height = graph.inputDims[2];
        width = graph.inputDims[3];
        for (Node n : graph.nodes) {
            node = n;
            // Nodes that read only constants were folded, or reported by constant folding.
            if (n.inputs.stream().allMatch(t -> t.isEmpty() || graph.isConstant(t))) continue;
            try {
                if (graph.refused.contains(n)) throw new Refused(null);
                step();
                refused = false;
            } catch (Refused e) {
                if (e.getMessage() != null) graph.problem(n, e.getMessage());
                current = n.output(0);
                refused = true;
                lost = true;
            }
        }
        if (features < 0) graph.problems.add("the graph has no Flatten/Reshape before its dense layers");
        else if (layers.getLast() instanceof Layer.Flatten) graph.problems.add("the graph has no dense (Gemm or MatMul) layer after its flatten");
        checkOutputs();
        if (!graph.problems.isEmpty()) return null;
        InputShape input = new InputShape((int) graph.inputDims[1], (int) graph.inputDims[2], (int) graph.inputDims[3], graph.inputLayout);
        Preprocess preprocess = graph.preprocess != null ? graph.preprocess : Preprocess.CAFFE;
        ModelSpec spec = new ModelSpec(graph.name, input, preprocess, layers, ModelSpec.indexLabels((int) features), null);
        return new LoadedModel(spec, new Weights(arena, tensors), graph.externalData);
    }

    private void step() {
        if (softmaxSeen) throw new Refused("follows the Softmax; Softmax must be the last operation");
        String data = InputLayoutPass.ELEMENTWISE.contains(node.op) && InputLayoutPass.constantOperand(graph, node) != null
                ? otherThan(InputLayoutPass.constantOperand(graph, node)) : node.input(0);
        if (!data.equals(current)) {
            throw new Refused("does not read the output of the previous layer ('" + current
                    + "'); snapscore runs a single chain of layers, not a branching graph");
        }
        if (pendingOrder != null && !node.op.equals("Flatten") && !node.op.equals("Reshape")) {
            throw new Refused("follows a [0, 2, 3, 1] Transpose; snapscore reads that Transpose only right before the flatten");
        }
        boolean passThrough = false;
        switch (node.op) {
            case "Conv" -> conv();
            case "Relu" -> relu();
            case "MaxPool" -> maxPool();
            case "AveragePool" -> throw new Refused("with kernel_shape " + Arrays.toString(node.integers("kernel_shape", null))
                    + " is not supported; snapscore averages only over the whole plane (a global average pool) or 1x1");
            case "GlobalAveragePool" -> globalAveragePool();
            case "Flatten" -> passThrough = flatten();
            case "Reshape" -> passThrough = reshape();
            case "Transpose" -> transpose();
            case "Gemm" -> gemm();
            case "MatMul" -> matMul();
            case "Add" -> biasAdd();
            case "Dropout" -> passThrough = dropout();
            case "Softmax" -> passThrough = softmax();
            default -> throw new Refused("is not supported; snapscore reads " + SUPPORTED);
        }
        if (!passThrough) results.clear();
        current = node.output(0);
        results.add(current);
    }

    private String otherThan(String constant) {
        return node.input(0).equals(constant) ? node.input(1) : node.input(0);
    }

    /** Every graph output must be the result (logits, or probabilities after the Softmax), not an inner tensor. */
    private void checkOutputs() {
        for (String out : graph.outputs) {
            if (!results.contains(out)) {
                graph.problems.add("graph output '" + out + "' is an intermediate tensor; snapscore computes only the last layer's output ("
                        + String.join(", ", results) + ")");
            }
        }
    }

    private void conv() {
        if (node.integers("dilations", null) instanceof long[] d && Arrays.stream(d).anyMatch(x -> x != 1)) {
            throw new Refused("uses dilations other than 1 (dilations " + Arrays.toString(d) + ")");
        }
        if (node.integer("group", 1) != 1) throw new Refused("has group " + node.integer("group", 1) + "; snapscore supports group 1 only");
        if (features >= 0) throw new Refused("comes after the flatten");
        Constant w = constant(1, "weights");
        long[] dims = w.shape();
        if (dims.length != 4) throw new Refused("has weights of rank " + dims.length + "; expected [out, in, kh, kw]");
        if (dims[1] != channels && !lost) {
            throw new Refused("has weights " + Arrays.toString(dims) + " for " + dims[1] + " input channels; its input has " + channels);
        }
        long[] kernel = node.integers("kernel_shape", new long[] {dims[2], dims[3]});
        if (!Arrays.equals(kernel, new long[] {dims[2], dims[3]})) {
            throw new Refused("kernel_shape " + Arrays.toString(kernel) + " disagrees with weights " + Arrays.toString(dims));
        }
        Window window = window(kernel);
        int out = checkedInt(dims[0], "output channels");
        String name = layerName(node.input(1));
        layers.add(new Layer.Conv(name, out, window, Activation.NONE));
        tensors.put(name + ".weight", copy(name + ".weight", w, dims, false, 1f));
        tensors.put(name + ".bias", bias(name, 2, out, 1f));
        channels = out;
    }

    private void relu() {
        if (refused) return;
        Layer last = layers.isEmpty() ? null : layers.getLast();
        if (last instanceof Layer.Conv c && c.activation() == Activation.NONE) {
            layers.set(layers.size() - 1, new Layer.Conv(c.name(), c.out(), c.window(), Activation.RELU));
        } else if (last instanceof Layer.Dense d && d.activation() == Activation.NONE) {
            layers.set(layers.size() - 1, new Layer.Dense(d.name(), d.out(), Activation.RELU));
        } else {
            throw new Refused("does not follow a Conv, Gemm or MatMul; snapscore fuses ReLU into the layer before it");
        }
    }

    /**
     * ceil_mode is accepted when it gives the floor's output size; storage_order only orders the indices output,
     * which must be unused.
     */
    private void maxPool() {
        if (graph.isUsed(node.output(1))) throw new Refused("outputs indices; snapscore does not");
        if (node.integers("dilations", null) instanceof long[] d && Arrays.stream(d).anyMatch(x -> x != 1)) {
            throw new Refused("uses dilations other than 1 (dilations " + Arrays.toString(d) + ")");
        }
        if (features >= 0) throw new Refused("comes after the flatten");
        long[] kernel = node.integers("kernel_shape", null);
        if (kernel == null) throw new Refused("has no kernel_shape");
        if (node.integer("ceil_mode", 0) != 0) {
            long[] in = {1, channels, height, width};
            long[] ceil = Shapes.window(node, in, kernel);
            node.set("ceil_mode", 0L);
            long[] floor = Shapes.window(node, in, kernel);
            if (ceil == null || !Arrays.equals(ceil, floor)) {
                throw new Refused("uses ceil_mode 1, which makes its output " + (ceil == null ? "empty" : ceil[0] + "x" + ceil[1])
                        + " where snapscore's floor gives " + (floor == null ? "nothing" : floor[0] + "x" + floor[1]));
            }
        }
        layers.add(new Layer.MaxPool(window(kernel)));
    }

    private void globalAveragePool() {
        if (features >= 0) throw new Refused("comes after the flatten");
        layers.add(new Layer.GlobalAveragePool());
        height = 1;
        width = 1;
    }

    /** The 2-D window of a Conv or MaxPool; also moves the tracked height and width past it. */
    private Window window(long[] kernel) {
        long[] strides = node.integers("strides", new long[] {1, 1});
        long[] pads = Shapes.pads(node, height, width, kernel, strides);
        if (kernel.length != 2 || strides.length != 2 || pads == null) {
            throw new Refused("is not 2-D (kernel_shape " + Arrays.toString(kernel) + ", strides " + Arrays.toString(strides)
                    + ", pads " + Arrays.toString(node.integers("pads", null)) + ", auto_pad " + node.text("auto_pad", "NOTSET") + ")");
        }
        Window window;
        try {
            // ONNX pads are [top, left, bottom, right].
            window = new Window(checkedInt(kernel[0], "kernel"), checkedInt(kernel[1], "kernel"),
                    checkedInt(strides[0], "stride"), checkedInt(strides[1], "stride"),
                    checkedInt(pads[0], "pad"), checkedInt(pads[1], "pad"), checkedInt(pads[2], "pad"), checkedInt(pads[3], "pad"));
        } catch (IllegalArgumentException e) {
            throw new Refused(e.getMessage());
        }
        int outH = window.outHeight((int) height), outW = window.outWidth((int) width);
        if ((outH < 1 || outW < 1) && !lost) throw new Refused("has a window that does not fit its " + height + "x" + width + " input");
        height = Math.max(outH, 1);
        width = Math.max(outW, 1);
        return window;
    }

    /** Flatten at axis 1; on an already flat [N, features] tensor it changes nothing. */
    private boolean flatten() {
        long axis = node.integer("axis", 1);
        if (axis != 1) throw new Refused("has axis " + axis + "; snapscore flattens at axis 1");
        if (features >= 0 && pendingOrder == null) return true;
        addFlatten();
        return false;
    }

    /** A Reshape is a flatten when it makes [batch, features]: [N or 0 or -1, -1 or the feature count]. */
    private boolean reshape() {
        long[] dims = constant(1, "shape").longs();
        boolean allowZero = node.integer("allowzero", 0) != 0;
        long flat = features >= 0 ? features : channels * height * width;
        boolean batchOk = dims.length == 2 && (dims[0] == Graph.BATCH || dims[0] == -1 || dims[0] > 0 || dims[0] == 0 && !allowZero);
        boolean featuresOk = dims.length == 2 && (dims[1] == -1 && dims[0] != -1 || dims[1] == flat);
        if (!batchOk || !featuresOk) {
            throw new Refused("reshapes to " + InputLayoutPass.dims(dims) + (allowZero ? " with allowzero 1" : "")
                    + "; snapscore supports only a flatten to [batch, -1] or [batch, " + flat + "]");
        }
        if (features >= 0 && pendingOrder == null) return true;
        addFlatten();
        return false;
    }

    private void addFlatten() {
        if (features >= 0) throw new Refused("is a second flatten");
        layers.add(new Layer.Flatten(pendingOrder != null ? pendingOrder : FlattenOrder.NCHW));
        pendingOrder = null;
        features = channels * height * width;
    }

    private void transpose() {
        long[] perm = node.integers("perm", null);
        if (features >= 0 || pendingOrder != null || perm == null || !Arrays.equals(perm, new long[] {0, 2, 3, 1})) {
            throw new Refused("with perm " + Arrays.toString(perm) + " is not supported; snapscore reads only one "
                    + "[0, 2, 3, 1] Transpose right before the flatten (Keras' channels-last flatten order), and a "
                    + "[0, 3, 1, 2] Transpose of an NHWC input");
        }
        pendingOrder = FlattenOrder.NHWC;
    }

    /** Y = alpha·A·B + beta·C: alpha goes into the weights, beta into the bias. */
    private void gemm() {
        if (node.integer("transA", 0) != 0) throw new Refused("has transA 1; snapscore supports transA 0 (one image per row of A)");
        boolean transB = node.integer("transB", 0) != 0;
        Constant w = constant(1, "weights");
        checkDenseInput(w, !transB);
        dense(w, !transB, node.input(2).isEmpty() ? -1 : 2, node.real("alpha", 1f), node.real("beta", 1f));
    }

    private void matMul() {
        Constant w = constant(1, "weights");
        checkDenseInput(w, true);
        dense(w, true, -1, 1f, 1f);
    }

    /** An Add of a constant right after a dense layer is its bias (either operand order; MatMul + Add is one layer). */
    private void biasAdd() {
        String name = InputLayoutPass.constantOperand(graph, node);
        if (name == null && node.inputs.size() == 2) {
            throw new Refused("adds two computed tensors ('" + node.input(0) + "' and '" + node.input(1) + "'), a branch such as a "
                    + "residual connection; snapscore runs a single chain of layers");
        }
        if (name == null || layers.isEmpty() || !(layers.getLast() instanceof Layer.Dense dense)) {
            throw new Refused("is supported only as the bias Add of a constant right after a dense layer (MatMul, Gemm)");
        }
        if (dense.activation() != Activation.NONE) throw new Refused("follows an activation; snapscore adds biases before it");
        Constant c = graph.constant(name);
        long[] s = c.shape();
        boolean vector = c.elements() == dense.out() && (s.length == 1 || s.length == 2 && s[0] == 1);
        if (!vector && c.elements() != 1) {
            throw new Refused("adds a constant of shape " + Arrays.toString(s) + " to " + dense.out() + " outputs; expected [" + dense.out() + "]");
        }
        float[] v = c.floats();
        MemorySegment bias = tensors.get(dense.biasName()).data();
        for (int i = 0; i < dense.out(); i++) bias.setAtIndex(F32_LE, i, bias.getAtIndex(F32_LE, i) + v[vector ? i : 0]);
        graph.rewrite(node, "folded into the bias of dense layer " + dense.name());
    }

    private void checkDenseInput(Constant w, boolean transposed) {
        long[] dims = w.shape();
        if (dims.length != 2) throw new Refused("has weights of rank " + dims.length + "; expected a matrix");
        if (features < 0) throw new Refused("is a dense layer before any Flatten");
        long in = transposed ? dims[0] : dims[1];
        if (lost) features = in;
        if (in != features) {
            throw new Refused("has weights " + Arrays.toString(dims) + " for " + in + " inputs; its input has " + features + " features");
        }
    }

    /** A dense layer from 2-D weights ([in, out] when {@code transposed}), already checked against its input. */
    private void dense(Constant w, boolean transposed, int biasInput, float weightScale, float biasScale) {
        long[] dims = w.shape();
        int out = checkedInt(transposed ? dims[1] : dims[0], "outputs");
        String name = layerName(node.input(1));
        Tensor bias = biasInput < 0 ? zeros(name + ".bias", out) : bias(name, biasInput, out, biasScale);
        layers.add(new Layer.Dense(name, out, Activation.NONE));
        tensors.put(name + ".weight", copy(name + ".weight", w, new long[] {out, features}, transposed, weightScale));
        tensors.put(name + ".bias", bias);
        features = out;
    }

    /** Kept as a Dropout layer (identity at inference) with the ratio the normalisation recorded. */
    private boolean dropout() {
        if (!layers.isEmpty()) layers.add(new Layer.Dropout(node.real("ratio", 0.5f)));
        return true;
    }

    /** Over the classes: the input is [N, classes], where opset 13's axis -1 and the older axis 1 (default 1, coerced to 2-D) agree. */
    private boolean softmax() {
        long axis = node.integer("axis", graph.opset < 13 ? 1 : -1);
        if (axis != -1 && axis != 1) throw new Refused("has axis " + axis + "; snapscore's softmax is over the classes (axis 1 or -1)");
        Layer last = null;
        for (int i = layers.size() - 1; i >= 0 && last == null; i--) {
            if (!(layers.get(i) instanceof Layer.Dropout)) last = layers.get(i);
        }
        if (!(last instanceof Layer.Dense d) || d.activation() != Activation.NONE) {
            throw new Refused("does not follow a dense layer without activation");
        }
        layers.set(layers.indexOf(d), new Layer.Dense(d.name(), d.out(), Activation.SOFTMAX));
        softmaxSeen = true;
        return true;
    }

    // --- tensors -------------------------------------------------------------------------------

    private Constant constant(int input, String role) {
        if (node.input(input).isEmpty()) throw new Refused("has no " + role + " input");
        Constant c = graph.constant(node.input(input));
        if (c == null && graph.unreadable.contains(node.input(input))) {
            throw new Refused("reads its " + role + " from initializer '" + node.input(input) + "', which snapscore cannot read (see above)");
        }
        if (c == null) {
            throw new Refused("reads its " + role + " from '" + node.input(input)
                    + "', which is not an initializer or Constant; snapscore needs constant " + role);
        }
        return c;
    }

    private Tensor bias(String layer, int input, int out, float scale) {
        if (node.input(input).isEmpty()) return zeros(layer + ".bias", out);
        Constant b = constant(input, "bias");
        long[] dims = b.shape();
        if (b.elements() != out || dims.length > 2 || dims.length == 2 && dims[0] != 1) {
            throw new Refused("has a bias of shape " + Arrays.toString(dims) + " for " + out + " outputs; expected [" + out + "]");
        }
        return copy(layer + ".bias", b, new long[] {out}, false, scale);
    }

    private Tensor zeros(String name, int n) {
        return new Tensor(name, new long[] {n}, arena.allocate((long) n * Float.BYTES, 64));
    }

    /**
     * Copies f32 values into native memory as {@code shape} (same element count), transposing a 2-D [in, out] source
     * to [out, in] if asked and multiplying by {@code scale}. Mapped data is copied straight from the file mapping.
     */
    private Tensor copy(String name, Constant c, long[] shape, boolean transpose, float scale) {
        if (!c.isFloat()) throw new Refused("reads integer tensor '" + name + "' as weights");
        MemorySegment src = c.f32();
        long count = Tensor.elementCount(shape);
        if (src.byteSize() != count * Float.BYTES) {
            throw new Refused("reads a tensor of " + src.byteSize() / Float.BYTES + " values as '" + name + "', which needs " + count);
        }
        MemorySegment dst = arena.allocate(count * Float.BYTES, 64);
        if (transpose) {
            long out = shape[0], in = shape[1];
            for (long i = 0; i < in; i++) {
                for (long o = 0; o < out; o++) dst.setAtIndex(F32_LE, o * in + i, src.getAtIndex(F32_LE, i * out + o));
            }
        } else {
            MemorySegment.copy(src, 0, dst, 0, src.byteSize());
        }
        if (scale != 1f) for (long i = 0; i < count; i++) dst.setAtIndex(F32_LE, i, dst.getAtIndex(F32_LE, i) * scale);
        return new Tensor(name, shape, dst);
    }

    private int checkedInt(long value, String what) {
        if (value < 0 || value > Integer.MAX_VALUE) throw new Refused("has " + what + " " + value + " out of range");
        return (int) value;
    }

    private String layerName(String weightName) {
        String base = weightName.endsWith(".weight") ? weightName.substring(0, weightName.length() - ".weight".length())
                : !node.name.isEmpty() ? node.name : node.op.toLowerCase() + node.index;
        String name = base;
        for (int i = 2; !names.add(name); i++) name = base + "_" + i;
        return name;
    }
}
