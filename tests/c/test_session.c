/* Sessions: greedy tokens (pull and push) equal the Rust API's, frames, and the error paths. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

typedef struct {
    unsigned ids[MAX_IDS];
    size_t n;
    size_t stop_after; /* return 0 after this many tokens (0 = never) */
    char text[2048];
    size_t text_len;
} collected;

static int32_t collect(uint32_t token, const char *piece, size_t len, void *user) {
    collected *c = user;
    if (c->n < MAX_IDS) c->ids[c->n++] = token;
    if (piece && c->text_len + len < sizeof c->text) {
        memcpy(c->text + c->text_len, piece, len);
        c->text_len += len;
        c->text[c->text_len] = '\0';
    }
    return c->stop_after == 0 || c->n < c->stop_after;
}

static int same_ids(const unsigned *a, const unsigned *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void test_pull(weft_model *m, const fixture *fx) {
    weft_session *s = NULL;
    CHECK_OK(weft_session_new(m, NULL, &s));
    if (!s) return;
    const float *logits = NULL;
    size_t n_logits = 0;
    CHECK_OK(weft_session_prefill(s, fx->prompt_ids.ids, fx->prompt_ids.n, &logits, &n_logits));
    CHECK(logits != NULL && n_logits == 300, "borrowed logits %p %zu", (const void *)logits, n_logits);
    uint64_t pos = 0;
    CHECK_OK(weft_session_position(s, &pos));
    CHECK(pos == fx->prompt_ids.n, "position %llu", (unsigned long long)pos);

    float copy[300];
    CHECK_OK(weft_session_logits(s, copy, 300));
    CHECK(memcmp(copy, logits, sizeof copy) == 0, "copied logits differ from borrowed ones");
    CHECK_STATUS(weft_session_logits(s, copy, 299), WEFT_ERR_BUFFER_TOO_SMALL, "300");

    unsigned got[MAX_IDS];
    size_t n = pull_greedy(s, got, fx->greedy.n, 2);
    CHECK(n == fx->greedy.n && same_ids(got, fx->greedy.ids, n), "pull: %zu tokens, want %zu", n,
          fx->greedy.n);
    weft_session_free(&s);
    CHECK(s == NULL, "free did not clear the handle");
    weft_session_free(&s);
}

static void test_generate(weft_model *m, const fixture *fx) {
    weft_session *s = NULL;
    CHECK_OK(weft_session_new(m, NULL, &s));
    if (!s) return;
    weft_sampling_params greedy = weft_sampling_greedy_params();

    collected c = {.n = 0};
    CHECK_OK(weft_session_generate(s, fx->prompt_ids.ids, fx->prompt_ids.n, &greedy,
                                   (uint32_t)fx->greedy.n, collect, &c));
    CHECK(c.n == fx->greedy.n && same_ids(c.ids, fx->greedy.ids, c.n), "push: %zu tokens", c.n);

    /* The streamed pieces are the detokenized continuation. */
    weft_detokenizer *d = NULL;
    CHECK_OK(weft_detokenizer_new(m, true, &d));
    char text[2048] = "";
    size_t at = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *piece;
        size_t len;
        CHECK_OK(weft_detokenizer_push(d, c.ids[i], &piece, &len));
        memcpy(text + at, piece, len);
        at += len;
    }
    text[at] = '\0';
    weft_detokenizer_free(&d);
    CHECK(strcmp(text, c.text) == 0, "callback text \"%s\" != \"%s\"", c.text, text);

    /* Stop from the callback after 5, then continue with no prompt: same stream. */
    CHECK_OK(weft_session_reset(s));
    collected a = {.stop_after = 5};
    CHECK_OK(weft_session_generate(s, fx->prompt_ids.ids, fx->prompt_ids.n, &greedy, 1000, collect, &a));
    CHECK(a.n == 5, "stopped after %zu", a.n);
    collected b = {.n = 0};
    CHECK_OK(weft_session_generate(s, NULL, 0, &greedy, (uint32_t)(fx->greedy.n - 5), collect, &b));
    CHECK(b.n == fx->greedy.n - 5 && same_ids(b.ids, fx->greedy.ids + 5, b.n), "continued %zu", b.n);

    /* No callback: just runs. Default sampling (NULL params) also works. */
    CHECK_OK(weft_session_generate(s, NULL, 0, NULL, 3, NULL, NULL));
    uint64_t pos = 0;
    CHECK_OK(weft_session_position(s, &pos));
    /* (Sampling may draw EOS, which ends generation early.) */
    CHECK(pos >= fx->prompt_ids.n + fx->greedy.n && pos <= fx->prompt_ids.n + fx->greedy.n + 3,
          "position %llu", (unsigned long long)pos);

    /* Errors. */
    CHECK_OK(weft_session_reset(s));
    CHECK_STATUS(weft_session_generate(s, NULL, 0, &greedy, 3, NULL, NULL), WEFT_ERR_NOT_READY, "no logits");
    uint32_t bad[2] = {5, 300};
    CHECK_STATUS(weft_session_generate(s, bad, 2, &greedy, 3, NULL, NULL), WEFT_ERR_INVALID_ARG, "300");
    CHECK_OK(weft_session_position(s, &pos));
    CHECK(pos == 0, "a rejected prompt was partly fed");
    CHECK_STATUS(weft_session_generate(s, NULL, 4, &greedy, 3, NULL, NULL), WEFT_ERR_NULL_ARG, "`prompt`");
    weft_sampling_params hot = weft_sampling_default_params();
    hot.temperature = -1.0f;
    CHECK_STATUS(weft_session_generate(s, bad, 1, &hot, 3, NULL, NULL), WEFT_ERR_INVALID_ARG, "temperature");
    CHECK_STATUS(weft_session_generate(NULL, bad, 1, NULL, 3, NULL, NULL), WEFT_ERR_NULL_ARG, "`session`");
    weft_session_free(&s);
}

