package dev.snapscore.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.batch.BatchScorer;
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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The rows of {@code snapscore score}, as CSV or JSON Lines, appended and flushed a batch at a time so a
 * killed run loses at most the rows being written. On resume, a torn last line is cut off and the files
 * already present are reported so they are not scored twice.
 */
final class ScoreOutput implements BatchScorer.Sink, Closeable {
    enum Format { CSV, JSONL }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Format format;
    private final List<String> labels;
    private final Writer out;
    private final CSVPrinter csv;
    private final Set<String> done;
    private final boolean ownsWriter;

    private ScoreOutput(Format format, List<String> labels, Writer out, Set<String> done, boolean writeHeader,
                        boolean ownsWriter) throws IOException {
        this.ownsWriter = ownsWriter;
        this.format = format;
        this.labels = labels;
        this.out = out;
        this.done = done;
        this.csv = format == Format.CSV ? new CSVPrinter(out, CSVFormat.DEFAULT) : null;
        if (csv != null && writeHeader) {
            csv.printRecord(columns(labels));
            csv.flush();
        }
    }

    static List<String> columns(List<String> labels) {
        List<String> c = new ArrayList<>(List.of("file", "status", "label", "probability"));
        for (String l : labels) c.add("p_" + l);
        c.addAll(List.of("expected_score", "face_fraction", "error"));
        return c;
    }

    /** Rows as CSV to a writer this output does not close (standard output; no resume). */
    static ScoreOutput to(Writer writer, List<String> labels) throws IOException {
        return new ScoreOutput(Format.CSV, labels, writer, Set.of(), true, false);
    }

    /**
     * Opens {@code file} (.csv or .jsonl) for appending. Without {@code resume}, an existing non-empty file is
     * refused rather than overwritten.
     */
    static ScoreOutput open(Path file, List<String> labels, boolean resume) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        Format format = name.endsWith(".csv") ? Format.CSV : name.endsWith(".jsonl") ? Format.JSONL : null;
        if (format == null) throw new IllegalArgumentException("--out must end in .csv or .jsonl, got " + file);
        boolean exists = Files.exists(file) && Files.size(file) > 0;
        if (exists && !resume) {
            throw new IllegalArgumentException(file + " already exists; pass --resume to continue it, or choose another --out");
        }
        Set<String> done = new HashSet<>();
        if (exists) {
            cutTornLine(file);
            String text = Files.readString(file);
            if (format == Format.CSV) readCsv(file, text, labels, done);
            else readJsonl(file, text, done);
        }
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return new ScoreOutput(format, labels, w, done, format == Format.CSV && Files.size(file) == 0, true);
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

    private static void readCsv(Path file, String text, List<String> labels, Set<String> done) throws IOException {
        if (text.isEmpty()) return;
        try (Reader r = new StringReader(text);
             CSVParser parser = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).build().parse(r)) {
            if (!parser.getHeaderNames().equals(columns(labels))) {
                throw new IllegalArgumentException(file + " has columns " + parser.getHeaderNames() + ", this model writes "
                        + columns(labels) + "; was it written with another model?");
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
    public void write(List<BatchScorer.Row> rows) throws IOException {
        for (BatchScorer.Row row : rows) {
            if (format == Format.CSV) writeCsv(row);
            else writeJson(row);
        }
        if (csv != null) csv.flush();
        out.flush();
    }

    private void writeCsv(BatchScorer.Row row) throws IOException {
        List<Object> v = new ArrayList<>();
        Prediction p = row.prediction();
        v.add(row.file().toString());
        v.add(row.status().name().toLowerCase(Locale.ROOT));
        v.add(p == null ? "" : p.label());
        v.add(p == null ? "" : Float.toString(p.probability()));
        float[] probs = p == null ? null : p.probabilities();
        for (int i = 0; i < labels.size(); i++) v.add(probs == null ? "" : Float.toString(probs[i]));
        v.add(p == null || Double.isNaN(p.expectedScore()) ? "" : Double.toString(p.expectedScore()));
        v.add(row.faceFraction() == null ? "" : row.faceFraction().toString());
        v.add(row.error() == null ? "" : row.error());
        csv.printRecord(v);
    }

    private void writeJson(BatchScorer.Row row) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        Prediction p = row.prediction();
        n.put("file", row.file().toString());
        n.put("status", row.status().name().toLowerCase(Locale.ROOT));
        if (p != null) {
            n.put("label", p.label());
            n.put("probability", p.probability());
            ObjectNode probs = n.putObject("probabilities");
            float[] values = p.probabilities();
            for (int i = 0; i < labels.size(); i++) probs.put(labels.get(i), values[i]);
            if (!Double.isNaN(p.expectedScore())) n.put("expected_score", p.expectedScore());
        }
        if (row.faceFraction() != null) n.put("face_fraction", row.faceFraction());
        if (row.error() != null) n.put("error", row.error());
        out.write(JSON.writeValueAsString(n));
        out.write('\n');
    }

    @Override
    public void close() throws IOException {
        out.flush();
        if (ownsWriter) out.close();
    }
}
