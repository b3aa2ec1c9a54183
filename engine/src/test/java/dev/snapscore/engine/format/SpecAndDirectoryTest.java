package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.InputLayout;
import dev.snapscore.engine.spec.InputShape;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Preprocess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpecAndDirectoryTest {

    private static List<Integer> widths(ModelSpec spec, Class<? extends Layer> kind) {
        return spec.layers().stream().filter(kind::isInstance)
                .map(l -> l instanceof Layer.Conv c ? c.out() : ((Layer.Dense) l).out()).toList();
    }

    /** The fixture specs hold the architectures the fixtures README lists. */
    @Test
    void readsBothFixtureSpecs() {
        ModelSpec nchw = SpecJson.read(SafetensorsTest.fixture("models/vgg-mini-nchw/spec.json")).spec();
        assertEquals(List.of(8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64), widths(nchw, Layer.Conv.class));
        assertEquals(List.of(256, 128, 64, 32, 10), widths(nchw, Layer.Dense.class));
        assertEquals(5, nchw.layers().stream().filter(Layer.MaxPool.class::isInstance).count());
        assertTrue(nchw.layers().contains(new Layer.Flatten(FlattenOrder.NCHW)));
        assertEquals(10, nchw.classes());

        ModelSpec nhwc = SpecJson.read(SafetensorsTest.fixture("models/vgg-mini-nhwc/spec.json")).spec();
        assertEquals(List.of(128, 64, 32, 16, 2), widths(nhwc, Layer.Dense.class));
        assertTrue(nhwc.layers().contains(new Layer.Flatten(FlattenOrder.NHWC)));
        assertEquals(List.of(103.939f, 116.779f, 123.68f), List.of(nhwc.preprocess().mean()[0], nhwc.preprocess().mean()[1], nhwc.preprocess().mean()[2]));
    }

    @Test
    void directoryWriteThenReadKeepsSpecAndWeights(@TempDir Path dir) throws IOException {
        try (LoadedModel original = ModelDirectory.read(SafetensorsTest.fixture("models/vgg-mini-nhwc"))) {
            ModelSpec labelled = new ModelSpec("copy", original.spec().input(), original.spec().preprocess(),
                    original.spec().layers(), List.of("selfie", "self-portrait"), List.of(0.0, 1.0));
            ModelDirectory.write(dir.resolve("copy"), labelled, original.weights());
            try (LoadedModel copy = ModelDirectory.read(dir.resolve("copy"))) {
                assertEquals(labelled, copy.spec());
                for (String name : original.weights().names()) {
                    var a = original.weights().tensors().get(name).data();
                    var b = copy.weights().tensors().get(name).data();
                    assertEquals(-1, a.mismatch(b), name + " bytes differ");
                }
            }
        }
    }

    /** The spec format's input layout, per-channel scales and global average pool: read, shaped, written back the same. */
    @Test
    void readsAndWritesInputLayoutChannelScalesAndGlobalPool(@TempDir Path dir) throws IOException {
        Path spec = copyFixture(dir).resolve("spec.json");
        String good = Files.readString(spec);
        Files.writeString(spec, good.replace("\"layout\": \"NCHW\"", "\"layout\": \"nhwc\"")
                .replace("\"scale\": 1.0", "\"scale\": [0.5, 0.25, 2]")
                .replace("{\n      \"type\": \"flatten\"", "{\"type\": \"global_avgpool\"}, {\n      \"type\": \"flatten\""));
        ModelSpec read = SpecJson.read(spec).spec();
        assertEquals(InputLayout.NHWC, read.input().layout());
        assertArrayEquals(new float[] {0.5f, 0.25f, 2f}, read.preprocess().scale());
        int pool = read.layers().indexOf(new Layer.GlobalAveragePool());
        assertArrayEquals(new long[] {64, 7, 7}, read.outputShapes().get(pool - 1));
        assertArrayEquals(new long[] {64, 1, 1}, read.outputShapes().get(pool));
        assertArrayEquals(new long[] {64}, read.outputShapes().get(pool + 1), "the flatten after it gives one value per channel");
        assertTrue(read.weightShapes().stream().anyMatch(r -> r.name().equals("classifier.0.weight") && r.shape()[1] == 64));

        Path written = dir.resolve("written.json");
        SpecJson.write(written, read, "weights.safetensors");
        String json = Files.readString(written);
        assertTrue(json.contains("\"layout\" : \"NHWC\"") && json.contains("\"global_avgpool\""), json);
        assertEquals(read, SpecJson.read(written).spec());
        // One scale for all channels stays a single number, as older readers expect.
        ModelSpec uniform = new ModelSpec(read.name(), new InputShape(3, 224, 224), Preprocess.CAFFE, read.layers(), read.labels(), read.values());
        SpecJson.write(written, uniform, "weights.safetensors");
        assertTrue(Files.readString(written).contains("\"scale\" : 1.0") && !Files.readString(written).contains("\"layout\""),
                Files.readString(written));
        assertEquals(uniform, SpecJson.read(written).spec());
    }

    @Test
    void weightShapesMustMatchTheSpec(@TempDir Path dir) throws IOException {
        Path model = copyFixture(dir);
        String spec = Files.readString(model.resolve("spec.json")).replaceFirst("\"out\" : 8|\"out\": 8", "\"out\": 9");
        Files.writeString(model.resolve("spec.json"), spec);
        var e = assertThrows(ModelFormatException.class, () -> ModelDirectory.read(model));
        assertTrue(e.getMessage().contains("features.0.weight") && e.getMessage().contains("[8, 3, 3, 3]")
                && e.getMessage().contains("[9, 3, 3, 3]"), e.getMessage());
    }

    @Test
    void badSpecsNameTheProblem(@TempDir Path dir) throws IOException {
        Path model = copyFixture(dir);
        Path spec = model.resolve("spec.json");
        String good = Files.readString(spec);
        Files.writeString(spec, good.replaceFirst("\"maxpool\"", "\"avgpool\""));
        assertMessage(model, "unknown layer type 'avgpool'");
        Files.writeString(spec, good.replaceFirst("\"activation\": \"relu\"", "\"activation\": \"gelu\""));
        assertMessage(model, "unknown activation 'gelu'");
        Files.writeString(spec, "{\"layers\": []}");
        assertMessage(model, "missing 'input'");
        Files.writeString(spec, "{ not json");
        assertMessage(model, "not valid JSON");
        Files.delete(spec);
        assertMessage(model, "has no spec.json");
        Files.writeString(spec, good.replace("\"weights\": \"weights.safetensors\"", "\"weights\": \"../../etc/passwd\""));
        assertMessage(model, "outside the model directory");
        Files.writeString(spec, good.replace("\"layout\": \"NCHW\"", "\"layout\": \"CHW\""));
        assertMessage(model, "input.layout must be NCHW or NHWC, got 'CHW'");
        Files.writeString(spec, good.replace("\"scale\": 1.0", "\"scale\": [1, 2]"));
        assertMessage(model, "preprocess.scale must be a number or 3 numbers, got [1,2]");
        Files.writeString(spec, good.replace("\"scale\": 1.0", "\"scale\": [1, 0, 1]"));
        assertMessage(model, "scale must be positive finite numbers");
        Files.writeString(spec, good.replace("\"type\": \"flatten\",\n      \"order\": \"NCHW\"\n    },",
                "\"type\": \"flatten\",\n      \"order\": \"NCHW\"\n    }, {\"type\": \"global_avgpool\"},"));
        assertMessage(model, "global average pool (layer 19) comes after the flatten");
        // Values the engine would use silently wrong: a rate outside [0, 1), a label named twice.
        Files.writeString(spec, good.replaceFirst("\"rate\": 0.5", "\"rate\": 2.0"));
        assertMessage(model, "dropout rate must be a number in [0, 1), got 2.0");
        Files.writeString(spec, good.replaceFirst("\"rate\": 0.5", "\"rate\": -1"));
        assertMessage(model, "dropout rate must be a number in [0, 1), got -1");
        Files.writeString(spec, good.replaceFirst("\"rate\": 0.5", "\"rate\": \"half\""));
        assertMessage(model, "dropout rate must be a number in [0, 1), got \"half\"");
        Files.writeString(spec, good.replaceFirst("\"1\",", "\"0\","));
        assertMessage(model, "labels must be distinct: '0' appears twice");
        Files.writeString(spec, good.replace("\"layout\": \"NCHW\"", "\"layout\": \"NCWH\""));
        assertMessage(model, "input.layout must be NCHW or NHWC, got 'NCWH'");
    }

    @Test
    void modelFormatsDispatchesAndRefusesOtherFiles(@TempDir Path dir) throws IOException {
        try (LoadedModel m = ModelFormats.read(SafetensorsTest.fixture("models/vgg-mini-nchw/model.onnx"))) {
            assertEquals(10, m.spec().classes());
        }
        Path txt = Files.writeString(dir.resolve("model.txt"), "x");
        var e = assertThrows(ModelFormatException.class, () -> ModelFormats.read(txt));
        assertTrue(e.getMessage().contains("not a model"), e.getMessage());
    }

    private static void assertMessage(Path model, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> ModelDirectory.read(model).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    private static Path copyFixture(Path dir) throws IOException {
        Path model = Files.createDirectories(dir.resolve("m"));
        Path src = SafetensorsTest.fixture("models/vgg-mini-nchw");
        for (String f : List.of("spec.json", "weights.safetensors")) Files.copy(src.resolve(f), model.resolve(f));
        return model;
    }
}
