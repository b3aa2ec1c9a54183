package dev.snapscore.spark;

import dev.snapscore.engine.photo.ScoreRow;
import dev.snapscore.engine.photo.ScoredPhoto;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.List;

/**
 * The output table: {@link ScoreRow}'s columns, in its order, as {@code snapscore score}'s CSV has them —
 * file, status, label, probability, one {@code p_<label>} per label, expected_score, face_fraction, with cleaning
 * the largest face's box (face_x, face_y, face_w, face_h), error. Columns that do not apply to a row (a label for
 * an error row, a face fraction without cleaning) are null.
 */
public final class ScoreColumns {
    public static final String FILE = ScoreRow.FILE, STATUS = ScoreRow.STATUS, LABEL = ScoreRow.LABEL,
            PROBABILITY = ScoreRow.PROBABILITY, EXPECTED_SCORE = ScoreRow.EXPECTED_SCORE,
            FACE_FRACTION = ScoreRow.FACE_FRACTION, FACE_X = ScoreRow.FACE_X, FACE_Y = ScoreRow.FACE_Y,
            FACE_W = ScoreRow.FACE_W, FACE_H = ScoreRow.FACE_H, ERROR = ScoreRow.ERROR;
    /** Status values, as {@code snapscore score} writes them. */
    public static final String OK = ScoreRow.status(ScoredPhoto.Status.OK), REJECTED = ScoreRow.status(ScoredPhoto.Status.REJECTED),
            FAILED = ScoreRow.status(ScoredPhoto.Status.ERROR);

    private ScoreColumns() {
    }

    /** The probability column of {@code label}. */
    public static String probabilityColumn(String label) {
        return ScoreRow.probabilityColumn(label);
    }

    /** The table's columns; {@code faceBox}: the photos are cleaned. */
    public static StructType schema(List<String> labels, boolean faceBox) {
        return DataTypes.createStructType(ScoreRow.columns(labels, faceBox).stream()
                .map(c -> DataTypes.createStructField(c.name(), sparkType(c.type()), c.nullable())).toList());
    }

    private static DataType sparkType(Class<?> type) {
        if (type == String.class) return DataTypes.StringType;
        if (type == Float.class) return DataTypes.FloatType;
        if (type == Double.class) return DataTypes.DoubleType;
        if (type == Integer.class) return DataTypes.IntegerType;
        throw new IllegalArgumentException("no Spark type for " + type);
    }

    /** A photo's row, for a model with {@code labels} labels. */
    static Row row(ScoredPhoto photo, int labels, boolean faceBox) {
        return RowFactory.create(ScoreRow.values(photo, labels, faceBox));
    }
}
