package dev.snapscore.engine.format;

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
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.engine.spec.Window;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a spec and its weights as an opset-17 ONNX model with input {@code input} [batch, C, H, W] and
 * outputs {@code logits} and {@code probs}: the same network for ONNX Runtime and other peers.
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
        for (Tensor.ShapeRequirement r : spec.weightShapes()) bytes += Tensor.elementCount(r.shape()) * Float.BYTES;
        if (bytes > MAX_WEIGHT_BYTES) {
            throw new IllegalArgumentException(spec.name() + ": " + bytes + " bytes of weights do not fit one ONNX file "
                    + "(protobuf's 2 GB limit)");
        }
        GraphProto.Builder graph = GraphProto.newBuilder().setName(spec.name());
        graph.addInput(valueInfo("input", "batch", spec.input().channels(), spec.input().height(), spec.input().width()));
        String current = "input";
        Layer.Dense last = null;
        for (Layer l : spec.layers()) if (l instanceof Layer.Dense d) last = d;
        int n = 0;
        for (Layer layer : spec.layers()) {
            switch (layer) {
                case Layer.Conv c -> {
                    graph.addInitializer(initializer(weights.tensors().get(c.weightName())));
                    graph.addInitializer(initializer(weights.tensors().get(c.biasName())));
                    String out = c.name() + ".out";
                    graph.addNode(node("Conv", c.name(), out, current, c.weightName(), c.biasName())
                            .addAllAttribute(windowAttributes(c.window(), true)));
                    current = c.activation() == Activation.RELU ? relu(graph, out, out + ".relu") : out;
                }
                case Layer.MaxPool p -> {
                    String out = "pool" + n++;
                    graph.addNode(node("MaxPool", out, out, current).addAllAttribute(windowAttributes(p.window(), false)));
                    current = out;
                }
                case Layer.Flatten f -> {
                    if (f.order() == FlattenOrder.NHWC) {
                        graph.addNode(node("Transpose", "to_nhwc", "nhwc", current).addAttribute(ints("perm", 0, 2, 3, 1)));
                        current = "nhwc";
                    }
                    graph.addNode(node("Flatten", "flatten", "flat", current).addAttribute(integer("axis", 1)));
                    current = "flat";
                }
                case Layer.Dense d -> {
                    graph.addInitializer(initializer(weights.tensors().get(d.weightName())));
                    graph.addInitializer(initializer(weights.tensors().get(d.biasName())));
                    // The last layer's output is `logits`, after its ReLU if it has one, as the engine computes it.
                    boolean relu = d.activation() == Activation.RELU;
                    String out = d == last && !relu ? "logits" : d.name() + ".out";
                    graph.addNode(node("Gemm", d.name(), out, current, d.weightName(), d.biasName())
                            .addAttribute(integer("transB", 1)));
                    current = relu ? relu(graph, out, d == last ? "logits" : out + ".relu") : out;
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
        TensorProto.Builder b = TensorProto.newBuilder().setName(t.name()).setDataType(TensorProto.DataType.FLOAT_VALUE);
        for (long d : t.shape()) b.addDims(d);
        // Tensor data and ONNX raw_data are both little-endian f32, row-major: the bytes go as they are. Wrapping
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
