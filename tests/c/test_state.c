/* State blobs: save → continue → restore → the same continuation; bad blobs are rejected and
 * change nothing. */
#include <stdlib.h>

#include "check.h"

void test_state(const fixture *fx) {
    weft_model *m = NULL;
    weft_session *s = NULL, *other = NULL, *small = NULL;
    CHECK_OK(weft_model_load(fx->model, NULL, &m));
    CHECK_OK(weft_session_new(m, NULL, &s));
    CHECK_OK(weft_session_new(m, NULL, &other));
    weft_session_params p = weft_session_default_params();
    p.kv_window = 16;
    CHECK_OK(weft_session_new(m, &p, &small));
    if (!m || !s || !other || !small) return;

    size_t size = weft_session_state_size(s);
    CHECK(size > 64 && weft_last_status() == WEFT_OK, "state size %zu", size);
    CHECK(weft_session_state_size(other) == size, "same config, same size");
    unsigned char *blob = malloc(size), *bad = malloc(size + 1);
    if (!blob || !bad) return;

    CHECK_OK(weft_session_prefill(s, fx->prompt_ids.ids, fx->prompt_ids.n, NULL, NULL));
    unsigned first[MAX_IDS], again[MAX_IDS], elsewhere[MAX_IDS];
    CHECK(pull_greedy(s, first, 5, 2) == 5, "5 tokens");
    CHECK_OK(weft_session_save_state(s, blob, size));
    size_t n = pull_greedy(s, first, 10, 2);

    /* Restore into the same session and into another one: the same 10 tokens follow. */
    CHECK_OK(weft_session_load_state(s, blob, size));
    CHECK(pull_greedy(s, again, 10, 2) == n && memcmp(first, again, n * sizeof *first) == 0, "restore");
    CHECK_OK(weft_session_load_state(other, blob, size));
    CHECK(pull_greedy(other, elsewhere, 10, 2) == n && memcmp(first, elsewhere, n * sizeof *first) == 0,
          "restore into another session");
    CHECK(memcmp(first, fx->greedy.ids + 5, n * sizeof *first) == 0, "continuation matches Rust's");

    /* Wrong blobs: size, magic, another configuration. The session stays as it was. */
    CHECK_OK(weft_session_load_state(s, blob, size));
    CHECK_STATUS(weft_session_load_state(s, blob, size - 1), WEFT_ERR_STATE, "bytes");
    memcpy(bad, blob, size);
    bad[size] = 0;
    CHECK_STATUS(weft_session_load_state(s, bad, size + 1), WEFT_ERR_STATE, "bytes");
    bad[0] ^= 0xff;
    CHECK_STATUS(weft_session_load_state(s, bad, size), WEFT_ERR_STATE, "magic");
    size_t small_size = weft_session_state_size(small);
    CHECK(small_size != size, "kv_window changes the blob size");
    CHECK_STATUS(weft_session_load_state(small, blob, size), WEFT_ERR_STATE, "");
    CHECK(pull_greedy(s, again, 10, 2) == n && memcmp(first, again, n * sizeof *first) == 0,
          "rejected blobs changed the session");

    /* Saving needs the exact size; NULL buffers and absurd lengths are refused. */
    CHECK_STATUS(weft_session_save_state(s, blob, size - 1), WEFT_ERR_STATE, "bytes");
    CHECK_STATUS(weft_session_save_state(s, NULL, size), WEFT_ERR_NULL_ARG, "`buf`");
    CHECK_STATUS(weft_session_load_state(s, NULL, size), WEFT_ERR_NULL_ARG, "`buf`");
    CHECK_STATUS(weft_session_load_state(s, blob, 0), WEFT_ERR_STATE, "0 bytes");
    CHECK_STATUS(weft_session_load_state(s, blob, (size_t)-1), WEFT_ERR_INVALID_ARG, "out of range");
    CHECK_STATUS(weft_session_save_state(NULL, blob, size), WEFT_ERR_NULL_ARG, "`session`");

    /* Reset = fresh: the prompt gives the Rust API's greedy tokens again. */
    CHECK_OK(weft_session_reset(s));
    CHECK_OK(weft_session_prefill(s, fx->prompt_ids.ids, fx->prompt_ids.n, NULL, NULL));
    CHECK(pull_greedy(s, again, 5, 2) == 5 && memcmp(again, fx->greedy.ids, 5 * sizeof *again) == 0,
          "reset");

    free(blob);
    free(bad);
    weft_session_free(&s);
    weft_session_free(&other);
    weft_session_free(&small);
    weft_model_free(&m);
}
