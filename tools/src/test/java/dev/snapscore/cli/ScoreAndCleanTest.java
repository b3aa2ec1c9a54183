package dev.snapscore.cli;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.snapscore.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code score} and {@code clean} on real folders, as a user runs them. */
class ScoreAndCleanTest {
    private static final String MODEL = Path.of("..", "models", "vgg-mini").toString();


    private static Map<String, CSVRecord> rowsByFile(String csv) throws IOException {
        Map<String, CSVRecord> rows = new TreeMap<>();
        for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(new StringReader(csv))) {
            rows.put(Path.of(r.get("file")).getFileName().toString(), r);
        }
        return rows;
    }

    @Test
    void badFilesBecomeErrorRowsAndTheRestAreScored(@TempDir Path dir) throws IOException {
        Path photos = Files.createDirectories(dir.resolve("photos"));
        Files.write(photos.resolve("empty.jpg"), new byte[0]);
        Files.writeString(photos.resolve("notes.jpg"), "not an image, just text");
        PhotoFolders.truncatedCopy(PhotoFolders.SAMPLES.resolve("chelsea.png"), photos.resolve("truncated.png"));
        PhotoFolders.pngHeaderOnly(photos.resolve("huge.png"), 100_000, 100_000);
        PhotoFolders.noise(photos.resolve("one.png"), 1, 1, 1, BufferedImage.TYPE_INT_RGB);
        PhotoFolders.noise(photos.resolve("gray.png"), 40, 30, 2, BufferedImage.TYPE_BYTE_GRAY);
        PhotoFolders.noise(photos.resolve("alpha.png"), 40, 30, 3, BufferedImage.TYPE_INT_ARGB);
        PhotoFolders.noise(photos.resolve("nested/deeper/photo.jpg"), 50, 40, 4, BufferedImage.TYPE_INT_RGB);
        PhotoFolders.cmykJpeg(photos.resolve("cmyk.jpg"));
        Files.writeString(photos.resolve("readme.txt"), "ignored: not an image extension");

        CliRun r = run("score", "--model", MODEL, photos.toString());
        assertEquals(3, r.code(), "exit 3 when some rows are errors\n" + r.err());
        Map<String, CSVRecord> rows = rowsByFile(r.out());
        assertEquals(9, rows.size(), rows.keySet().toString());
        for (String bad : List.of("empty.jpg", "notes.jpg", "truncated.png", "huge.png")) {
            assertEquals("error", rows.get(bad).get("status"), bad);
        }
        assertTrue(rows.get("empty.jpg").get("error").contains("empty file"));
        assertTrue(rows.get("notes.jpg").get("error").contains("not a recognised image"));
        assertTrue(rows.get("huge.png").get("error").contains("exceeds the limit"));
        for (String good : List.of("one.png", "gray.png", "alpha.png", "photo.jpg", "cmyk.jpg")) {
            CSVRecord row = rows.get(good);
            assertEquals("ok", row.get("status"), good + ": " + row.get("error"));
            double sum = 0;
            for (int c = 0; c < 10; c++) sum += Double.parseDouble(row.get("p_" + c));
            assertEquals(1.0, sum, 1e-5, good + " probabilities sum to 1");
            double expected = Double.parseDouble(row.get("expected_score"));
            assertTrue(expected >= 0 && expected <= 9, "expected score within the label values: " + expected);
        }
        assertTrue(r.err().contains("scored 5, rejected 0, errors 4 of 9"), r.err());
    }

    @Test
    void resultsAreIdenticalWithOneOrManyWorkerThreadsAndBatchSizes(@TempDir Path dir) throws IOException {
        Path photos = Files.createDirectories(dir.resolve("p"));
        for (int i = 0; i < 11; i++) PhotoFolders.noise(photos.resolve("n" + i + ".jpg"), 60 + i, 50, i, BufferedImage.TYPE_INT_RGB);
        Files.write(photos.resolve("broken.jpg"), new byte[] {1, 2, 3});
        CliRun one = run("score", "--model", MODEL, "--threads", "1", "--batch", "4", photos.toString());
        CliRun many = run("score", "--model", MODEL, "--threads", "4", "--batch", "4", photos.toString());
        assertEquals(3, one.code());
        assertEquals(one.out(), many.out(), "same rows, same order, same values");
        CliRun batch1 = run("score", "--model", MODEL, "--threads", "3", "--batch", "1", photos.toString());
        Map<String, CSVRecord> a = rowsByFile(one.out()), b = rowsByFile(batch1.out());
        for (String f : a.keySet()) {
            assertEquals(a.get(f).get("label"), b.get(f).get("label"), f);
            if (!a.get(f).get("status").equals("ok")) continue;
            for (int c = 0; c < 10; c++) {
                assertEquals(Double.parseDouble(a.get(f).get("p_" + c)), Double.parseDouble(b.get(f).get("p_" + c)), 1e-5, f);
            }
        }
    }

    /** A real child process killed with SIGKILL mid-run, then resumed: every photo exactly once, no torn rows. */
    @Test
    void killedRunResumesWithEveryPhotoExactlyOnce(@TempDir Path dir) throws Exception {
        Path photos = Files.createDirectories(dir.resolve("many"));
        int total = 400;
        for (int i = 0; i < total; i++) PhotoFolders.noise(photos.resolve(String.format("p%03d.png", i)), 32, 32, i, BufferedImage.TYPE_INT_RGB);
        Path out = dir.resolve("scores.csv");
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), SnapscoreCli.class.getName(), "score", "--model", MODEL,
                "--out", out.toString(), "--batch", "1", "--threads", "1", photos.toString());
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (lines(out) < 40 && child.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
        child.destroyForcibly(); // SIGKILL
        child.waitFor(30, TimeUnit.SECONDS);
        long before = lines(out) - 1;
        assertTrue(before > 0 && before < total, "killed mid-run after " + before + " rows; log: " + Files.readString(dir.resolve("child.log")));

        CliRun resumed = run("score", "--model", MODEL, "--out", out.toString(), "--resume", photos.toString());
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("resuming"), resumed.err());
        Map<String, Integer> seen = new HashMap<>();
        for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build()
                .parse(new StringReader(Files.readString(out)))) {
            assertTrue(r.isConsistent(), "torn row: " + r);
            assertEquals("ok", r.get("status"));
            seen.merge(Path.of(r.get("file")).getFileName().toString(), 1, Integer::sum);
        }
        assertEquals(total, seen.size(), "every photo present");
        assertTrue(seen.values().stream().allMatch(n -> n == 1), "no photo twice");
    }

    private static long lines(Path file) throws IOException {
        if (!Files.exists(file)) return 0;
        try (Stream<String> s = Files.lines(file)) {
            return s.count();
        }
    }

    /** A model whose last bias is NaN: every row is an error naming the model, never ok with NaN probabilities. */
    @Test
    void nonFiniteOutputsBecomeErrorRows(@TempDir Path dir) throws IOException {
        Path broken = dev.snapscore.server.PoisonedModel.copyWithNaN(Path.of(MODEL), "classifier.12.bias", dir);
        Path out = dir.resolve("scores.csv");
        run("score", "--model", broken.toString(), "--out", out.toString(), PhotoFolders.SAMPLES.toString());
        Map<String, CSVRecord> rows = rowsByFile(Files.readString(out));
        assertEquals(3, rows.size(), rows.toString()); // the three sample photos
        for (CSVRecord r : rows.values()) {
            assertEquals("error", r.get("status"), r.toString());
            assertTrue(r.get("error").contains("model vgg-mini produced a non-finite output (NaN)"), r.toString());
            assertEquals("", r.get("probability"), r.toString());
        }
    }

    @Test
    void existingOutputIsNeverOverwrittenWithoutResume(@TempDir Path dir) throws IOException {
        Path out = Files.writeString(dir.resolve("keep.csv"), "precious\n");
        CliRun r = run("score", "--model", MODEL, "--out", out.toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(2, r.code());
        assertEquals("precious\n", Files.readString(out));
        assertEquals(2, run("score", "--model", MODEL, "--resume", PhotoFolders.SAMPLES.toString()).code(), "--resume needs --out");
        assertEquals(2, run("score", "--model", MODEL, dir.resolve("missing").toString()).code());
    }

    /** A bad --out is refused before the model loads: the run names it, not the (here missing) model. */
    @Test
    void aBadOutputIsRefusedBeforeTheModelLoads(@TempDir Path dir) throws IOException {
        String model = dir.resolve("no-such-model").toString();
        Path out = Files.writeString(dir.resolve("keep.csv"), "precious\n");
        CliRun exists = run("score", "--model", model, "--out", out.toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(2, exists.code());
        assertTrue(exists.err().contains(out + " already exists"), exists.err());
        CliRun format = run("score", "--model", model, "--out", dir.resolve("scores.txt").toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(2, format.code());
        assertTrue(format.err().contains("--out must end in .csv or .jsonl"), format.err());
        CliRun missing = run("score", "--model", model, "--out", dir.resolve("new.csv").toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no-such-model"), "with a good --out, the missing model is the error: " + missing.err());
        assertFalse(Files.exists(dir.resolve("new.csv")), "no output file for a run that never started");
    }

    /** With --clean the rows have the face box columns, so a resume must clean (or not) as the first run did. */
    @Test
    void resumeRefusesToMixRowsWithAndWithoutFaceBoxes(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("plain.csv");
        assertEquals(0, run("score", "--model", MODEL, "--out", out.toString(), PhotoFolders.SAMPLES.toString()).code());
        String before = Files.readString(out);
        CliRun r = run("score", "--model", MODEL, "--clean", "--resume", "--out", out.toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("was it written without --clean?"), r.err());
        assertEquals(before, Files.readString(out));
    }

    @Test
    void cleanAppliesTheThresholdAroundTheAstronautsFace(@TempDir Path dir) throws IOException {
        // The astronaut's largest face is 5.13% of the photo (OpenCV, scale 1.3, min neighbours 0).
        CliRun strict = run("clean", "--all-faces", PhotoFolders.SAMPLES.toString());
        assertEquals(0, strict.code(), strict.err());
        Map<String, CSVRecord> rows = rowsByFile(strict.out());
        assertEquals("reject", rows.get("astronaut.png").get("decision"));
        assertEquals(0.0513, Double.parseDouble(rows.get("astronaut.png").get("largest_face_fraction")), 1e-4);
        assertEquals("reject", rows.get("coffee.png").get("decision"));
        CliRun loose = run("clean", "--min-face-fraction", "0.05", PhotoFolders.SAMPLES.toString());
        assertEquals("keep", rowsByFile(loose.out()).get("astronaut.png").get("decision"));
        CliRun tighter = run("clean", "--min-face-fraction", "0.052", PhotoFolders.SAMPLES.toString());
        assertEquals("reject", rowsByFile(tighter.out()).get("astronaut.png").get("decision"));
        assertTrue(strict.err().contains("dry run"), strict.err());
    }

    @Test
    void moveRejectedThenUndoRestoresTheFolderByteForByte(@TempDir Path dir) throws IOException {
        Path photos = Files.createDirectories(dir.resolve("photos/sub"));
        for (String f : List.of("astronaut.png", "chelsea.png")) Files.copy(PhotoFolders.SAMPLES.resolve(f), photos.resolve(f));
        Files.copy(PhotoFolders.SAMPLES.resolve("coffee.png"), dir.resolve("photos/coffee.png"));
        Files.writeString(dir.resolve("photos/bad.jpg"), "garbage");
        Map<Path, byte[]> before = snapshot(dir.resolve("photos"));
        Path rejected = dir.resolve("rejected");

        // Chelsea's largest candidate covers 5.9%, the astronaut's 5.1%: at 5.5% one stays and one goes.
        CliRun move = run("clean", "--min-face-fraction", "0.055", "--move-rejected", rejected.toString(),
                "--report", dir.resolve("report.csv").toString(), dir.resolve("photos").toString());
        assertEquals(3, move.code(), "bad.jpg is an error\n" + move.err());
        assertTrue(Files.exists(rejected.resolve("sub/astronaut.png")) && Files.exists(rejected.resolve("coffee.png")));
        assertTrue(Files.exists(photos.resolve("chelsea.png")) && !Files.exists(photos.resolve("astronaut.png")));
        assertTrue(Files.exists(dir.resolve("photos/bad.jpg")), "errors are never moved");

        CliRun again = run("clean", "--min-face-fraction", "0.055", "--move-rejected", rejected.toString(), dir.resolve("photos").toString());
        assertTrue(again.err().contains("moved 0"), "idempotent: " + again.err());

        CliRun undo = run("clean", "--undo", rejected.resolve("snapscore-moves.csv").toString());
        assertEquals(0, undo.code(), undo.err());
        Map<Path, byte[]> after = snapshot(dir.resolve("photos"));
        assertEquals(before.keySet(), after.keySet());
        for (Path p : before.keySet()) assertTrue(java.util.Arrays.equals(before.get(p), after.get(p)), p + " changed");
        assertTrue(run("clean", "--undo", rejected.resolve("snapscore-moves.csv").toString()).err().contains("already in place"));
    }

    private static Map<Path, byte[]> snapshot(Path root) throws IOException {
        Map<Path, byte[]> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) files.put(root.relativize(p), Files.readAllBytes(p));
        }
        return files;
    }
}
