package dev.snapscore.cli;

import dev.snapscore.engine.batch.ImageFiles;
import dev.snapscore.engine.batch.PhotoCleaner;
import dev.snapscore.engine.image.ImageDecoder;
import dev.snapscore.engine.photo.PhotoPipeline;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** The selfie study's face cleaning over folders: a report, and optionally moving (never deleting) rejects. */
@Command(name = "clean", mixinStandardHelpOptions = true,
        description = {"Keep photos whose largest frontal face (OpenCV Haar cascade) covers more than --min-face-fraction of them.",
                "Default: a dry run that only writes the report. --move-rejected moves rejected photos (never deletes),",
                "keeping their paths relative to DIR and recording each move in DIR2/" + MoveManifest.FILE_NAME + ";",
                "--undo MANIFEST moves them back. Re-running is idempotent.",
                "Exit codes: 0 done, 3 some photos could not be read, 2 bad arguments."})
final class CleanCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", arity = "0..*", description = "Folders (or single images) to clean.")
    List<Path> roots = new ArrayList<>();

    @Mixin
    CleanOptions cleanOptions;

    @Mixin
    DecodeOption decode;

    @Option(names = "--report", description = "Report CSV: file, width, height, faces, largest_face_fraction, decision, error. Default: standard output.")
    Path report;

    @Option(names = "--move-rejected", paramLabel = "DIR2", description = "Move rejected photos into DIR2, keeping relative paths.")
    Path moveTo;

    @Option(names = "--undo", paramLabel = "MANIFEST", description = "Move the files a manifest records back where they were.")
    Path undo;

    @Option(names = "--threads", description = "Worker threads. Default: every core.")
    Integer threads;

    @Option(names = "--max-pixels", defaultValue = "50000000", description = "Refuse images with more pixels than this. Default: ${DEFAULT-VALUE}.")
    long maxPixels;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** The report's word for each outcome. */
    private static final Map<ScoredPhoto.Status, String> DECISIONS =
            Map.of(ScoredPhoto.Status.OK, "keep", ScoredPhoto.Status.REJECTED, "reject", ScoredPhoto.Status.ERROR, "error");

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        if (undo != null) {
            if (!roots.isEmpty() || moveTo != null) throw new IllegalArgumentException("--undo takes only the manifest");
            return undo(err);
        }
        if (roots.isEmpty()) throw new IllegalArgumentException("give at least one DIR to clean (or --undo MANIFEST)");
        int workers = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (workers < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + workers);
        List<Path> files = ImageFiles.list(roots, moveTo);
        int[] counts = new int[3]; // keep (OK), reject, error
        int[] moved = {0}, fromThumbnails = {0};
        long start = System.nanoTime();
        ImageDecoder decoder = new ImageDecoder(ImageDecoder.DEFAULT_MAX_BYTES, maxPixels);
        try (PhotoPipeline pipeline = new PhotoPipeline(decoder, decode.options(), null, cleanOptions.faceCheck());
             Writer reportWriter = report != null ? Files.newBufferedWriter(report, StandardCharsets.UTF_8) : null;
             CSVPrinter csv = new CSVPrinter(reportWriter != null ? reportWriter : spec.commandLine().getOut(),
                     CSVFormat.DEFAULT.builder().setHeader("file", "width", "height", "faces", "largest_face_fraction", "decision", "error").build());
             MoveManifest manifest = moveTo != null ? MoveManifest.appendTo(moveTo) : null) {
            PhotoCleaner.checkAll(pipeline, files, workers, outcome -> {
                String error = outcome.error();
                if (outcome.status() == ScoredPhoto.Status.REJECTED && manifest != null) {
                    try {
                        error = move(Path.of(outcome.file()), manifest);
                        if (error == null) moved[0]++;
                    } catch (IOException e) {
                        error = "not moved: " + e.getMessage();
                    }
                }
                counts[outcome.status().ordinal()]++;
                if (outcome.fromThumbnail()) fromThumbnails[0]++;
                try {
                    boolean failed = outcome.status() == ScoredPhoto.Status.ERROR;
                    csv.printRecord(outcome.file(), failed ? "" : outcome.width(), failed ? "" : outcome.height(),
                            failed ? "" : outcome.faces().count(), failed ? "" : outcome.faces().largestFraction(),
                            DECISIONS.get(outcome.status()), error == null ? "" : error);
                    csv.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        err.printf("kept %d, rejected %d%s, errors %d of %d photos in %.2f s (%.1f photos/s)%s%n", counts[0], counts[1],
                fromThumbnails[0] == 0 ? "" : " (" + fromThumbnails[0] + " from their EXIF thumbnails)", counts[2], files.size(), seconds, seconds > 0 ? files.size() / seconds : 0,
                moveTo == null ? "; dry run: nothing moved" : "; moved " + moved[0] + " into " + moveTo
                        + " (undo: snapscore clean --undo " + moveTo.resolve(MoveManifest.FILE_NAME) + ")");
        err.flush();
        return counts[2] > 0 ? SnapscoreCli.SOME_ERRORS : SnapscoreCli.OK;
    }

    /** Moves a rejected photo under {@code moveTo}, at its path relative to the DIR it was found in; null if moved. */
    private String move(Path file, MoveManifest manifest) throws IOException {
        Path dest = moveTo.resolve(relativeToRoot(file));
        if (Files.exists(dest)) return "not moved: " + dest + " already exists";
        Files.createDirectories(dest.toAbsolutePath().getParent());
        manifest.record(new MoveManifest.Move(file, dest));
        Files.move(file, dest);
        return null;
    }

    private Path relativeToRoot(Path file) {
        Path abs = file.toAbsolutePath().normalize();
        for (Path root : roots) {
            Path r = root.toAbsolutePath().normalize();
            if (Files.isDirectory(r) && abs.startsWith(r)) return r.relativize(abs);
        }
        return abs.getFileName();
    }

    private int undo(PrintWriter err) throws IOException {
        int restored = 0, already = 0, missing = 0;
        for (MoveManifest.Move m : MoveManifest.read(undo)) {
            if (Files.exists(m.movedTo()) && !Files.exists(m.original())) {
                Files.createDirectories(m.original().getParent());
                Files.move(m.movedTo(), m.original());
                restored++;
            } else if (Files.exists(m.original())) {
                already++;
            } else {
                missing++;
                err.println("cannot restore " + m.original() + ": " + m.movedTo() + " is gone");
            }
        }
        err.printf("restored %d, already in place %d, missing %d%n", restored, already, missing);
        err.flush();
        return missing > 0 ? SnapscoreCli.SOME_ERRORS : SnapscoreCli.OK;
    }
}
