/* A frame (sensor) model: 6-float IMU frames in, the predicted next frame out. Outputs equal
 * the Rust API's; tokens are refused; session options (threads, int8 activations, seed). */
#include <math.h>

#include "check.h"

void test_sensor(const fixture *fx) {
    weft_model *m = NULL;
    CHECK_OK(weft_model_load(fx->sensor, NULL, &m));
    if (!m) return;
    weft_model_desc d = {.size = sizeof d};
    CHECK_OK(weft_model_info(m, &d));
    CHECK(strcmp(d.architecture, "mamba2") == 0, "architecture %s", d.architecture);
    CHECK(d.frame_size == 6 && d.output_size == 6, "frame %u, output %u", d.frame_size, d.output_size);
    CHECK(!d.accepts_tokens && d.regression && !d.has_tokenizer, "kind");

    weft_session_params p = weft_session_default_params();
    p.threads = 2;
    weft_session *s = NULL;
    CHECK_OK(weft_session_new(m, &p, &s));
    if (!s) return;
    const size_t frames = fx->sensor_frames.n / 6;
    for (size_t t = 0; t < frames; t++) {
        const float *out = NULL;
        size_t n = 0;
        CHECK_OK(weft_session_step_frame(s, fx->sensor_frames.values + 6 * t, 6, &out, &n));
        CHECK(n == 6, "output size %zu", n);
        for (size_t c = 0; out && c < n; c++) {
            float want = fx->sensor_outputs.values[6 * t + c];
            CHECK(fabsf(out[c] - want) <= TOL * fmaxf(1.0f, fabsf(want)), "frame %zu channel %zu: %g vs %g",
                  t, c, out[c], want);
        }
    }
    CHECK_STATUS(weft_session_step_token(s, 1, NULL, NULL), WEFT_ERR_INVALID_ARG, "frames of 6");
    uint32_t toks[2] = {1, 2};
    CHECK_STATUS(weft_session_prefill(s, toks, 2, NULL, NULL), WEFT_ERR_INVALID_ARG, "not tokens");
    CHECK_STATUS(weft_session_step_frame(s, fx->sensor_frames.values, 5, NULL, NULL), WEFT_ERR_INVALID_ARG,
                 "frames of 6");
    uint64_t pos = 0;
    CHECK_OK(weft_session_position(s, &pos));
    CHECK(pos == frames, "refused inputs moved the position to %llu", (unsigned long long)pos);
    CHECK_OK(weft_session_set_seed(s, 42));
    CHECK_STATUS(weft_session_set_seed(NULL, 42), WEFT_ERR_NULL_ARG, "`session`");
    weft_session_free(&s);

    /* int8 activations only change quantized matmuls (this model is F32): same outputs. */
    p = weft_session_default_params();
    p.int8_activations = true;
    p.threads = 0; /* the physical cores */
    CHECK_OK(weft_session_new(m, &p, &s));
    const float *out = NULL;
    size_t n = 0;
    if (s) CHECK_OK(weft_session_step_frame(s, fx->sensor_frames.values, 6, &out, &n));
    CHECK(out && fabsf(out[0] - fx->sensor_outputs.values[0]) <= TOL, "int8 session output");
    weft_session_free(&s);
    weft_model_free(&m);
}
