package dev.snapscore.report;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.image.DecodeOptions;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.image.Photo;
import dev.snapscore.engine.spec.InputShape;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * JPEG thumbnails of photos in one folder, made with the engine's own decoder (libjpeg's reduced-size decode of
 * JPEGs, EXIF orientation applied, so thumbnails are upright) and kept: a photo whose size and modification time
 * are those recorded in the folder's {@value #MANIFEST} is not decoded again. The manifest also keeps each photo's
 * upright size, in which face boxes are given.
 */
public final class Thumbnails {
    /** Longest side of a thumbnail, in pixels: sharp in a 180 px card, small on disk (10-20 KB). */
    public static final int SIZE = 256;
    static final String MANIFEST = "thumbnails.csv";
    private static final int QUALITY = 85;
    private static final List<String> COLUMNS = List.of("photo", "bytes", "modified_ms", "thumbnail", "width", "height",
            "photo_width", "photo_height");

    /**
     * A photo's thumbnail.
     *
     * @param name       the thumbnail's file name in the folder
     * @param width      the thumbnail's size
     * @param photoWidth the photo's own upright size
     */
    public record Thumbnail(String name, int width, int height, int photoWidth, int photoHeight) {
    }

    /**
     * What {@link #update} did.
     *
     * @param thumbnails each readable photo's thumbnail
     * @param problems   why each other photo has none (missing, not an image, ...)
     */
    public record Result(Map<Path, Thumbnail> thumbnails, Map<Path, String> problems, int made, int reused) {
    }

    /** Told how many photos need a new thumbnail, then of each one done. */
    public interface Progress {
        Progress NONE = new Progress() {
            @Override
            public void start(int photos) {
            }

            @Override
            public void step() {
            }
        };

        void start(int photos);

        void step();
    }

    private record Entry(long bytes, long modified, Thumbnail thumbnail) {
    }

    private Thumbnails() {
    }

