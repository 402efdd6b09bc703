/* Threads: cancel a running generate from another thread, concurrent use of one session is
 * refused (BUSY), and one model serves sessions on several threads at once. */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"

typedef struct {
    weft_session *s;
    const fixture *fx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started; /* the callback has seen its first token */
    int go;      /* the main thread is done poking the session */
    size_t tokens;
    weft_status status;
    char message[256];
} gen_job;

static int32_t wait_on_first(uint32_t token, const char *piece, size_t len, void *user) {
    (void)token, (void)piece, (void)len;
    gen_job *j = user;
    pthread_mutex_lock(&j->mu);
    if (j->tokens++ == 0) {
        j->started = 1;
        pthread_cond_broadcast(&j->cv);
        while (!j->go) pthread_cond_wait(&j->cv, &j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return 1;
}

static void *generate_forever(void *arg) {
    gen_job *j = arg;
    weft_sampling_params greedy = weft_sampling_greedy_params();
    /* EOS would end it early; with this prompt the greedy stream has none in 24 tokens, and the
     * cancel arrives after the first one. */
    j->status = weft_session_generate(j->s, j->fx->prompt_ids.ids, j->fx->prompt_ids.n, &greedy,
                                      1000000, wait_on_first, j);
    snprintf(j->message, sizeof j->message, "%s", weft_last_error());
    return NULL;
}

static void test_cancel(weft_model *m, const fixture *fx) {
    gen_job j = {.fx = fx};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    CHECK_OK(weft_session_new(m, NULL, &j.s));
    if (!j.s) return;

    /* A cancel before generate starts does not stop it. */
    CHECK_OK(weft_session_cancel(j.s));
    CHECK_OK(weft_session_generate(j.s, fx->prompt_ids.ids, fx->prompt_ids.n, NULL, 2, NULL, NULL));
    CHECK_OK(weft_session_reset(j.s));

    pthread_t t;
    CHECK(pthread_create(&t, NULL, generate_forever, &j) == 0, "pthread_create");
    pthread_mutex_lock(&j.mu);
    while (!j.started) pthread_cond_wait(&j.cv, &j.mu);
    pthread_mutex_unlock(&j.mu);

    /* The generating thread holds the session: other calls are refused, cancel is not. */
    CHECK_STATUS(weft_session_step_token(j.s, 1, NULL, NULL), WEFT_ERR_BUSY, "another thread");
    CHECK(weft_session_state_size(j.s) == 0 && weft_last_status() == WEFT_ERR_BUSY, "busy size");
    CHECK_OK(weft_session_cancel(j.s));

    pthread_mutex_lock(&j.mu);
    j.go = 1;
    pthread_cond_broadcast(&j.cv);
    pthread_mutex_unlock(&j.mu);
    pthread_join(t, NULL);

    CHECK(j.status == WEFT_ERR_CANCELLED, "generate returned %s", weft_status_name(j.status));
    CHECK(strstr(j.message, "cancelled") != NULL, "message \"%s\"", j.message);
    CHECK(j.tokens == 1, "%zu tokens after cancel", j.tokens);

    /* The session is usable afterwards and holds the prompt + the one token. */
    uint64_t pos = 0;
    CHECK_OK(weft_session_position(j.s, &pos));
    CHECK(pos == fx->prompt_ids.n + 1, "position %llu", (unsigned long long)pos);
    unsigned got[4];
    CHECK(pull_greedy(j.s, got, 3, 2) == 3 && memcmp(got, fx->greedy.ids + 1, 3 * sizeof *got) == 0,
          "continuation after cancel");
    weft_session_free(&j.s);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
}

typedef struct {
    weft_model *m;
    const fixture *fx;
    unsigned got[MAX_IDS];
    size_t n;
} shared_job;

static void *own_session(void *arg) {
    shared_job *j = arg;
    weft_session *s = NULL;
    if (weft_session_new(j->m, NULL, &s) != WEFT_OK) return NULL;
    if (weft_session_prefill(s, j->fx->prompt_ids.ids, j->fx->prompt_ids.n, NULL, NULL) == WEFT_OK)
        j->n = pull_greedy(s, j->got, j->fx->greedy.n, 2);
    weft_session_free(&s);
    return NULL;
}

static void test_shared_model(weft_model *m, const fixture *fx) {
    enum { THREADS = 3 };
    shared_job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (shared_job){.m = m, .fx = fx};
        CHECK(pthread_create(&t[i], NULL, own_session, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].n == fx->greedy.n &&
                  memcmp(jobs[i].got, fx->greedy.ids, jobs[i].n * sizeof(unsigned)) == 0,
              "thread %d: %zu tokens", i, jobs[i].n);
    }
}

void test_threads(const fixture *fx) {
    weft_model *m = NULL;
    CHECK_OK(weft_model_load(fx->model, NULL, &m));
    if (!m) return;
    test_cancel(m, fx);
    test_shared_model(m, fx);
    weft_model_free(&m);
}
