package dev.snapscore.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code snapscore spark-score} as a user runs it: exit codes, messages, the output folder. */
class SparkScoreCommandTest {
    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SparkScoreCommand.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void scoresAFolderIntoCsvAndRefusesToOverwriteIt() throws IOException {
        Path photos = tmp.resolve("photos");
        PhotoFolder.fill(photos);
        Path out = tmp.resolve("scores.csv");
        String[] args = {"--master", "local[2]", "--model", PhotoFolder.MODEL.toString(), "--input", photos.toString(),
                "--output", out.toString()};
        Run r = run(args);
        assertEquals(3, r.code(), "some photos are broken: " + r.err());
        assertTrue(r.err().contains("scored 12, rejected 0, errors 4 of 16 photos"), r.err());
        long rows;
        try (Stream<Path> parts = Files.list(out)) {
            rows = parts.filter(p -> p.getFileName().toString().startsWith("part-")).mapToLong(p -> {
                try {
                    List<String> lines = Files.readAllLines(p);
                    return lines.isEmpty() ? 0 : lines.size() - 1; // a header per part file
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sum();
        }
        assertEquals(16, rows);
        assertTrue(Files.exists(out.resolve("_SUCCESS")), "Spark's commit marker");

        Run again = run(args);
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already exists; pass --overwrite"), again.err());
    }

    @Test
    void badArgumentsAreExplained() {
        Path out = tmp.resolve("o.parquet");
        Run noModel = run("--model", tmp.resolve("missing-model").toString(), "--input", ".", "--output", out.toString());
        assertEquals(2, noModel.code());
        assertTrue(noModel.err().contains("no such model"), noModel.err());
        Run noInput = run("--master", "local[2]", "--model", PhotoFolder.MODEL.toString(), "--input", tmp.resolve("nowhere").toString(),
                "--output", out.toString());
        assertEquals(2, noInput.code());
        assertTrue(noInput.err().contains("no such file or folder"), noInput.err());
        Run noOutput = run("--model", PhotoFolder.MODEL.toString(), "--input", ".");
        assertEquals(2, noOutput.code());
        assertTrue(noOutput.err().contains("--output"), noOutput.err());
        assertEquals(2, run("--input", ".", "--output", out.toString(), "--format", "orc").code());
        Run coarse = run("--model", PhotoFolder.MODEL.toString(), "--input", ".", "--output", out.toString(), "--clean", "--clean-resolution", "20");
        assertEquals(2, coarse.code());
        assertTrue(coarse.err().contains("clean resolution must be 0 (full resolution) or at least 48 pixels, got 20"), coarse.err());
        Run sideways = run("--model", PhotoFolder.MODEL.toString(), "--input", ".", "--output", out.toString(), "--convolution", "sideways");
        assertEquals(2, sideways.code());
        assertTrue(sideways.err().contains("--convolution") && sideways.err().contains("direct"), sideways.err());
    }
}
