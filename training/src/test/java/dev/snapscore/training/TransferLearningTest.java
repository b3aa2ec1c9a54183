package dev.snapscore.training;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --init}: the convolution base comes from an engine-format or ONNX model (here one the engine's
 * {@code generate} wrote: a VGG16 at width 1/32) and stays frozen; only the new head trains.
 */
class TransferLearningTest {
    @TempDir
    static Path dir;
    static Path base, photos;

    @BeforeAll
    static void setUp() throws Exception {
        base = dir.resolve("base");
        photos = dir.resolve("photos");
        EngineCli.locate().runOrThrow("generate", "--width", "0.03125", "--head", "8", "--classes", "3",
                "--input-size", "64", "--seed", "5", base.toString());
        SyntheticPhotos.writeFolders(photos, 6, 11);
    }

    @Test
    void frozenBaseFromASnapscoreModelIsExportedUnchanged() throws IOException {
        checkFrozen(base, dir.resolve("from-dir"));
    }

    @Test
    void frozenBaseFromOnnxIsExportedUnchanged() throws IOException {
        checkFrozen(base.resolve("model.onnx"), dir.resolve("from-onnx"));
    }

    /**
     * A torchvision VGG16-BN as torch.onnx.export writes it (engine's importer folds its BatchNormalization
     * nodes): its convolutions, read by the engine's own loader, come out of training unchanged.
     */
    @Test
    void frozenBaseFromATorchvisionOnnxExport() throws IOException {
        Path onnx = Path.of("../engine/src/test/resources/onnx-exporters/tv-vgg16-bn-op13-fold.onnx");
        Path out = dir.resolve("from-torchvision");
        Train run = Train.run("--data", photos.toString(), "--init", onnx.toString(), "--head", "16", "--epochs", "1",
                "--batch", "4", "--validation", "0.3", "--export-anyway", "--checkpoints", out + "-ck", "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("13 conv layers, head [16], 2 classes"), run.out());
        try (var base = dev.snapscore.engine.format.ModelFormats.read(onnx);
             Weights after = Safetensors.read(out.resolve("weights.safetensors"))) {
            var convs = Architecture.convBase(base.spec()).stream().filter(l -> l instanceof dev.snapscore.engine.spec.Layer.Conv)
                    .map(l -> (dev.snapscore.engine.spec.Layer.Conv) l).toList();
            assertEquals(13, convs.size());
            for (var c : convs) {
                for (String name : List.of(c.weightName(), c.biasName())) {
                    assertArrayEquals(bytes(base.weights().tensors().get(name)), bytes(after.tensors().get(name)), name + " changed");
                }
            }
        }
    }

    private static void checkFrozen(Path init, Path out) throws IOException {
        Train run = Train.run("--data", photos.toString(), "--init", init.toString(), "--head", "16", "--epochs", "2",
                "--batch", "4", "--lr", "1e-2", "--validation", "0.3", "--export-anyway", "--checkpoints", out + "-ck", "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("base frozen, from " + init), run.out());
        try (Weights before = Safetensors.read(base.resolve("weights.safetensors"));
             Weights after = Safetensors.read(out.resolve("weights.safetensors"))) {
            int convs = 0;
            for (String name : after.names()) {
                if (!name.startsWith("features.")) continue;
                convs++;
                assertArrayEquals(bytes(before.tensors().get(name)), bytes(after.tensors().get(name)), name + " changed");
            }
            assertEquals(26, convs, "13 convs, weight and bias each");
            // the head is new and trained: 2 classes here, where the base model had 3
            assertArrayEquals(new long[] {2, 16}, after.tensors().get("classifier.3.weight").shape());
            assertFalse(after.names().contains("classifier.6.weight"));
        }
    }

    private static byte[] bytes(Tensor t) {
        return t.data().toArray(JAVA_BYTE);
    }
}
