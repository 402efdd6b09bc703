/* Loading: success with progress, model info, tokenizer sources, and every load error. */
#include <stddef.h>
#include <stdlib.h>

#include "check.h"

typedef struct {
    int calls;
    float last;
    int monotonic;
    int abort_at; /* abort on this call (0 = never) */
} progress_log;

static bool on_progress(float p, void *user) {
    progress_log *log = user;
    log->calls++;
    if (p < log->last) log->monotonic = 0;
    log->last = p;
    return log->abort_at == 0 || log->calls < log->abort_at;
}

static void test_load_errors(const fixture *fx) {
    weft_model *m = (weft_model *)&m; /* must be reset to NULL on failure */
    CHECK_STATUS(weft_model_load(NULL, NULL, &m), WEFT_ERR_NULL_ARG, "`path` is NULL");
    CHECK(m == NULL, "out not cleared");
    CHECK_STATUS(weft_model_load(fx->model, NULL, NULL), WEFT_ERR_NULL_ARG, "`out` is NULL");

    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such-model.gguf", fx->dir);
    CHECK_STATUS(weft_model_load(missing, NULL, &m), WEFT_ERR_IO, "no-such-model.gguf");
    CHECK(m == NULL, "out not NULL after a failed load");

    CHECK_STATUS(weft_model_load("bad\xff\xfe.gguf", NULL, &m), WEFT_ERR_INVALID_UTF8, "`path`");

    char garbage[1200];
    snprintf(garbage, sizeof garbage, "%s/garbage.gguf", fx->dir);
    FILE *f = fopen(garbage, "wb");
    CHECK(f != NULL, "cannot write %s", garbage);
    if (f) {
        fputs("this is not a GGUF file at all, just text", f);
        fclose(f);
    }
    CHECK_STATUS(weft_model_load(garbage, NULL, &m), WEFT_ERR_MODEL, "magic");
    remove(garbage);

    weft_model_params p = weft_model_default_params();
    p.size = 8; /* an older or garbled struct */
    CHECK_STATUS(weft_model_load(fx->model, &p, &m), WEFT_ERR_INVALID_ARG, "weft_model_params.size");

    progress_log log = {0, 0.0f, 1, 2};
    p = weft_model_default_params();
    p.progress = on_progress;
    p.progress_user_data = &log;
    CHECK_STATUS(weft_model_load(fx->model, &p, &m), WEFT_ERR_CANCELLED, "aborted");
    CHECK(m == NULL && log.calls == 2, "abort: %d calls", log.calls);

    p = weft_model_default_params();
    p.placement = 7;
    CHECK_STATUS(weft_model_load(fx->model, &p, &m), WEFT_ERR_INVALID_ARG, "placement is 7");
    CHECK(m == NULL, "out not NULL");

    /* Cancelled while the file is read into huge pages. */
    progress_log huge_log = {0, 0.0f, 1, 2};
    p = weft_model_default_params();
    p.placement = WEFT_PLACEMENT_HUGE_PAGES;
    p.progress = on_progress;
    p.progress_user_data = &huge_log;
    CHECK_STATUS(weft_model_load(fx->model, &p, &m), WEFT_ERR_CANCELLED, "cancelled");
    CHECK(m == NULL && huge_log.calls == 2, "abort: %d calls", huge_log.calls);

    p = weft_model_default_params();
    p.tokenizer_path = "/nonexistent/tokenizer.json";
    CHECK_STATUS(weft_model_load(fx->model, &p, &m), WEFT_ERR_IO, "tokenizer");
    CHECK(m == NULL, "out not NULL");
}

static void test_info(const fixture *fx) {
    progress_log log = {0, 0.0f, 1, 0};
    weft_model_params p = weft_model_default_params();
    p.progress = on_progress;
    p.progress_user_data = &log;
    p.prefault = true;
    weft_model *m = NULL;
    CHECK_OK(weft_model_load(fx->model, &p, &m));
    CHECK(m != NULL, "no model");
    CHECK(log.calls >= 3 && log.monotonic && log.last == 1.0f, "progress: %d calls, last %f",
          log.calls, log.last);
    if (!m) return;

    weft_model_desc d;
    memset(&d, 0, sizeof d);
    d.size = sizeof d;
    CHECK_OK(weft_model_info(m, &d));
    CHECK(strcmp(d.architecture, "zamba2") == 0, "architecture %s", d.architecture);
    CHECK(strcmp(d.name, "weft-ffi-fixture") == 0, "name %s", d.name);
    CHECK(d.n_vocab == 300 && d.n_embd == 32 && d.n_layer == 6, "shape %u %u %u", d.n_vocab,
          d.n_embd, d.n_layer);
    CHECK(d.has_tokenizer && d.bos_token == 1 && d.eos_token == 2, "tokenizer %d %d %d",
          d.has_tokenizer, d.bos_token, d.eos_token);
    CHECK(d.file_size > 100000, "file size %llu", (unsigned long long)d.file_size);
    CHECK(d.frame_size == 32 && d.output_size == 300 && d.accepts_tokens && !d.regression,
          "frames %u, outputs %u, tokens %d, regression %d", d.frame_size, d.output_size,
          d.accepts_tokens, d.regression);
    CHECK(d.size == sizeof d, "size changed");

    weft_model_desc small = {.size = 4};
    CHECK_STATUS(weft_model_info(m, &small), WEFT_ERR_INVALID_ARG, "weft_model_desc.size");
    CHECK_STATUS(weft_model_info(NULL, &d), WEFT_ERR_NULL_ARG, "`model`");
    CHECK_STATUS(weft_model_info(m, NULL), WEFT_ERR_NULL_ARG, "`desc`");

    /* A successful call clears the message. */
    CHECK_OK(weft_model_info(m, &d));
    CHECK(weft_last_error()[0] == '\0' && weft_last_status() == WEFT_OK, "error not cleared");

    weft_model_free(&m);
    CHECK(m == NULL, "free did not clear the handle");
    weft_model_free(&m); /* idempotent */
    weft_model_free(NULL);
}

