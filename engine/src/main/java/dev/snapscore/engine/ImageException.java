package dev.snapscore.engine;

/** An image that cannot be used: missing, empty, not an image, corrupt, or too large. */
public class ImageException extends RuntimeException {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