static void test_frames(weft_model *m, const fixture *fx) {
    weft_session *s = NULL;
    CHECK_OK(weft_session_new(m, NULL, &s));
    if (!s) return;
    float frame[32];
    for (int i = 0; i < 32; i++) frame[i] = (float)((i % 7) - 3) * 0.05f;
    const float *out = NULL;
    size_t n = 0;
    CHECK_OK(weft_session_step_frame(s, frame, 32, &out, &n));
    CHECK(n == 300 && out != NULL, "frame output %zu", n);
    for (size_t i = 0; out && i < fx->frame_logits.n; i++) {
        float want = fx->frame_logits.values[i];
        CHECK(fabsf(out[i] - want) <= TOL * fmaxf(1.0f, fabsf(want)), "logit %zu: %g vs %g", i,
              out[i], want);
    }
    /* Frames feed a session at the sensor rate: many steps, outputs stay finite. */
    for (int t = 0; t < 200; t++) {
        frame[t % 32] += 0.01f;
        if (weft_session_step_frame(s, frame, 32, &out, &n) != WEFT_OK) break;
    }
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(out[i]) != 0;
    CHECK(finite, "non-finite output after 200 frames");

    CHECK_STATUS(weft_session_step_frame(s, frame, 31, NULL, NULL), WEFT_ERR_INVALID_ARG, "frame has 31");
    CHECK_STATUS(weft_session_step_frame(s, frame, 0, NULL, NULL), WEFT_ERR_INVALID_ARG, "frame has 0");
    CHECK_STATUS(weft_session_step_frame(s, frame, (size_t)-1, NULL, NULL), WEFT_ERR_INVALID_ARG, "frame has");
    CHECK_STATUS(weft_session_step_frame(s, NULL, 32, NULL, NULL), WEFT_ERR_NULL_ARG, "`frame`");
    weft_session_free(&s);
}

