package dev.snapscore.engine.format;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.GraphProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.NodeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.OperatorSetIdProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorShapeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ValueInfoProto;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Reads a VGG-family ONNX graph (opset 13–17) into a {@link ModelSpec} and its weights. The graph must be a
 * single chain from its one input: convolutions and pools, a flatten, dense layers, an optional softmax.
 */
public final class OnnxImporter {
    static final int MIN_OPSET = 13, MAX_OPSET = 17;
    static final String SUPPORTED = "Conv, Relu, MaxPool, Flatten, Reshape, Transpose, Gemm, MatMul, Add, "
            + "Dropout, Identity, Softmax, Constant";

    private OnnxImporter() {
    }

    /**
     * Parses {@code onnxFile}; weights are copied into native memory owned by the returned model (close it).
     * Layers are named after their weight initializers without the {@code .weight} suffix, else after their
     * nodes; labels are "0".."n-1" and the preprocessing is Caffe's, since ONNX carries neither.
     *
     * @throws ModelFormatException naming the node, its op and what is supported, for anything snapscore
     *                              cannot run; or for a file that is missing or not ONNX
     */
    public static LoadedModel read(Path onnxFile) {
        if (!Files.isRegularFile(onnxFile)) throw new ModelFormatException("no such ONNX file: " + onnxFile);
        // The file is mapped and parsed with aliasing, so initializer bytes are views of the mapping, not heap
        // copies: a full VGG16 (~553 MB) imports with a small heap. The mapping ends once weights are copied.
        try (Arena mapping = Arena.ofConfined()) {
            ModelProto model = parse(onnxFile, mapping);
            Arena arena = Arena.ofShared();
            try {
                return new Importer(onnxFile, model, arena).run();
            } catch (ModelFormatException e) {
                arena.close();
                throw e;
            } catch (RuntimeException e) {
                arena.close();
                throw new ModelFormatException(onnxFile + ": " + e.getMessage(), e);
            }
        }
    }

