package dev.snapscore.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.batch.BatchScorer;
import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;

import java.io.Closeable;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The rows of {@code snapscore score} ({@link ScoreRow}'s schema), as CSV or JSON Lines, appended and flushed a batch at a time so a
 * killed run loses at most the rows being written. On resume, a torn last line is cut off and the files
 * already present are reported so they are not scored twice.
 */
final class ScoreOutput implements BatchScorer.Sink, Closeable {
    enum Format { CSV, JSONL }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Format format;
    private final List<String> labels;
    private final boolean faceBox;
    private final Writer out;
    private final CSVPrinter csv;
    private final Set<String> done;
    private final boolean ownsWriter;

    private ScoreOutput(Format format, List<String> labels, boolean faceBox, Writer out, Set<String> done, boolean writeHeader,
                        boolean ownsWriter) throws IOException {
        this.ownsWriter = ownsWriter;
        this.format = format;
        this.labels = labels;
        this.faceBox = faceBox;
        this.out = out;
        this.done = done;
        this.csv = format == Format.CSV ? new CSVPrinter(out, CSVFormat.DEFAULT) : null;
        if (csv != null && writeHeader) {
            csv.printRecord(ScoreRow.names(labels, faceBox));
            csv.flush();
        }
    }

    /**
     * Rows as CSV to a writer this output does not close (standard output; no resume). {@code faceBox}: the
     * photos are cleaned, so rows carry the largest face's box.
     */
    static ScoreOutput to(Writer writer, List<String> labels, boolean faceBox) throws IOException {
        return new ScoreOutput(Format.CSV, labels, faceBox, writer, Set.of(), true, false);
    }

    /**
     * Opens {@code file} (.csv or .jsonl) for appending. Without {@code resume}, an existing non-empty file is
     * refused rather than overwritten.
     */
    static ScoreOutput open(Path file, List<String> labels, boolean faceBox, boolean resume) throws IOException {
        Format format = checkTarget(file, resume);
        boolean exists = Files.exists(file) && Files.size(file) > 0;
        Set<String> done = new HashSet<>();
        if (exists) {
            cutTornLine(file);
            String text = Files.readString(file);
            if (format == Format.CSV) readCsv(file, text, labels, faceBox, done);
            else readJsonl(file, text, done);
        }
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return new ScoreOutput(format, labels, faceBox, w, done, format == Format.CSV && Files.size(file) == 0, true);
    }

    /**
     * What {@link #open} refuses, checked on its own so that a command can refuse it before it loads a model: a name
     * other than .csv or .jsonl, and an existing non-empty file without {@code resume}.
     */
    static Format checkTarget(Path file, boolean resume) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        Format format = name.endsWith(".csv") ? Format.CSV : name.endsWith(".jsonl") ? Format.JSONL : null;
        if (format == null) throw new IllegalArgumentException("--out must end in .csv or .jsonl, got " + file);
        if (!resume && Files.exists(file) && Files.size(file) > 0) {
            throw new IllegalArgumentException(file + " already exists; pass --resume to continue it, or choose another --out");
        }
        return format;
    }

    /** A kill can stop a write mid-line: drop everything after the last newline. */
    private static void cutTornLine(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int end = bytes.length;
        while (end > 0 && bytes[end - 1] != '\n') end--;
        if (end < bytes.length) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(end);
            }
        }
    }

    private static void readCsv(Path file, String text, List<String> labels, boolean faceBox, Set<String> done) throws IOException {
        if (text.isEmpty()) return;
        try (Reader r = new StringReader(text);
             CSVParser parser = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(r)) {
            List<String> columns = ScoreRow.names(labels, faceBox);
            if (!parser.getHeaderNames().equals(columns)) {
                String why = parser.getHeaderNames().equals(ScoreRow.names(labels, !faceBox))
                        ? "was it written " + (faceBox ? "without" : "with") + " --clean?" : "was it written with another model?";
                throw new IllegalArgumentException(file + " has columns " + parser.getHeaderNames() + ", this run writes "
                        + columns + "; " + why);
            }
            for (CSVRecord rec : parser) done.add(key(Path.of(rec.get("file"))));
        }
    }

    private static void readJsonl(Path file, String text, Set<String> done) throws IOException {
        int line = 0;
        for (String l : text.split("\n")) {
            line++;
            if (l.isBlank()) continue;
            JsonNode n;
            try {
                n = JSON.readTree(l);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + " line " + line + " is not JSON: " + e.getMessage());
            }
            if (n.hasNonNull("file")) done.add(key(Path.of(n.get("file").asText())));
        }
    }

    private static String key(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    /** True when a resumed output already has a row for {@code file}. */
    boolean has(Path file) {
        return done.contains(key(file));
    }

    int resumedRows() {
        return done.size();
    }

    @Override
    public void write(List<ScoredPhoto> rows) throws IOException {
        for (ScoredPhoto row : rows) {
            if (format == Format.CSV) {
                csv.printRecord(ScoreRow.csv(row, labels.size(), faceBox));
            } else {
                out.write(JSON.writeValueAsString(ScoreRow.jsonLine(row, labels)));
                out.write('\n');
            }
        }
        if (csv != null) csv.flush();
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.flush();
        if (ownsWriter) out.close();
    }
}
