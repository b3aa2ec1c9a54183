package dev.snapscore.engine.photo;

import dev.snapscore.engine.ImageException;
import dev.snapscore.engine.image.FaceDetector;

/**
 * One photo after {@link PhotoPipeline#prepare}: in batch slot {@code slot} (status OK), rejected by the
 * face check, or failed.
 *
 * @param width        decoded width in pixels (0 when decoding failed)
 * @param faces        the face check's findings, or null when there was none (or the photo failed)
 * @param failure      why the photo failed, or null
 * @param prepareNanos time spent decoding and preprocessing
 * @param cleanNanos   time spent detecting faces
 * @param fromThumbnail rejected from its EXIF thumbnail, without decoding the photo itself
 */
public record PreparedPhoto(String file, ScoredPhoto.Status status, int slot, int width, int height,
                            FaceDetector.Faces faces, RuntimeException failure, long prepareNanos, long cleanNanos,
                            boolean fromThumbnail) {

    /** A photo that could not be prepared: its row says why. */
    public static PreparedPhoto failed(String file, RuntimeException failure) {
        return new PreparedPhoto(file, ScoredPhoto.Status.ERROR, -1, 0, 0, null, failure, 0, 0, false);
    }

    /** An image the caller preprocessed into batch slot {@code slot} itself. */
    public static PreparedPhoto preprocessed(String file, int slot) {
        return new PreparedPhoto(file, ScoredPhoto.Status.OK, slot, 0, 0, null, null, 0, 0, false);
    }

    /** The same photo, its pixels moved to batch slot {@code slot}. */
    public PreparedPhoto inSlot(int slot) {
        if (status != ScoredPhoto.Status.OK) throw new IllegalStateException(file + " is not in the batch: " + status);
        return new PreparedPhoto(file, status, slot, width, height, faces, failure, prepareNanos, cleanNanos, fromThumbnail);
    }

    /** The error row's message: an image error's own message, anything unexpected as its class and message. */
    public String error() {
        if (failure == null) return null;
        return failure instanceof ImageException ? failure.getMessage() : failure.toString();
    }
}
