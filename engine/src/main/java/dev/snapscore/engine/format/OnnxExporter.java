package dev.snapscore.engine.format;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.GraphProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.NodeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.OperatorSetIdProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorShapeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TypeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ValueInfoProto;
import dev.snapscore.engine.spec.Activation;
import dev.snapscore.engine.spec.ElementType;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Quantization;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

/**
 * Writes a spec and its weights as an opset-17 ONNX model with input {@code input} [batch, C, H, W] (an NHWC
 * spec: [batch, H, W, C], then a Transpose, as tf2onnx writes Keras models) and outputs {@code logits} and {@code probs}: the same network for ONNX Runtime and other peers.
 *
 * <p>An int8 spec is written in ONNX's QDQ form: every quantised activation passes through a
 * QuantizeLinear/DequantizeLinear pair with its scale, weights are int8 initializers behind a per-channel
 * DequantizeLinear, biases int32 at scale input × weight. ONNX Runtime fuses these into its own int8
 * kernels (QLinearConv and friends), so it runs the same quantised network as the engine.
 */
public final class OnnxExporter {
    static final int OPSET = 17;
    static final int IR_VERSION = 8;
    // A protobuf message is at most 2 GiB; leave room for the graph around the weights.
    private static final long MAX_WEIGHT_BYTES = Integer.MAX_VALUE - (64L << 20);

    private OnnxExporter() {
    }

    /**
     * Writes {@code spec} with {@code weights} to {@code onnxFile}, atomically: a temporary file beside it is
     * moved into place, so readers see the old file or the whole new one. Weight bytes are streamed from
     * their native memory, not copied onto the heap.
     *
     * @throws ModelFormatException     if the weights do not match the spec (missing tensor, wrong shape)
     * @throws IllegalArgumentException if the weights exceed protobuf's 2 GB message limit
     * @throws IOException              if the file cannot be written
     */
    public static void write(Path onnxFile, ModelSpec spec, Weights weights) throws IOException {
        spec.checkWeights(weights);
        long bytes = 0;
        for (Tensor.ShapeRequirement r : spec.weightShapes()) bytes += Tensor.elementCount(r.shape()) * r.type().bytes;
        if (bytes > MAX_WEIGHT_BYTES) {
            throw new IllegalArgumentException(spec.name() + ": " + bytes + " bytes of weights do not fit one ONNX file "
                    + "(protobuf's 2 GB limit)");
        }
        GraphProto.Builder graph = GraphProto.newBuilder().setName(spec.name());
        var in = spec.input();
        String current = "input";
        if (in.layout() == InputLayout.NHWC) {
            // tf2onnx's shape: a channels-last input, transposed to NCHW before the first convolution.
            graph.addInput(valueInfo("input", "batch", in.height(), in.width(), in.channels()));
            graph.addNode(node("Transpose", "to_nchw", "nchw", current).addAttribute(ints("perm", 0, 3, 1, 2)));
            current = "nchw";
        } else {
            graph.addInput(valueInfo("input", "batch", in.channels(), in.height(), in.width()));
        }
        Quantization q = spec.quantization();
        if (q != null) current = qdq(graph, current, q.input());
        Quantization.Encoding encoding = q == null ? Quantization.Encoding.F32 : q.input();
        Layer.Dense last = null;
        for (Layer l : spec.layers()) if (l instanceof Layer.Dense d) last = d;
        int n = 0;
        for (Layer layer : spec.layers()) {
            switch (layer) {
                case Layer.Conv c -> {
                    String[] wb = weightAndBias(graph, spec, weights, c.name(), c.weightName(), c.biasName(), encoding);
                    String out = c.name() + ".out";
                    graph.addNode(node("Conv", c.name(), out, current, wb[0], wb[1])
                            .addAllAttribute(windowAttributes(c.window(), true)));
                    current = c.activation() == Activation.RELU ? relu(graph, out, out + ".relu") : out;
                    if (spec.isQuantised(c.name())) {
                        encoding = q.layers().get(c.name());
                        current = qdq(graph, current, encoding);
                    } else {
                        encoding = Quantization.Encoding.F32;
                    }
                }
                case Layer.MaxPool p -> {
                    String out = "pool" + n++;
                    graph.addNode(node("MaxPool", out, out, current).addAllAttribute(windowAttributes(p.window(), false)));
                    current = qdq(graph, out, encoding);
                }
                case Layer.GlobalAveragePool g -> {
                    String out = "gap" + n++;
                    graph.addNode(node("GlobalAveragePool", out, out, current));
                    current = qdq(graph, out, encoding);
                }
                case Layer.Flatten f -> {
                    if (f.order() == FlattenOrder.NHWC) {
                        graph.addNode(node("Transpose", "to_nhwc", "nhwc", current).addAttribute(ints("perm", 0, 2, 3, 1)));
                        current = "nhwc";
                    }
                    graph.addNode(node("Flatten", "flatten", "flat", current).addAttribute(integer("axis", 1)));
                    current = qdq(graph, "flat", encoding);
                }
                case Layer.Dense d -> {
                    String[] wb = weightAndBias(graph, spec, weights, d.name(), d.weightName(), d.biasName(), encoding);
                    // The last layer's output is `logits`, after its ReLU if it has one, as the engine computes it.
                    boolean relu = d.activation() == Activation.RELU;
                    String out = d == last && !relu ? "logits" : d.name() + ".out";
                    graph.addNode(node("Gemm", d.name(), out, current, wb[0], wb[1])
                            .addAttribute(integer("transB", 1)));
                    current = relu ? relu(graph, out, d == last ? "logits" : out + ".relu") : out;
                    if (spec.isQuantised(d.name()) && d != last) {
                        encoding = q.layers().get(d.name());
                        current = qdq(graph, current, encoding);
                    } else {
                        encoding = Quantization.Encoding.F32;
                    }
                }
                case Layer.Dropout d -> { } // identity at inference
            }
        }
        graph.addNode(node("Softmax", "softmax", "probs", current).addAttribute(integer("axis", 1)));
        graph.addOutput(valueInfo("logits", "batch", spec.classes()));
        graph.addOutput(valueInfo("probs", "batch", spec.classes()));
        ModelProto model = ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("snapscore")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(graph)
                .build();
        AtomicFiles.write(onnxFile, channel -> {
            OutputStream out = Channels.newOutputStream(channel);
            CodedOutputStream coded = CodedOutputStream.newInstance(out, 1 << 20);
            model.writeTo(coded);
            coded.flush();
        });
    }

