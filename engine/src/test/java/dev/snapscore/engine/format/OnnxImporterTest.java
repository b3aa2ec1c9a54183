package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.format.onnx.OnnxProtos.AttributeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.NodeProto;
import dev.snapscore.engine.format.onnx.OnnxProtos.OperatorSetIdProto;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxImporterTest {

    /** PyTorch's export and the fixture's spec.json + safetensors describe the same network: same layers, same bytes. */
    @Test
    void importedFixturesEqualTheirSpecAndSafetensors() {
        for (String name : new String[] {"vgg-mini-nchw", "vgg-mini-nhwc"}) {
            Path dir = SafetensorsTest.fixture("models/" + name);
            try (LoadedModel onnx = OnnxImporter.read(dir.resolve("model.onnx"));
                 LoadedModel native_ = ModelDirectory.read(dir)) {
                // PyTorch drops Dropout from an inference export; every other layer must match.
                assertEquals(withoutDropout(native_.spec().layers()), withoutDropout(onnx.spec().layers()), name + " layers");
                assertEquals(native_.spec().input(), onnx.spec().input());
                Weights a = onnx.weights(), b = native_.weights();
                assertEquals(b.names(), a.names(), name + " tensor names");
                for (String t : b.names()) {
                    assertEquals(-1, a.tensors().get(t).data().mismatch(b.tensors().get(t).data()), name + " " + t);
                }
            }
        }
    }

    private static java.util.List<dev.snapscore.engine.spec.Layer> withoutDropout(java.util.List<dev.snapscore.engine.spec.Layer> layers) {
        return layers.stream().filter(l -> !(l instanceof dev.snapscore.engine.spec.Layer.Dropout)).toList();
    }

    @Test
    void unsupportedOpsAndAttributesNameTheNode(@TempDir Path dir) throws IOException {
        assertRejected(dir, m -> withNode(m, 1, n -> n.setOpType("Sigmoid").setName("squash")),
                "node 1 'squash' (op Sigmoid) is not supported; snapscore reads Conv, Relu");
        assertRejected(dir, m -> withNode(m, 0, n -> n.addAttribute(AttributeProto.newBuilder().setName("group").setI(2))),
                "(op Conv) has group 2");
        assertRejected(dir, m -> m.toBuilder().clearOpsetImport()
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(11)).build(), "opset 11 is not supported");
        assertRejected(dir, m -> withNode(m, 0, n -> n.setInput(1, "nowhere")),
                "reads its weights from 'nowhere', which is not an initializer");
        assertRejected(dir, m -> withNode(m, 1, n -> n.setInput(0, "input")), "branching graph");
    }

    @Test
    void truncatedAndForeignFilesAreNotOnnx(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(SafetensorsTest.fixture("models/vgg-mini-nhwc/model.onnx"));
        Path cut = Files.write(dir.resolve("cut.onnx"), Arrays.copyOf(good, good.length / 3));
        assertMessage(cut, "not an ONNX model, or truncated");
        Path text = Files.writeString(dir.resolve("text.onnx"), "this is not protobuf at all\n");
        assertThrows(ModelFormatException.class, () -> OnnxImporter.read(text));
        Path empty = Files.write(dir.resolve("empty.onnx"), new byte[0]);
        assertMessage(empty, "the file is empty");
        assertMessage(dir.resolve("missing.onnx"), "no such ONNX file");
    }

    private static ModelProto withNode(ModelProto m, int index, UnaryOperator<NodeProto.Builder> edit) {
        var graph = m.getGraph().toBuilder();
        graph.setNode(index, edit.apply(graph.getNode(index).toBuilder()));
        return m.toBuilder().setGraph(graph).build();
    }

    private static void assertRejected(Path dir, UnaryOperator<ModelProto> edit, String expected) throws IOException {
        ModelProto original = ModelProto.parseFrom(Files.readAllBytes(SafetensorsTest.fixture("models/vgg-mini-nhwc/model.onnx")));
        Path file = Files.createTempFile(dir, "edited", ".onnx");
        Files.write(file, edit.apply(original).toByteArray());
        assertMessage(file, expected);
    }

    private static void assertMessage(Path file, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> OnnxImporter.read(file).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
