package dev.snapscore.engine.photo;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.image.FaceDetector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The row schema of a scored photo, one for every output: file, status, label, probability, one
 * {@code p_<label>} per label, expected_score, face_fraction, error. Columns that do not apply to a row
 * (a label for an error row, a face fraction without cleaning, an expected score without label values)
 * are null: empty in CSV, absent in JSON.
 */
public final class ScoreRow {
    public static final String FILE = "file", STATUS = "status", LABEL = "label", PROBABILITY = "probability",
            EXPECTED_SCORE = "expected_score", FACE_FRACTION = "face_fraction", ERROR = "error";

    /** @param type String, Float or Double */
    public record Column(String name, Class<?> type, boolean nullable) {
    }

    private ScoreRow() {
    }

    /** The probability column of {@code label}. */
    public static String probabilityColumn(String label) {
        return "p_" + label;
    }

    /** How a status is written: ok, rejected, error. */
    public static String status(ScoredPhoto.Status status) {
        return status.name().toLowerCase(Locale.ROOT);
    }

    public static List<Column> columns(List<String> labels) {
        List<Column> c = new ArrayList<>();
        c.add(new Column(FILE, String.class, false));
        c.add(new Column(STATUS, String.class, false));
        c.add(new Column(LABEL, String.class, true));
        c.add(new Column(PROBABILITY, Float.class, true));
        for (String l : labels) c.add(new Column(probabilityColumn(l), Float.class, true));
        c.add(new Column(EXPECTED_SCORE, Double.class, true));
        c.add(new Column(FACE_FRACTION, Double.class, true));
        c.add(new Column(ERROR, String.class, true));
        return c;
    }

    public static List<String> names(List<String> labels) {
        return columns(labels).stream().map(Column::name).toList();
    }

    /** The row's values in column order, typed as {@link #columns} says; null where a column does not apply. */
    public static Object[] values(ScoredPhoto photo, int labels) {
        Object[] v = new Object[labels + 7];
        v[0] = photo.file();
        v[1] = status(photo.status());
        Prediction p = photo.prediction();
        if (p != null) {
            float[] probs = p.probabilities();
            if (probs.length != labels) throw new IllegalArgumentException("expected " + labels + " probabilities, got " + probs.length);
            v[2] = p.label();
            v[3] = p.probability();
            for (int i = 0; i < labels; i++) v[4 + i] = probs[i];
            v[4 + labels] = Double.isNaN(p.expectedScore()) ? null : p.expectedScore();
        }
        v[5 + labels] = photo.faceFraction();
        v[6 + labels] = photo.error();
        return v;
    }

    /** The row as CSV fields: each value's {@code toString}, null as empty. */
    public static List<String> csv(ScoredPhoto photo, int labels) {
        return Arrays.stream(values(photo, labels)).map(v -> v == null ? "" : v.toString()).toList();
    }

    /** The row as a JSON Lines object: the probabilities as one object keyed by label; null columns left out. */
    public static ObjectNode jsonLine(ScoredPhoto photo, List<String> labels) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put(FILE, photo.file());
        n.put(STATUS, status(photo.status()));
        if (photo.prediction() != null) putPrediction(n, photo.prediction(), labels);
        if (photo.faceFraction() != null) n.put(FACE_FRACTION, photo.faceFraction());
        if (photo.error() != null) n.put(ERROR, photo.error());
        return n;
    }

    /**
     * The server's answer for a scored upload: the prediction, and with a face check the number of faces,
     * the largest one's fraction and box, and the image's size.
     */
    public static ObjectNode http(ScoredPhoto photo, List<String> labels) {
        if (photo.prediction() == null) throw new IllegalArgumentException(photo.file() + " was not scored: " + photo.status());
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        putPrediction(n, photo.prediction(), labels);
        FaceDetector.Faces f = photo.faces();
        if (f != null) {
            n.put("faces", f.count());
            n.put(FACE_FRACTION, f.largestFraction());
            n.put("image_width", f.width());
            n.put("image_height", f.height());
            if (f.count() > 0) {
                n.putObject("face").put("x", f.largestX()).put("y", f.largestY())
                        .put("width", f.largestWidth()).put("height", f.largestHeight());
            }
        }
        return n;
    }

    private static void putPrediction(ObjectNode n, Prediction p, List<String> labels) {
        n.put(LABEL, p.label());
        n.put(PROBABILITY, p.probability());
        ObjectNode probs = n.putObject("probabilities");
        float[] values = p.probabilities();
        for (int i = 0; i < labels.size(); i++) probs.put(labels.get(i), values[i]);
        if (!Double.isNaN(p.expectedScore())) n.put(EXPECTED_SCORE, p.expectedScore());
    }
}
