/* Tokenizing into caller buffers, token pieces and the streaming detokenizer. */
#include <stdlib.h>

#include "check.h"

/* 1 if `s[0..n)` is valid UTF-8 (no partial characters). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t len = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

static void test_tokenize(weft_model *m, const fixture *fx) {
    const int32_t len = (int32_t)strlen(PROMPT);
    const int want = (int)fx->prompt_ids.n;
    uint32_t ids[MAX_IDS];

    int n = weft_tokenize(m, PROMPT, len, true, ids, MAX_IDS);
    CHECK(n == want, "got %d ids, want %d", n, want);
    CHECK(memcmp(ids, fx->prompt_ids.ids, (size_t)want * sizeof *ids) == 0, "ids differ from Rust's");
    CHECK(ids[0] == 1, "add_special should prepend BOS");
    CHECK(weft_tokenize(m, PROMPT, len, false, ids, MAX_IDS) == want - 1, "without BOS");

    /* Size query and too-small buffer: minus the size needed, buffer untouched. */
    CHECK(weft_tokenize(m, PROMPT, len, true, NULL, 0) == -want, "size query");
    uint32_t small[4] = {7, 7, 7, 7};
    CHECK(weft_tokenize(m, PROMPT, len, true, small, 3) == -want, "small buffer");
    CHECK(small[0] == 7 && small[2] == 7 && small[3] == 7, "small buffer was written");
    CHECK(weft_last_status() == WEFT_OK, "negative size is not an error");

    /* Empty text: only BOS. NULL text is fine with length 0. */
    CHECK(weft_tokenize(m, NULL, 0, true, ids, MAX_IDS) == 1 && ids[0] == 1, "empty text");
    CHECK(weft_tokenize(m, "", 0, false, ids, MAX_IDS) == 0, "empty text, no BOS");

    /* Errors return WEFT_COUNT_ERROR with the status and message on the thread. */
    CHECK(weft_tokenize(m, PROMPT, -1, true, ids, MAX_IDS) == WEFT_COUNT_ERROR, "negative text_len");
    CHECK(weft_last_status() == WEFT_ERR_INVALID_ARG && strstr(weft_last_error(), "text_len"), "-");
    CHECK(weft_tokenize(m, PROMPT, len, true, ids, -5) == WEFT_COUNT_ERROR, "negative n_tokens_max");
    CHECK(weft_last_status() == WEFT_ERR_INVALID_ARG && strstr(weft_last_error(), "negative"), "-");
    CHECK(weft_tokenize(m, "ab\xc3(", 4, true, ids, MAX_IDS) == WEFT_COUNT_ERROR, "invalid UTF-8");
    CHECK(weft_last_status() == WEFT_ERR_INVALID_UTF8 && strstr(weft_last_error(), "offset 2"),
          "status %s", weft_status_name(weft_last_status()));
    CHECK(weft_tokenize(NULL, PROMPT, len, true, ids, MAX_IDS) == WEFT_COUNT_ERROR, "NULL model");
    CHECK(weft_last_status() == WEFT_ERR_NULL_ARG, "-");
    CHECK(weft_tokenize(m, NULL, 3, true, ids, MAX_IDS) == WEFT_COUNT_ERROR, "NULL text");
    CHECK(weft_last_status() == WEFT_ERR_NULL_ARG && strstr(weft_last_error(), "`text`"), "-");
    CHECK(weft_tokenize(m, PROMPT, len, true, NULL, MAX_IDS) == WEFT_COUNT_ERROR, "NULL tokens");
    CHECK(weft_last_status() == WEFT_ERR_NULL_ARG, "-");
}

