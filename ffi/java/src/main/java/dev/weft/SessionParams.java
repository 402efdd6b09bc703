package dev.weft;

/** How a session is set up; starts from the native defaults. */
public final class SessionParams {
    /** Recent positions each attention KV ring keeps (capped at the model's context length). */
    public int kvWindow;
    /** First positions every KV ring keeps forever (attention sinks). */
    public int kvSinks;
    /** Tokens per prefill run. */
    public int prefillChunk;
    /** CPU threads, the calling thread included; 0 = the physical cores. */
    public int threads;
    /** Tokens of history for the repetition penalty. */
    public int history;
    /** int8-quantized activations for Q8_0/Q4_0 weights: faster, ~0.5% rounding per matmul. */
    public boolean int8Activations;
    /** f16 KV cache: half the memory and the bytes attention reads, rounded once. */
    public boolean kvF16;

    public SessionParams() {
        int[] d = Native.sessionDefaults();
        kvWindow = d[0];
        kvSinks = d[1];
        prefillChunk = d[2];
        threads = d[3];
        history = d[4];
        int8Activations = d[5] != 0;
        kvF16 = d[6] != 0;
    }

    int[] toArray() {
        return new int[] {kvWindow, kvSinks, prefillChunk, threads, history, int8Activations ? 1 : 0, kvF16 ? 1 : 0};
    }
}
