package dev.snapscore.spark;

import dev.snapscore.engine.Prediction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;

/**
 * The output table: the same columns, in the same order, as {@code snapscore score}'s CSV — file, status,
 * label, probability, one {@code p_<label>} per label, expected_score, face_fraction, error. Columns that do
 * not apply to a row (a label for an error row, a face fraction without cleaning) are null.
 */
public final class ScoreColumns {
    public static final String FILE = "file", STATUS = "status", LABEL = "label", PROBABILITY = "probability",
            EXPECTED_SCORE = "expected_score", FACE_FRACTION = "face_fraction", ERROR = "error";
    /** Status values, as {@code snapscore score} writes them. */
    public static final String OK = "ok", REJECTED = "rejected", FAILED = "error";

    private ScoreColumns() {
    }

    /** The probability column of {@code label}. */
    public static String probabilityColumn(String label) {
        return "p_" + label;
    }

    public static StructType schema(List<String> labels) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField(FILE, DataTypes.StringType, false));
        f.add(DataTypes.createStructField(STATUS, DataTypes.StringType, false));
        f.add(DataTypes.createStructField(LABEL, DataTypes.StringType, true));
        f.add(DataTypes.createStructField(PROBABILITY, DataTypes.FloatType, true));
        for (String l : labels) f.add(DataTypes.createStructField(probabilityColumn(l), DataTypes.FloatType, true));
        f.add(DataTypes.createStructField(EXPECTED_SCORE, DataTypes.DoubleType, true));
        f.add(DataTypes.createStructField(FACE_FRACTION, DataTypes.DoubleType, true));
        f.add(DataTypes.createStructField(ERROR, DataTypes.StringType, true));
        return DataTypes.createStructType(f);
    }

    /** A scored photo; {@code faceFraction} is null unless the photo was cleaned first. */
    static Row ok(String file, Prediction p, Double faceFraction) {
        float[] probs = p.probabilities();
        Object[] v = new Object[probs.length + 7];
        v[0] = file;
        v[1] = OK;
        v[2] = p.label();
        v[3] = p.probability();
        for (int i = 0; i < probs.length; i++) v[4 + i] = probs[i];
        v[4 + probs.length] = Double.isNaN(p.expectedScore()) ? null : p.expectedScore();
        v[5 + probs.length] = faceFraction;
        v[6 + probs.length] = null;
        return RowFactory.create(v);
    }

    static Row rejected(String file, double faceFraction, int labels) {
        Object[] v = new Object[labels + 7];
        v[0] = file;
        v[1] = REJECTED;
        v[5 + labels] = faceFraction;
        return RowFactory.create(v);
    }

    static Row error(String file, String message, int labels) {
        Object[] v = new Object[labels + 7];
        v[0] = file;
        v[1] = FAILED;
        v[6 + labels] = message;
        return RowFactory.create(v);
    }
}
