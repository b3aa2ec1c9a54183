package dev.snapscore.training;

import dev.snapscore.engine.format.ModelDirectory;
import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.spec.Layer;
import dev.snapscore.engine.spec.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The original study's kind of model, Keras VGG16 + dense head saved as {@code .h5}, through DL4J's Keras
 * import into our format: the engine must reproduce DL4J's outputs, and every tensor must be Keras' own
 * array in the engine's layout.
 */
class KerasImportTest {
    @TempDir
    Path dir;

    @Test
    void aKerasVgg16H5BecomesAModelTheEngineAgreesWith() {
        Path h5 = dir.resolve("vgg16-selfie.h5"), out = dir.resolve("model");
        KerasH5.Written keras = KerasH5.writeVgg16(h5, 2, 32, 8, 3, 9);
        Train run = Train.run("--from-keras", h5.toString(), "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.figure("exported", "max abs diff ") <= 1e-4 && run.figure("exported", "probabilities, ") <= 1e-4, run.out());

        try (LoadedModel m = ModelDirectory.read(out)) {
            assertEquals(13, m.spec().layers().stream().filter(l -> l instanceof Layer.Conv).count());
            assertTrue(m.spec().layers().contains(new Layer.Flatten(dev.snapscore.engine.spec.FlattenOrder.NHWC)), "Keras flattens channels-last");
            assertEquals(32, m.spec().input().height());
            Map<String, Tensor> t = m.weights().tensors();
            // conv: Keras (kh, kw, in, out) → engine (out, in, kh, kw)
            long[] ks = keras.shapes().get("block3_conv2/block3_conv2/kernel:0");
            float[] kernel = keras.arrays().get("block3_conv2/block3_conv2/kernel:0");
            Tensor conv = t.get("block3_conv2.weight");
            assertArrayEquals(new long[] {ks[3], ks[2], 3, 3}, conv.shape());
            for (int o = 0; o < ks[3]; o++) for (int i = 0; i < ks[2]; i++) for (int y = 0; y < 3; y++) for (int x = 0; x < 3; x++) {
                float want = kernel[(int) (((y * 3 + x) * ks[2] + i) * ks[3] + o)];
                assertEquals(want, conv.data().getAtIndex(JAVA_FLOAT_UNALIGNED, ((o * ks[2] + i) * 3 + y) * 3 + x));
            }
            // dense: Keras (in, out) → engine (out, in)
            long[] ds = keras.shapes().get("fc1/fc1/kernel:0");
            float[] dense = keras.arrays().get("fc1/fc1/kernel:0");
            Tensor fc = t.get("fc1.weight");
            assertArrayEquals(new long[] {ds[1], ds[0]}, fc.shape());
            for (int o = 0; o < ds[1]; o++) for (int i = 0; i < ds[0]; i++) {
                assertEquals(dense[(int) (i * ds[1] + o)], fc.data().getAtIndex(JAVA_FLOAT_UNALIGNED, o * ds[0] + i));
            }
            assertArrayEquals(keras.arrays().get("predictions/predictions/bias:0"), t.get("predictions.bias").data().toArray(JAVA_FLOAT_UNALIGNED));
        }
    }

    /**
     * Keras' transfer-learning head, {@code VGG16(include_top=False)} + GlobalAveragePooling2D + Dense, at 64×64
     * (the pool averages 2×2): imported with a global average pool, the input size taken from the config,
     * and reproduced by the engine.
     */
    @Test
    void aKerasGlobalAveragePoolHeadIsImported() {
        Path h5 = dir.resolve("vgg16-gap.h5"), out = dir.resolve("gap");
        KerasH5.writeVgg16(h5, 2, 64, 8, 3, 12, true);
        Train run = Train.run("--from-keras", h5.toString(), "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.figure("exported", "max abs diff ") <= 1e-4 && run.figure("exported", "probabilities, ") <= 1e-4, run.out());
        try (LoadedModel m = ModelDirectory.read(out)) {
            assertEquals(64, m.spec().input().height());
            int pool = m.spec().layers().indexOf(new Layer.GlobalAveragePool());
            assertArrayEquals(new long[] {16, 2, 2}, m.spec().outputShapes().get(pool - 1));
            assertArrayEquals(new long[] {8, 16}, m.weights().tensors().get("fc1.weight").shape(), "one input per channel");
        }
    }

    /** The Keras model's conv base as --init: frozen, so the export carries Keras' kernels unchanged. */
    @Test
    void aKerasBaseCanInitialiseTraining() throws Exception {
        Path h5 = dir.resolve("base.h5"), photos = dir.resolve("photos"), out = dir.resolve("trained");
        KerasH5.Written keras = KerasH5.writeVgg16(h5, 2, 32, 8, 3, 4);
        SyntheticPhotos.writeFolders(photos, 4, 5);
        Train run = Train.run("--data", photos.toString(), "--init", h5.toString(), "--head", "8", "--epochs", "1",
                "--batch", "4", "--validation", "0.25", "--export-anyway", "--checkpoints", dir.resolve("ck").toString(), "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("base frozen, from " + h5), run.out());
        try (LoadedModel m = ModelDirectory.read(out)) {
            float[] kernel = keras.arrays().get("block1_conv1/block1_conv1/kernel:0"); // (3, 3, 3, 2)
            Tensor conv = m.weights().tensors().get("block1_conv1.weight");           // (2, 3, 3, 3)
            for (int o = 0; o < 2; o++) for (int i = 0; i < 3; i++) for (int y = 0; y < 3; y++) for (int x = 0; x < 3; x++) {
                assertEquals(kernel[((y * 3 + x) * 3 + i) * 2 + o], conv.data().getAtIndex(JAVA_FLOAT_UNALIGNED, ((o * 3 + i) * 3 + y) * 3 + x));
            }
        }
    }

    @Test
    void aWeightsOnlyFileIsRefusedByName() {
        Train run = Train.run("--from-keras", dir.resolve("missing.h5").toString(), "--export", dir.resolve("m").toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains("no such Keras model"), run.err());
    }
}