    /**
     * Brings {@code folder} up to date for {@code photos} (absolute, normalised paths) on {@code threads} threads:
     * new or changed photos get a thumbnail, the others keep theirs, thumbnails of photos no longer listed are
     * deleted. A photo that cannot be read gets none and its reason, never an exception.
     */
    public static Result update(Path folder, List<Path> photos, ImageDecoder decoder, int threads, Progress progress) throws IOException {
        Files.createDirectories(folder);
        Map<Path, Entry> before = readManifest(folder);
        Map<Path, Entry> after = new ConcurrentHashMap<>();
        Map<Path, String> problems = new ConcurrentHashMap<>();
        List<Path> todo = new ArrayList<>();
        for (Path photo : photos.stream().distinct().toList()) {
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(photo, BasicFileAttributes.class);
            } catch (NoSuchFileException e) {
                problems.put(photo, photo + ": no such file");
                continue;
            } catch (IOException e) {
                problems.put(photo, photo + ": cannot read: " + e.getMessage());
                continue;
            }
            Entry old = before.get(photo);
            if (old != null && old.bytes() == attributes.size() && old.modified() == attributes.lastModifiedTime().toMillis()
                    && Files.isRegularFile(folder.resolve(old.thumbnail().name()))) {
                after.put(photo, old);
            } else {
                todo.add(photo);
            }
        }
        int reused = after.size();
        progress.start(todo.size());
        AtomicInteger made = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        try {
            List<Future<?>> tasks = new ArrayList<>();
            for (Path photo : todo) {
                tasks.add(pool.submit(() -> {
                    try {
                        after.put(photo, make(folder, photo, decoder));
                        made.incrementAndGet();
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot write a thumbnail into " + folder + ": " + e.getMessage(), e);
                    } catch (RuntimeException e) { // ImageException, or OpenCV's own: the photo gets a placeholder
                        problems.put(photo, e.getMessage() != null ? e.getMessage() : photo + ": " + e);
                    } finally {
                        progress.step();
                    }
                }));
            }
            for (Future<?> t : tasks) t.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UncheckedIOException io) throw io.getCause();
            throw new IllegalStateException("making thumbnails failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while making thumbnails", e);
        } finally {
            pool.shutdownNow();
        }
        for (var e : before.entrySet()) {
            Entry kept = after.get(e.getKey());
            if (kept == null || !kept.thumbnail().name().equals(e.getValue().thumbnail().name())) {
                Files.deleteIfExists(folder.resolve(e.getValue().thumbnail().name()));
            }
        }
        writeManifest(folder, after);
        Map<Path, Thumbnail> thumbnails = new HashMap<>();
        after.forEach((photo, entry) -> thumbnails.put(photo, entry.thumbnail()));
        return new Result(thumbnails, Map.copyOf(problems), made.get(), reused);
    }

    /** Decodes the photo as scoring does (at 1/2 to 1/8 size where that still covers the thumbnail) and writes its thumbnail. */
    private static Entry make(Path folder, Path photo, ImageDecoder decoder) throws IOException {
        BasicFileAttributes before = Files.readAttributes(photo, BasicFileAttributes.class);
        String name = name(photo);
        try (Photo p = decoder.read(photo, DecodeOptions.DEFAULT, new InputShape(3, SIZE, SIZE), null);
             Mat small = new Mat()) {
            Mat bgr = p.bgr();
            double scale = Math.min(1.0, (double) SIZE / Math.max(bgr.cols(), bgr.rows()));
            int w = Math.max(1, (int) Math.round(bgr.cols() * scale)), h = Math.max(1, (int) Math.round(bgr.rows() * scale));
            try (Size size = new Size(w, h)) {
                resize(bgr, small, size, 0, 0, INTER_AREA);
            }
            Path tmp = temporary(folder.resolve(name));
            try (BytePointer jpeg = new BytePointer(); IntPointer params = new IntPointer(IMWRITE_JPEG_QUALITY, QUALITY)) {
                if (!imencode(".jpg", small, jpeg, params)) throw new ImageException(photo + ": OpenCV could not encode its thumbnail");
                byte[] bytes = new byte[(int) jpeg.limit()];
                jpeg.get(bytes);
                Files.write(tmp, bytes);
                Files.move(tmp, folder.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return new Entry(before.size(), before.lastModifiedTime().toMillis(), new Thumbnail(name, w, h, p.width(), p.height()));
        }
    }

    /**
     * Where to write {@code file} before moving it into place: beside it, unique to this thread, created with the
     * process's usual permissions (a temporary file's owner-only ones would hide the page from a web server).
     */
    static Path temporary(Path file) {
        return file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + "-" + Thread.currentThread().threadId() + ".tmp");
    }

    /** A name from the photo's path: the same photo keeps its thumbnail, different ones never share one. */
    static String name(Path photo) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(photo.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 12) + ".jpg";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** The manifest's entries; an unreadable or foreign manifest counts as none (every thumbnail is made again). */
    private static Map<Path, Entry> readManifest(Path folder) throws IOException {
        Path file = folder.resolve(MANIFEST);
        Map<Path, Entry> entries = new HashMap<>();
        if (!Files.isRegularFile(file)) return entries;
        try (Reader r = Files.newBufferedReader(file);
             CSVParser parser = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(r)) {
            if (!parser.getHeaderNames().equals(COLUMNS)) return entries;
            for (CSVRecord rec : parser) {
                Thumbnail t = new Thumbnail(rec.get(3), Integer.parseInt(rec.get(4)), Integer.parseInt(rec.get(5)),
                        Integer.parseInt(rec.get(6)), Integer.parseInt(rec.get(7)));
                if (!t.name().equals(name(Path.of(rec.get(0))))) continue; // not a name this class made: never touch it
                entries.put(Path.of(rec.get(0)), new Entry(Long.parseLong(rec.get(1)), Long.parseLong(rec.get(2)), t));
            }
        } catch (RuntimeException e) {
            return new HashMap<>();
        }
        return entries;
    }

    private static void writeManifest(Path folder, Map<Path, Entry> entries) throws IOException {
        Path tmp = temporary(folder.resolve(MANIFEST));
        try {
            try (Writer w = Files.newBufferedWriter(tmp); CSVPrinter csv = new CSVPrinter(w, CSVFormat.DEFAULT)) {
                csv.printRecord(COLUMNS);
                for (var e : new TreeMap<>(entries).entrySet()) {
                    Entry v = e.getValue();
                    Thumbnail t = v.thumbnail();
                    csv.printRecord(e.getKey(), v.bytes(), v.modified(), t.name(), t.width(), t.height(), t.photoWidth(), t.photoHeight());
                }
            }
            Files.move(tmp, folder.resolve(MANIFEST), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
