package dev.snapscore.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.onnx.OnnxProtos.ModelProto;
import dev.snapscore.engine.spec.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.snapscore.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {
    private static final Path BUNDLED = Path.of("..", "models", "vgg-mini");


    /** Its parameter count is the weights' element count; its GFLOP the convolutions' and dense layers' multiply-adds. */
    @Test
    void jsonDescribesTheOnnxFileAndTheDirectoryAlike() throws Exception {
        long elements;
        try (LoadedModel m = ModelFormats.read(BUNDLED)) {
            elements = m.weights().tensors().values().stream().mapToLong(Tensor::elements).sum();
        }
        CliRun onnx = run("inspect", "--json", BUNDLED.resolve("model.onnx").toString());
        assertEquals(0, onnx.code(), onnx.err());
        JsonNode o = new ObjectMapper().readTree(onnx.out());
        assertEquals("onnx", o.get("format").asText());
        assertTrue(o.get("opset").asInt() >= 7, onnx.out());
        assertTrue(o.get("loads").asBoolean());
        assertEquals(elements, o.get("parameters").asLong());
        assertEquals("NCHW", o.get("input").get("layout").asText());

        CliRun dir = run("inspect", "--json", BUNDLED.toString());
        assertEquals(0, dir.code(), dir.err());
        JsonNode d = new ObjectMapper().readTree(dir.out());
        assertEquals(elements, d.get("parameters").asLong());
        assertEquals(o.get("gflop").asDouble(), d.get("gflop").asDouble(), 1e-12);
        // The first conv by hand: 2 · out · in · 3 · 3 · 224 · 224 multiply-adds, as [out, 224, 224].
        JsonNode first = d.get("layers").get(0);
        long out = first.get("output").get(0).asLong();
        assertEquals(2.0 * out * 3 * 9 * 224 * 224 / 1e9, first.get("gflop").asDouble(), 1e-9);

        CliRun text = run("inspect", BUNDLED.resolve("model.onnx").toString());
        assertTrue(text.out().contains("opset ") && text.out().contains("total: "), text.out());
    }

    @Test
    void aRefusedFileListsEveryProblemAndExitsTwo(@TempDir Path tmp) throws Exception {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(BUNDLED.resolve("model.onnx")));
        var g = m.getGraph().toBuilder();
        g.setNode(1, g.getNode(1).toBuilder().setOpType("Sigmoid"));
        g.setNode(3, g.getNode(3).toBuilder().setOpType("Tanh"));
        Path file = Files.write(tmp.resolve("refused.onnx"), m.toBuilder().setGraph(g).build().toByteArray());
        CliRun r = run("inspect", file.toString());
        assertEquals(2, r.code());
        assertTrue(r.out().contains("refused, 2 problem(s)"), r.out());
        assertTrue(r.out().contains("node 1 ") && r.out().contains("(op Sigmoid) is not supported"), r.out());
        assertTrue(r.out().contains("node 3 ") && r.out().contains("(op Tanh) is not supported"), r.out());
        CliRun json = run("inspect", "--json", file.toString());
        assertEquals(2, json.code());
        assertEquals(2, new ObjectMapper().readTree(json.out()).get("problems").size());
    }
}