/* Huge-page placement: progress to 1, the same logits as the mapped file, and a caller built
 * before `placement` existed (its smaller `size`) still loads, mapped. */
static void test_placement(const fixture *fx) {
    progress_log log = {0, 0.0f, 1, 0};
    weft_model_params p = weft_model_default_params();
    p.placement = WEFT_PLACEMENT_HUGE_PAGES;
    p.progress = on_progress;
    p.progress_user_data = &log;
    weft_model *huge = NULL, *mapped = NULL, *old = NULL;
    CHECK_OK(weft_model_load(fx->model, &p, &huge));
    CHECK(log.calls >= 3 && log.monotonic && log.last == 1.0f, "progress: %d calls, last %f",
          log.calls, log.last);

    weft_model_params first = weft_model_default_params();
    first.size = offsetof(weft_model_params, placement);
    first.placement = 99; /* past the old size: never read */
    CHECK_OK(weft_model_load(fx->model, &first, &old));
    CHECK_OK(weft_model_load(fx->model, NULL, &mapped));
    if (!huge || !mapped || !old) goto out;

    weft_model *models[3] = {mapped, huge, old};
    float logits[3][300];
    for (int i = 0; i < 3; i++) {
        weft_session *s = NULL;
        CHECK_OK(weft_session_new(models[i], NULL, &s));
        if (!s) goto out;
        const uint32_t prompt[4] = {5, 17, 42, 9};
        CHECK_OK(weft_session_prefill(s, prompt, 4, NULL, NULL));
        CHECK_OK(weft_session_step_token(s, 77, NULL, NULL));
        CHECK_OK(weft_session_logits(s, logits[i], 300));
        weft_session_free(&s);
    }
    CHECK(memcmp(logits[0], logits[1], sizeof logits[0]) == 0, "huge-page logits differ");
    CHECK(memcmp(logits[0], logits[2], sizeof logits[0]) == 0, "old-size logits differ");
    CHECK(logits[0][0] == logits[0][0] && logits[0][0] != logits[0][1], "logits %f %f",
          logits[0][0], logits[0][1]);
out:
    weft_model_free(&huge);
    weft_model_free(&mapped);
    weft_model_free(&old);
}

static void test_tokenizer_sources(const fixture *fx) {
    weft_model_desc d = {.size = sizeof d};
    weft_model *bare = NULL, *side = NULL, *explicit_tok = NULL;

    CHECK_OK(weft_model_load(fx->bare, NULL, &bare));
    CHECK_OK(weft_model_info(bare, &d));
    CHECK(!d.has_tokenizer && d.eos_token == -1, "bare model has a tokenizer");
    uint32_t ids[8];
    CHECK(weft_tokenize(bare, "hi", 2, false, ids, 8) == WEFT_COUNT_ERROR, "tokenized without tokenizer");
    CHECK(weft_last_status() == WEFT_ERR_TOKENIZER && strstr(weft_last_error(), "no tokenizer"),
          "status %s", weft_status_name(weft_last_status()));
    weft_detokenizer *dt = NULL;
    CHECK_STATUS(weft_detokenizer_new(bare, true, &dt), WEFT_ERR_TOKENIZER, "no tokenizer");

    /* tokenizer.json beside the model file. */
    CHECK_OK(weft_model_load(fx->side, NULL, &side));
    CHECK_OK(weft_model_info(side, &d));
    CHECK(d.has_tokenizer, "sidecar tokenizer not found");

    /* Explicit tokenizer path. */
    weft_model_params p = weft_model_default_params();
    p.tokenizer_path = fx->tokenizer;
    CHECK_OK(weft_model_load(fx->bare, &p, &explicit_tok));
    CHECK_OK(weft_model_info(explicit_tok, &d));
    CHECK(d.has_tokenizer, "explicit tokenizer not used");

    weft_model *both[2] = {side, explicit_tok};
    for (int i = 0; i < 2; i++) {
        uint32_t got[MAX_IDS];
        int n = weft_tokenize(both[i], PROMPT, (int32_t)strlen(PROMPT), true, got, MAX_IDS);
        CHECK(n == (int)fx->prompt_ids.n && memcmp(got, fx->prompt_ids.ids, n * sizeof *got) == 0,
              "model %d: %d ids", i, n);
    }
    weft_model_free(&bare);
    weft_model_free(&side);
    weft_model_free(&explicit_tok);
}

void test_model(const fixture *fx) {
    test_load_errors(fx);
    test_info(fx);
    test_placement(fx);
    test_tokenizer_sources(fx);
}