    /**
     * A layer's weight and bias inputs: the f32 initializers, or for a quantised layer int8 weights and
     * int32 biases (at scale input × weight, as ONNX Runtime's int8 kernels want) behind DequantizeLinear.
     */
    private static String[] weightAndBias(GraphProto.Builder graph, ModelSpec spec, Weights weights, String layer,
                                          String weightName, String biasName, Quantization.Encoding input) {
        Tensor w = weights.tensors().get(weightName), b = weights.tensors().get(biasName);
        if (!spec.isQuantised(layer)) {
            graph.addInitializer(initializer(w));
            graph.addInitializer(initializer(b));
            return new String[] {weightName, biasName};
        }
        Tensor scales = weights.tensors().get(Quantization.weightScaleName(layer));
        int channels = (int) w.dim(0);
        graph.addInitializer(initializer(w));
        graph.addInitializer(initializer(scales));
        graph.addInitializer(constant(weightName + ".zero_point", TensorProto.DataType.INT8_VALUE, new byte[channels], channels));
        graph.addNode(node("DequantizeLinear", weightName + ".dq", weightName + ".dq", weightName, scales.name(),
                weightName + ".zero_point").addAttribute(integer("axis", 0)));
        ByteBuffer biasLevels = ByteBuffer.allocate(channels * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer biasScales = ByteBuffer.allocate(channels * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int o = 0; o < channels; o++) {
            float scale = input.scale() * scales.data().getAtIndex(JAVA_FLOAT_UNALIGNED, o);
            biasScales.putFloat(scale);
            biasLevels.putInt(Math.round(b.data().getAtIndex(JAVA_FLOAT_UNALIGNED, o) / scale));
        }
        graph.addInitializer(constant(biasName + ".levels", TensorProto.DataType.INT32_VALUE, biasLevels.array(), channels));
        graph.addInitializer(constant(biasName + ".scale", TensorProto.DataType.FLOAT_VALUE, biasScales.array(), channels));
        graph.addInitializer(constant(biasName + ".zero_point", TensorProto.DataType.INT32_VALUE, new byte[channels * 4], channels));
        graph.addNode(node("DequantizeLinear", biasName + ".dq", biasName + ".dq", biasName + ".levels", biasName + ".scale",
                biasName + ".zero_point").addAttribute(integer("axis", 0)));
        return new String[] {weightName + ".dq", biasName + ".dq"};
    }

    /** QuantizeLinear then DequantizeLinear at {@code e}'s scale (zero point 0); f32 passes through. */
    private static String qdq(GraphProto.Builder graph, String input, Quantization.Encoding e) {
        if (!e.type().isInteger()) return input;
        String scale = input + ".scale", zero = input + ".zero_point";
        graph.addInitializer(constant(scale, TensorProto.DataType.FLOAT_VALUE,
                ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(e.scale()).array()));
        graph.addInitializer(constant(zero, e.type() == ElementType.U8 ? TensorProto.DataType.UINT8_VALUE
                : TensorProto.DataType.INT8_VALUE, new byte[1]));
        graph.addNode(node("QuantizeLinear", input + ".q", input + ".q", input, scale, zero));
        graph.addNode(node("DequantizeLinear", input + ".dq", input + ".dq", input + ".q", scale, zero));
        return input + ".dq";
    }

    /** A small initializer from little-endian bytes: a scalar, or a vector of {@code length}. */
    private static TensorProto constant(String name, int dataType, byte[] data, long... length) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(dataType);
        for (long d : length) b.addDims(d);
        return b.setRawData(ByteString.copyFrom(data)).build();
    }

