package dev.snapscore.engine.format;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
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
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

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
     * Parses {@code onnxFile}; weights are copied into native memory owned by the returned model.
     *
     * @throws ModelFormatException naming the node, its op and what is supported, for anything snapscore
     *                              cannot run; or for a file that is missing or not ONNX
     */
    public static LoadedModel read(Path onnxFile) {
        ModelProto model = parse(onnxFile);
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

    private static ModelProto parse(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException("no such ONNX file: " + file);
        try (InputStream in = Files.newInputStream(file)) {
            CodedInputStream coded = CodedInputStream.newInstance(in, 1 << 20);
            coded.setSizeLimit(Integer.MAX_VALUE); // a full VGG16 is ~553 MB of initializers
            ModelProto model = ModelProto.parseFrom(coded);
            if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
                throw new ModelFormatException(file + ": not an ONNX model (no graph" + (Files.size(file) == 0 ? "; the file is empty)" : ")"));
            }
            return model;
        } catch (InvalidProtocolBufferException e) {
            throw new ModelFormatException(file + ": not an ONNX model, or truncated (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** One import: walks the node chain, tracking the tensor that flows through it. */
    private static final class Importer {
        private final Path file;
        private final ModelProto model;
        private final GraphProto graph;
        private final Arena arena;
        private final Map<String, TensorProto> initializers = new HashMap<>();
        private final List<Layer> layers = new ArrayList<>();
        private final Map<String, Tensor> tensors = new LinkedHashMap<>();
        private final Set<String> names = new HashSet<>();
        private String current;              // the tensor flowing down the chain
        private FlattenOrder pendingOrder;   // NHWC after a Transpose [0,2,3,1], until the flatten
        private boolean flattened;
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
                if (node.getOpType().equals("Constant")) {
                    constant();
                    continue;
                }
                if (softmaxSeen) throw unsupported("follows the Softmax; Softmax must be the last operation");
                if (node.getInputCount() == 0 || !node.getInput(0).equals(current)) {
                    throw unsupported("does not read the output of the previous layer ('" + current
                            + "'); snapscore runs a single chain of layers, not a branching graph");
                }
                switch (node.getOpType()) {
                    case "Conv" -> conv();
                    case "Relu" -> relu();
                    case "MaxPool" -> maxPool();
                    case "Flatten" -> flatten();
                    case "Reshape" -> reshape();
                    case "Transpose" -> transpose();
                    case "Gemm" -> gemm();
                    case "MatMul" -> matMul(nodes);
                    case "Dropout" -> dropout();
                    case "Identity" -> { }
                    case "Softmax" -> softmax();
                    default -> throw unsupported("is not supported; snapscore reads " + SUPPORTED);
                }
                current = node.getOutput(0);
            }
            if (!flattened) throw new ModelFormatException(file + ": the graph has no Flatten/Reshape before its dense layers");
            int classes = 0;
            for (Layer l : layers) if (l instanceof Layer.Dense d) classes = d.out();
            if (classes == 0) throw new ModelFormatException(file + ": the graph has no dense (Gemm or MatMul) layer");
            String name = graph.getName().isEmpty() ? file.getFileName().toString().replaceFirst("\\.onnx$", "") : graph.getName();
            ModelSpec spec = new ModelSpec(name, input, Preprocess.CAFFE, layers, ModelSpec.indexLabels(classes), null);
            try {
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
                throw new ModelFormatException(file + ": input '" + current + "' has element type " + elemType + "; snapscore needs float");
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
            return new InputShape(chw[0], chw[1], chw[2]);
        }

        private void constant() {
            TensorProto value = null;
            for (AttributeProto a : node.getAttributeList()) if (a.getName().equals("value")) value = a.getT();
            if (value == null) throw unsupported("has no tensor 'value'; snapscore reads tensor constants only");
            initializers.put(node.getOutput(0), value);
        }

        private void conv() {
            Map<String, AttributeProto> attrs = attributes();
            requireInts(attrs, "dilations", 1, "dilations other than 1");
            if (attrs.containsKey("group") && attrs.get("group").getI() != 1) {
                throw unsupported("has group " + attrs.get("group").getI() + "; snapscore supports group 1 only");
            }
            if (attrs.containsKey("auto_pad") && !attrs.get("auto_pad").getS().toStringUtf8().equals("NOTSET")) {
                throw unsupported("uses auto_pad " + attrs.get("auto_pad").getS().toStringUtf8() + "; give explicit pads");
            }
            TensorProto w = initializer(1, "weights");
            if (w.getDimsCount() != 4) throw unsupported("has weights of rank " + w.getDimsCount() + "; expected [out, in, kh, kw]");
            int out = (int) w.getDims(0), kh = (int) w.getDims(2), kw = (int) w.getDims(3);
            long[] kernel = ints(attrs, "kernel_shape", new long[] {kh, kw});
            if (kernel.length != 2 || kernel[0] != kh || kernel[1] != kw) {
                throw unsupported("kernel_shape " + Arrays.toString(kernel) + " disagrees with weights " + w.getDimsList());
            }
            Window window = window(attrs);
            String name = layerName(w.getName());
            layers.add(new Layer.Conv(name, out, window, Activation.NONE));
            tensors.put(name + ".weight", copy(name + ".weight", w, w.getDimsList().stream().mapToLong(Long::longValue).toArray(), false));
            tensors.put(name + ".bias", bias(name, 2, out));
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
            if (attrs.containsKey("storage_order") && attrs.get("storage_order").getI() != 0) throw unsupported("uses storage_order 1");
            requireInts(attrs, "dilations", 1, "dilations other than 1");
            if (attrs.containsKey("auto_pad") && !attrs.get("auto_pad").getS().toStringUtf8().equals("NOTSET")) {
                throw unsupported("uses auto_pad " + attrs.get("auto_pad").getS().toStringUtf8() + "; give explicit pads");
            }
            if (!attrs.containsKey("kernel_shape")) throw unsupported("has no kernel_shape");
            layers.add(new Layer.MaxPool(window(attrs)));
        }

        private Window window(Map<String, AttributeProto> attrs) {
            long[] k = attrs.containsKey("kernel_shape") ? ints(attrs, "kernel_shape", null) : null;
            long[] kernel = k != null ? k : new long[] {initializerDims(1)[2], initializerDims(1)[3]};
            long[] strides = ints(attrs, "strides", new long[] {1, 1});
            long[] pads = ints(attrs, "pads", new long[] {0, 0, 0, 0});
            if (kernel.length != 2 || strides.length != 2 || pads.length != 4) {
                throw unsupported("is not 2-D (kernel_shape " + Arrays.toString(kernel) + ", strides "
                        + Arrays.toString(strides) + ", pads " + Arrays.toString(pads) + ")");
            }
            try {
                // ONNX pads are [top, left, bottom, right].
                return new Window((int) kernel[0], (int) kernel[1], (int) strides[0], (int) strides[1],
                        (int) pads[0], (int) pads[1], (int) pads[2], (int) pads[3]);
            } catch (IllegalArgumentException e) {
                throw unsupported(e.getMessage());
            }
        }

        private void flatten() {
            Map<String, AttributeProto> attrs = attributes();
            long axis = attrs.containsKey("axis") ? attrs.get("axis").getI() : 1;
            if (axis != 1) throw unsupported("has axis " + axis + "; snapscore flattens at axis 1");
            addFlatten();
        }

        private void reshape() {
            TensorProto shape = initializer(1, "shape");
            long[] dims = int64s(shape);
            if (dims.length != 2 || !(dims[1] == -1 || dims[1] > 0)) {
                throw unsupported("reshapes to " + Arrays.toString(dims) + "; snapscore supports only a flatten to [batch, -1]");
            }
            addFlatten();
        }

        private void addFlatten() {
            if (flattened) throw unsupported("is a second flatten");
            layers.add(new Layer.Flatten(pendingOrder != null ? pendingOrder : FlattenOrder.NCHW));
            pendingOrder = null;
            flattened = true;
        }

        private void transpose() {
            long[] perm = ints(attributes(), "perm", null);
            if (flattened || perm == null || !Arrays.equals(perm, new long[] {0, 2, 3, 1})) {
                throw unsupported("with perm " + Arrays.toString(perm) + " is not supported; snapscore reads only the "
                        + "[0, 2, 3, 1] Transpose right before a Flatten (Keras' channels-last flatten order)");
            }
            pendingOrder = FlattenOrder.NHWC;
        }

        private void gemm() {
            Map<String, AttributeProto> attrs = attributes();
            requireFloat(attrs, "alpha");
            requireFloat(attrs, "beta");
            if (attrs.containsKey("transA") && attrs.get("transA").getI() != 0) throw unsupported("has transA 1");
            boolean transB = attrs.containsKey("transB") && attrs.get("transB").getI() != 0;
            TensorProto b = initializer(1, "weights");
            if (b.getDimsCount() != 2) throw unsupported("has weights of rank " + b.getDimsCount());
            dense(b, !transB, node.getInputCount() > 2 && !node.getInput(2).isEmpty() ? 2 : -1, node);
        }

        private void matMul(List<NodeProto> nodes) {
            TensorProto b = initializer(1, "weights");
            if (b.getDimsCount() != 2) throw unsupported("has weights of rank " + b.getDimsCount());
            NodeProto matmul = node;
            // A bias Add right after, reading this MatMul's output, belongs to the same dense layer.
            if (index + 1 < nodes.size() && nodes.get(index + 1).getOpType().equals("Add")
                    && nodes.get(index + 1).getInputList().contains(matmul.getOutput(0))) {
                NodeProto add = nodes.get(++index);
                int biasInput = add.getInput(0).equals(matmul.getOutput(0)) ? 1 : 0;
                node = add;
                dense(b, true, biasInput, matmul);
            } else {
                dense(b, true, -1, matmul);
            }
        }

        /** A dense layer from a 2-D weight initializer ([in, out] when {@code transposed}) and an optional bias input. */
        private void dense(TensorProto w, boolean transposed, int biasInput, NodeProto weightsNode) {
            if (!flattened) throw unsupported("is a dense layer before any Flatten");
            long rows = w.getDims(0), cols = w.getDims(1);
            int out = (int) (transposed ? cols : rows);
            long in = transposed ? rows : cols;
            String name = layerName(w.getName());
            layers.add(new Layer.Dense(name, out, Activation.NONE));
            tensors.put(name + ".weight", copy(name + ".weight", w, new long[] {out, in}, transposed));
            tensors.put(name + ".bias", biasInput < 0 ? zeros(name + ".bias", out) : bias(name, biasInput, out));
        }

        private void dropout() {
            float rate = 0.5f;
            Map<String, AttributeProto> attrs = attributes();
            if (attrs.containsKey("ratio")) rate = attrs.get("ratio").getF();
            if (node.getInputCount() > 1 && initializers.containsKey(node.getInput(1))) {
                TensorProto r = initializers.get(node.getInput(1));
                float[] v = floats(r);
                if (v.length == 1) rate = v[0];
            }
            layers.add(new Layer.Dropout(rate));
        }

        private void softmax() {
            Map<String, AttributeProto> attrs = attributes();
            long axis = attrs.containsKey("axis") ? attrs.get("axis").getI() : -1;
            if (axis != -1 && axis != 1) throw unsupported("has axis " + axis + "; snapscore's softmax is over the classes (axis 1 or -1)");
            Layer last = null;
            for (int i = layers.size() - 1; i >= 0 && last == null; i--) {
                if (!(layers.get(i) instanceof Layer.Dropout)) last = layers.get(i);
            }
            if (!(last instanceof Layer.Dense d) || d.activation() != Activation.NONE) {
                throw unsupported("does not follow a linear dense layer");
            }
            layers.set(layers.indexOf(d), new Layer.Dense(d.name(), d.out(), Activation.SOFTMAX));
            softmaxSeen = true;
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

        private long[] initializerDims(int input) {
            return initializer(input, "weights").getDimsList().stream().mapToLong(Long::longValue).toArray();
        }

        private Tensor bias(String layer, int input, int out) {
            if (node.getInputCount() <= input || node.getInput(input).isEmpty()) return zeros(layer + ".bias", out);
            TensorProto b = initializer(input, "bias");
            long n = b.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (x, y) -> x * y);
            if (n != out) throw unsupported("has a bias of " + n + " values for " + out + " outputs");
            return copy(layer + ".bias", b, new long[] {out}, false);
        }

        private Tensor zeros(String name, int n) {
            return new Tensor(name, new long[] {n}, arena.allocate((long) n * Float.BYTES, 64));
        }

        /** Copies an f32 initializer into native memory as {@code shape}, transposing a 2-D one if asked. */
        private Tensor copy(String name, TensorProto t, long[] shape, boolean transpose) {
            float[] values = floats(t);
            long expected = Tensor.elementCount(shape);
            if (values.length != expected) {
                throw unsupported("initializer '" + t.getName() + "' holds " + values.length + " values, its use needs " + expected);
            }
            MemorySegment seg = arena.allocate(expected * Float.BYTES, 64);
            if (transpose) {
                int out = (int) shape[0], in = (int) shape[1]; // source is [in, out]
                for (int i = 0; i < in; i++) {
                    for (int o = 0; o < out; o++) seg.setAtIndex(JAVA_FLOAT_UNALIGNED, (long) o * in + i, values[i * out + o]);
                }
            } else {
                MemorySegment.copy(values, 0, seg, JAVA_FLOAT_UNALIGNED, 0, values.length);
            }
            return new Tensor(name, shape, seg);
        }

        private float[] floats(TensorProto t) {
            if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
                throw unsupported("uses initializer '" + t.getName() + "' stored in an external file; snapscore reads "
                        + "weights embedded in the .onnx file");
            }
            if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
                throw unsupported("uses initializer '" + t.getName() + "' of data type " + t.getDataType() + "; snapscore reads float (1) weights");
            }
            long n = 1;
            for (long d : t.getDimsList()) n = Math.multiplyExact(n, d);
            if (t.hasRawData()) {
                ByteString raw = t.getRawData();
                if (raw.size() != n * Float.BYTES) {
                    throw unsupported("initializer '" + t.getName() + "' has " + raw.size() + " bytes of data for dims "
                            + t.getDimsList() + " (" + n * Float.BYTES + " expected)");
                }
                float[] v = new float[(int) n];
                raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
                return v;
            }
            if (t.getFloatDataCount() != n) {
                throw unsupported("initializer '" + t.getName() + "' has " + t.getFloatDataCount() + " values for dims " + t.getDimsList());
            }
            float[] v = new float[(int) n];
            for (int i = 0; i < n; i++) v[i] = t.getFloatData(i);
            return v;
        }

        private long[] int64s(TensorProto t) {
            if (t.getDataType() != TensorProto.DataType.INT64_VALUE) throw unsupported("has a non-int64 shape tensor");
            if (t.hasRawData()) {
                long[] v = new long[t.getRawData().size() / 8];
                t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(v);
                return v;
            }
            return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
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
            String base = weightName.endsWith(".weight") ? weightName.substring(0, weightName.length() - 7)
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
