package dev.weft;

/** Token ids in, text pieces out, never splitting a UTF-8 character. One thread at a time. */
public final class Detokenizer implements AutoCloseable {
    private long handle;

    Detokenizer(long handle) {
        this.handle = handle;
    }

    private long handle() {
        if (handle == 0) throw new IllegalStateException("detokenizer is closed");
        return handle;
    }

    /** The new text after {@code token} ("" while a character is incomplete). */
    public synchronized String push(int token) {
        return Native.detokPush(handle(), token);
    }

    /** Whatever is held (an incomplete character as U+FFFD); starts afresh. */
    public synchronized String flush() {
        return Native.detokFlush(handle());
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            Native.detokFree(handle);
            handle = 0;
        }
    }
}