static void test_pieces(weft_model *m, const fixture *fx) {
    /* The pieces of the prompt (BOS aside) spell the prompt. */
    char text[512] = "";
    size_t at = 0;
    for (size_t i = 1; i < fx->prompt_ids.n; i++) {
        int n = weft_token_to_piece(m, fx->prompt_ids.ids[i], text + at, (int32_t)(sizeof text - at - 1));
        CHECK(n >= 0, "piece of %u: %d", fx->prompt_ids.ids[i], n);
        if (n < 0) return;
        at += (size_t)n;
    }
    text[at] = '\0';
    CHECK(strcmp(text, PROMPT) == 0, "pieces spell \"%s\"", text);

    char tiny[1];
    int need = weft_token_to_piece(m, fx->prompt_ids.ids[1], NULL, 0);
    CHECK(need < 0, "size query %d", need);
    CHECK(weft_token_to_piece(m, fx->prompt_ids.ids[1], tiny, 1) == (need < -1 ? need : -need),
          "small buffer");
    CHECK(weft_token_to_piece(m, 100000, tiny, 1) == WEFT_COUNT_ERROR, "unknown token");
    CHECK(weft_last_status() == WEFT_ERR_TOKENIZER && strstr(weft_last_error(), "100000"), "-");
    CHECK(weft_token_to_piece(m, 5, tiny, -1) == WEFT_COUNT_ERROR, "negative buf_len");
    CHECK(weft_last_status() == WEFT_ERR_INVALID_ARG, "-");
}

static void test_detokenizer(weft_model *m) {
    const char *text = "Caf\xc3\xa9 na\xc3\xafve \xf0\x9f\x8c\x8d!"; /* "Café naïve 🌍!" */
    uint32_t ids[64];
    int n = weft_tokenize(m, text, (int32_t)strlen(text), false, ids, 64);
    CHECK(n > 0, "tokenize %d", n);
    if (n <= 0) return;

    weft_detokenizer *d = NULL;
    CHECK_OK(weft_detokenizer_new(m, true, &d));
    char out[128] = "";
    size_t at = 0;
    int held = 0;
    for (int i = 0; i < n; i++) {
        const char *piece = NULL;
        size_t len = 99;
        CHECK_OK(weft_detokenizer_push(d, ids[i], &piece, &len));
        CHECK(piece != NULL && strlen(piece) == len, "piece %d", i);
        CHECK(valid_utf8((const unsigned char *)piece, len), "piece %d splits a character", i);
        if (len == 0) held++;
        memcpy(out + at, piece, len);
        at += len;
    }
    out[at] = '\0';
    CHECK(strcmp(out, text) == 0, "stream gave \"%s\"", out);
    CHECK(held > 0, "the emoji's bytes should be held until complete");

    const char *rest = NULL;
    size_t rest_len = 99;
    CHECK_OK(weft_detokenizer_flush(d, &rest, &rest_len));
    CHECK(rest_len == 0 && rest[0] == '\0', "flush after a complete stream");

    /* An incomplete character is held, then flushed as U+FFFD. The emoji's first byte token: */
    uint32_t emoji[8];
    int ne = weft_tokenize(m, "\xf0\x9f\x8c\x8d", 4, false, emoji, 8);
    CHECK(ne >= 2, "emoji should take several tokens, got %d", ne);
    size_t len = 99;
    CHECK_OK(weft_detokenizer_push(d, emoji[0], NULL, &len));
    CHECK(len == 0, "partial character emitted");
    CHECK_OK(weft_detokenizer_flush(d, &rest, &len));
    CHECK(len == 3 && strcmp(rest, "\xef\xbf\xbd") == 0, "flush gave %zu bytes", len);

    CHECK_STATUS(weft_detokenizer_push(d, 100000, NULL, NULL), WEFT_ERR_TOKENIZER, "100000");
    CHECK_STATUS(weft_detokenizer_push(NULL, 5, NULL, NULL), WEFT_ERR_NULL_ARG, "`detok`");
    weft_detokenizer_free(&d);
    CHECK(d == NULL, "free did not clear the handle");
    d = (weft_detokenizer *)&d;
    CHECK_STATUS(weft_detokenizer_new(NULL, true, &d), WEFT_ERR_NULL_ARG, "`model`");
    CHECK(d == NULL, "out not cleared");
    CHECK_OK(weft_detokenizer_new(m, false, &d));
    CHECK_OK(weft_detokenizer_reset(d));
    CHECK_STATUS(weft_detokenizer_reset(NULL), WEFT_ERR_NULL_ARG, "");
    weft_detokenizer_free(&d);
    weft_detokenizer_free(&d);
    weft_detokenizer_free(NULL);
}

void test_text(const fixture *fx) {
    weft_model *m = NULL;
    CHECK_OK(weft_model_load(fx->model, NULL, &m));
    if (!m) return;
    test_tokenize(m, fx);
    test_pieces(m, fx);
    test_detokenizer(m);
    weft_model_free(&m);
}
