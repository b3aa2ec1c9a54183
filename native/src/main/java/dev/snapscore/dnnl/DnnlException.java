package dev.snapscore.dnnl;

/** A oneDNN call that failed, or the library that could not be loaded. */
public class DnnlException extends RuntimeException {
    private final int status;

    public DnnlException(String message) {
        this(message, -1, null);
    }

    public DnnlException(String message, Throwable cause) {
        this(message, -1, cause);
    }

    DnnlException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** oneDNN's {@code dnnl_status_t}, or -1 when the failure was not a status code. */
    public int status() {
        return status;
    }

    /** True when oneDNN has no implementation for the requested primitive or layout. */
    public boolean isUnimplemented() {
        return status == Dnnl.STATUS_UNIMPLEMENTED;
    }
}
