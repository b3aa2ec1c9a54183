package dev.snapscore.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The rows of a scores file as {@code snapscore score} (CSV or JSON Lines) or {@code spark-score} (one CSV part)
 * write them ({@link ScoreRow}'s schema), checked: a missing column, a row of the wrong length or a value that is
 * not what its column holds is an {@link IllegalArgumentException} naming the file, the line and the column.
 * Columns it does not know are ignored.
 *
 * @param labels the model's labels, from the {@code p_<label>} columns (JSON: the first scored row's probabilities)
 */
public record ScoresFile(Path path, List<String> labels, List<Row> rows) {
    /**
     * One photo's row.
     *
     * @param line          where it starts in the file (1-based)
     * @param probabilities one per label; null unless the photo was scored
     * @param faceBox       the largest face's x, y, width, height in the photo's upright pixels, or null
     */
    public record Row(int line, String file, ScoredPhoto.Status status, String label, Float probability, float[] probabilities,
                      Double expectedScore, Double faceFraction, int[] faceBox, String error) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PROBABILITIES = "probabilities";
    private static final List<String> FACE_BOX = List.of(ScoreRow.FACE_X, ScoreRow.FACE_Y, ScoreRow.FACE_W, ScoreRow.FACE_H);

    /** Reads a .csv or .jsonl file. */
    public static ScoresFile read(Path path) throws IOException {
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(path)) throw new IllegalArgumentException(path + " is a folder; give one .csv or .jsonl file");
        if (!Files.exists(path)) throw new IllegalArgumentException(path + ": no such file");
        String text = Files.readString(path);
        if (name.endsWith(".csv")) return csv(path, text);
        if (name.endsWith(".jsonl")) return jsonLines(path, text);
        throw new IllegalArgumentException(path + ": a scores file ends in .csv or .jsonl");
    }

    static ScoresFile csv(Path path, String text) {
        if (text.isBlank()) throw new IllegalArgumentException(path + " is empty: no header line");
        try {
            return csv(path, text, CSVFormat.DEFAULT);
        } catch (IOException | UncheckedIOException | IllegalStateException e) {
            // spark-score's parts come from Spark's CSV writer, which escapes a quote inside a quoted field with a backslash.
            try {
                return csv(path, text, CSVFormat.DEFAULT.builder().setEscape('\\').build());
            } catch (IOException | UncheckedIOException | IllegalStateException again) {
                throw new IllegalArgumentException(path + ": not valid CSV: " + e.getMessage());
            }
        }
    }

    private static ScoresFile csv(Path path, String text, CSVFormat format) throws IOException {
        try (CSVParser parser = format.builder().setHeader().setSkipHeaderRecord(true).build().parse(new StringReader(text))) {
            List<String> header = parser.getHeaderNames();
            for (String required : List.of(ScoreRow.FILE, ScoreRow.STATUS)) {
                if (!header.contains(required)) {
                    throw new IllegalArgumentException(path + " line 1: no '" + required + "' column (the header has " + header + ")");
                }
            }
            List<String> labels = header.stream().filter(c -> c.startsWith("p_")).map(c -> c.substring(2)).toList();
            long boxColumns = FACE_BOX.stream().filter(header::contains).count();
            if (boxColumns != 0 && boxColumns != FACE_BOX.size()) {
                throw new IllegalArgumentException(path + " line 1: the face box needs all of " + FACE_BOX + ", the header has " + header);
            }
            Lines lines = new Lines(text);
            List<Row> rows = new ArrayList<>();
            for (CSVRecord r : parser) {
                int line = lines.at(r.getCharacterPosition());
                if (!r.isConsistent()) {
                    throw new IllegalArgumentException(path + " line " + line + ": " + r.size() + " fields, the header has " + header.size());
                }
                Cells cells = new Cells(path, line) {
                    @Override
                    String raw(String column) {
                        String v = r.isMapped(column) ? r.get(column) : "";
                        return v.isEmpty() ? null : v;
                    }
                };
                ScoredPhoto.Status status = cells.status();
                float[] probabilities = null;
                if (status == ScoredPhoto.Status.OK) {
                    probabilities = new float[labels.size()];
                    for (int i = 0; i < labels.size(); i++) probabilities[i] = cells.required(ScoreRow.probabilityColumn(labels.get(i))).floatValue();
                }
                rows.add(cells.row(status, probabilities, boxColumns > 0 ? cells.faceBox() : null));
            }
            return new ScoresFile(path, labels, List.copyOf(rows));
        }
    }

    static ScoresFile jsonLines(Path path, String text) {
        List<String> labels = null;
        List<Row> rows = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int line = i + 1;
            if (lines[i].isBlank()) continue;
            JsonNode n;
            try {
                n = JSON.readTree(lines[i]);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(path + " line " + line + ": not JSON: " + e.getOriginalMessage());
            }
            if (!n.isObject()) throw new IllegalArgumentException(path + " line " + line + ": not a JSON object");
            Cells cells = new Cells(path, line) {
                @Override
                String raw(String column) {
                    JsonNode v = n.get(column);
                    return v == null || v.isNull() ? null : v.asText();
                }
            };
            ScoredPhoto.Status status = cells.status();
            float[] probabilities = null;
            if (status == ScoredPhoto.Status.OK) {
                JsonNode p = n.get(PROBABILITIES);
                if (p == null || !p.isObject()) {
                    throw new IllegalArgumentException(path + " line " + line + ", column '" + PROBABILITIES + "': a scored row needs an object of label: probability");
                }
                List<String> keys = new ArrayList<>();
                for (Iterator<String> it = p.fieldNames(); it.hasNext(); ) keys.add(it.next());
                if (labels == null) labels = List.copyOf(keys);
                else if (!labels.equals(keys)) {
                    throw new IllegalArgumentException(path + " line " + line + ", column '" + PROBABILITIES + "' has labels " + keys
                            + ", earlier rows " + labels);
                }
                probabilities = new float[keys.size()];
                int k = 0;
                for (Map.Entry<String, JsonNode> e : p.properties()) {
                    if (!e.getValue().isNumber()) {
                        throw new IllegalArgumentException(path + " line " + line + ", column '" + PROBABILITIES + "." + e.getKey()
                                + "': '" + e.getValue() + "' is not a number");
                    }
                    probabilities[k++] = e.getValue().floatValue();
                }
            }
            rows.add(cells.row(status, probabilities, cells.faceBox()));
        }
        return new ScoresFile(path, labels == null ? List.of() : labels, List.copyOf(rows));
    }

    /** One row's cells by column name, parsed and checked; {@link #raw} is null for an empty or absent cell. */
    private abstract static class Cells {
        private final Path path;
        private final int line;

        Cells(Path path, int line) {
            this.path = path;
            this.line = line;
        }

        abstract String raw(String column);

        Row row(ScoredPhoto.Status status, float[] probabilities, int[] faceBox) {
            boolean ok = status == ScoredPhoto.Status.OK;
            return new Row(line, text(ScoreRow.FILE, true), status, ok ? text(ScoreRow.LABEL, true) : null,
                    ok ? required(ScoreRow.PROBABILITY).floatValue() : null, probabilities,
                    number(ScoreRow.EXPECTED_SCORE), number(ScoreRow.FACE_FRACTION), faceBox, text(ScoreRow.ERROR, false));
        }

        ScoredPhoto.Status status() {
            String s = text(ScoreRow.STATUS, true);
            for (ScoredPhoto.Status status : ScoredPhoto.Status.values()) if (ScoreRow.status(status).equals(s)) return status;
            throw error(ScoreRow.STATUS, "'" + s + "' is not ok, rejected or error");
        }

        String text(String column, boolean required) {
            String v = raw(column);
            if (v == null && required) throw error(column, "missing");
            return v;
        }

        Double number(String column) {
            String v = raw(column);
            if (v == null) return null;
            try {
                double d = Double.parseDouble(v);
                if (!Double.isFinite(d)) throw error(column, "'" + v + "' is not a finite number");
                return d;
            } catch (NumberFormatException e) {
                throw error(column, "'" + v + "' is not a number");
            }
        }

        Double required(String column) {
            Double d = number(column);
            if (d == null) throw error(column, "missing (a scored row has every probability)");
            return d;
        }

        /** The four face box cells: all integers, or all empty (no face found, or not cleaned). */
        int[] faceBox() {
            int[] box = new int[FACE_BOX.size()];
            int present = 0;
            for (int i = 0; i < box.length; i++) {
                String column = FACE_BOX.get(i), v = raw(column);
                if (v == null) continue;
                present++;
                try {
                    box[i] = Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    throw error(column, "'" + v + "' is not a whole number of pixels");
                }
                if (box[i] < 0) throw error(column, "'" + v + "' is negative");
            }
            if (present != 0 && present != box.length) throw error(FACE_BOX.get(0), "a face box needs all of " + FACE_BOX + " or none");
            return present == 0 ? null : box;
        }

        private IllegalArgumentException error(String column, String why) {
            return new IllegalArgumentException(path + " line " + line + ", column '" + column + "': " + why);
        }
    }

    /** Line numbers of character offsets, for offsets that only grow. */
    private static final class Lines {
        private final String text;
        private int offset, line = 1;

        Lines(String text) {
            this.text = text;
        }

        int at(long position) {
            for (; offset < position && offset < text.length(); offset++) if (text.charAt(offset) == '\n') line++;
            return line;
        }
    }
}
