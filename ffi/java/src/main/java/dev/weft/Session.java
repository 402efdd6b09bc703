package dev.weft;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * One stream over a model: state, steps, sampling. Calls are serialised (synchronized); only
 * {@link #cancel()} runs concurrently, to stop a {@link #generate} running on another thread.
 */
public final class Session implements AutoCloseable {
    private long handle;
    /** Guards the handle against close() while cancel() uses it. */
    private final Object cancelLock = new Object();
    private final int frameSize;
    private final int outputSize;

    Session(Model model, SessionParams params) {
        this.handle = Native.sessionNew(model.handle(), params.toArray());
        this.frameSize = model.frameSize();
        this.outputSize = model.outputSize();
    }

    private long handle() {
        if (handle == 0) throw new IllegalStateException("session is closed");
        return handle;
    }

    /** Floats per frame ({@link Model#frameSize()}). */
    public int frameSize() { return frameSize; }
    /** Floats per step output ({@link Model#outputSize()}). */
    public int outputSize() { return outputSize; }

    /** Feeds the tokens (at least one). */
    public synchronized void prefill(int[] tokens) {
        Native.sessionPrefill(handle(), tokens);
    }

    /** Feeds one token. */
    public synchronized void step(int token) {
        Native.sessionStep(handle(), token);
    }

    /**
     * Feeds one frame of {@link #frameSize()} floats (a sensor model's frame, or an
     * embedding-sized vector), read from the frame buffer's position, and writes the per-step
     * output ({@link #outputSize()} floats: logits or the predicted next frame) into
     * {@code out} at its position (null = don't copy; see {@link #logits}). Both buffers must be
     * direct and in native byte order: no copy and no allocation per frame. Positions do not move.
     */
    public synchronized void stepFrame(FloatBuffer frame, FloatBuffer out) {
        check(frame, "frame");
        if (out != null) check(out, "out");
        Native.sessionStepFrame(handle(), frame, frame.position(), frame.remaining(),
                out, out == null ? 0 : out.position(), out == null ? 0 : out.remaining());
    }

    private static void check(FloatBuffer b, String name) {
        if (!b.isDirect()) throw new IllegalArgumentException(name + " must be a direct FloatBuffer");
        if (b.order() != ByteOrder.nativeOrder())
            throw new IllegalArgumentException(name + " must be in native byte order");
    }

    /** Copies the last output into {@code out} (at least {@link #outputSize()} long). */
    public synchronized void logits(float[] out) {
        Native.sessionLogits(handle(), out);
    }

    public float[] logits() {
        float[] out = new float[outputSize];
        logits(out);
        return out;
    }

    /** Picks the next token from the last output (does not feed it). */
    public synchronized int sample(SamplingParams params) {
        return Native.sessionSample(handle(), (params == null ? SamplingParams.defaults() : params).toArray());
    }

    /**
     * Prefills {@code prompt} (null or empty = continue), then samples and feeds up to
     * {@code maxTokens} tokens, calling {@code callback} (may be null) for each. Stops at the EOS
     * token or when the callback returns false. Returns the number of tokens generated.
     *
     * @throws WeftException with {@link WeftException#isCancelled()} after {@link #cancel()}
     */
    public synchronized int generate(int[] prompt, SamplingParams params, int maxTokens, TokenCallback callback) {
        return Native.sessionGenerate(handle(), prompt == null ? new int[0] : prompt,
                (params == null ? SamplingParams.defaults() : params).toArray(), maxTokens, callback);
    }

    /** Restarts the sampler's random stream from {@code seed} (sessions start from a fixed seed). */
    public synchronized void setSeed(long seed) {
        Native.sessionSetSeed(handle(), seed);
    }

    /** Stops a {@link #generate} running on another thread before its next token. */
    public void cancel() {
        synchronized (cancelLock) {
            if (handle != 0) Native.sessionCancel(handle);
        }
    }

    /** Back to a fresh session's state. */
    public synchronized void reset() {
        Native.sessionReset(handle());
    }

    /** Tokens and frames consumed since creation or the last reset. */
    public synchronized long position() {
        return Native.sessionPosition(handle());
    }

    /** Bytes of a state snapshot (fixed for the session's lifetime). */
    public synchronized int stateSize() {
        return Native.sessionStateSize(handle());
    }

    public synchronized byte[] saveState() {
        return Native.sessionSaveState(handle());
    }

    /** Restores a snapshot; a blob from another model or configuration is rejected unchanged. */
    public synchronized void loadState(byte[] state) {
        Native.sessionLoadState(handle(), state);
    }

    @Override
    public synchronized void close() {
        synchronized (cancelLock) {
            if (handle != 0) {
                Native.sessionFree(handle);
                handle = 0;
            }
        }
    }
}
