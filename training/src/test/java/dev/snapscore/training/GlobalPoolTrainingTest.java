package dev.snapscore.training;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.format.SpecJson;
import dev.snapscore.engine.spec.FlattenOrder;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.ModelSpec;
import dev.snapscore.engine.spec.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --pool gap}: Keras' transfer-learning shape, VGG16's base with all five pools (width 1/16 at
 * 64×64, so the last map is 2×2) then a global average pool (DL4J's GlobalPoolingLayer) and a dense head,
 * trained briefly by DL4J, exported, and reproduced by the engine within 1e-4.
 */
class GlobalPoolTrainingTest {
    @TempDir
    Path dir;

    @Test
    void trainsAndExportsAGlobalAveragePoolHead() throws IOException {
        Path photos = dir.resolve("photos"), model = dir.resolve("model");
        SyntheticPhotos.writeFolders(photos, 10, 31);
        Train run = Train.run("--data", photos.toString(), "--pool", "gap", "--width", "0.0625", "--head", "16",
                "--input-size", "64", "--epochs", "2", "--batch", "7", "--lr", "2e-3", "--validation", "0.3",
                "--export-anyway", "--checkpoints", dir.resolve("ck").toString(), "--export", model.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("13 conv layers with batch norm, global average pool, head [16], 2 classes"), run.out());
        double probabilities = run.figure("exported", "max abs diff "), logits = run.figure("exported", "probabilities, ");
        assertTrue(probabilities <= 1e-4 && logits <= 1e-4, "engine vs DL4J on validation images: " + probabilities + ", " + logits);

        ModelSpec spec = SpecJson.read(model.resolve("spec.json")).spec();
        int pool = spec.layers().indexOf(new Layer.GlobalAveragePool());
        assertTrue(spec.layers().get(pool - 1) instanceof Layer.MaxPool, "the fifth max-pool stays, as in Keras' VGG16");
        assertEquals(new Layer.Flatten(FlattenOrder.NCHW), spec.layers().get(pool + 1));
        assertArrayEquals(new long[] {32, 2, 2}, spec.outputShapes().get(pool - 1), "the pool averages a 2x2 map");
        try (Weights w = Safetensors.read(model.resolve("weights.safetensors"))) {
            assertArrayEquals(new long[] {16, 32}, w.tensors().get("classifier.0.weight").shape(), "one input per channel");
        }
    }
}
