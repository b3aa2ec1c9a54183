package dev.snapscore.engine;

/** A model file or directory that cannot be used: missing, truncated, inconsistent or unsupported. */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
