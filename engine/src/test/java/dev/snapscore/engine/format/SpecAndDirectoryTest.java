package dev.snapscore.engine.format;

import dev.snapscore.engine.ModelFormatException;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
