package dev.snapscore.spark;

import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Precision;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Spark job on local[2] against {@code snapscore score}'s pipeline run outside Spark on the same folder. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SparkScoreJobTest {
    // The job and the reference load the model separately, with different thread counts, and the default
    // convolution (auto) times its choices per load and thread count: Winograd and direct forms move the logits
    // by about 1e-5 of their size, so probabilities may differ in the fifth decimal.
    private static final double TOLERANCE = 1e-4;
    private static final double VALUE_SUM = dev.snapscore.engine.format.SpecJson.read(PhotoFolder.MODEL.resolve("spec.json"))
            .spec().values().stream().mapToDouble(v -> Math.abs(v)).sum();

    @TempDir
    static Path tmp;
    private Path photos;
    private SparkSession spark;
    private Map<String, ScoredPhoto> reference;

    @BeforeAll
    void start() throws IOException {
        photos = tmp.resolve("photos");
        PhotoFolder.fill(photos);
        reference = PhotoFolder.scoreWithEngine(photos, null);
        // Two cores; a failed task is tried up to 3 times (plain local[2] never retries).
        spark = SparkSession.builder().master("local[2,3]").appName("snapscore-spark-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    void stop() {
        if (spark != null) spark.stop();
        ExecutorEngine.closeAll();
    }

    private SparkScoreJob job(Cleaning cleaning) {
        return job(cleaning, DecodeOptions.DEFAULT);
    }

    private SparkScoreJob job(Cleaning cleaning, DecodeOptions decode) {
        return job(cleaning, decode, ModelPreparation.DEFAULT);
    }

    private SparkScoreJob job(Cleaning cleaning, DecodeOptions decode, ModelPreparation preparation) {
        var options = new SparkScoreJob.Options(PhotoFolder.MODEL, 8, dev.snapscore.engine.image.ImageDecoder.DEFAULT_MAX_BYTES,
                dev.snapscore.engine.image.ImageDecoder.DEFAULT_MAX_PIXELS, cleaning, decode, preparation);
        return SparkScoreJob.create(spark, options, true);
    }

    private static Map<String, Row> byFile(List<Row> rows) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : rows) assertNull(m.put(r.getString(r.fieldIndex(ScoreColumns.FILE)), r), "one row per file: " + r);
        return m;
    }

    /** Every Spark row equals the reference row of the same file: status, label, probabilities, error. */
    private static void assertSameRows(Map<String, ScoredPhoto> expected, Map<String, Row> actual, List<String> labels) {
        assertEquals(expected.keySet(), actual.keySet(), "the same files");
        for (var e : expected.entrySet()) {
            ScoredPhoto want = e.getValue();
            Row got = actual.get(e.getKey());
            String where = e.getKey() + ": ";
            assertEquals(want.status().name().toLowerCase(Locale.ROOT), got.getAs(ScoreColumns.STATUS), where + "status");
            assertEquals(want.error(), got.getAs(ScoreColumns.ERROR), where + "error");
            assertEquals(want.faceFraction(), got.<Double>getAs(ScoreColumns.FACE_FRACTION), where + "face fraction");
            boolean cleaned = List.of(got.schema().fieldNames()).contains(ScoreColumns.FACE_X);
            if (!cleaned) assertNull(want.faces(), where + "a face check, yet no face box columns");
            if (cleaned) {
                var f = want.faces();
                boolean found = f != null && f.count() > 0;
                assertEquals(found ? f.largestX() : null, got.getAs(ScoreColumns.FACE_X), where + "face x");
                assertEquals(found ? f.largestY() : null, got.getAs(ScoreColumns.FACE_Y), where + "face y");
                assertEquals(found ? f.largestWidth() : null, got.getAs(ScoreColumns.FACE_W), where + "face w");
                assertEquals(found ? f.largestHeight() : null, got.getAs(ScoreColumns.FACE_H), where + "face h");
            }
            Prediction p = want.prediction();
            if (p == null) {
                assertNull(got.getAs(ScoreColumns.LABEL), where + "no label");
                continue;
            }
            assertEquals(p.label(), got.getAs(ScoreColumns.LABEL), where + "label");
            assertEquals(p.probability(), got.<Float>getAs(ScoreColumns.PROBABILITY), TOLERANCE, where + "probability");
            float[] probs = p.probabilities();
            for (int i = 0; i < labels.size(); i++) {
                assertEquals(probs[i], got.<Float>getAs(ScoreColumns.probabilityColumn(labels.get(i))), TOLERANCE, where + labels.get(i));
            }
            if (Double.isNaN(p.expectedScore())) assertNull(got.getAs(ScoreColumns.EXPECTED_SCORE));
            // Σ pᵢ·vᵢ: each pᵢ may differ by TOLERANCE (batches are cut differently, and oneDNN's kernels differ
            // by batch size), so the sum may differ by TOLERANCE·Σ|vᵢ|.
            else assertEquals(p.expectedScore(), got.<Double>getAs(ScoreColumns.EXPECTED_SCORE), TOLERANCE * VALUE_SUM, where + "expected score");
        }
    }

    private List<String> labels() {
        return dev.snapscore.engine.format.SpecJson.read(PhotoFolder.MODEL.resolve("spec.json")).spec().labels();
    }

    @Test
    void parquetOutputEqualsTheScoreVerbsRowsAndBadFilesAreErrorRows() {
        SparkScoreJob job = job(null);
        Dataset<Row> images = SparkScoreJob.listImages(spark, List.of(photos.toString()), 3);
        String out = tmp.resolve("scores.parquet").toString();
        SparkScoreJob.write(job.score(images), out, SparkScoreJob.Format.PARQUET, false);

        Map<String, Row> rows = byFile(spark.read().parquet(out).collectAsList());
        assertEquals(16, reference.size(), "12 photos and 4 broken files; notes.txt is no image");
        assertSameRows(reference, rows, labels());
        for (var bad : PhotoFolder.BAD.entrySet()) {
            Row row = rows.values().stream().filter(r -> r.<String>getAs(ScoreColumns.FILE).endsWith("/" + bad.getKey()))
                    .findFirst().orElseThrow();
            assertEquals(ScoreColumns.FAILED, row.getAs(ScoreColumns.STATUS), bad.getKey());
            assertTrue(row.<String>getAs(ScoreColumns.ERROR).contains(bad.getValue()), bad.getKey() + ": " + row);
        }
        assertEquals(12, rows.values().stream().filter(r -> ScoreColumns.OK.equals(r.getAs(ScoreColumns.STATUS))).count());
        var written = spark.read().parquet(out).schema();
        assertEquals(List.of(job.schema().fieldNames()), List.of(written.fieldNames()), "the columns of snapscore score");
        for (var f : job.schema().fields()) assertEquals(f.dataType(), written.apply(f.name()).dataType(), f.name());
    }

    @Test
    void binaryFileDataFrameGivesTheSameRows() {
        // Spark reads the bytes in its scan; the executor only decodes. Paths come as file: URIs.
        Dataset<Row> files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", SparkScoreJob.imageGlob()).load(photos.toString());
        Map<String, ScoredPhoto> expected = new HashMap<>(reference);
        // Spark's file scans skip empty files, so the empty one has no row in this mode.
        assertNotNull(expected.remove(photos.resolve("empty.png").toAbsolutePath().toString()));
        assertSameRows(expected, byFile(job(null).score(files).collectAsList()), labels());
    }

    @Test
    void cleaningRejectsPhotosAsTheScoreVerbDoes() throws IOException {
        // Chelsea's largest face candidate covers 5.9% of the photo, the astronaut's 5.1% (OpenCV, scale 1.3,
        // min neighbours 0): at 5.5% the cat is kept and scored, the astronaut rejected.
        Cleaning rule = new Cleaning(0.055, 1.3, 0, 0, true, true); // every size: the astronaut's small face is reported
        Map<String, ScoredPhoto> cleaned = PhotoFolder.scoreWithEngine(photos, rule);
        Map<String, Row> rows = byFile(job(rule).score(SparkScoreJob.listImages(spark, List.of(photos.toString()), 2)).collectAsList());
        assertSameRows(cleaned, rows, labels());
        Row astronaut = rows.get(photos.resolve("astronaut.png").toAbsolutePath().toString());
        assertEquals(ScoreColumns.REJECTED, astronaut.getAs(ScoreColumns.STATUS));
        assertEquals(0.0513, astronaut.<Double>getAs(ScoreColumns.FACE_FRACTION), 1e-4);
        // The box serve --clean answers for the astronaut (testdata/pinned-rows/serve-clean.jsonl).
        assertEquals(List.of(164, 53, 116, 116), List.of(astronaut.<Integer>getAs(ScoreColumns.FACE_X),
                astronaut.<Integer>getAs(ScoreColumns.FACE_Y), astronaut.<Integer>getAs(ScoreColumns.FACE_W),
                astronaut.<Integer>getAs(ScoreColumns.FACE_H)));
        assertEquals(ScoreColumns.OK, rows.get(photos.resolve("chelsea.png").toAbsolutePath().toString()).getAs(ScoreColumns.STATUS));
    }

    /**
     * The rule's thumbnail setting reaches the executors: a selfie carrying a stale, faceless EXIF thumbnail (the
     * engine's fixture, made by piexif) is rejected from it, and decoded and kept when thumbnails are ignored.
     */
    @Test
    void thumbnailsReachTheExecutors() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("thumbnails"));
        Path exif = Path.of("..", "engine", "src", "test", "resources", "exif");
        for (String name : new String[] {"thumbnail-stale.jpg", "thumbnail-face-o6.jpg"}) Files.copy(exif.resolve(name), dir.resolve(name));
        for (boolean thumbnails : new boolean[] {true, false}) {
            Map<String, Row> rows = byFile(job(new Cleaning(0.15, 1.3, 0, 0, false, thumbnails))
                    .score(SparkScoreJob.listImages(spark, List.of(dir.toString()), 2)).collectAsList());
            assertEquals(thumbnails ? ScoreColumns.REJECTED : ScoreColumns.OK,
                    rows.get(dir.resolve("thumbnail-stale.jpg").toAbsolutePath().toString()).getAs(ScoreColumns.STATUS));
            assertEquals(ScoreColumns.OK, rows.get(dir.resolve("thumbnail-face-o6.jpg").toAbsolutePath().toString()).getAs(ScoreColumns.STATUS));
        }
    }

    /**
     * On the samples and broken files, the rows are those spark-score wrote before the photo pipeline was
     * shared (testdata/pinned-rows, see its README): text exactly, numbers within 1e-5 of their size.
     */
    @Test
    void rowsAreThoseOfThePinnedRun() throws IOException {
        Path dir = tmp.resolve("pinned");
        PhotoFolder.fillPinned(dir);
        for (Cleaning rule : new Cleaning[] {null, new Cleaning(0.01, 1.3, 0, 0, true, true)}) {
            SparkScoreJob job = job(rule);
            List<Row> want = spark.read().schema(job.schema()).option("header", "true")
                    .csv(PhotoFolder.PINNED.resolve(rule == null ? "spark.csv" : "spark-clean-0.01.csv").toString())
                    .sort(ScoreColumns.FILE).collectAsList();
            List<Row> got = job.score(SparkScoreJob.listImages(spark, List.of(dir.toString()), 2)).sort(ScoreColumns.FILE).collectAsList();
            assertEquals(want.size(), got.size());
            for (int r = 0; r < want.size(); r++) {
                for (int c = 0; c < want.get(r).size(); c++) {
                    Object w = want.get(r).get(c), g = got.get(r).get(c);
                    String where = want.get(r).getString(0) + " " + job.schema().fields()[c].name();
                    if (w instanceof Number n) {
                        assertEquals(n.doubleValue(), ((Number) g).doubleValue(), 1e-5 * Math.max(1, Math.abs(n.doubleValue())), where);
                    } else {
                        assertEquals(w, g instanceof String text ? text.replace(dir.toString(), "$DIR") : g, where);
                    }
                }
            }
        }
    }

    @Test
    void theModelIsLoadedOncePerJvmNotPerPartition() {
        ExecutorEngine.closeAll();
        int before = ExecutorEngine.modelLoads();
        SparkScoreJob job = job(null);
        Dataset<Row> images = SparkScoreJob.listImages(spark, List.of(photos.toString()), 8);
        assertEquals(8, images.rdd().getNumPartitions());
        assertEquals(16, job.score(images).count());
        assertEquals(16, job.score(images).filter("status is not null").count(), "a second job");
        // 16 tasks over two task threads, one JVM (local mode: driver and executor share it).
        assertEquals(1, ExecutorEngine.modelLoads() - before, "model loads");
    }

    @Test
    void aRetriedTaskLeavesNoDuplicateRows() {
        SparkScoreJob job = job(null);
        Dataset<Row> images = SparkScoreJob.listImages(spark, List.of(photos.toString()), 4);
        Dataset<Row> flaky = job.score(images).map(new FailFirstAttempt(), Encoders.row(job.schema()));
        String out = tmp.resolve("retried.parquet").toString();
        SparkScoreJob.write(flaky, out, SparkScoreJob.Format.PARQUET, false);

        Dataset<Row> written = spark.read().parquet(out);
        assertEquals(16, written.count(), "every photo once");
        assertEquals(16, written.select(ScoreColumns.FILE).distinct().count());
        assertSameRows(reference, byFile(written.collectAsList()), labels());
    }

    /** Fails partition 0's first attempt after it has passed on (and its writer written) two rows. */
    private static final class FailFirstAttempt implements MapFunction<Row, Row> {
        private int seen;

        @Override
        public Row call(Row row) {
            TaskContext t = TaskContext.get();
            if (t.partitionId() == 0 && t.attemptNumber() == 0 && ++seen > 2) {
                throw new IllegalStateException("injected failure in the first attempt of partition 0");
            }
            return row;
        }
    }

    @Test
    void csvOutputHasTheScoreVerbsHeader() throws IOException {
        String out = tmp.resolve("scores.csv").toString();
        SparkScoreJob.write(job(null).score(SparkScoreJob.listImages(spark, List.of(photos.resolve("nested").toString()), 1)),
                out, SparkScoreJob.Format.CSV, false);
        Path part;
        try (var s = java.nio.file.Files.list(Path.of(out))) {
            part = s.filter(p -> p.getFileName().toString().startsWith("part-")).findFirst().orElseThrow();
        }
        List<String> lines = java.nio.file.Files.readAllLines(part);
        List<String> header = new java.util.ArrayList<>(List.of("file", "status", "label", "probability"));
        for (String l : labels()) header.add("p_" + l);
        header.addAll(List.of("expected_score", "face_fraction", "error"));
        assertEquals(String.join(",", header), lines.get(0), "snapscore score's CSV header");
        assertEquals(1 + 7, lines.size(), "3 copies, 3 generated, 1 truncated: " + lines);
        assertEquals(SparkScoreJob.Format.CSV, SparkScoreJob.formatOf(out));
    }

    /**
     * The decode options travel to the executors: a 12 MP JPEG's rows are those of the score verb's pipeline with the
     * same options, and differ between a fast and an exact decode.
     */
    @Test
    void decodeOptionsReachTheExecutors() throws IOException {
        Path phone = java.nio.file.Files.createDirectories(tmp.resolve("phone"));
        try (var chelsea = dev.snapscore.engine.image.ImageDecoder.withDefaults().read(photos.resolve("chelsea.png"), DecodeOptions.EXACT, null, null);
             var big = new org.bytedeco.opencv.opencv_core.Mat(); var size = new org.bytedeco.opencv.opencv_core.Size(4032, 3024)) {
            org.bytedeco.opencv.global.opencv_imgproc.resize(chelsea.bgr(), big, size, 0, 0, org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC);
            assertTrue(org.bytedeco.opencv.global.opencv_imgcodecs.imwrite(phone.resolve("chelsea-12mp.jpg").toString(), big));
        }
        Map<String, Row> fast = null;
        for (DecodeOptions decode : List.of(DecodeOptions.DEFAULT, DecodeOptions.EXACT)) {
            Map<String, Row> rows = byFile(job(null, decode).score(SparkScoreJob.listImages(spark, List.of(phone.toString()), 1)).collectAsList());
            assertSameRows(PhotoFolder.scoreWithEngine(phone, null, decode), rows, labels());
            if (fast == null) {
                fast = rows;
                continue;
            }
            Row a = fast.values().iterator().next(), b = rows.values().iterator().next();
            assertTrue(Math.abs(a.<Float>getAs(ScoreColumns.PROBABILITY) - b.<Float>getAs(ScoreColumns.PROBABILITY)) > 1e-5,
                    "fast and exact decodes score a 12 MP photo differently: " + a + " vs " + b);
        }
    }

    /**
     * Precision and convolution travel to the executors: direct convolutions give the engine's direct rows, and bf16
     * gives the engine's bf16 rows (which differ from f32's) where the CPU has bf16, else the job fails saying why.
     */
    @Test
    void precisionAndConvolutionReachTheExecutors() throws IOException {
        ModelOptions direct = ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT);
        Map<String, Row> directRows = byFile(job(null, DecodeOptions.DEFAULT, new ModelPreparation(Precision.F32, ConvolutionAlgorithm.DIRECT, true, null))
                .score(SparkScoreJob.listImages(spark, List.of(photos.toString()), 2)).collectAsList());
        assertSameRows(PhotoFolder.scoreWithEngine(photos, null, DecodeOptions.DEFAULT, direct), directRows, labels());

        SparkScoreJob bf16 = job(null, DecodeOptions.DEFAULT, new ModelPreparation(Precision.BF16, ConvolutionAlgorithm.DIRECT, true, null));
        boolean cpuHasBf16;
        try (var m = dev.snapscore.engine.Model.load(PhotoFolder.MODEL, direct.withPrecision(Precision.BF16).withCache(false))) {
            cpuHasBf16 = m.runsBf16();
        } catch (IllegalArgumentException e) {
            cpuHasBf16 = false;
        }
        if (!cpuHasBf16) {
            Exception e = assertThrows(Exception.class,
                    () -> bf16.score(SparkScoreJob.listImages(spark, List.of(photos.toString()), 1)).collectAsList());
            StringBuilder causes = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) causes.append(t).append('\n');
            assertTrue(causes.toString().contains("bf16 precision needs a CPU"), causes.toString());
            return;
        }
        Map<String, Row> bf16Rows = byFile(bf16.score(SparkScoreJob.listImages(spark, List.of(photos.toString()), 2)).collectAsList());
        Map<String, ScoredPhoto> engineBf16 = PhotoFolder.scoreWithEngine(photos, null, DecodeOptions.DEFAULT, direct.withPrecision(Precision.BF16));
        double largestGap = 0;
        for (var e : engineBf16.entrySet()) {
            if (e.getValue().prediction() == null) continue;
            Row spark = bf16Rows.get(e.getKey()), f32 = directRows.get(e.getKey());
            float p = e.getValue().prediction().probability();
            assertEquals(p, spark.<Float>getAs(ScoreColumns.PROBABILITY), 1e-3f, e.getKey() + ": the engine's bf16 probability");
            largestGap = Math.max(largestGap, Math.abs(spark.<Float>getAs(ScoreColumns.PROBABILITY) - f32.<Float>getAs(ScoreColumns.PROBABILITY)));
        }
        assertTrue(largestGap > 1e-4, "bf16 rows differ from f32 rows somewhere: largest gap " + largestGap);
    }

    /**
     * The executors' plan cache goes where --cache-dir says (a shipped copy's folder lasts only as long as its job),
     * and nowhere with --no-cache: a second job maps what the first one wrote.
     */
    @Test
    void theExecutorsPlanCacheIsWhereItIsAsked(@org.junit.jupiter.api.io.TempDir Path cacheDir) throws IOException {
        ExecutorEngine.closeAll();
        var direct = new ModelPreparation(Precision.F32, ConvolutionAlgorithm.DIRECT, true, cacheDir.toString());
        Dataset<Row> images = SparkScoreJob.listImages(spark, List.of(photos.toString()), 2);
        assertEquals(16, job(null, DecodeOptions.DEFAULT, direct).score(images).count());
        List<Path> plans;
        try (var files = java.nio.file.Files.list(cacheDir)) {
            plans = files.filter(f -> f.getFileName().toString().endsWith(".plan")).toList();
        }
        assertEquals(1, plans.size(), "one plan file in the asked folder: " + plans);
        ExecutorEngine.closeAll();
        long written = java.nio.file.Files.getLastModifiedTime(plans.getFirst()).toMillis();
        assertEquals(16, job(null, DecodeOptions.DEFAULT, direct).score(images).count());
        assertEquals(written, java.nio.file.Files.getLastModifiedTime(plans.getFirst()).toMillis(), "the second job maps it, writes nothing");

        ExecutorEngine.closeAll();
        Path unused = java.nio.file.Files.createDirectories(tmp.resolve("unused-cache"));
        var none = new ModelPreparation(Precision.F32, ConvolutionAlgorithm.DIRECT, false, unused.toString());
        assertEquals(16, job(null, DecodeOptions.DEFAULT, none).score(images).count());
        try (var files = java.nio.file.Files.list(unused)) {
            assertEquals(0, files.count(), "--no-cache writes nothing");
        }
        assertThrows(IllegalArgumentException.class, () -> new ModelPreparation(Precision.F32, ConvolutionAlgorithm.AUTO, true, "relative/dir"));
    }
}