    private static String relu(GraphProto.Builder graph, String input, String output) {
        graph.addNode(node("Relu", output, output, input));
        return output;
    }

    private static NodeProto.Builder node(String op, String name, String output, String... inputs) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output).addAllInput(Arrays.asList(inputs));
    }

    private static Iterable<AttributeProto> windowAttributes(Window w, boolean conv) {
        List<AttributeProto> list = new ArrayList<>();
        list.add(ints("kernel_shape", w.kernelH(), w.kernelW()));
        list.add(ints("strides", w.strideH(), w.strideW()));
        list.add(ints("pads", w.padTop(), w.padLeft(), w.padBottom(), w.padRight()));
        if (conv) list.add(ints("dilations", 1, 1));
        return list;
    }

    private static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) a.addInts(v);
        return a.build();
    }

    private static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static TensorProto initializer(Tensor t) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(t.name()).setDataType(
                t.type() == ElementType.S8 ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.FLOAT_VALUE);
        for (long d : t.shape()) b.addDims(d);
        if (t.type() == ElementType.BF16) { // ONNX Runtime's CPU convolutions take f32 only: widen
            ByteBuffer f32 = ByteBuffer.allocate(Math.toIntExact(t.elements() * Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
            f32.asFloatBuffer().put(t.toFloatArray());
            return b.setRawData(UnsafeByteOperations.unsafeWrap(f32)).build();
        }
        // Tensor data and ONNX raw_data are both little-endian, row-major: the bytes go as they are. Wrapping
        // (not copying) is safe because the weights outlive this write and nothing mutates them meanwhile.
        return b.setRawData(UnsafeByteOperations.unsafeWrap(t.data().asByteBuffer())).build();
    }

    private static ValueInfoProto valueInfo(String name, String batchParam, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(batchParam));
        for (long d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                        .setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape)))
                .build();
    }
}
