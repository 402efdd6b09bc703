package dev.weft;

/**
 * A loaded model (memory-mapped GGUF + tokenizer). Thread-safe; sessions keep the native model
 * alive, so closing it while sessions are open is fine.
 */
public final class Model implements AutoCloseable {
    private long handle;
    private final int[] info;
    private final String architecture;
    private final String name;
    private final long fileSize;

    private Model(long handle) {
        this.handle = handle;
        this.info = Native.modelInfo(handle);
        this.architecture = Native.modelArchitecture(handle);
        this.name = Native.modelName(handle);
        this.fileSize = Native.modelFileSize(handle);
    }

    /**
     * Opens the GGUF file at {@code path}.
     *
     * @param tokenizerPath a tokenizer.json to use instead of the embedded one, or null
     * @param prefault read the whole file now (with progress) instead of on first use
     * @param progress load progress listener (may abort), or null
     */
    public static Model load(String path, String tokenizerPath, boolean prefault, ProgressListener progress) {
        return load(path, tokenizerPath, prefault, false, progress);
    }

    /**
     * Opens the GGUF file at {@code path}, optionally read into transparent huge pages.
     *
     * @param hugePages read the file into private memory backed by huge pages (Linux, Android)
     *     instead of mapping it: faster decode, for a read of the whole file now and private
     *     memory the size of the file (implies {@code prefault})
     * @see #load(String, String, boolean, ProgressListener)
     */
    public static Model load(String path, String tokenizerPath, boolean prefault, boolean hugePages,
            ProgressListener progress) {
        return new Model(Native.modelLoad(path, tokenizerPath, prefault, hugePages, progress));
    }

    synchronized long handle() {
        if (handle == 0) throw new IllegalStateException("model is closed");
        return handle;
    }

    public int vocabSize() { return info[0]; }
    /** Model width. */
    public int embeddingSize() { return info[1]; }
    public int layerCount() { return info[2]; }
    /** Trained context length, 0 when the file states none. */
    public int contextLength() { return info[3]; }
    /** -1 when the model has none. */
    public int bosToken() { return info[4]; }
    public int eosToken() { return info[5]; }
    public boolean hasTokenizer() { return info[6] != 0; }
    /** Floats per frame for {@link Session#stepFrame}: a sensor model's frame, else the width. */
    public int frameSize() { return info[7]; }
    /** Floats per step output: a regression model's predicted next frame, else the vocabulary. */
    public int outputSize() { return info[8]; }
    /** False for frame (sensor) models, which refuse tokens. */
    public boolean acceptsTokens() { return info[9] != 0; }
    /** The output is the predicted next frame, not vocabulary logits. */
    public boolean isRegression() { return info[10] != 0; }
    public String architecture() { return architecture; }
    public String name() { return name; }
    public long fileSize() { return fileSize; }

    /** Token ids of {@code text}; with {@code addSpecial} the tokenizer adds e.g. BOS. */
    public synchronized int[] tokenize(String text, boolean addSpecial) {
        return Native.tokenize(handle(), text, addSpecial);
    }

    /** Text of one token (a partial UTF-8 character shows as U+FFFD; stream with a Detokenizer). */
    public synchronized String tokenToPiece(int token) {
        return Native.tokenToPiece(handle(), token);
    }

    public synchronized Session newSession(SessionParams params) {
        return new Session(this, params == null ? new SessionParams() : params);
    }

    public Session newSession() {
        return newSession(null);
    }

    /** A streaming detokenizer; {@code skipSpecial} hides special tokens. */
    public synchronized Detokenizer newDetokenizer(boolean skipSpecial) {
        return new Detokenizer(Native.detokNew(handle(), skipSpecial));
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            Native.modelFree(handle);
            handle = 0;
        }
    }
}
