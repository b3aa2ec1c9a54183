package dev.snapscore.training;

import dev.snapscore.engine.format.Safetensors;
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

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One real training run on generated photos (a tiny VGG16, width 1/16, 64x64 inputs so CI's two cores
 * manage it in about a minute), then the exported model checked against DL4J by the engine, three ways.
 */
class TrainAndExportTest {
    @TempDir
    static Path dir;
    static Train run;
    static Path data, model, checkpoints;

    @BeforeAll
    static void train() throws IOException {
        data = dir.resolve("photos");
        model = dir.resolve("model");
        checkpoints = dir.resolve("checkpoints");
        SyntheticPhotos.writeFolders(data, 60, 7);
        run = Train.run("--data", data.toString(), "--width", "0.0625", "--head", "32,16", "--dropout", "0.25",
                "--input-size", "64", "--epochs", "15", "--patience", "4", "--batch", "10", "--lr", "2e-3",
                "--validation", "0.3", "--seed", "3", "--checkpoints", checkpoints.toString(), "--export", model.toString());
    }

    @Test
    void reachesValidationAccuracyWellAboveChance() {
        assertEquals(0, run.code(), run.out() + run.err());
        double accuracy = run.figure("best:", "val_acc ");
        assertTrue(accuracy >= 0.85, "two balanced classes: chance is 0.5, got " + accuracy);
        assertTrue(run.out().contains("training on 84 images, validating on 36"), run.out());
        assertTrue(Files.isRegularFile(checkpoints.resolve("best.zip")) && Files.isRegularFile(checkpoints.resolve("last.zip")));
    }

    @Test
    void theExportCheckRanAndAgreed() {
        assertEquals(0, run.code(), run.out() + run.err());
        double probabilities = run.figure("exported", "max abs diff "), logits = run.figure("exported", "probabilities, ");
        assertTrue(probabilities <= 1e-4 && logits <= 1e-4, "engine vs DL4J on validation images: " + probabilities + ", " + logits);
    }

    /**
     * End to end from the photo files: DL4J's best network (from its own checkpoint, not the export code)
     * on the inputs it trained with, against {@code snapscore score} decoding the same files afresh.
     */
    @Test
    void engineScoresThePhotosAsDl4jDoes() throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(checkpoints.resolve("best.zip").toFile(), false);
        EngineCli engine = EngineCli.locate();
        Labelled all = FolderDataset.read(data);
        INDArray dl4j;
        try (InputCache cache = InputCache.build(engine, all, 64, dir.resolve("cache"))) {
            assertEquals(all.size(), cache.data().size());
            dl4j = net.output(ModelExport.stack(cache, IntStream.range(0, all.size()).toArray()), false);
        }
        Path csv = dir.resolve("scores.csv");
        engine.runOrThrow("score", "--model", model.toString(), "--out", csv.toString(), data.toString());
        Map<Path, float[]> scored = new HashMap<>();
        try (Reader in = Files.newBufferedReader(csv)) {
            for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(in)) {
                assertEquals("ok", r.get("status"), r.toString());
                scored.put(Path.of(r.get("file")), new float[] {Float.parseFloat(r.get("p_horizontal")), Float.parseFloat(r.get("p_vertical"))});
            }
        }
        assertEquals(all.size(), scored.size());
        double max = 0;
        for (int i = 0; i < all.size(); i++) {
            float[] p = scored.get(all.files().get(i).toAbsolutePath().normalize());
            for (int c = 0; c < 2; c++) max = Math.max(max, Math.abs(p[c] - dl4j.getFloat(i, c)));
        }
        System.out.printf("engine `score` vs DL4J output() on %d photos: max abs diff %.3g%n", all.size(), max);
        assertTrue(max <= 1e-4, "max abs probability difference " + max);
    }

    /** The engine's verify on a reference DL4J wrote, and a control: the wrong flatten order must fail it. */
    @Test
    void verifyPassesAndAWrongFlattenOrderFails() throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(checkpoints.resolve("best.zip").toFile(), false);
        EngineCli engine = EngineCli.locate();
        Labelled all = FolderDataset.read(data);
        Path scratch = Files.createDirectories(dir.resolve("verify"));
        try (InputCache cache = InputCache.build(engine, all, 64, dir.resolve("cache2"))) {
            INDArray inputs = ModelExport.stack(cache, new int[] {0, 1, 2, 60, 61, 62});
            ModelExport.Check ok = ModelExport.verify(engine, ModelExport.Dl4jOutputs.of(net, inputs), model, inputs, 1e-4, scratch);
            assertEquals(0, ok.exitCode(), ok.output());
            assertTrue(ok.probabilities() <= 1e-4 && ok.logits() <= 1e-4, ok.output());

            Path wrong = dir.resolve("model-nhwc");
            Files.createDirectories(wrong);
            Files.copy(model.resolve("weights.safetensors"), wrong.resolve("weights.safetensors"));
            Files.writeString(wrong.resolve("spec.json"), Files.readString(model.resolve("spec.json")).replace("\"NCHW\"", "\"NHWC\""));
            ModelExport.Check bad = ModelExport.verify(engine, ModelExport.Dl4jOutputs.of(net, inputs), wrong, inputs, 1e-4, scratch);
            assertEquals(1, bad.exitCode(), bad.output());
        }
    }

    @Test
    void theExportIsTheEnginesFormatWithLabels() throws IOException {
        String spec = Files.readString(model.resolve("spec.json"));
        assertTrue(spec.contains("\"labels\" : [ \"horizontal\", \"vertical\" ]"), spec);
        assertTrue(spec.contains("\"order\" : \"NCHW\""), spec);
        try (Weights w = Safetensors.read(model.resolve("weights.safetensors"))) {
            // conv OIHW, dense (out, in): the engine's layouts, not DL4J's (in, out)
            assertEquals(List.of(4L, 3L, 3L, 3L), List.of(box(w.tensors().get("features.0.weight").shape())));
            assertEquals(List.of(32L, 128L), List.of(box(w.tensors().get("classifier.0.weight").shape())));
            assertEquals(List.of(2L, 16L), List.of(box(w.tensors().get("classifier.6.weight").shape())));
        }
    }

    private static Long[] box(long[] a) {
        return java.util.Arrays.stream(a).boxed().toArray(Long[]::new);
    }
}
