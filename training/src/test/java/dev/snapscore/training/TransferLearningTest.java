package dev.snapscore.training;

import dev.snapscore.engine.format.LoadedModel;
import dev.snapscore.engine.format.ModelFormats;
import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Preprocess;
import dev.snapscore.engine.spec.Tensor;
import dev.snapscore.engine.spec.Weights;
import dev.snapscore.training.data.FolderDataset;
import dev.snapscore.training.data.Labelled;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
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

    /**
     * A plain torchvision export carries no normalisation: with {@code --preprocess torchvision} the base is
     * trained on torchvision's inputs and the export says so. Checked end to end: DL4J's best network on the
     * very inputs it trained with (the kept --cache) against {@code snapscore score} decoding the photos afresh
     * with the exported spec's preprocessing, and those inputs within torchvision's range.
     */
    @Test
    void aPlainTorchvisionExportTrainsOnTorchvisionInputs() throws Exception {
        Path onnx = Path.of("../engine/src/test/resources/onnx-exporters/tv-vgg11-op16-nofold-dyn.onnx");
        Path out = dir.resolve("tv-normalised"), cache = dir.resolve("tv-cache");
        Train run = Train.run("--data", photos.toString(), "--init", onnx.toString(), "--preprocess", "torchvision", "--head", "8",
                "--epochs", "1", "--batch", "4", "--validation", "0.3", "--export-anyway", "--cache", cache.toString(),
                "--checkpoints", out + "-ck", "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("preprocessing: " + Preprocess.TORCHVISION + " (--preprocess torchvision)"), run.out());
        try (LoadedModel exported = ModelFormats.read(out)) {
            assertEquals(Preprocess.TORCHVISION, exported.spec().preprocess());
        }
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(Path.of(out + "-ck", "best.zip").toFile(), false);
        Labelled all = FolderDataset.read(photos);
        INDArray dl4j;
        try (Weights cached = Safetensors.read(cache.resolve("inputs.safetensors"))) {
            float[] x = cached.get("input", all.size(), 3, 224, 224).data().toArray(JAVA_FLOAT_UNALIGNED);
            // torchvision's range, (0 - 0.485) / 0.229 = -2.1179 to (1 - 0.406) / 0.225 = 2.64; Caffe's would reach ±150.
            for (float v : x) assertTrue(v >= -2.12f && v <= 2.65f, "a training input outside torchvision's range: " + v);
            dl4j = net.output(Nd4j.create(x, new long[] {all.size(), 3, 224, 224}), false);
        }
        Path csv = dir.resolve("tv-scores.csv");
        EngineCli.locate().runOrThrow("score", "--model", out.toString(), "--out", csv.toString(), photos.toString());
        Map<Path, float[]> scored = new HashMap<>();
        try (Reader in = Files.newBufferedReader(csv)) {
            for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(in)) {
                assertEquals("ok", r.get("status"), r.toString());
                scored.put(Path.of(r.get("file")), new float[] {Float.parseFloat(r.get("p_horizontal")), Float.parseFloat(r.get("p_vertical"))});
            }
        }
        double max = 0;
        for (int i = 0; i < all.size(); i++) {
            float[] p = scored.get(all.files().get(i).toAbsolutePath().normalize());
            for (int c = 0; c < 2; c++) max = Math.max(max, Math.abs(p[c] - dl4j.getFloat(i, c)));
        }
        System.out.printf("torchvision-normalised base: engine `score` vs DL4J on its training inputs, %d photos: max abs diff %.3g%n", all.size(), max);
        assertTrue(max <= 1e-4, "max abs probability difference " + max);
    }

    /** An ONNX file with torchvision's normalisation built in: --init takes it (it was refused), and --preprocess may not contradict it. */
    @Test
    void aBuiltInNormalisationIsTheTrainingsOwn() throws IOException {
        Path onnx = Path.of("../engine/src/test/resources/onnx-exporters/hw-norm-torchvision-op17-fold.onnx");
        Preprocess baked;
        try (LoadedModel m = ModelFormats.read(onnx)) {
            baked = m.spec().preprocess();
        }
        assertEquals("RGB", baked.channelOrder());
        assertArrayEquals(Preprocess.TORCHVISION.mean(), baked.mean(), 1e-3f);
        assertArrayEquals(Preprocess.TORCHVISION.scale(), baked.scale(), 1e-6f);
        Path out = dir.resolve("baked");
        Train run = Train.run("--data", photos.toString(), "--init", onnx.toString(), "--head", "8", "--epochs", "1",
                "--batch", "4", "--validation", "0.3", "--export-anyway", "--export", out.toString());
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("preprocessing: " + baked + " (" + onnx + "'s own)"), run.out());
        try (LoadedModel exported = ModelFormats.read(out)) {
            assertEquals(baked, exported.spec().preprocess());
        }
        Train contradicted = Train.run("--data", photos.toString(), "--init", onnx.toString(), "--preprocess", "caffe",
                "--epochs", "1", "--export", dir.resolve("contradicted").toString());
        assertEquals(2, contradicted.code(), contradicted.out() + contradicted.err());
        assertTrue(contradicted.err().contains("--preprocess caffe contradicts " + onnx + ", which states its own"), contradicted.err());
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