    private static ModelProto parse(Path file, Arena mapping) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size == 0) throw new ModelFormatException(file + ": not an ONNX model (the file is empty)");
            if (size > Integer.MAX_VALUE) {
                throw new ModelFormatException(file + ": " + size + " bytes is over protobuf's 2 GB limit; models this "
                        + "large keep their weights in external data files, which snapscore does not read");
            }
            ByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, mapping).asByteBuffer();
            CodedInputStream coded = UnsafeByteOperations.unsafeWrap(bytes).newCodedInput();
            coded.enableAliasing(true);
            coded.setSizeLimit(Integer.MAX_VALUE);
            ModelProto model = ModelProto.parseFrom(coded);
            if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
                throw new ModelFormatException(file + ": not an ONNX model (no graph with nodes)");
            }
            return model;
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(file + ": not an ONNX model, or truncated (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** One import: walks the node chain, tracking the tensor that flows through it and its shape. */
    private static final class Importer {
        private static final ValueLayout.OfFloat F32_LE = JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final Path file;
        private final ModelProto model;
        private final GraphProto graph;
        private final Arena arena;
        private final Map<String, TensorProto> initializers = new HashMap<>();
        private final List<Layer> layers = new ArrayList<>();
        private final Map<String, Tensor> tensors = new LinkedHashMap<>();
        private final Set<String> names = new HashSet<>();
        // Tensors that hold the network's result: the last layer's output and its Identity/Dropout/Softmax
        // successors. Graph outputs must be among them (e.g. `logits` and `probs`).
        private final Set<String> results = new HashSet<>();
        private String current;              // the tensor flowing down the chain
        private long channels, height, width; // its shape per image before the flatten
        private long features = -1;           // its length per image after the flatten; -1 before
        private FlattenOrder pendingOrder;   // NHWC after a Transpose [0,2,3,1], until the flatten
        private boolean softmaxSeen;
        private int index;                   // current node's index, for messages
        private NodeProto node;

        Importer(Path file, ModelProto model, Arena arena) {
            this.file = file;
            this.model = model;
            this.graph = model.getGraph();
            this.arena = arena;
        }

        LoadedModel run() {
            checkOpset();
            for (TensorProto t : graph.getInitializerList()) initializers.put(t.getName(), t);
            InputShape input = input();
            List<NodeProto> nodes = graph.getNodeList();
            for (index = 0; index < nodes.size(); index++) {
                node = nodes.get(index);
                if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
                    throw unsupported("is in domain '" + node.getDomain() + "'; snapscore reads the default ONNX domain only");
                }
                if (node.getOutputCount() == 0 || node.getOutput(0).isEmpty()) throw unsupported("has no output");
                if (node.getOpType().equals("Constant")) {
                    constant();
                    continue;
                }
                if (softmaxSeen) throw unsupported("follows the Softmax; Softmax must be the last operation");
                if (node.getInputCount() == 0 || !node.getInput(0).equals(current)) {
                    throw unsupported("does not read the output of the previous layer ('" + current
                            + "'); snapscore runs a single chain of layers, not a branching graph");
                }
                boolean passThrough = false;
                switch (node.getOpType()) {
                    case "Conv" -> conv();
                    case "Relu" -> relu();
                    case "MaxPool" -> maxPool();
                    case "Flatten" -> flatten();
                    case "Reshape" -> reshape();
                    case "Transpose" -> transpose();
                    case "Gemm" -> gemm();
                    case "MatMul" -> matMul(nodes);
                    case "Add" -> throw unsupported("is supported only as the bias Add right after a MatMul");
                    case "Dropout" -> passThrough = dropout();
                    case "Identity" -> passThrough = true;
                    case "Softmax" -> passThrough = softmax();
                    default -> throw unsupported("is not supported; snapscore reads " + SUPPORTED);
                }
                if (!passThrough) results.clear();
                current = node.getOutput(0);
                results.add(current);
            }
            if (features < 0) throw new ModelFormatException(file + ": the graph has no Flatten/Reshape before its dense layers");
            if (layers.getLast() instanceof Layer.Flatten) {
                throw new ModelFormatException(file + ": the graph has no dense (Gemm or MatMul) layer after its flatten");
            }
            checkOutputs();
            int classes = (int) features;
            String name = graph.getName().isEmpty() ? file.getFileName().toString().replaceFirst("\\.onnx$", "") : graph.getName();
            try {
                ModelSpec spec = new ModelSpec(name, input, Preprocess.CAFFE, layers, ModelSpec.indexLabels(classes), null);
                return new LoadedModel(spec, new Weights(arena, tensors));
            } catch (ModelFormatException e) {
                throw new ModelFormatException(file + ": " + e.getMessage(), e);
            }
        }

        private void checkOpset() {
            Long version = null;
            for (OperatorSetIdProto op : model.getOpsetImportList()) {
                if (op.getDomain().isEmpty() || op.getDomain().equals("ai.onnx")) version = op.getVersion();
            }
            if (version == null) throw new ModelFormatException(file + ": the model imports no default-domain opset");
            if (version < MIN_OPSET || version > MAX_OPSET) {
                throw new ModelFormatException(file + ": opset " + version + " is not supported; snapscore reads opsets "
                        + MIN_OPSET + "–" + MAX_OPSET);
            }
        }

        private InputShape input() {
            List<ValueInfoProto> inputs = new ArrayList<>();
            for (ValueInfoProto v : graph.getInputList()) if (!initializers.containsKey(v.getName())) inputs.add(v);
            if (inputs.size() != 1) {
                throw new ModelFormatException(file + ": the graph has " + inputs.size() + " inputs; snapscore needs exactly one image input");
            }
            ValueInfoProto in = inputs.getFirst();
            current = in.getName();
            TensorShapeProto shape = in.getType().getTensorType().getShape();
            int elemType = in.getType().getTensorType().getElemType();
            if (elemType != TensorProto.DataType.FLOAT_VALUE) {
                throw new ModelFormatException(file + ": input '" + current + "' has element type " + elemType + "; snapscore needs float (1)");
            }
            if (shape.getDimCount() != 4) {
                throw new ModelFormatException(file + ": input '" + current + "' has " + shape.getDimCount()
                        + " dimensions; snapscore needs [batch, channels, height, width]");
            }
            int[] chw = new int[3];
            for (int i = 1; i < 4; i++) {
                var d = shape.getDim(i);
                if (!d.hasDimValue() || d.getDimValue() < 1 || d.getDimValue() > Integer.MAX_VALUE) {
                    throw new ModelFormatException(file + ": input '" + current + "' dimension " + i + " must be a fixed size, got "
                            + (d.hasDimParam() ? "'" + d.getDimParam() + "'" : d.getDimValue()));
                }
                chw[i - 1] = (int) d.getDimValue();
            }
            channels = chw[0];
            height = chw[1];
            width = chw[2];
            return new InputShape(chw[0], chw[1], chw[2]);
        }

        /** Every graph output must be the result (logits, or probabilities after the Softmax), not an inner tensor. */
        private void checkOutputs() {
            for (ValueInfoProto out : graph.getOutputList()) {
                if (!results.contains(out.getName())) {
                    throw new ModelFormatException(file + ": graph output '" + out.getName() + "' is an intermediate tensor; "
                            + "snapscore computes only the last layer's output (" + String.join(", ", results) + ")");
                }
            }
        }

        private void constant() {
            TensorProto value = null;
            for (AttributeProto a : node.getAttributeList()) {
                if (a.getName().equals("value")) {
                    value = a.getT();
                } else if (a.getName().equals("value_ints")) {
                    value = TensorProto.newBuilder().setDataType(TensorProto.DataType.INT64_VALUE)
                            .addDims(a.getIntsCount()).addAllInt64Data(a.getIntsList()).build();
                }
            }
            if (value == null) throw unsupported("has no 'value' or 'value_ints'; snapscore reads tensor constants only");
            initializers.put(node.getOutput(0), value);
        }

        private void conv() {
            Map<String, AttributeProto> attrs = attributes();
            requireInts(attrs, "dilations", 1, "dilations other than 1");
            if (attrs.containsKey("group") && attrs.get("group").getI() != 1) {
                throw unsupported("has group " + attrs.get("group").getI() + "; snapscore supports group 1 only");
            }
            requireNoAutoPad(attrs);
            if (features >= 0) throw unsupported("comes after the flatten");
            TensorProto w = initializer(1, "weights");
            long[] dims = dims(w);
            if (dims.length != 4) throw unsupported("has weights of rank " + dims.length + "; expected [out, in, kh, kw]");
            if (dims[1] != channels) {
                throw unsupported("has weights " + Arrays.toString(dims) + " for " + dims[1] + " input channels; its input has " + channels);
            }
            long[] kernel = ints(attrs, "kernel_shape", new long[] {dims[2], dims[3]});
            if (!Arrays.equals(kernel, new long[] {dims[2], dims[3]})) {
                throw unsupported("kernel_shape " + Arrays.toString(kernel) + " disagrees with weights " + Arrays.toString(dims));
            }
            Window window = window(kernel, attrs);
            int out = checkedInt(dims[0], "output channels");
            String name = layerName(w.getName());
            layers.add(new Layer.Conv(name, out, window, Activation.NONE));
            tensors.put(name + ".weight", copy(name + ".weight", w, dims, false));
            tensors.put(name + ".bias", bias(name, 2, out));
            channels = out;
        }

        private void relu() {
            Layer last = layers.isEmpty() ? null : layers.getLast();
            if (last instanceof Layer.Conv c && c.activation() == Activation.NONE) {
                layers.set(layers.size() - 1, new Layer.Conv(c.name(), c.out(), c.window(), Activation.RELU));
            } else if (last instanceof Layer.Dense d && d.activation() == Activation.NONE) {
                layers.set(layers.size() - 1, new Layer.Dense(d.name(), d.out(), Activation.RELU));
            } else {
                throw unsupported("does not follow a Conv, Gemm or MatMul; snapscore fuses ReLU into the layer before it");
            }
        }

        private void maxPool() {
            Map<String, AttributeProto> attrs = attributes();
            if (node.getOutputCount() > 1 && !node.getOutput(1).isEmpty()) throw unsupported("outputs indices; snapscore does not");
            if (attrs.containsKey("ceil_mode") && attrs.get("ceil_mode").getI() != 0) throw unsupported("uses ceil_mode 1; snapscore supports 0");
            if (attrs.containsKey("storage_order") && attrs.get("storage_order").getI() != 0) throw unsupported("uses storage_order 1; snapscore supports 0");
            requireInts(attrs, "dilations", 1, "dilations other than 1");
            requireNoAutoPad(attrs);
            if (features >= 0) throw unsupported("comes after the flatten");
            if (!attrs.containsKey("kernel_shape")) throw unsupported("has no kernel_shape");
            layers.add(new Layer.MaxPool(window(ints(attrs, "kernel_shape", null), attrs)));
        }

        /** The 2-D window of a Conv or MaxPool; also moves the tracked height and width past it. */
        private Window window(long[] kernel, Map<String, AttributeProto> attrs) {
            long[] strides = ints(attrs, "strides", new long[] {1, 1});
            long[] pads = ints(attrs, "pads", new long[] {0, 0, 0, 0});
            if (kernel.length != 2 || strides.length != 2 || pads.length != 4) {
                throw unsupported("is not 2-D (kernel_shape " + Arrays.toString(kernel) + ", strides "
                        + Arrays.toString(strides) + ", pads " + Arrays.toString(pads) + ")");
            }
            Window window;
            try {
                // ONNX pads are [top, left, bottom, right].
                window = new Window(checkedInt(kernel[0], "kernel"), checkedInt(kernel[1], "kernel"),
                        checkedInt(strides[0], "stride"), checkedInt(strides[1], "stride"),
                        checkedInt(pads[0], "pad"), checkedInt(pads[1], "pad"), checkedInt(pads[2], "pad"), checkedInt(pads[3], "pad"));
            } catch (IllegalArgumentException e) {
                throw unsupported(e.getMessage());
            }
            int outH = window.outHeight((int) height), outW = window.outWidth((int) width);
            if (outH < 1 || outW < 1) throw unsupported("has a window that does not fit its " + height + "x" + width + " input");
            height = outH;
            width = outW;
            return window;
        }

        private void requireNoAutoPad(Map<String, AttributeProto> attrs) {
            if (attrs.containsKey("auto_pad") && !attrs.get("auto_pad").getS().toStringUtf8().equals("NOTSET")) {
                throw unsupported("uses auto_pad " + attrs.get("auto_pad").getS().toStringUtf8() + "; snapscore needs explicit pads");
            }
        }

        private void flatten() {
            Map<String, AttributeProto> attrs = attributes();
            long axis = attrs.containsKey("axis") ? attrs.get("axis").getI() : 1;
            if (axis != 1) throw unsupported("has axis " + axis + "; snapscore flattens at axis 1");
            addFlatten();
        }

        /** A Reshape is a flatten when it makes [batch, features]: [N or 0 or -1, -1 or the feature count]. */
        private void reshape() {
            long[] dims = int64s(initializer(1, "shape"));
            Map<String, AttributeProto> attrs = attributes();
            boolean allowZero = attrs.containsKey("allowzero") && attrs.get("allowzero").getI() != 0;
            long flat = channels * height * width;
            boolean batchOk = dims.length == 2 && (dims[0] == -1 || dims[0] > 0 || dims[0] == 0 && !allowZero);
            boolean featuresOk = dims.length == 2 && (dims[1] == -1 && dims[0] != -1 || dims[1] == flat);
            if (!batchOk || !featuresOk) {
                throw unsupported("reshapes to " + Arrays.toString(dims) + (allowZero ? " with allowzero 1" : "")
                        + "; snapscore supports only a flatten to [batch, -1] or [batch, " + flat + "]");
            }
            addFlatten();
        }

        private void addFlatten() {
            if (features >= 0) throw unsupported("is a second flatten");
            layers.add(new Layer.Flatten(pendingOrder != null ? pendingOrder : FlattenOrder.NCHW));
            pendingOrder = null;
            features = channels * height * width;
        }

        private void transpose() {
            long[] perm = ints(attributes(), "perm", null);
            if (features >= 0 || pendingOrder != null || perm == null || !Arrays.equals(perm, new long[] {0, 2, 3, 1})) {
                throw unsupported("with perm " + Arrays.toString(perm) + " is not supported; snapscore reads only one "
                        + "[0, 2, 3, 1] Transpose right before the flatten (Keras' channels-last flatten order)");
            }
            pendingOrder = FlattenOrder.NHWC;
        }

        private void gemm() {
            Map<String, AttributeProto> attrs = attributes();
            requireFloat(attrs, "alpha");
            requireFloat(attrs, "beta");
            if (attrs.containsKey("transA") && attrs.get("transA").getI() != 0) throw unsupported("has transA 1; snapscore supports 0");
            boolean transB = attrs.containsKey("transB") && attrs.get("transB").getI() != 0;
            TensorProto w = initializer(1, "weights");
            checkDenseInput(w, !transB);
            dense(layerName(w.getName()), w, !transB, node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? 2 : -1);
        }

        private void matMul(List<NodeProto> nodes) {
            TensorProto w = initializer(1, "weights");
            checkDenseInput(w, true);
            String name = layerName(w.getName());
            String product = node.getOutput(0);
            // A bias Add right after, reading this MatMul's output, belongs to the same dense layer.
            NodeProto next = index + 1 < nodes.size() ? nodes.get(index + 1) : null;
            if (next != null && next.getOpType().equals("Add") && next.getInputCount() == 2 && next.getInputList().contains(product)) {
                node = next;
                index++;
                if (node.getOutputCount() == 0 || node.getOutput(0).isEmpty()) throw unsupported("has no output");
                dense(name, w, true, node.getInput(0).equals(product) ? 1 : 0);
            } else {
                dense(name, w, true, -1);
            }
        }

        private void checkDenseInput(TensorProto w, boolean transposed) {
            long[] dims = dims(w);
            if (dims.length != 2) throw unsupported("has weights of rank " + dims.length + "; expected a matrix");
            if (features < 0) throw unsupported("is a dense layer before any Flatten");
            long in = transposed ? dims[0] : dims[1];
            if (in != features) {
                throw unsupported("has weights " + Arrays.toString(dims) + " for " + in + " inputs; its input has " + features + " features");
            }
        }

        /**
         * A dense layer from a 2-D weight initializer ([in, out] when {@code transposed}), already checked against its
         * input, and an optional bias input of the current node.
         */
        private void dense(String name, TensorProto w, boolean transposed, int biasInput) {
            long[] dims = dims(w);
            int out = checkedInt(transposed ? dims[1] : dims[0], "outputs");
            layers.add(new Layer.Dense(name, out, Activation.NONE));
            tensors.put(name + ".weight", copy(name + ".weight", w, new long[] {out, features}, transposed));
            tensors.put(name + ".bias", biasInput < 0 ? zeros(name + ".bias", out) : bias(name, biasInput, out));
            features = out;
        }

        /** Recorded as a Dropout layer (identity at inference) with its ratio when the model gives one. */
        private boolean dropout() {
            float rate = 0.5f;
            Map<String, AttributeProto> attrs = attributes();
            if (attrs.containsKey("ratio")) rate = attrs.get("ratio").getF();
            if (node.getInputCount() > 1 && initializers.containsKey(node.getInput(1))) {
                float[] v = floats(initializers.get(node.getInput(1)));
                if (v.length == 1) rate = v[0];
            }
            layers.add(new Layer.Dropout(rate));
            return true;
        }

        private boolean softmax() {
            Map<String, AttributeProto> attrs = attributes();
            long axis = attrs.containsKey("axis") ? attrs.get("axis").getI() : -1;
            if (axis != -1 && axis != 1) throw unsupported("has axis " + axis + "; snapscore's softmax is over the classes (axis 1 or -1)");
            Layer last = null;
            for (int i = layers.size() - 1; i >= 0 && last == null; i--) {
                if (!(layers.get(i) instanceof Layer.Dropout)) last = layers.get(i);
            }
            if (!(last instanceof Layer.Dense d) || d.activation() != Activation.NONE) {
                throw unsupported("does not follow a dense layer without activation");
            }
            layers.set(layers.indexOf(d), new Layer.Dense(d.name(), d.out(), Activation.SOFTMAX));
            softmaxSeen = true;
            return true;
        }

        // --- tensors -------------------------------------------------------------------------------

        private TensorProto initializer(int input, String role) {
            if (node.getInputCount() <= input || node.getInput(input).isEmpty()) throw unsupported("has no " + role + " input");
            TensorProto t = initializers.get(node.getInput(input));
            if (t == null) {
                throw unsupported("reads its " + role + " from '" + node.getInput(input)
                        + "', which is not an initializer or Constant; snapscore needs constant " + role);
            }
            return t;
        }

        private long[] dims(TensorProto t) {
            long[] dims = new long[t.getDimsCount()];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = t.getDims(i);
                if (dims[i] < 0) throw unsupported("uses initializer '" + t.getName() + "' with a negative dimension " + t.getDimsList());
            }
            return dims;
        }

        private Tensor bias(String layer, int input, int out) {
            if (node.getInputCount() <= input || node.getInput(input).isEmpty()) return zeros(layer + ".bias", out);
            TensorProto b = initializer(input, "bias");
            long[] dims = dims(b);
            long n = 1;
            for (long d : dims) n = Math.multiplyExact(n, d);
            if (n != out || dims.length > 2 || dims.length == 2 && dims[0] != 1) {
                throw unsupported("has a bias of shape " + Arrays.toString(dims) + " for " + out + " outputs; expected [" + out + "]");
            }
            return copy(layer + ".bias", b, new long[] {out}, false);
        }

        private Tensor zeros(String name, int n) {
            return new Tensor(name, new long[] {n}, arena.allocate((long) n * Float.BYTES, 64));
        }

        /**
         * Copies an f32 initializer into native memory as {@code shape} (same element count), transposing a 2-D
         * [in, out] source to [out, in] if asked. Raw data is copied straight from the file mapping.
         */
        private Tensor copy(String name, TensorProto t, long[] shape, boolean transpose) {
            MemorySegment src = f32Data(t);
            long count = Tensor.elementCount(shape);
            if (src.byteSize() != count * Float.BYTES) {
                throw unsupported("initializer '" + t.getName() + "' holds " + src.byteSize() / Float.BYTES + " values, its use needs " + count);
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
            return new Tensor(name, shape, dst);
        }

        /** The little-endian f32 bytes of an initializer, checked against its dims: a view of raw_data, or float_data packed. */
        private MemorySegment f32Data(TensorProto t) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
                throw unsupported("uses initializer '" + t.getName() + "' stored in an external file; snapscore reads "
                        + "weights embedded in the .onnx file");
            }
            if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
                throw unsupported("uses initializer '" + t.getName() + "' of data type " + t.getDataType() + "; snapscore reads float (1) weights");
            }
            long n = 1;
            for (long d : dims(t)) n = Math.multiplyExact(n, d);
            if (t.hasRawData()) {
                ByteString raw = t.getRawData();
                if (raw.size() != n * Float.BYTES) {
                    throw unsupported("initializer '" + t.getName() + "' has " + raw.size() + " bytes of data for dims "
                            + t.getDimsList() + " (" + n * Float.BYTES + " expected)");
                }
                return MemorySegment.ofBuffer(raw.asReadOnlyByteBuffer());
            }
            if (t.getFloatDataCount() != n) {
                throw unsupported("initializer '" + t.getName() + "' has " + t.getFloatDataCount() + " values for dims " + t.getDimsList());
            }
            MemorySegment packed = MemorySegment.ofArray(new float[(int) n]);
            for (int i = 0; i < n; i++) packed.setAtIndex(F32_LE, i, t.getFloatData(i));
            return packed;
        }

        private float[] floats(TensorProto t) {
            return f32Data(t).toArray(F32_LE);
        }

        private long[] int64s(TensorProto t) {
            if (t.getDataType() != TensorProto.DataType.INT64_VALUE) throw unsupported("has a shape of data type " + t.getDataType() + "; expected int64 (7)");
            if (t.hasRawData()) {
                if (t.getRawData().size() % Long.BYTES != 0) throw unsupported("has a shape of " + t.getRawData().size() + " bytes");
                return MemorySegment.ofBuffer(t.getRawData().asReadOnlyByteBuffer()).toArray(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            }
            return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }

        private int checkedInt(long value, String what) {
            if (value < 0 || value > Integer.MAX_VALUE) throw unsupported("has " + what + " " + value + " out of range");
            return (int) value;
        }

        // --- attributes ----------------------------------------------------------------------------

        private Map<String, AttributeProto> attributes() {
            Map<String, AttributeProto> m = new HashMap<>();
            for (AttributeProto a : node.getAttributeList()) m.put(a.getName(), a);
            return m;
        }

        private static long[] ints(Map<String, AttributeProto> attrs, String name, long[] fallback) {
            AttributeProto a = attrs.get(name);
            return a == null ? fallback : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
        }

        private void requireInts(Map<String, AttributeProto> attrs, String name, long value, String what) {
            long[] v = ints(attrs, name, null);
            if (v != null) for (long x : v) if (x != value) throw unsupported("uses " + what + " (" + name + " " + Arrays.toString(v) + ")");
        }

        private void requireFloat(Map<String, AttributeProto> attrs, String name) {
            if (attrs.containsKey(name) && attrs.get(name).getF() != 1.0f) {
                throw unsupported("has " + name + " " + attrs.get(name).getF() + "; snapscore supports 1.0");
            }
        }

        private String layerName(String weightName) {
            String base = weightName.endsWith(".weight") ? weightName.substring(0, weightName.length() - ".weight".length())
                    : !node.getName().isEmpty() ? node.getName() : node.getOpType().toLowerCase() + index;
            String name = base;
            for (int i = 2; !names.add(name); i++) name = base + "_" + i;
            return name;
        }

        private ModelFormatException unsupported(String what) {
            return new ModelFormatException(file + ": node " + index + " '" + node.getName() + "' (op " + node.getOpType() + ") " + what);
        }
    }
}
