package dev.weft;

/** A failed weft call: the native status and its message. */
public class WeftException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status status;

    /** Called from native code. */
    public WeftException(int status, String message) {
        super(message);
        this.status = Status.of(status);
    }

    public Status status() {
        return status;
    }

    /** True when {@link Session#cancel()} or a progress listener stopped the call. */
    public boolean isCancelled() {
        return status == Status.CANCELLED;
    }
}
