package dev.snapscore.report;

import dev.snapscore.engine.photo.ScoredPhoto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading score's rows back: the pinned outputs, and every malformed file named by line and column. */
class ScoresFileTest {
    private static final Path PINNED = Path.of("..", "testdata", "pinned-rows");
    private static final String HEADER = "file,status,label,probability,p_a,p_b,expected_score,face_fraction,error\n";

    @TempDir
    Path tmp;

    @Test
    void readsTheCleanedCsvScoreWrote() throws IOException {
        ScoresFile s = ScoresFile.read(PINNED.resolve("score-clean-0.01-batch2.csv"));
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), s.labels());
        assertEquals(8, s.rows().size());
        ScoresFile.Row astronaut = s.rows().getFirst();
        assertEquals("$DIR/astronaut.png", astronaut.file());
        assertEquals(2, astronaut.line());
        assertEquals(ScoredPhoto.Status.OK, astronaut.status());
        assertEquals("1", astronaut.label());
        assertEquals(0.34930286f, astronaut.probability());
        assertEquals(0.014665975f, astronaut.probabilities()[0]);
        assertEquals(1.4629381E-4f, astronaut.probabilities()[9]);
        assertEquals(4.38544703390653, astronaut.expectedScore());
        assertEquals(0.05133056640625, astronaut.faceFraction());
        assertArrayEquals(new int[] {164, 53, 116, 116}, astronaut.faceBox());
        ScoresFile.Row coffee = s.rows().get(2);
        assertEquals(ScoredPhoto.Status.REJECTED, coffee.status());
        assertNull(coffee.label());
        assertNull(coffee.probabilities());
        assertArrayEquals(new int[] {68, 345, 41, 41}, coffee.faceBox());
        ScoresFile.Row empty = s.rows().get(3);
        assertEquals(ScoredPhoto.Status.ERROR, empty.status());
        assertEquals("$DIR/empty.jpg: empty file", empty.error());
        assertNull(empty.faceBox());
        // The quoted message with doubled quotes, on line 6.
        assertEquals(6, s.rows().get(4).line());
        assertTrue(s.rows().get(4).error().endsWith("(\"definite\")"), s.rows().get(4).error());
    }

    @Test
    void readsSparksCsvWhoseQuotesAreEscapedWithABackslash() throws IOException {
        ScoresFile spark = ScoresFile.read(PINNED.resolve("spark-clean-0.01.csv")), score = ScoresFile.read(PINNED.resolve("score-clean-0.01-batch2.csv"));
        assertEquals(score.rows().size(), spark.rows().size());
        for (int i = 0; i < score.rows().size(); i++) {
            assertEquals(score.rows().get(i).file(), spark.rows().get(i).file());
            assertEquals(score.rows().get(i).error(), spark.rows().get(i).error());
            assertArrayEquals(score.rows().get(i).faceBox(), spark.rows().get(i).faceBox());
        }
        assertError("scores.csv: not valid CSV: ", HEADER + "a.jpg,error,,,,,,,\"unclosed\" quote\n");
    }

    @Test
    void readsJsonLinesAndCsvWithoutFaceBoxes() throws IOException {
        ScoresFile jsonl = ScoresFile.read(PINNED.resolve("score-batch2.jsonl")), csv = ScoresFile.read(PINNED.resolve("score.csv"));
        assertEquals(csv.labels(), jsonl.labels());
        assertEquals(csv.rows().size(), jsonl.rows().size());
        for (int i = 0; i < csv.rows().size(); i++) {
            ScoresFile.Row a = csv.rows().get(i), b = jsonl.rows().get(i);
            assertEquals(a.file(), b.file());
            assertEquals(a.status(), b.status());
            assertEquals(a.label(), b.label());
            assertEquals(a.error(), b.error());
            assertNull(a.faceBox());
            assertNull(b.faceBox());
            if (a.probabilities() != null) {
                for (int k = 0; k < 10; k++) assertEquals(a.probabilities()[k], b.probabilities()[k], 1e-5f * Math.max(1, a.probabilities()[k]));
                assertEquals(a.expectedScore(), b.expectedScore(), 1e-5 * a.expectedScore());
            }
        }
    }

    @Test
    void malformedCsvIsNamedByLineAndColumn() throws IOException {
        assertError("scores.csv line 1: no 'status' column", "file,label\nx.jpg,a\n");
        assertError("scores.csv line 3, column 'p_b': 'high' is not a number",
                HEADER + "a.jpg,ok,a,0.6,0.6,0.4,1.4,,\nb.jpg,ok,a,0.6,0.6,high,1.4,,\n");
        assertError("scores.csv line 2, column 'p_b': missing (a scored row has every probability)", HEADER + "a.jpg,ok,a,0.6,0.6,,1.4,,\n");
        assertError("scores.csv line 2, column 'label': missing", HEADER + "a.jpg,ok,,0.6,0.6,0.4,1.4,,\n");
        assertError("scores.csv line 2, column 'status': 'maybe' is not ok, rejected or error", HEADER + "a.jpg,maybe,,,,,,,\n");
        assertError("scores.csv line 2, column 'expected_score': 'NaN' is not a finite number", HEADER + "a.jpg,ok,a,0.6,0.6,0.4,NaN,,\n");
        assertError("scores.csv line 2: 3 fields, the header has 9", HEADER + "a.jpg,ok,a\n");
        assertError("scores.csv is empty: no header line", "");
        // A quoted newline inside an error message: the next row's line number still counts it.
        assertError("scores.csv line 4, column 'status': missing", HEADER + "a.jpg,error,,,,,,,\"two\nlines\"\nb.jpg,,,,,,,,\n");
        String box = "file,status,face_fraction,face_x,face_y,face_w,face_h,error\n";
        assertError("scores.csv line 1: the face box needs all of [face_x, face_y, face_w, face_h]",
                "file,status,face_fraction,face_x,face_y,error\na.jpg,rejected,0.1,1,2,\n");
        assertError("scores.csv line 2, column 'face_w': '2.5' is not a whole number of pixels", box + "a.jpg,rejected,0.1,1,2,2.5,3,\n");
        assertError("scores.csv line 2, column 'face_x': a face box needs all of", box + "a.jpg,rejected,0.1,1,,3,3,\n");
    }

    @Test
    void malformedJsonLinesAreNamedByLineAndColumn() throws IOException {
        String good = "{\"file\":\"a.jpg\",\"status\":\"ok\",\"label\":\"a\",\"probability\":0.6,\"probabilities\":{\"a\":0.6,\"b\":0.4}}\n";
        assertError("scores.jsonl line 2: not JSON", good + "{\"file\": \n", "scores.jsonl");
        assertError("scores.jsonl line 3: not a JSON object", good + "\n[1, 2]\n", "scores.jsonl");
        assertError("scores.jsonl line 2, column 'file': missing", good + "{\"status\":\"error\",\"error\":\"x\"}\n", "scores.jsonl");
        assertError("scores.jsonl line 2, column 'probabilities' has labels [a, c], earlier rows [a, b]",
                good + good.replace("\"b\"", "\"c\""), "scores.jsonl");
        assertError("scores.jsonl line 1, column 'probabilities.b': '\"x\"' is not a number", good.replace("0.4", "\"x\""), "scores.jsonl");
        assertError("scores.jsonl line 1, column 'probabilities': a scored row needs", "{\"file\":\"a\",\"status\":\"ok\"}\n", "scores.jsonl");
        ScoresFile ok = ScoresFile.read(Files.writeString(tmp.resolve("ok.jsonl"),
                good + "{\"file\":\"b.jpg\",\"status\":\"rejected\",\"face_fraction\":0.1,\"face_x\":1,\"face_y\":2,\"face_w\":3,\"face_h\":4}\n"));
        assertEquals(List.of("a", "b"), ok.labels());
        assertArrayEquals(new int[] {1, 2, 3, 4}, ok.rows().get(1).faceBox());
        assertEquals(2, ok.rows().get(1).line());
    }

    @Test
    void refusesOtherFiles() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> ScoresFile.read(Files.writeString(tmp.resolve("scores.txt"), HEADER)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScoresFile.read(tmp.resolve("absent.csv")));
        assertTrue(e.getMessage().endsWith("absent.csv: no such file"), e.getMessage());
    }

    private void assertError(String expected, String csv) throws IOException {
        assertError(expected, csv, "scores.csv");
    }

    private void assertError(String expected, String text, String name) throws IOException {
        Path file = Files.writeString(tmp.resolve(name), text);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScoresFile.read(file));
        String message = e.getMessage().replace(file.toString(), name);
        assertTrue(message.startsWith(expected), "expected '" + expected + "', got '" + message + "'");
    }
}