static void test_session_errors(weft_model *m) {
    weft_session *s = (weft_session *)&s;
    CHECK_STATUS(weft_session_new(NULL, NULL, &s), WEFT_ERR_NULL_ARG, "`model`");
    CHECK(s == NULL, "out not cleared");
    CHECK_STATUS(weft_session_new(m, NULL, NULL), WEFT_ERR_NULL_ARG, "`out`");
    weft_session_params p = weft_session_default_params();
    p.kv_window = 0;
    CHECK_STATUS(weft_session_new(m, &p, &s), WEFT_ERR_INVALID_ARG, "kv_window");
    p = weft_session_default_params();
    p.size = 0;
    CHECK_STATUS(weft_session_new(m, &p, &s), WEFT_ERR_INVALID_ARG, "weft_session_params.size");
    p = weft_session_default_params();
    p.backend = 7;
    CHECK_STATUS(weft_session_new(m, &p, &s), WEFT_ERR_INVALID_ARG, "WEFT_BACKEND_AUTO (2)");
    /* This library is built without the GPU: asking for it is an error, AUTO runs on the CPU. */
    p.backend = WEFT_BACKEND_GPU;
    CHECK_STATUS(weft_session_new(m, &p, &s), WEFT_ERR_INVALID_ARG, "no GPU backend");
    p.backend = WEFT_BACKEND_AUTO;
    CHECK_OK(weft_session_new(m, &p, &s));
    weft_session_free(&s);
    CHECK(s == NULL, "free clears the handle");

    p = weft_session_default_params();
    p.prefill_chunk = 3;
    CHECK_OK(weft_session_new(m, &p, &s));
    if (!s) return;
    uint32_t t = 0;
    CHECK_STATUS(weft_session_sample(s, NULL, &t), WEFT_ERR_NOT_READY, "no logits");
    CHECK_STATUS(weft_session_step_token(s, 300, NULL, NULL), WEFT_ERR_INVALID_ARG, "out of range");
    uint32_t toks[3] = {1, 2, 3};
    CHECK_STATUS(weft_session_prefill(s, toks, 0, NULL, NULL), WEFT_ERR_INVALID_ARG, "at least one");
    CHECK_STATUS(weft_session_prefill(s, NULL, 3, NULL, NULL), WEFT_ERR_NULL_ARG, "`tokens`");
    CHECK_STATUS(weft_session_prefill(s, toks, (size_t)-3, NULL, NULL), WEFT_ERR_INVALID_ARG, "out of range");
    CHECK_OK(weft_session_prefill(s, toks, 3, NULL, NULL));
    CHECK_STATUS(weft_session_sample(s, NULL, NULL), WEFT_ERR_NULL_ARG, "`token`");
    weft_sampling_params sp = weft_sampling_default_params();
    sp.top_p = 0.0f;
    CHECK_STATUS(weft_session_sample(s, &sp, &t), WEFT_ERR_INVALID_ARG, "top_p");
    sp = weft_sampling_default_params();
    sp.size = 3;
    CHECK_STATUS(weft_session_sample(s, &sp, &t), WEFT_ERR_INVALID_ARG, "weft_sampling_params.size");
    CHECK_OK(weft_session_sample(s, NULL, &t));
    CHECK(t < 300, "sampled %u", t);
    CHECK_STATUS(weft_session_logits(s, NULL, 300), WEFT_ERR_NULL_ARG, "`out`");

    /* Every entry point rejects a NULL session. */
    const float *lp;
    CHECK_STATUS(weft_session_step_token(NULL, 1, &lp, NULL), WEFT_ERR_NULL_ARG, "`session`");
    CHECK_STATUS(weft_session_prefill(NULL, toks, 3, NULL, NULL), WEFT_ERR_NULL_ARG, "`session`");
    CHECK_STATUS(weft_session_sample(NULL, NULL, &t), WEFT_ERR_NULL_ARG, "`session`");
    CHECK_STATUS(weft_session_reset(NULL), WEFT_ERR_NULL_ARG, "`session`");
    CHECK_STATUS(weft_session_cancel(NULL), WEFT_ERR_NULL_ARG, "`session`");
    CHECK_STATUS(weft_session_position(NULL, NULL), WEFT_ERR_NULL_ARG, "`session`");
    CHECK(weft_session_state_size(NULL) == 0 && weft_last_status() == WEFT_ERR_NULL_ARG, "state_size");
    weft_session_free(&s);
    weft_session_free(NULL);
}

