package dev.weft;

/** Sampling settings (llama.cpp names and defaults); temperature 0 is greedy. */
public final class SamplingParams {
    public float temperature;
    /** 0 disables. */
    public int topK;
    /** 1 disables. */
    public float topP;
    /** 0 disables. */
    public float minP;
    /** 1 disables. */
    public float repetitionPenalty;
    /** 0 disables. */
    public int repeatLastN;

    private SamplingParams(float[] d) {
        temperature = d[0];
        topK = (int) d[1];
        topP = d[2];
        minP = d[3];
        repetitionPenalty = d[4];
        repeatLastN = (int) d[5];
    }

    /** temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no repetition penalty. */
    public static SamplingParams defaults() {
        return new SamplingParams(Native.samplingDefaults(false));
    }

    /** Always the most likely token. */
    public static SamplingParams greedy() {
        return new SamplingParams(Native.samplingDefaults(true));
    }

    float[] toArray() {
        return new float[] {temperature, topK, topP, minP, repetitionPenalty, repeatLastN};
    }
}
