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
 * {@code p_<label>} per label, expected_score, face_fraction, [face_x, face_y, face_w, face_h,] error.
 * Columns that do not apply to a row (a label for an error row, a face fraction without cleaning, an
 * expected score without label values, a face box when no face was found) are null: empty in CSV, absent in JSON.
 * <p>
 * The face box columns (the largest face, in the photo's own upright pixels, as the server's answer has it)
 * exist only when photos were cleaned ({@code faceBox}), so outputs without cleaning keep their shape.
 */
public final class ScoreRow {
    public static final String FILE = "file", STATUS = "status", LABEL = "label", PROBABILITY = "probability",
            EXPECTED_SCORE = "expected_score", FACE_FRACTION = "face_fraction", ERROR = "error";
    /** The largest face's box, with cleaning only. */
    public static final String FACE_X = "face_x", FACE_Y = "face_y", FACE_W = "face_w", FACE_H = "face_h";
    private static final List<String> FACE_BOX = List.of(FACE_X, FACE_Y, FACE_W, FACE_H);

    /** @param type String, Float, Double or Integer */
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

    /** The columns for a model with {@code labels}; {@code faceBox}: the photos were cleaned. */
    public static List<Column> columns(List<String> labels, boolean faceBox) {
        List<Column> c = new ArrayList<>();
        c.add(new Column(FILE, String.class, false));
        c.add(new Column(STATUS, String.class, false));
        c.add(new Column(LABEL, String.class, true));
        c.add(new Column(PROBABILITY, Float.class, true));
        for (String l : labels) c.add(new Column(probabilityColumn(l), Float.class, true));
        c.add(new Column(EXPECTED_SCORE, Double.class, true));
        c.add(new Column(FACE_FRACTION, Double.class, true));
        if (faceBox) for (String b : FACE_BOX) c.add(new Column(b, Integer.class, true));
        c.add(new Column(ERROR, String.class, true));
        return c;
    }

    public static List<String> names(List<String> labels, boolean faceBox) {
        return columns(labels, faceBox).stream().map(Column::name).toList();
    }

    /** The row's values in column order, typed as {@link #columns} says; null where a column does not apply. */
    public static Object[] values(ScoredPhoto photo, int labels, boolean faceBox) {
        Object[] v = new Object[labels + 7 + (faceBox ? FACE_BOX.size() : 0)];
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
        int i = 5 + labels;
        v[i++] = photo.faceFraction();
        if (faceBox) {
            FaceDetector.Faces f = photo.faces();
            if (f != null && f.count() > 0) {
                v[i] = f.largestX();
                v[i + 1] = f.largestY();
                v[i + 2] = f.largestWidth();
                v[i + 3] = f.largestHeight();
            }
            i += FACE_BOX.size();
        }
        v[i] = photo.error();
        return v;
    }

    /** The row as CSV fields: each value's {@code toString}, null as empty. */
    public static List<String> csv(ScoredPhoto photo, int labels, boolean faceBox) {
        return Arrays.stream(values(photo, labels, faceBox)).map(v -> v == null ? "" : v.toString()).toList();
    }

    /**
     * The row as a JSON Lines object: the probabilities as one object keyed by label; null columns left out
     * (so the face box appears only with cleaning, where a face was found).
     */
    public static ObjectNode jsonLine(ScoredPhoto photo, List<String> labels) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put(FILE, photo.file());
        n.put(STATUS, status(photo.status()));
        if (photo.prediction() != null) putPrediction(n, photo.prediction(), labels);
        if (photo.faceFraction() != null) n.put(FACE_FRACTION, photo.faceFraction());
        FaceDetector.Faces f = photo.faces();
        if (f != null && f.count() > 0) {
            n.put(FACE_X, f.largestX()).put(FACE_Y, f.largestY()).put(FACE_W, f.largestWidth()).put(FACE_H, f.largestHeight());
        }
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