/* A session keeps its model alive: the model handle may be freed first. */
static void test_model_freed_first(const fixture *fx) {
    weft_model *m = NULL;
    weft_session *s = NULL;
    CHECK_OK(weft_model_load(fx->model, NULL, &m));
    CHECK_OK(weft_session_new(m, NULL, &s));
    weft_model_free(&m);
    if (!s) return;
    CHECK_OK(weft_session_prefill(s, fx->prompt_ids.ids, fx->prompt_ids.n, NULL, NULL));
    unsigned got[MAX_IDS];
    size_t n = pull_greedy(s, got, 4, 2);
    CHECK(n == 4 && same_ids(got, fx->greedy.ids, 4), "after model free: %zu", n);
    weft_session_free(&s);
}

/* f16 KV rings: smaller state, logits within f16 rounding of the f32 rings', a bad value
 * refused, `auto` runs them (on the CPU in a build without the GPU backend), and an older
 * caller's struct (without `kv_type`) gets f32 rings. */
static void test_kv_type(weft_model *m, const fixture *fx) {
    weft_session_params p = weft_session_default_params();
    weft_session *full = NULL, *half = NULL, *old = NULL, *bad = NULL;
    p.kv_type = 7;
    CHECK_STATUS(weft_session_new(m, &p, &bad), WEFT_ERR_INVALID_ARG, "WEFT_KV_F16 (1)");
    p.kv_type = WEFT_KV_F16;
    p.backend = WEFT_BACKEND_AUTO;
    CHECK_OK(weft_session_new(m, &p, &bad));
    weft_session_free(&bad);
    p.backend = WEFT_BACKEND_CPU;
    CHECK_OK(weft_session_new(m, &p, &half));
    CHECK_OK(weft_session_new(m, NULL, &full));
    p = weft_session_default_params();
    p.size = offsetof(weft_session_params, kv_type);
    p.kv_type = 12345; /* past the old struct's end: never read */
    CHECK_OK(weft_session_new(m, &p, &old));
    if (!half || !full || !old) return;
    CHECK(weft_session_state_size(half) < weft_session_state_size(full), "f16 state %zu vs %zu",
          weft_session_state_size(half), weft_session_state_size(full));
    CHECK(weft_session_state_size(old) == weft_session_state_size(full), "old struct: f32 rings");
    const float *a = NULL, *b = NULL;
    size_t n = 0;
    CHECK_OK(weft_session_prefill(full, fx->prompt_ids.ids, fx->prompt_ids.n, &a, &n));
    CHECK_OK(weft_session_prefill(half, fx->prompt_ids.ids, fx->prompt_ids.n, &b, &n));
    double d2 = 0, a2 = 0;
    for (size_t i = 0; i < n; i++) {
        d2 += (double)(a[i] - b[i]) * (a[i] - b[i]);
        a2 += (double)a[i] * a[i];
    }
    CHECK(d2 > 0 && d2 <= 1e-4 * a2, "f16 vs f32 KV: rel L2 %g", sqrt(d2 / a2));
    weft_session_free(&full);
    weft_session_free(&half);
    weft_session_free(&old);
}

void test_session(const fixture *fx) {
    weft_model *m = NULL;
    CHECK_OK(weft_model_load(fx->model, NULL, &m));
    if (!m) return;
    test_pull(m, fx);
    test_generate(m, fx);
    test_frames(m, fx);
    test_session_errors(m);
    test_kv_type(m, fx);
    weft_model_free(&m);
    test_model_freed_first(fx);
}
