package dev.weft;

import java.nio.Buffer;

/** The JNI entry points of libweft_ffi (ffi/src/jni/). Handles are native pointers as longs. */
final class Native {
    static {
        Weft.loadLibrary();
    }

    private Native() {}

    static native String version();

    // Model
    static native long modelLoad(String path, String tokenizerPath, boolean prefault, boolean hugePages,
            ProgressListener progress);
    static native void modelFree(long model);
    /** {n_vocab, n_embd, n_layer, n_ctx, bos, eos, has_tokenizer, frame_size, output_size,
     *  accepts_tokens, regression}. */
    static native int[] modelInfo(long model);
    static native String modelArchitecture(long model);
    static native String modelName(long model);
    static native long modelFileSize(long model);
    static native int[] tokenize(long model, String text, boolean addSpecial);
    static native String tokenToPiece(long model, int token);

    // Detokenizer
    static native long detokNew(long model, boolean skipSpecial);
    static native String detokPush(long detok, int token);
    static native String detokFlush(long detok);
    static native void detokFree(long detok);

    // Parameters: {kv_window, kv_sinks, prefill_chunk, threads, history, int8_activations,
    // kv_f16} and
    // {temperature, top_k, top_p, min_p, repetition_penalty, repeat_last_n}.
    static native int[] sessionDefaults();
    static native float[] samplingDefaults(boolean greedy);

    // Session
    static native long sessionNew(long model, int[] params);
    static native void sessionFree(long session);
    static native void sessionPrefill(long session, int[] tokens);
    static native void sessionStep(long session, int token);
    /** `frame` and `out` are direct FloatBuffers in native order; `out` may be null. */
    static native void sessionStepFrame(long session, Buffer frame, int framePos, int frameLen,
            Buffer out, int outPos, int outLen);
    static native void sessionLogits(long session, float[] out);
    static native int sessionSample(long session, float[] sampling);
    static native int sessionGenerate(long session, int[] prompt, float[] sampling, int maxTokens,
            TokenCallback callback);
    static native void sessionSetSeed(long session, long seed);
    static native void sessionCancel(long session);
    static native void sessionReset(long session);
    static native long sessionPosition(long session);
    static native int sessionStateSize(long session);
    static native byte[] sessionSaveState(long session);
    static native void sessionLoadState(long session, byte[] state);
}
