package dev.snapscore.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.ConvolutionAlgorithm;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.server.ScoreServer;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rows of score, clean and serve on the samples and broken files are those the code wrote before the
 * photo pipeline was shared (testdata/pinned-rows, see its README): text exactly, numbers within
 * {@value #TOLERANCE} of their size. They were made with direct convolutions, and run so here: the default, auto,
 * may pick Winograd for some layers, which moves logits by about 1e-5 of their size.
 */
class PinnedRowsTest {
    static final Path PINNED = Path.of("..", "testdata", "pinned-rows");
    private static final Path MODEL = Path.of("..", "models", "vgg-mini");
    private static final double TOLERANCE = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NUMBER = Pattern.compile("-?[0-9.]+(E-?[0-9]+)?");

    @TempDir
    static Path tmp;
    private static Path photos;

    @BeforeAll
    static void layOut() throws IOException {
        photos = tmp.resolve("photos");
        Files.createDirectories(photos.resolve("sub"));
        for (String s : List.of("astronaut.png", "chelsea.png", "coffee.png")) Files.copy(PhotoFolders.SAMPLES.resolve(s), photos.resolve(s));
        Files.write(photos.resolve("empty.jpg"), new byte[0]);
        Files.writeString(photos.resolve("notimage.jpg"), "definitely not a photo\n");
        byte[] jpeg = Files.readAllBytes(PINNED.resolve("chelsea.jpg")), png = Files.readAllBytes(PhotoFolders.SAMPLES.resolve("chelsea.png"));
        Files.write(photos.resolve("sub/chelsea.jpg"), jpeg);
        Files.write(photos.resolve("sub/truncated.jpg"), Arrays.copyOf(jpeg, jpeg.length / 2));
        Files.write(photos.resolve("sub/truncated.png"), Arrays.copyOf(png, png.length / 2));
    }

    /**
     * The pinned file, and the verb's arguments before the folder and the output (score gets the bundled model).
     * Every run has broken files, so each exits with 3.
     */
    static Stream<Arguments> verbs() {
        String model = MODEL.toString();
        return Stream.of(
                Arguments.of("score.csv", List.of("score", "--model", model, "--convolution", "direct")),
                Arguments.of("score-batch2.jsonl", List.of("score", "--model", model, "--convolution", "direct", "--batch", "2", "--threads", "1")),
                // The pinned run scanned every face size; the default's own rows are checked below.
                Arguments.of("score-clean-0.01-batch2.csv", List.of("score", "--model", model, "--convolution", "direct", "--clean", "--all-faces", "--min-face-fraction", "0.01", "--batch", "2")),
                // No workers: the inference thread prepares every photo itself, and the rows are the same.
                Arguments.of("score-batch2.jsonl", List.of("score", "--model", model, "--convolution", "direct", "--batch", "2", "--threads", "0")),
                Arguments.of("score-clean-0.01-batch2.csv", List.of("score", "--model", model, "--convolution", "direct", "--clean", "--all-faces", "--min-face-fraction", "0.01", "--batch", "2", "--threads", "0")),
                Arguments.of("clean-report.csv", List.of("clean", "--all-faces")));
    }

    @ParameterizedTest
    @MethodSource("verbs")
    void verb(String pinned, List<String> verb) throws IOException {
        Path out = Files.createTempDirectory(tmp, "run").resolve(pinned); // two runs may share a pinned file
        List<String> args = new ArrayList<>(verb);
        args.addAll(List.of(photos.toString(), verb.getFirst().equals("clean") ? "--report" : "--out", out.toString()));
        StringWriter err = new StringWriter();
        int code = SnapscoreCli.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args.toArray(String[]::new));
        assertEquals(SnapscoreCli.SOME_ERRORS, code, err.toString());
        String expected = Files.readString(PINNED.resolve(pinned)), actual = Files.readString(out).replace(photos.toString(), "$DIR");
        if (pinned.endsWith(".csv")) assertSameCsv(expected, actual);
        else assertSameLines(expected, actual);
    }

    /**
     * By default the face rule looks only for faces big enough to pass it: against the pinned runs (every size),
     * the same decisions, and the same rows for every kept photo; a rejected photo reports at most a face below
     * the rule, and the clean report counts at most as many candidates.
     */
    @ParameterizedTest
    @MethodSource("defaultScans")
    void theDefaultScanDecidesAsThePinnedRun(String pinned, List<String> verb, String decisionColumn, String rejected,
                                             double fraction) throws IOException {
        Path out = Files.createTempDirectory(tmp, "run").resolve(pinned);
        List<String> args = new ArrayList<>(verb);
        args.addAll(List.of(photos.toString(), verb.getFirst().equals("clean") ? "--report" : "--out", out.toString()));
        int code = SnapscoreCli.run(new PrintWriter(new StringWriter(), true), new PrintWriter(new StringWriter(), true), args.toArray(String[]::new));
        assertEquals(SnapscoreCli.SOME_ERRORS, code);
        CSVFormat header = CSVFormat.DEFAULT.builder().setHeader().build();
        List<CSVRecord> want = header.parse(new StringReader(Files.readString(PINNED.resolve(pinned)))).getRecords();
        List<CSVRecord> got = header.parse(new StringReader(Files.readString(out).replace(photos.toString(), "$DIR"))).getRecords();
        assertEquals(want.size(), got.size());
        String fractionColumn = verb.getFirst().equals("clean") ? "largest_face_fraction" : "face_fraction";
        int rejections = 0;
        for (int r = 0; r < want.size(); r++) {
            CSVRecord w = want.get(r), g = got.get(r);
            String where = "row " + r + " " + w.get("file");
            assertEquals(w.get(decisionColumn), g.get(decisionColumn), where);
            for (String column : want.getFirst().getParser().getHeaderNames()) {
                boolean face = column.startsWith("face") || column.equals("largest_face_fraction");
                if (!face) {
                    assertSame(w.get(column), g.get(column), where + " " + column);
                } else if (w.get(decisionColumn).equals(rejected)) {
                    if (column.equals(fractionColumn)) assertTrue(Double.parseDouble(g.get(column)) <= fraction, where + ": " + g);
                    if (column.equals("faces")) assertTrue(Integer.parseInt(g.get(column)) <= Integer.parseInt(w.get(column)), where);
                } else if (column.equals("faces") && !w.get(column).isEmpty()) {
                    assertTrue(Integer.parseInt(g.get(column)) >= 1 && Integer.parseInt(g.get(column)) <= Integer.parseInt(w.get(column)), where);
                } else {
                    assertSame(w.get(column), g.get(column), where + " " + column);
                }
            }
            if (w.get(decisionColumn).equals(rejected)) rejections++;
        }
        assertTrue(rejections > 0, "the pinned runs reject photos with smaller faces");
    }

    static Stream<Arguments> defaultScans() {
        return Stream.of(
                Arguments.of("score-clean-0.01-batch2.csv", List.of("score", "--model", MODEL.toString(), "--convolution", "direct", "--clean", "--min-face-fraction", "0.01", "--batch", "2"),
                        "status", "rejected", 0.01),
                Arguments.of("clean-report.csv", List.of("clean"), "decision", "reject", 0.15));
    }

    @Test
    void serve() throws Exception {
        for (boolean clean : new boolean[] {false, true}) {
            StringBuilder answers = new StringBuilder();
            try (Model model = Model.load(MODEL, ModelOptions.defaults().withConvolution(ConvolutionAlgorithm.DIRECT));
                 ScoreServer server = ScoreServer.start("127.0.0.1", 0, Scorer.start(model, Scorer.Options.defaults()
                         .withDetector(clean ? FaceDetector.Settings.STUDY : null)), model.spec(), 5_000_000);
                 HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
                 Stream<Path> files = Files.walk(photos)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/score"))
                            .header("Content-Type", "image/jpeg").POST(HttpRequest.BodyPublishers.ofFile(f)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    ObjectNode answer = JSON.createObjectNode().put("file", photos.relativize(f).toString()).put("http", r.statusCode());
                    answer.set("body", JSON.readTree(r.body()));
                    answers.append(answer).append('\n');
                }
            }
            assertSameLines(Files.readString(PINNED.resolve(clean ? "serve-clean.jsonl" : "serve-plain.jsonl")), answers.toString());
        }
    }

    private static void assertSameCsv(String expected, String actual) throws IOException {
        List<CSVRecord> want = CSVFormat.DEFAULT.parse(new StringReader(expected)).getRecords();
        List<CSVRecord> got = CSVFormat.DEFAULT.parse(new StringReader(actual)).getRecords();
        assertEquals(want.size(), got.size(), actual);
        for (int r = 0; r < want.size(); r++) {
            assertEquals(want.get(r).size(), got.get(r).size(), "row " + r + ": " + got.get(r));
            for (int c = 0; c < want.get(r).size(); c++) assertSame(want.get(r).get(c), got.get(r).get(c), "row " + r + " column " + c);
        }
    }

    /** JSON Lines: the same objects, fields in the same order. */
    private static void assertSameLines(String expected, String actual) throws IOException {
        List<String> want = expected.lines().toList(), got = actual.lines().toList();
        assertEquals(want.size(), got.size(), actual);
        for (int i = 0; i < want.size(); i++) assertSame(JSON.readTree(want.get(i)), JSON.readTree(got.get(i)), got.get(i));
    }

    private static void assertSame(JsonNode want, JsonNode got, String where) {
        if (want.isNumber()) {
            assertTrue(got.isNumber(), where);
            assertClose(want.asDouble(), got.asDouble(), where);
        } else if (want.isObject()) {
            assertEquals(names(want), names(got), where);
            for (String name : names(want)) assertSame(want.get(name), got.get(name), where + " ." + name);
        } else {
            assertEquals(want, got, where);
        }
    }

    private static List<String> names(JsonNode n) {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) names.add(it.next());
        return names;
    }

    /** A CSV cell: numbers within the tolerance, anything else exactly. */
    private static void assertSame(String want, String got, String where) {
        if (NUMBER.matcher(want).matches() && NUMBER.matcher(got).matches()) {
            assertClose(Double.parseDouble(want), Double.parseDouble(got), where + ": " + got);
        } else {
            assertEquals(want, got, where);
        }
    }

    private static void assertClose(double want, double got, String where) {
        assertEquals(want, got, TOLERANCE * Math.max(1, Math.abs(want)), where);
    }
}
