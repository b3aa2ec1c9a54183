package dev.snapscore.spark;

import dev.snapscore.engine.Model;
import dev.snapscore.engine.ModelOptions;
import dev.snapscore.engine.Session;
import dev.snapscore.engine.batch.BatchScorer;
import dev.snapscore.engine.batch.ImageFiles;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.FaceDetector;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.FaceCheck;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.ScoredPhoto;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A folder of photos for the Spark tests: the bundled samples, generated images and broken files. */
final class PhotoFolder {
    static final Path SAMPLES = Path.of("..", "samples");
    static final Path MODEL = Path.of("..", "models", "vgg-mini");
    /** Rows written before the photo pipeline was shared, and the JPEG they were made with. */
    static final Path PINNED = Path.of("..", "testdata", "pinned-rows");

    /** Broken files and the words their error rows must contain. */
    static final Map<String, String> BAD = Map.of(
            "not-an-image.jpg", "not a recognised image",
            "truncated.png", "corrupt or truncated",
            "empty.png", "empty file",
            "huge-header.png", "exceeds the limit");

    private PhotoFolder() {
    }

    /** Fills {@code dir}: 3 samples, 3 of them again in a subfolder, 6 generated images, 4 broken files, a text file. */
    static void fill(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("nested/deeper"));
        for (String s : List.of("astronaut.png", "chelsea.png", "coffee.png")) {
            Files.copy(SAMPLES.resolve(s), dir.resolve(s));
            Files.copy(SAMPLES.resolve(s), dir.resolve("nested/deeper/copy-" + s));
        }
        Random r = new Random(7);
        int[][] sizes = {{320, 240}, {224, 224}, {97, 301}, {1024, 768}, {64, 48}, {500, 375}};
        for (int i = 0; i < sizes.length; i++) {
            BufferedImage img = new BufferedImage(sizes[i][0], sizes[i][1], i == 4 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setPaint(new GradientPaint(0, 0, new Color(r.nextInt()), sizes[i][0], sizes[i][1], new Color(r.nextInt())));
            g.fillRect(0, 0, sizes[i][0], sizes[i][1]);
            for (int k = 0; k < 20; k++) {
                g.setColor(new Color(r.nextInt()));
                g.fillOval(r.nextInt(sizes[i][0]), r.nextInt(sizes[i][1]), 5 + r.nextInt(60), 5 + r.nextInt(60));
            }
            g.dispose();
            String name = "generated-" + i + (i % 2 == 0 ? ".jpg" : ".png");
            if (!ImageIO.write(img, i % 2 == 0 ? "jpg" : "png", dir.resolve(i < 3 ? name : "nested/" + name).toFile())) {
                throw new IOException("no image writer for " + name);
            }
        }
        Files.writeString(dir.resolve("not-an-image.jpg"), "this is text, not a JPEG\n");
        byte[] png = Files.readAllBytes(SAMPLES.resolve("coffee.png"));
        Files.write(dir.resolve("nested/truncated.png"), Arrays.copyOf(png, png.length / 2));
        Files.write(dir.resolve("empty.png"), new byte[0]);
        Files.write(dir.resolve("huge-header.png"), pngHeader(20_000, 20_000));
        Files.writeString(dir.resolve("notes.txt"), "not listed: no image extension\n");
    }

    /** A PNG signature and an IHDR chunk claiming {@code w} × {@code h}, and no pixels. */
    private static byte[] pngHeader(int w, int h) {
        java.nio.ByteBuffer ihdr = java.nio.ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put(new byte[3]);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(ihdr.array());
        java.nio.ByteBuffer png = java.nio.ByteBuffer.allocate(33);
        png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return png.array();
    }

    /** The folder of testdata/pinned-rows/README.md: the samples, a JPEG, and empty, non-image and truncated files. */
    static void fillPinned(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        for (String s : List.of("astronaut.png", "chelsea.png", "coffee.png")) Files.copy(SAMPLES.resolve(s), dir.resolve(s));
        Files.write(dir.resolve("empty.jpg"), new byte[0]);
        Files.writeString(dir.resolve("notimage.jpg"), "definitely not a photo\n");
        byte[] jpeg = Files.readAllBytes(PINNED.resolve("chelsea.jpg")), png = Files.readAllBytes(SAMPLES.resolve("chelsea.png"));
        Files.write(dir.resolve("sub/chelsea.jpg"), jpeg);
        Files.write(dir.resolve("sub/truncated.jpg"), Arrays.copyOf(jpeg, jpeg.length / 2));
        Files.write(dir.resolve("sub/truncated.png"), Arrays.copyOf(png, png.length / 2));
    }

    /**
     * The reference: {@code snapscore score}'s own pipeline ({@link BatchScorer}, in this JVM, outside Spark)
     * on the same files, by absolute path.
     */
    static Map<String, ScoredPhoto> scoreWithEngine(Path dir, Cleaning cleaning) throws IOException {
        return scoreWithEngine(dir, cleaning, DecodeOptions.DEFAULT);
    }

    /** As {@link #scoreWithEngine(Path, Cleaning)}, decoding as {@code decode} says. */
    static Map<String, ScoredPhoto> scoreWithEngine(Path dir, Cleaning cleaning, DecodeOptions decode) throws IOException {
        return scoreWithEngine(dir, cleaning, decode, ModelOptions.defaults());
    }

    /** As {@link #scoreWithEngine(Path, Cleaning, DecodeOptions)}, with the model prepared as {@code options} say. */
    static Map<String, ScoredPhoto> scoreWithEngine(Path dir, Cleaning cleaning, DecodeOptions decode, ModelOptions options) throws IOException {
        List<Path> files = ImageFiles.list(List.of(dir), null).stream().map(p -> p.toAbsolutePath().normalize()).toList();
        ImageDecoder decoder = ImageDecoder.withDefaults();
        Map<String, ScoredPhoto> rows = new LinkedHashMap<>();
        try (Model model = Model.load(MODEL, options); Session session = model.newSession(1);
             PhotoPipeline pipeline = PhotoPipeline.forModel(model.spec(), decoder, decode, cleaning == null ? null
                     : FaceCheck.clean(new FaceDetector.Settings(cleaning.scaleFactor(), cleaning.minNeighbors(), cleaning.minSize()), cleaning.minFaceFraction())
                             .scanningAllSizes(cleaning.allFaces()))) {
            List<ScoredPhoto> all = new ArrayList<>();
            BatchScorer.run(session, pipeline, files, new BatchScorer.Options(8, 2), all::addAll);
            for (ScoredPhoto row : all) rows.put(row.file().toString(), row);
        }
        return rows;
    }
}
