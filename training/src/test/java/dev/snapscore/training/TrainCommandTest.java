package dev.snapscore.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line's help and its errors for bad input: exit 2 and a message that says what is wrong. */
class TrainCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpNamesTheOptions() {
        Train r = Train.run("--help");
        assertEquals(0, r.code());
        for (String o : List.of("--data", "--posts", "--width", "--head", "--init", "--export", "--augment", "--patience",
                "--[no-]batch-norm", "--lr", "--warmup-epochs", "--resume", "--export-anyway", "3 the model did not learn")) {
            assertTrue(r.out().contains(o), o + " missing from:\n" + r.out());
        }
    }

    @Test
    void dataIsRequiredOnceOnly() {
        Train none = Train.run("--epochs", "1");
        assertEquals(2, none.code());
        assertTrue(none.err().contains("--data") && none.err().contains("--posts"), none.err());
        Train both = Train.run("--data", "a", "--posts", "b.csv");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
    }

    @Test
    void badDataIsReportedBeforeAnyTraining() throws IOException {
        Train missing = Train.run("--data", dir.resolve("nope").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such data folder"), missing.err());

        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        Train empty = Train.run("--data", dir.toString());
        assertEquals(2, empty.code());
        assertTrue(empty.err().contains("holds no images"), empty.err());

        Path csv = Files.writeString(dir.resolve("posts.csv"), "file,likes\nx.jpg,3\n");
        Train columns = Train.run("--posts", csv.toString());
        assertEquals(2, columns.code());
        assertTrue(columns.err().contains("missing column(s) [comments, age_seconds]"), columns.err());

        Train options = Train.run("--data", dir.toString(), "--validation", "1.5");
        assertEquals(2, options.code());
        assertTrue(options.err().contains("--validation must be in (0, 1)"), options.err());
    }

    /** Every photo unreadable: the engine's decoder says why, and training refuses to start. */
    @Test
    void unreadablePhotosAreNamed() throws IOException {
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        Files.writeString(dir.resolve("a/broken.jpg"), "not a jpeg");
        Files.write(dir.resolve("b/empty.png"), new byte[0]);
        Train r = Train.run("--data", dir.toString(), "--input-size", "32", "--width", "0.03125", "--head", "4");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("none of the 2 images could be read"), r.err());
    }
}
