package dev.snapscore.cli;

import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import static org.bytedeco.opencv.global.opencv_core.ROTATE_90_COUNTERCLOCKWISE;
import static org.bytedeco.opencv.global.opencv_core.rotate;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code report} and {@code score --html} without a browser: files, thumbnails kept or remade, placeholders, face box columns. */
class ReportCommandTest {
    private static final String MODEL = Path.of("..", "models", "vgg-mini").toString();
    private static final Path EXIF = Path.of("..", "engine", "src", "test", "resources", "exif");
    private static final Pattern SUMMARY = Pattern.compile("thumbnails in .*: (\\d+) made, (\\d+) up to date");

    @TempDir
    Path tmp;

    @Test
    void scoreHtmlWritesAnOfflinePageAndKeepsThumbnailsUntilPhotosChange() throws IOException {
        Path photos = Files.createDirectories(tmp.resolve("photos"));
        for (String s : List.of("astronaut.png", "chelsea.png", "coffee.png")) Files.copy(PhotoFolders.SAMPLES.resolve(s), photos.resolve(s));
        // Stored turned a quarter, upright with its EXIF tag: a 64 x 48 picture whose top-left block is red.
        Files.copy(EXIF.resolve("orientation-6.jpg"), photos.resolve("turned.jpg"));
        Files.write(photos.resolve("empty.jpg"), new byte[0]);
        Path scores = tmp.resolve("scores.csv"), page = tmp.resolve("out/gallery.html"), files = tmp.resolve("out/gallery_files");

        CliRun first = CliRun.run("score", "--model", MODEL, "--out", scores.toString(), "--html", page.toString(), photos.toString());
        assertEquals(SnapscoreCli.SOME_ERRORS, first.code(), first.err());
        assertEquals(List.of(4, 0), counts(first.err()));
        String html = Files.readString(page);
        assertTrue(html.contains("\"name\":\"astronaut.png\""), "rows as data");
        assertFalse(Pattern.compile("(src|href)\\s*=\\s*[\"']?(https?:|//)").matcher(html).find(), "nothing fetched from the network");
        assertFalse(html.contains("<link") || html.contains("@import") || html.contains("data:image"), "no external style, no inline images");
        Map<String, CSVRecord> manifest = manifest(files);
        assertEquals(4, manifest.size(), "a thumbnail per readable photo");
        CSVRecord turned = manifest.get(photos.resolve("turned.jpg").toAbsolutePath().toString());
        assertEquals(List.of("64", "48", "64", "48"), List.of(turned.get("width"), turned.get("height"), turned.get("photo_width"), turned.get("photo_height")),
                "upright: EXIF orientation applied");
        try (Photo thumb = ImageDecoder.withDefaults().read(files.resolve(turned.get("thumbnail")), DecodeOptions.EXACT, null, null)) {
            byte[] bgr = new byte[3];
            thumb.bgr().ptr(4, 4).get(bgr);
            assertTrue((bgr[2] & 0xff) > 190 && (bgr[1] & 0xff) < 80 && (bgr[0] & 0xff) < 80, "top-left block red (230, 30, 30)");
        }
        CSVRecord astronaut = manifest.get(photos.resolve("astronaut.png").toAbsolutePath().toString());
        assertEquals(List.of("256", "256", "512", "512"), List.of(astronaut.get("width"), astronaut.get("height"), astronaut.get("photo_width"), astronaut.get("photo_height")));
        Path astronautThumb = files.resolve(astronaut.get("thumbnail"));
        FileTime made = Files.getLastModifiedTime(astronautThumb);

        CliRun again = CliRun.run("report", scores.toString(), "--out", page.toString());
        assertEquals(SnapscoreCli.OK, again.code(), again.err());
        assertEquals(List.of(0, 4), counts(again.err()), "nothing changed: nothing decoded");
        assertEquals(made, Files.getLastModifiedTime(astronautThumb));

        // A changed photo gets a new thumbnail; a missing one a placeholder, a count, and no crash.
        Files.copy(PhotoFolders.SAMPLES.resolve("coffee.png"), photos.resolve("chelsea.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.delete(photos.resolve("astronaut.png"));
        CliRun changed = CliRun.run("report", scores.toString(), "--out", page.toString());
        assertEquals(SnapscoreCli.OK, changed.code(), changed.err());
        assertEquals(List.of(1, 2), counts(changed.err()));
        assertTrue(changed.err().contains("; 1 photos unreadable or missing (placeholders)"), changed.err());
        assertFalse(Files.exists(astronautThumb), "the missing photo's thumbnail is gone");
        assertEquals(3, manifest(files).size());
        assertTrue(Files.readString(page).contains("astronaut.png: no such file"), "the placeholder says why");
    }

    @Test
    void refusesWhatItCannotDo() throws IOException {
        CliRun noOut = CliRun.run("score", "--model", MODEL, "--html", tmp.resolve("g.html").toString(), PhotoFolders.SAMPLES.toString());
        assertEquals(SnapscoreCli.BAD_INPUT, noOut.code());
        assertTrue(noOut.err().contains("--html needs --out"), noOut.err());
        Path bad = Files.writeString(tmp.resolve("bad.csv"), "file,status\na.jpg,fine\n");
        CliRun malformed = CliRun.run("report", bad.toString(), "--out", tmp.resolve("g.html").toString());
        assertEquals(SnapscoreCli.BAD_INPUT, malformed.code());
        assertTrue(malformed.err().contains("bad.csv line 2, column 'status': 'fine' is not ok, rejected or error"), malformed.err());
        assertFalse(Files.exists(tmp.resolve("g.html")));
    }

    /**
     * The face box columns are in the photo's own upright pixels: for the astronaut at 4 times its size (the cascade
     * runs on a copy of at most 640 px), stored upright and stored turned with EXIF orientation 6, the box is centred
     * on 4 times the centre of the one serve --clean answers for the sample (164, 53, 116, 116;
     * testdata/pinned-rows/serve-clean.jsonl) and its side within two steps of the cascade's 1.3 pyramid of 4 times
     * 116 (with min neighbours 0 the largest candidate may come from a neighbouring scale). Unturned, the box of the
     * turned photo would be centred near (444, 1160), a quarter turn away.
     */
    @Test
    void faceBoxColumnsAreInTheUprightPhotosPixels() throws IOException {
        Path photos = Files.createDirectories(tmp.resolve("big"));
        try (Photo astronaut = ImageDecoder.withDefaults().read(PhotoFolders.SAMPLES.resolve("astronaut.png"), DecodeOptions.EXACT, null, null);
             Mat big = new Mat(); Mat turned = new Mat(); Size size = new Size(2048, 2048)) {
            resize(astronaut.bgr(), big, size, 0, 0, INTER_CUBIC);
            Files.write(photos.resolve("upright.jpg"), jpeg(big));
            rotate(big, turned, ROTATE_90_COUNTERCLOCKWISE);
            Files.write(photos.resolve("turned.jpg"), withOrientation(jpeg(turned), 6));
        }
        Path scores = tmp.resolve("faces.jsonl");
        CliRun r = CliRun.run("score", "--model", MODEL, "--clean", "--all-faces", "--out", scores.toString(), photos.toString());
        assertEquals(SnapscoreCli.OK, r.code(), r.err());
        CliRun csv = CliRun.run("score", "--model", MODEL, "--clean", "--all-faces", photos.toString());
        Map<String, CSVRecord> rows = new TreeMap<>();
        for (CSVRecord rec : CSVFormat.DEFAULT.builder().setHeader().build().parse(new StringReader(csv.out()))) {
            rows.put(Path.of(rec.get("file")).getFileName().toString(), rec);
        }
        for (String name : List.of("upright.jpg", "turned.jpg")) {
            CSVRecord row = rows.get(name);
            int x = Integer.parseInt(row.get("face_x")), y = Integer.parseInt(row.get("face_y"));
            int w = Integer.parseInt(row.get("face_w")), h = Integer.parseInt(row.get("face_h"));
            String where = name + ": " + row;
            assertEquals(4 * (164 + 58), x + w / 2.0, 0.04 * 2048, where);
            assertEquals(4 * (53 + 58), y + h / 2.0, 0.04 * 2048, where);
            assertTrue(w >= 4 * 116 / 1.69 && w <= 4 * 116 * 1.69 && h == w, where);
            assertEquals((double) w * h / (2048.0 * 2048), Double.parseDouble(row.get("face_fraction")), 1e-12, where);
        }
        String jsonl = Files.readString(scores);
        assertTrue(jsonl.contains("\"face_x\":") && jsonl.contains("\"face_h\":"), jsonl);
    }

    private static List<Integer> counts(String err) {
        var m = SUMMARY.matcher(err);
        assertTrue(m.find(), err);
        return List.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }

    private static Map<String, CSVRecord> manifest(Path files) throws IOException {
        Map<String, CSVRecord> m = new TreeMap<>();
        for (CSVRecord r : CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build()
                .parse(new StringReader(Files.readString(files.resolve("thumbnails.csv"))))) {
            m.put(r.get("photo"), r);
        }
        return m;
    }

    static byte[] jpeg(Mat image) {
        try (BytePointer out = new BytePointer(); IntPointer quality = new IntPointer(IMWRITE_JPEG_QUALITY, 95)) {
            assertTrue(imencode(".jpg", image, out, quality));
            byte[] b = new byte[(int) out.limit()];
            out.get(b);
            return b;
        }
    }

    /** The JPEG with an EXIF segment (APP1, right after SOI) holding only the orientation tag, as phones write it. */
    static byte[] withOrientation(byte[] jpeg, int orientation) {
        ByteBuffer app1 = ByteBuffer.allocate(36); // big-endian, as the "MM" TIFF header says
        app1.putShort((short) 0xFFE1).putShort((short) 34).put("Exif\0\0".getBytes())
                .put("MM".getBytes()).putShort((short) 42).putInt(8)        // TIFF header, IFD0 at offset 8
                .putShort((short) 1)                                          // one entry:
                .putShort((short) 0x0112).putShort((short) 3).putInt(1)      // Orientation, SHORT, count 1
                .putShort((short) orientation).putShort((short) 0)
                .putInt(0);                                                   // no next IFD
        ByteBuffer out = ByteBuffer.allocate(jpeg.length + app1.capacity());
        out.put(jpeg, 0, 2).put(app1.array()).put(jpeg, 2, jpeg.length - 2);
        return out.array();
    }
}
