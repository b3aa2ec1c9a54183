package dev.snapscore.training;

import dev.snapscore.engine.format.Safetensors;
import dev.snapscore.engine.spec.Preprocess;
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
 * A new user's first run: 40 generated photos a class of simple, clearly different content (circles,
 * stripes), every setting the default but the width (1/8), the epochs (10) and, so CI's two cores manage
 * it, the input size (64x64); then held-out photos scored by {@code snapscore score}, and the exported model
 * checked against DL4J by the engine, three ways.
 */
class TrainAndExportTest {
    @TempDir
    static Path dir;
    static Train run;
    static Path data, heldOut, model, checkpoints;

    @BeforeAll
    static void train() throws IOException {
        data = dir.resolve("photos");
        heldOut = dir.resolve("held-out");
        model = dir.resolve("model");
        checkpoints = dir.resolve("checkpoints");
        ShapePhotos.writeFolders(data, 40, 1);
        ShapePhotos.writeFolders(heldOut, 20, 2);
        run = Train.run("--data", data.toString(), "--width", "0.125", "--input-size", "64", "--epochs", "10",
                "--checkpoints", checkpoints.toString(), "--export", model.toString());
    }

    @Test
    void heldOutPhotosAreScoredRight() throws Exception {
        assertEquals(0, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("training on 64 images, validating on 16"), run.out());
        assertTrue(Files.isRegularFile(checkpoints.resolve("best.zip")) && Files.isRegularFile(checkpoints.resolve("last.zip")));
        Path csv = dir.resolve("held-out.csv");
        EngineCli.locate().runOrThrow("score", "--model", model.toString(), "--out", csv.toString(), heldOut.toString());
        int right = 0, all = 0;
        try (Reader in = Files.newBufferedReader(csv)) {
            for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(in)) {
                all++;
                if (Path.of(r.get("file")).getParent().getFileName().toString().equals(r.get("label"))) right++;
            }
        }
        System.out.printf("held-out accuracy (snapscore score): %d of %d%n", right, all);
        assertEquals(40, all);
        assertTrue(right >= 36, "held-out accuracy " + right + " of 40, want >= 90%");
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
        try (InputCache cache = InputCache.build(engine, all, 64, Preprocess.CAFFE, dir.resolve("cache"))) {
            assertEquals(all.size(), cache.data().size());
            dl4j = net.output(ModelExport.stack(cache, IntStream.range(0, all.size()).toArray()), false);
        }
        Path csv = dir.resolve("scores.csv");
        engine.runOrThrow("score", "--model", model.toString(), "--out", csv.toString(), data.toString());
        Map<Path, float[]> scored = new HashMap<>();
        try (Reader in = Files.newBufferedReader(csv)) {
            for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(in)) {
                assertEquals("ok", r.get("status"), r.toString());
                scored.put(Path.of(r.get("file")), new float[] {Float.parseFloat(r.get("p_circles")), Float.parseFloat(r.get("p_stripes"))});
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
        try (InputCache cache = InputCache.build(engine, all, 64, Preprocess.CAFFE, dir.resolve("cache2"))) {
            INDArray inputs = ModelExport.stack(cache, new int[] {0, 1, 2, 40, 41, 42});
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
        assertTrue(spec.contains("\"labels\" : [ \"circles\", \"stripes\" ]"), spec);
        assertTrue(spec.contains("\"order\" : \"NCHW\""), spec);
        try (Weights w = Safetensors.read(model.resolve("weights.safetensors"))) {
            // conv OIHW, dense (out, in): the engine's layouts, not DL4J's (in, out)
            assertEquals(List.of(8L, 3L, 3L, 3L), List.of(box(w.tensors().get("features.0.weight").shape())));
            assertEquals(List.of(2048L, 256L), List.of(box(w.tensors().get("classifier.0.weight").shape()))); // 64 channels x 2 x 2
            assertEquals(List.of(2L, 64L), List.of(box(w.tensors().get("classifier.12.weight").shape())));
        }
    }

    private static Long[] box(long[] a) {
        return java.util.Arrays.stream(a).boxed().toArray(Long[]::new);
    }
}
