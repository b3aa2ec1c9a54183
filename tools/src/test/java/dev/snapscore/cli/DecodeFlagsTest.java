package dev.snapscore.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.Model;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.serving.Scorer;
import dev.snapscore.server.ScoreServer;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --exact-decode}, {@code --clean-resolution} and {@code --ignore-thumbnails} reach the photo pipeline of score, clean and serve, on 12 MP
 * phone-size JPEGs made here with OpenCV: the astronaut (landscape 4032 x 3024) and a head-and-shoulders crop of it
 * (portrait 3024 x 4032, a selfie whose face covers more than 15%).
 */
class DecodeFlagsTest {
    private static final String MODEL = Path.of("..", "models", "vgg-mini").toString();
    private static final ImageDecoder DECODER = ImageDecoder.withDefaults();
    /**
     * Fast decode moves the fixture model's logits by at most 0.16 (README, "Photos"); softmax moves no probability
     * by more than half the largest logit change.
     */
    private static final double PROBABILITY_BOUND = 0.08;

    @TempDir
    static Path tmp;
    private static Path photos;

    @BeforeAll
    static void phonePhotos() throws IOException {
        photos = Files.createDirectories(tmp.resolve("photos"));
        try (Photo astronaut = DECODER.read(PhotoFolders.SAMPLES.resolve("astronaut.png"), DecodeOptions.EXACT, null, null);
             FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT)) {
            Files.write(photos.resolve("landscape.jpg"), jpeg(astronaut.bgr(), 4032, 3024));
            // As FaceDetectorTest's crop: 240 px around the face, which then covers more than 15% of it.
            var face = detector.detect(astronaut);
            int x = Math.max(0, face.largestX() + face.largestWidth() / 2 - 120), y = Math.max(0, face.largestY() - 40);
            try (Rect head = new Rect(x, y, 240, 240); Mat crop = new Mat(astronaut.bgr(), head)) {
                Files.write(photos.resolve("selfie.jpg"), jpeg(crop, 3024, 4032));
            }
        }
    }

    private static byte[] jpeg(Mat image, int width, int height) {
        try (Mat big = new Mat(); Size size = new Size(width, height); BytePointer out = new BytePointer();
             IntPointer quality = new IntPointer(IMWRITE_JPEG_QUALITY, 90)) {
            resize(image, big, size, 0, 0, INTER_CUBIC);
            assertTrue(imencode(".jpg", big, out, quality));
            byte[] bytes = new byte[(int) out.limit()];
            out.get(bytes);
            return bytes;
        }
    }

    private static Map<String, CSVRecord> run(String... args) throws IOException {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SnapscoreCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        assertEquals(SnapscoreCli.OK, code, err.toString());
        Map<String, CSVRecord> rows = new TreeMap<>();
        for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(new StringReader(out.toString()))) {
            rows.put(Path.of(r.get("file")).getFileName().toString(), r);
        }
        assertEquals(List.of("landscape.jpg", "selfie.jpg"), List.copyOf(rows.keySet()));
        return rows;
    }

    @Test
    void exactDecodeMovesScoresWithinTheDocumentedBound() throws IOException {
        Map<String, CSVRecord> fast = run("score", "--model", MODEL, photos.toString());
        Map<String, CSVRecord> exact = run("score", "--model", MODEL, "--exact-decode", photos.toString());
        for (String file : fast.keySet()) {
            double moved = 0;
            for (String column : fast.get(file).getParser().getHeaderNames()) {
                if (!column.startsWith("p_")) continue;
                moved = Math.max(moved, Math.abs(Double.parseDouble(fast.get(file).get(column)) - Double.parseDouble(exact.get(file).get(column))));
            }
            System.out.printf("%s: fast vs exact decode, largest probability change %.5f%n", file, moved);
            assertTrue(moved > 1e-6, file + ": the flag must change the decode (max change " + moved + ")");
            assertTrue(moved <= PROBABILITY_BOUND, file + ": probabilities moved by " + moved);
        }
    }

    /** The face fraction of the photo at full resolution, as the study computed it. */
    private static double exactFraction(String file) {
        try (FaceDetector detector = new FaceDetector(FaceDetector.Settings.STUDY, DecodeOptions.EXACT);
             Photo photo = DECODER.read(photos.resolve(file), DecodeOptions.EXACT, null, FaceDetector.Settings.STUDY)) {
            return detector.detect(photo).largestFraction();
        }
    }

    @Test
    void cleanResolutionZeroIsTheStudysFullResolutionAndTheDefaultDecidesAlike() throws IOException {
        Map<String, CSVRecord> full = run("clean", "--all-faces", "--clean-resolution", "0", photos.toString());
        Map<String, CSVRecord> fast = run("clean", "--all-faces", photos.toString());
        for (String file : full.keySet()) {
            double want = exactFraction(file);
            double got = Double.parseDouble(full.get(file).get("largest_face_fraction"));
            double fastFraction = Double.parseDouble(fast.get(file).get("largest_face_fraction"));
            System.out.printf("%s: face fraction %.4f at full resolution, %.4f at 640 px%n", file, got, fastFraction);
            assertEquals(want, got, 1e-12, file);
            assertEquals(full.get(file).get("decision"), fast.get(file).get("decision"), file);
            assertEquals(want, fastFraction, 0.01 * want, file + ": the default moves the fraction by under 1%");
            // Sizes are the photo's own, whatever scale it was decoded at.
            for (var rows : List.of(full, fast)) {
                assertEquals(file.equals("selfie.jpg") ? "3024" : "4032", rows.get(file).get("width"), file);
                assertEquals(file.equals("selfie.jpg") ? "4032" : "3024", rows.get(file).get("height"), file);
            }
        }
        assertEquals("keep", fast.get("selfie.jpg").get("decision"));
        assertEquals("reject", fast.get("landscape.jpg").get("decision"));
        // The clean resolution is checked where it is parsed.
        StringWriter err = new StringWriter();
        assertEquals(SnapscoreCli.BAD_INPUT, SnapscoreCli.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
                "clean", "--clean-resolution", "20", photos.toString()));
        assertTrue(err.toString().contains("clean resolution must be 0 (full resolution) or at least 48 pixels, got 20"), err.toString());
    }

    /**
     * {@code score --clean} and {@code clean} reject a photo from its EXIF thumbnail (piexif's fixtures, see
     * {@code make_exif_thumbnails.py}) and say how many; {@code --ignore-thumbnails} decodes every photo. The stale
     * fixture (a selfie carrying a faceless thumbnail with a consistent EXIF block) tells the two apart.
     */
    @Test
    void thumbnailsRejectUntilIgnored(@TempDir Path folder) throws IOException {
        Path exif = Path.of("..", "engine", "src", "test", "resources", "exif");
        for (String name : new String[] {"thumbnail-face-o6.jpg", "thumbnail-noface.jpg", "thumbnail-stale.jpg"}) {
            Files.copy(exif.resolve(name), folder.resolve(name));
        }
        Map<String, String> want = Map.of("thumbnail-face-o6.jpg", "ok", "thumbnail-noface.jpg", "rejected", "thumbnail-stale.jpg", "rejected");
        String summary = decisions(want, "score", "--model", MODEL, "--clean", folder.toString());
        assertTrue(summary.contains("scored 1, rejected 2 (2 from their EXIF thumbnails), errors 0 of 3 photos"), summary);
        summary = decisions(Map.of("thumbnail-face-o6.jpg", "ok", "thumbnail-noface.jpg", "rejected", "thumbnail-stale.jpg", "ok"),
                "score", "--model", MODEL, "--clean", "--ignore-thumbnails", folder.toString());
        assertTrue(summary.contains("scored 2, rejected 1, errors 0 of 3 photos"), summary);
        summary = decisions(Map.of("thumbnail-face-o6.jpg", "keep", "thumbnail-noface.jpg", "reject", "thumbnail-stale.jpg", "reject"),
                "clean", folder.toString());
        assertTrue(summary.contains("kept 1, rejected 2 (2 from their EXIF thumbnails), errors 0 of 3 photos"), summary);
        summary = decisions(Map.of("thumbnail-face-o6.jpg", "keep", "thumbnail-noface.jpg", "reject", "thumbnail-stale.jpg", "keep"),
                "clean", "--ignore-thumbnails", folder.toString());
        assertTrue(summary.contains("kept 2, rejected 1, errors 0 of 3 photos"), summary);
    }

    /** Runs the command, checks each file's status (score) or decision (clean), and returns the summary on stderr. */
    private static String decisions(Map<String, String> want, String... args) throws IOException {
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(SnapscoreCli.OK, SnapscoreCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args), err.toString());
        Map<String, String> got = new TreeMap<>();
        for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(new StringReader(out.toString()))) {
            got.put(Path.of(r.get("file")).getFileName().toString(), r.isMapped("decision") ? r.get("decision") : r.get("status"));
        }
        assertEquals(new TreeMap<>(want), got, String.join(" ", args));
        return err.toString();
    }

    /** A big upload's face box and image size are in the photo's own pixels, as with an exact decode. */
    @Test
    void serveReportsFacesInThePhotosOwnCoordinates() throws Exception {
        JsonNode fast = upload(DecodeOptions.DEFAULT), exact = upload(new DecodeOptions(true, DecodeOptions.FULL_RESOLUTION));
        for (JsonNode answer : List.of(fast, exact)) {
            assertEquals(3024, answer.get("image_width").asInt(), answer.toString());
            assertEquals(4032, answer.get("image_height").asInt(), answer.toString());
            JsonNode face = answer.get("face");
            assertTrue(face.get("x").asInt() + face.get("width").asInt() <= 3024 && face.get("y").asInt() + face.get("height").asInt() <= 4032, answer.toString());
        }
        assertEquals(exact.get("face_fraction").asDouble(), fast.get("face_fraction").asDouble(), 0.01 * exact.get("face_fraction").asDouble());
        double overlap = overlap(exact.get("face"), fast.get("face"));
        System.out.printf("serve, 12 MP selfie: face %s exact, %s fast (intersection over union %.3f)%n", exact.get("face"), fast.get("face"), overlap);
        assertTrue(overlap > 0.7, "the same face: " + exact + " vs " + fast);
    }

    /** Intersection over union of two boxes. */
    private static double overlap(JsonNode a, JsonNode b) {
        int ax = a.get("x").asInt(), ay = a.get("y").asInt(), aw = a.get("width").asInt(), ah = a.get("height").asInt();
        int bx = b.get("x").asInt(), by = b.get("y").asInt(), bw = b.get("width").asInt(), bh = b.get("height").asInt();
        double w = Math.max(0, Math.min(ax + aw, bx + bw) - Math.max(ax, bx)), h = Math.max(0, Math.min(ay + ah, by + bh) - Math.max(ay, by));
        return w * h / ((double) aw * ah + (double) bw * bh - w * h);
    }

    private static JsonNode upload(DecodeOptions decode) throws Exception {
        try (Model model = Model.load(Path.of(MODEL));
             ScoreServer server = ScoreServer.start("127.0.0.1", 0, Scorer.start(model, Scorer.Options.defaults()
                     .withDecode(decode).withDetector(FaceDetector.Settings.STUDY)), model.spec(), 20_000_000);
             HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/score"))
                    .header("Content-Type", "image/jpeg").POST(HttpRequest.BodyPublishers.ofFile(photos.resolve("selfie.jpg"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            return new ObjectMapper().readTree(r.body());
        }
    }
}
