package dev.snapscore.engine.format;

import dev.snapscore.engine.format.onnx.OnnxImporter;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.snapscore.engine.format.onnx.OnnxProtos.GraphProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.NodeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.TensorShapeProto;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxExporterTest {
    private static final String[] FIXTURES = {"vgg-mini-nchw", "vgg-mini-nhwc"};

    /**
     * PyTorch's ONNX file, read by us and written again by us, run by ONNX Runtime on the fixture inputs:
     * the outputs must be the ones ONNX Runtime computed from PyTorch's own file.
     */
    @Test
    void exportedFixturesReproduceTheReferenceOutputsInOnnxRuntime(@TempDir Path dir) throws Exception {
        for (String name : FIXTURES) {
            Path exported = dir.resolve(name + ".onnx");
            try (LoadedModel imported = OnnxImporter.read(SafetensorsTest.fixture("models/" + name + "/model.onnx"))) {
                OnnxExporter.write(exported, imported.spec(), imported.weights());
            }
            try (Weights io = Safetensors.read(SafetensorsTest.fixture("models/" + name + "/io.safetensors"))) {
                Tensor input = io.tensors().get("input");
                Map<String, float[]> got = runOnnxRuntime(exported, input);
                assertClose(floats(io.tensors().get("logits")), got.get("logits"), 1e-4, name + " logits");
                assertClose(floats(io.tensors().get("probs")), got.get("probs"), 1e-5, name + " probs");
            }
        }
    }

    /** The written graph is the documented one: opset 17, input [batch, C, H, W], Conv/Relu/MaxPool, Gemm, Softmax. */
    @Test
    void writesTheDocumentedGraph(@TempDir Path dir) throws IOException {
        for (String name : FIXTURES) {
            Path exported = dir.resolve(name + ".onnx");
            try (LoadedModel imported = OnnxImporter.read(SafetensorsTest.fixture("models/" + name + "/model.onnx"))) {
                OnnxExporter.write(exported, imported.spec(), imported.weights());
            }
            ModelProto model = ModelProto.parseFrom(Files.readAllBytes(exported));
            assertEquals(1, model.getOpsetImportCount());
            assertEquals("", model.getOpsetImport(0).getDomain());
            assertEquals(17, model.getOpsetImport(0).getVersion());
            GraphProto graph = model.getGraph();
            List<TensorShapeProto.Dimension> dims = graph.getInput(0).getType().getTensorType().getShape().getDimList();
            assertEquals("input", graph.getInput(0).getName());
            assertEquals("batch", dims.get(0).getDimParam());
            assertEquals(List.of(3L, 224L, 224L), dims.subList(1, 4).stream().map(TensorShapeProto.Dimension::getDimValue).toList());
            assertEquals(List.of("logits", "probs"), graph.getOutputList().stream().map(v -> v.getName()).toList());

            // 13 Conv+Relu, 5 MaxPool, [Transpose,] Flatten, then Gemm+Relu per hidden width, the last Gemm, Softmax.
            String conv = "Conv Relu ";
            String block2 = conv.repeat(2) + "MaxPool ", block3 = conv.repeat(3) + "MaxPool ";
            String flatten = name.endsWith("nhwc") ? "Transpose Flatten " : "Flatten ";
            String expected = block2.repeat(2) + block3.repeat(3) + flatten + "Gemm Relu ".repeat(4) + "Gemm Softmax";
            assertEquals(expected, String.join(" ", graph.getNodeList().stream().map(NodeProto::getOpType).toList()), name);
            NodeProto last = graph.getNode(graph.getNodeCount() - 1);
            assertEquals("probs", last.getOutput(0));
            assertEquals("logits", last.getInput(0));
            for (var t : graph.getInitializerList()) assertTrue(t.hasRawData() && t.getFloatDataCount() == 0, t.getName());
        }
    }

    /** Importing what we wrote gives the same layers and bitwise the same weights: nothing is lost or reordered. */
    @Test
    void roundTripKeepsLayersAndWeightBytes(@TempDir Path dir) throws IOException {
        for (String name : FIXTURES) {
            Path exported = dir.resolve(name + ".onnx");
            try (LoadedModel first = OnnxImporter.read(SafetensorsTest.fixture("models/" + name + "/model.onnx"))) {
                OnnxExporter.write(exported, first.spec(), first.weights());
                try (LoadedModel second = OnnxImporter.read(exported)) {
                    assertEquals(withoutDropout(first.spec().layers()), withoutDropout(second.spec().layers()), name);
                    assertEquals(first.spec().input(), second.spec().input());
                    assertEquals(name.endsWith("nhwc") ? FlattenOrder.NHWC : FlattenOrder.NCHW, flattenOrder(second.spec().layers()));
                    assertEquals(first.weights().names(), second.weights().names());
                    for (String t : first.weights().names()) {
                        assertEquals(-1, first.weights().tensors().get(t).data().mismatch(second.weights().tensors().get(t).data()), t);
                    }
                }
            }
        }
    }

    /** The file appears whole or not at all: an existing file is replaced and no temporary file stays behind. */
    @Test
    void replacesAnExistingFileAndLeavesNoTemporaries(@TempDir Path dir) throws IOException {
        Path target = Files.writeString(dir.resolve("model.onnx"), "old contents");
        try (LoadedModel imported = OnnxImporter.read(SafetensorsTest.fixture("models/vgg-mini-nhwc/model.onnx"))) {
            OnnxExporter.write(target, imported.spec(), imported.weights());
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList());
        }
        try (LoadedModel again = OnnxImporter.read(target)) {
            assertEquals(2, again.spec().classes());
        }
    }

    private static Map<String, float[]> runOnnxRuntime(Path onnx, Tensor input) throws OrtException {
        return runOnnxRuntime(onnx, input.data().asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer(), input.shape());
    }

    /** ONNX Runtime's {@code logits} and {@code probs} for one run of {@code onnx} on {@code input}. */
    static Map<String, float[]> runOnnxRuntime(Path onnx, FloatBuffer input, long[] shape) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(onnx.toString(), options);
             OnnxTensor tensor = OnnxTensor.createTensor(env, input, shape);
             OrtSession.Result result = session.run(Map.of("input", tensor))) {
            return Map.of("logits", flat(result.get("logits").orElseThrow()), "probs", flat(result.get("probs").orElseThrow()));
        }
    }

    private static float[] flat(OnnxValue value) throws OrtException {
        float[][] rows = (float[][]) value.getValue();
        float[] flat = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        return flat;
    }

    private static float[] floats(Tensor t) {
        return t.data().toArray(JAVA_FLOAT_UNALIGNED);
    }

    static void assertClose(float[] want, float[] got, double tolerance, String what) {
        assertEquals(want.length, got.length, what + " length");
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
        assertTrue(max <= tolerance, what + ": max abs diff " + max + " > " + tolerance);
    }

    static List<Layer> withoutDropout(List<Layer> layers) {
        return layers.stream().filter(l -> !(l instanceof Layer.Dropout)).toList();
    }

    private static FlattenOrder flattenOrder(List<Layer> layers) {
        for (Layer l : layers) if (l instanceof Layer.Flatten f) return f.order();
        throw new AssertionError("no flatten in " + layers);
    }
}
