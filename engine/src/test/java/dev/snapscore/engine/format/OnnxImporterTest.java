package dev.snapscore.engine.format;

import dev.snapscore.engine.format.onnx.OnnxImporter;
import com.google.protobuf.ByteString;
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
import dev.snapscore.engine.format.onnx.ImportReport;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Window;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxImporterTest {
    private static final Path NHWC = SafetensorsTest.fixture("models/vgg-mini-nhwc/model.onnx");

    /** PyTorch's export and the fixture's safetensors describe the same network: the README's layers, the same bytes. */
    @Test
    void importedFixturesHaveTheirLayersAndTheSafetensorsBytes() {
        record Expected(String name, int[] convs, int[] dense, FlattenOrder order) {
        }
        for (Expected x : List.of(
                new Expected("vgg-mini-nchw", new int[] {8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64}, new int[] {256, 128, 64, 32, 10}, FlattenOrder.NCHW),
                new Expected("vgg-mini-nhwc", new int[] {16, 16, 16, 16, 32, 32, 32, 32, 32, 32, 64, 64, 64}, new int[] {128, 64, 32, 16, 2}, FlattenOrder.NHWC))) {
            Path dir = SafetensorsTest.fixture("models/" + x.name());
            try (LoadedModel onnx = OnnxImporter.read(dir.resolve("model.onnx"));
                 Weights reference = Safetensors.read(dir.resolve("weights.safetensors"))) {
                List<Layer> layers = onnx.spec().layers();
                int[] convs = layers.stream().filter(l -> l instanceof Layer.Conv).mapToInt(l -> ((Layer.Conv) l).out()).toArray();
                int[] dense = layers.stream().filter(l -> l instanceof Layer.Dense).mapToInt(l -> ((Layer.Dense) l).out()).toArray();
                assertEquals(Arrays.toString(x.convs()), Arrays.toString(convs), x.name() + " conv widths");
                assertEquals(Arrays.toString(x.dense()), Arrays.toString(dense), x.name() + " dense widths");
                assertEquals(x.dense()[4], onnx.spec().classes());
                assertEquals(List.of(x.order()), layers.stream().filter(l -> l instanceof Layer.Flatten).map(l -> ((Layer.Flatten) l).order()).toList());
                // Blocks of 2, 2, 3, 3, 3 convs, each closed by a 2x2/2 pool; ReLU fused everywhere but the last dense.
                String shape = layers.stream().map(l -> switch (l) {
                    case Layer.Conv c -> c.window().equals(Window.square(3, 1, 1)) && c.activation() == Activation.RELU ? "c" : "?";
                    case Layer.MaxPool p -> p.window().equals(Window.square(2, 2, 0)) ? "p" : "?";
                    case Layer.GlobalAveragePool g -> "g";
                    case Layer.Flatten f -> "f";
                    case Layer.Dense d -> d.activation() == Activation.RELU ? "d" : d.activation() == Activation.SOFTMAX ? "s" : "?";
                    case Layer.Dropout d -> "";
                }).reduce("", String::concat);
                assertEquals("ccpccpcccpcccpcccpfdddds", shape, x.name());
                assertEquals(List.of(3, 224, 224), List.of(onnx.spec().input().channels(), onnx.spec().input().height(), onnx.spec().input().width()));
                assertEquals(reference.names(), onnx.weights().names(), x.name() + " tensor names");
                for (String t : reference.names()) {
                    assertEquals(Arrays.toString(reference.tensors().get(t).shape()), Arrays.toString(onnx.weights().tensors().get(t).shape()), t);
                    assertEquals(-1, onnx.weights().tensors().get(t).data().mismatch(reference.tensors().get(t).data()), x.name() + " " + t);
                }
            }
        }
    }

    /**
     * The forms PyTorch does not use in the fixtures — MatMul + Add, Gemm with transB 0, a Reshape whose shape is a
     * Constant, float_data weights, Dropout and Identity — imported and exported again, must compute what ONNX
     * Runtime computes from the original graph.
     */
    @Test
    void otherDenseAndFlattenFormsComputeWhatOnnxRuntimeComputes(@TempDir Path dir) throws Exception {
        Path original = Files.write(dir.resolve("synthetic.onnx"), syntheticModel().toByteArray());
        Path exported = dir.resolve("exported.onnx");
        try (LoadedModel m = OnnxImporter.read(original)) {
            assertEquals(List.of(
                    new Layer.Conv("conv1", 4, Window.square(3, 1, 1), Activation.RELU),
                    new Layer.MaxPool(Window.square(2, 2, 0)),
                    new Layer.Flatten(FlattenOrder.NHWC),
                    new Layer.Dense("fc", 10, Activation.RELU),
                    new Layer.Dropout(0.25f),
                    new Layer.Dense("gemm11", 3, Activation.SOFTMAX)), m.spec().layers());
            assertEquals(List.of("0", "1", "2"), m.spec().labels());
            OnnxExporter.write(exported, m.spec(), m.weights());
        }
        float[] input = new float[2 * 3 * 8 * 8];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < input.length; i++) input[i] = (float) random.nextGaussian();
        long[] shape = {2, 3, 8, 8};
        Map<String, float[]> want = OnnxExporterTest.runOnnxRuntime(original, FloatBuffer.wrap(input), shape);
        Map<String, float[]> got = OnnxExporterTest.runOnnxRuntime(exported, FloatBuffer.wrap(input), shape);
        double spread = 0;
        for (float v : want.get("logits")) spread = Math.max(spread, Math.abs(v));
        assertTrue(spread > 0.1, "the synthetic logits should not vanish: " + spread);
        OnnxExporterTest.assertClose(want.get("logits"), got.get("logits"), 1e-5, "logits");
        OnnxExporterTest.assertClose(want.get("probs"), got.get("probs"), 1e-6, "probs");
    }

    /**
     * Gemm's alpha and beta (folded into the weights and bias), an old opset's Softmax (axis 1 by default), a MaxPool
     * whose ceil_mode changes nothing, a Flatten: what ONNX Runtime computes from the original graph.
     */
    @Test
    void gemmScalingsAndOldOpsetSoftmaxComputeWhatOnnxRuntimeComputes(@TempDir Path dir) throws Exception {
        SplittableRandom random = new SplittableRandom(5);
        GraphProto.Builder g = GraphProto.newBuilder().setName("scaled")
                .addInput(valueInfo("input", 3, 8, 8)).addOutput(valueInfo("logits", 4)).addOutput(valueInfo("probs", 4));
        g.addInitializer(raw("conv.weight", random, 0.3, 4, 3, 3, 3));
        g.addInitializer(raw("conv.bias", random, 0.1, 4));
        g.addInitializer(raw("fc.weight", random, 0.2, 4, 64));
        g.addInitializer(raw("fc.bias", random, 0.5, 4));
        g.addNode(node("Conv", "conv", "c", "input", "conv.weight", "conv.bias").addAttribute(ints("pads", 1, 1, 1, 1)));
        g.addNode(node("Relu", "relu", "r", "c"));
        g.addNode(node("MaxPool", "pool", "p", "r").addAttribute(ints("kernel_shape", 2, 2)).addAttribute(ints("strides", 2, 2))
                .addAttribute(AttributeProto.newBuilder().setName("ceil_mode").setType(AttributeProto.AttributeType.INT).setI(1)));
        g.addNode(node("Flatten", "flat", "f", "p"));
        g.addNode(node("Gemm", "fc", "logits", "f", "fc.weight", "fc.bias")
                .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(1))
                .addAttribute(AttributeProto.newBuilder().setName("alpha").setType(AttributeProto.AttributeType.FLOAT).setF(0.5f))
                .addAttribute(AttributeProto.newBuilder().setName("beta").setType(AttributeProto.AttributeType.FLOAT).setF(2f)));
        g.addNode(node("Softmax", "softmax", "probs", "logits"));
        ModelProto model = ModelProto.newBuilder().setIrVersion(6)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(11)).setGraph(g).build();
        Path original = Files.write(dir.resolve("scaled.onnx"), model.toByteArray());
        Path exported = dir.resolve("exported.onnx");
        try (LoadedModel m = OnnxImporter.read(original)) {
            assertEquals(new Layer.Dense("fc", 4, Activation.SOFTMAX), m.spec().layers().getLast());
            OnnxExporter.write(exported, m.spec(), m.weights());
        }
        float[] input = new float[2 * 3 * 8 * 8];
        for (int i = 0; i < input.length; i++) input[i] = (float) random.nextGaussian();
        long[] shape = {2, 3, 8, 8};
        Map<String, float[]> want = OnnxExporterTest.runOnnxRuntime(original, FloatBuffer.wrap(input), shape);
        Map<String, float[]> got = OnnxExporterTest.runOnnxRuntime(exported, FloatBuffer.wrap(input), shape);
        OnnxExporterTest.assertClose(want.get("logits"), got.get("logits"), 1e-5, "logits");
        OnnxExporterTest.assertClose(want.get("probs"), got.get("probs"), 1e-6, "probs");
    }

    /** Every problem is listed, one line each, in node order; the report has them too, with what the import did. */
    @Test
    void everyProblemIsReportedFirstOneFirst(@TempDir Path dir) throws IOException {
        ModelProto edited = withNode(withNode(ModelProto.parseFrom(Files.readAllBytes(NHWC)), 5,
                n -> n.setOpType("Sigmoid").setName("squash")), 0, n -> withAttributes(n, AttributeProto.newBuilder().setName("group").setI(2).build()));
        Path file = Files.write(dir.resolve("two.onnx"), edited.toByteArray());
        var e = assertThrows(ModelFormatException.class, () -> OnnxImporter.read(file).close());
        String[] lines = e.getMessage().split("\n");
        assertTrue(lines[0].endsWith("node 0 '/features/features.0/Conv' (op Conv) has group 2; snapscore supports group 1 only"), lines[0]);
        assertTrue(lines[1].contains("node 5 'squash' (op Sigmoid) is not supported"), lines[1]);
        ImportReport report = OnnxImporter.inspect(file);
        assertTrue(report.refused());
        assertEquals(lines.length, report.problems().size());
        assertEquals(null, report.spec());

        ImportReport good = OnnxImporter.inspect(NHWC);
        assertEquals(List.of(), good.problems());
        assertEquals(17, good.opset());
        assertTrue(good.producer().startsWith("pytorch"), good.producer());
        assertEquals(24, good.spec().layers().size());
        assertEquals(Preprocess.CAFFE, good.preprocess());
    }

    @Test
    void aReshapeWithAllowzeroKeepingAZeroIsRefused(@TempDir Path dir) throws IOException {
        assertRejected(dir, m -> withNode(m.toBuilder().setGraph(m.getGraph().toBuilder().addInitializer(TensorProto.newBuilder()
                        .setName("zero_shape").setDataType(TensorProto.DataType.INT64_VALUE).addDims(2).addInt64Data(0).addInt64Data(-1))).build(),
                        32, n -> n.setOpType("Reshape").clearAttribute().addInput("zero_shape")
                                .addAttribute(AttributeProto.newBuilder().setName("allowzero").setI(1))),
                "node 32 '/Flatten' (op Reshape) reshapes to [0, -1] with allowzero 1; snapscore supports only a flatten to [batch, -1]");
    }

    @Test
    void unsupportedOpsAndAttributesNameTheNode(@TempDir Path dir) throws IOException {
        assertRejected(dir, m -> withNode(m, 1, n -> n.setOpType("Sigmoid").setName("squash")),
                "node 1 'squash' (op Sigmoid) is not supported; snapscore reads Conv, Relu, MaxPool, Flatten, Reshape, "
                        + "Transpose, Gemm, MatMul, Add, Dropout, Identity, Softmax");
        assertRejected(dir, m -> withNode(m, 0, n -> n.addAttribute(AttributeProto.newBuilder().setName("group").setI(2))),
                "node 0 '/features/features.0/Conv' (op Conv) has group 2; snapscore supports group 1 only");
        assertRejected(dir, m -> withNode(m, 4, n -> withAttributes(n, ints("kernel_shape", 3, 3),
                        AttributeProto.newBuilder().setName("ceil_mode").setI(1).build())),
                "node 4 '/features/features.4/MaxPool' (op MaxPool) uses ceil_mode 1, which makes its output 112x112 where snapscore's floor gives 111x111");
        assertRejected(dir, m -> withNode(m, 31, n -> n.setAttribute(0, ints("perm", 0, 3, 1, 2))),
                "(op Transpose) with perm [0, 3, 1, 2] is not supported");
        assertRejected(dir, m -> withNode(m, 0, n -> n.setInput(1, "nowhere")),
                "node 0 '/features/features.0/Conv' (op Conv) reads its weights from 'nowhere', which is not an initializer");
        assertRejected(dir, m -> withNode(m, 1, n -> n.setInput(0, "input")), "not a branching graph");
        assertRejected(dir, m -> m.toBuilder().setGraph(m.getGraph().toBuilder().addNode(NodeProto.newBuilder()
                        .setOpType("Relu").setName("after").addInput("probs").addOutput("probs2"))).build(),
                "node 43 'after' (op Relu) follows the Softmax");
        assertRejected(dir, m -> m.toBuilder().setGraph(m.getGraph().toBuilder().addOutput(ValueInfoProto.newBuilder()
                        .setName("/Flatten_output_0"))).build(),
                "graph output '/Flatten_output_0' is an intermediate tensor");
    }

    @Test
    void opsetsOutsideSevenToTwentyOneAreRejected(@TempDir Path dir) throws IOException {
        for (int opset : new int[] {6, 22}) {
            assertRejected(dir, m -> m.toBuilder().clearOpsetImport()
                    .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(opset)).build(),
                    "opset " + opset + " is not supported; snapscore reads opsets 7–21");
        }
    }

    @Test
    void weightsMustBeEmbeddedFloatsOfTheDeclaredSize(@TempDir Path dir) throws IOException {
        assertRejected(dir, m -> withInitializer(m, "features.0.weight", t -> t.setDataType(TensorProto.DataType.COMPLEX64_VALUE)),
                "initializer 'features.0.weight' has data type 14; snapscore reads float (1), float16 (10), bfloat16 (16), double (11)");
        assertRejected(dir, m -> withInitializer(m, "features.0.weight", t -> t.clearRawData()
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)),
                "initializer 'features.0.weight' is stored externally but names no location");
        assertRejected(dir, m -> withInitializer(m, "features.2.bias", t -> t.setRawData(t.getRawData().substring(4))),
                "initializer 'features.2.bias' has 60 bytes of data for dims [16] (64 expected)");
        assertRejected(dir, m -> withInitializer(m, "features.2.weight", t -> t.setDims(1, 8)
                        .setRawData(t.getRawData().substring(0, 16 * 8 * 9 * Float.BYTES))),
                "node 2 '/features/features.2/Conv' (op Conv) has weights [16, 8, 3, 3] for 8 input channels; its input has 16");
    }

    @Test
    void truncatedAndForeignFilesAreNotOnnx(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(NHWC);
        Path cut = Files.write(dir.resolve("cut.onnx"), Arrays.copyOf(good, good.length / 3));
        assertMessage(cut, "cut.onnx: not an ONNX model, or truncated");
        Path text = Files.writeString(dir.resolve("text.onnx"), "this is not protobuf at all\n");
        assertMessage(text, "text.onnx: not an ONNX model");
        Path empty = Files.write(dir.resolve("empty.onnx"), new byte[0]);
        assertMessage(empty, "empty.onnx: not an ONNX model (the file is empty)");
        assertMessage(dir.resolve("missing.onnx"), "no such ONNX file");
    }

    // --- a small synthetic graph ---------------------------------------------------------------------

    /**
     * input [batch,3,8,8] → Conv 4x3x3 pad 1 (float_data weights) → Relu → MaxPool 2x2/2 → Transpose [0,2,3,1] →
     * Reshape to Constant [0,-1] → MatMul [64,10] → Add (bias first) → Relu → Dropout 0.25 → Identity →
     * Gemm [10,3] transB 0, no bias → logits → Softmax axis -1 → probs.
     */
    private static ModelProto syntheticModel() {
        SplittableRandom random = new SplittableRandom(11);
        GraphProto.Builder g = GraphProto.newBuilder().setName("synthetic")
                .addInput(valueInfo("input", 3, 8, 8))
                .addOutput(valueInfo("logits", 3))
                .addOutput(valueInfo("probs", 3));
        TensorProto.Builder convW = TensorProto.newBuilder().setName("conv1.weight").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addAllDims(List.of(4L, 3L, 3L, 3L));
        for (int i = 0; i < 4 * 27; i++) convW.addFloatData((float) (random.nextGaussian() * Math.sqrt(2.0 / 27)));
        g.addInitializer(convW);
        g.addInitializer(raw("conv1.bias", random, 0.1, 4));
        g.addInitializer(raw("fc_w", random, Math.sqrt(2.0 / 64), 64, 10));
        g.addInitializer(raw("fc_b", random, 0.1, 10));
        g.addInitializer(TensorProto.newBuilder().setName("ratio").setDataType(TensorProto.DataType.FLOAT_VALUE).addFloatData(0.25f));
        g.addInitializer(raw("head_w", random, Math.sqrt(2.0 / 10), 10, 3));
        g.addNode(node("Conv", "conv", "c", "input", "conv1.weight", "conv1.bias").addAttribute(ints("pads", 1, 1, 1, 1)));
        g.addNode(node("Relu", "relu1", "r", "c"));
        g.addNode(node("MaxPool", "pool", "p", "r").addAttribute(ints("kernel_shape", 2, 2)).addAttribute(ints("strides", 2, 2)));
        g.addNode(node("Transpose", "t", "t", "p").addAttribute(ints("perm", 0, 2, 3, 1)));
        g.addNode(node("Constant", "shape", "shape").addAttribute(AttributeProto.newBuilder().setName("value")
                .setType(AttributeProto.AttributeType.TENSOR).setT(TensorProto.newBuilder()
                        .setDataType(TensorProto.DataType.INT64_VALUE).addDims(2).addInt64Data(0).addInt64Data(-1))));
        g.addNode(node("Reshape", "flat", "f", "t", "shape"));
        g.addNode(node("MatMul", "fc", "mm", "f", "fc_w"));
        g.addNode(node("Add", "fc_add", "a", "fc_b", "mm"));
        g.addNode(node("Relu", "relu2", "r2", "a"));
        g.addNode(node("Dropout", "drop", "d", "r2", "ratio"));
        g.addNode(node("Identity", "", "i", "d"));
        g.addNode(node("Gemm", "", "logits", "i", "head_w"));
        g.addNode(node("Softmax", "softmax", "probs", "logits"));
        return ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(g).build();
    }

    private static TensorProto raw(String name, SplittableRandom random, double scale, long... dims) {
        int n = (int) Arrays.stream(dims).reduce(1, (a, b) -> a * b);
        ByteBuffer bytes = ByteBuffer.allocate(n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) bytes.putFloat((float) (random.nextGaussian() * scale));
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addAllDims(Arrays.stream(dims).boxed().toList()).setRawData(ByteString.copyFrom(bytes.array())).build();
    }

    private static NodeProto.Builder node(String op, String name, String output, String... inputs) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output).addAllInput(List.of(inputs));
    }

    private static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) a.addInts(v);
        return a.build();
    }

    private static ValueInfoProto valueInfo(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
        for (long d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
    }

    // --- edits of the NHWC fixture -------------------------------------------------------------------

    private static ModelProto withNode(ModelProto m, int index, UnaryOperator<NodeProto.Builder> edit) {
        var graph = m.getGraph().toBuilder();
        graph.setNode(index, edit.apply(graph.getNode(index).toBuilder()));
        return m.toBuilder().setGraph(graph).build();
    }

    /** The node with these attributes replacing any of the same name. */
    private static NodeProto.Builder withAttributes(NodeProto.Builder n, AttributeProto... attributes) {
        for (AttributeProto a : attributes) {
            int at = n.getAttributeList().stream().map(AttributeProto::getName).toList().indexOf(a.getName());
            if (at >= 0) n.setAttribute(at, a);
            else n.addAttribute(a);
        }
        return n;
    }

    private static ModelProto withInitializer(ModelProto m, String name, UnaryOperator<TensorProto.Builder> edit) {
        var graph = m.getGraph().toBuilder();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            if (graph.getInitializer(i).getName().equals(name)) {
                graph.setInitializer(i, edit.apply(graph.getInitializer(i).toBuilder()));
                return m.toBuilder().setGraph(graph).build();
            }
        }
        throw new AssertionError("the fixture has no initializer " + name);
    }

    private static void assertRejected(Path dir, UnaryOperator<ModelProto> edit, String expected) throws IOException {
        ModelProto original = ModelProto.parseFrom(Files.readAllBytes(NHWC));
        Path file = Files.createTempFile(dir, "edited", ".onnx");
        Files.write(file, edit.apply(original).toByteArray());
        assertMessage(file, expected);
    }

    private static void assertMessage(Path file, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> OnnxImporter.read(file).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
