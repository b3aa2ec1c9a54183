package dev.snapscore.engine.photo;

import dev.snapscore.engine.Prediction;
import dev.snapscore.engine.image.FaceDetector;

/**
 * One photo's outcome, whichever way it was scored (folder, Spark partition, upload): {@link ScoreRow}
 * renders it as CSV, JSON Lines, a Spark row or the server's JSON.
 *
 * @param file       the photo's name: its path, or the name given with its bytes
 * @param prediction the model's answer when OK, else null
 * @param faces      the face check's findings (box, image size), or null when there was none or it failed
 * @param error      why the photo could not be scored when ERROR, else null
 */
public record ScoredPhoto(String file, Status status, Prediction prediction, FaceDetector.Faces faces, String error) {
    public enum Status { OK, REJECTED, ERROR }

    /** The largest face's share of the photo, or null without a face check. */
    public Double faceFraction() {
        return faces == null ? null : faces.largestFraction();
    }
}
