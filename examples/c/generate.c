/* Streams a continuation of a prompt through weft's C API.
 *
 *   cargo build --release -p weft-ffi
 *   cc -I ffi/include examples/c/generate.c -L target/release -lweft_ffi -o generate
 *   LD_LIBRARY_PATH=target/release ./generate models/demo-text.gguf "And God said" 64
 *
 * Ctrl-C stops generation through weft_session_cancel (safe from a signal handler: it only sets
 * a flag). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

static weft_session *volatile current;

static void on_sigint(int sig) {
    (void)sig;
    if (current) weft_session_cancel(current);
}

static int32_t print_piece(uint32_t token, const char *piece, size_t len, void *user) {
    (void)token, (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 1; /* go on */
}

static int fail(const char *what, weft_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, weft_status_name(st), weft_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <model.gguf> <prompt> [max_tokens]\n", argv[0]);
        return 2;
    }
    const char *prompt = argv[2];
    uint32_t max_tokens = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 64;

    weft_model *model = NULL;
    weft_status st = weft_model_load(argv[1], NULL, &model);
    if (st != WEFT_OK) return fail("load", st);

    /* Size query, then tokenize into a buffer of the right size. */
    int32_t n = weft_tokenize(model, prompt, (int32_t)strlen(prompt), true, NULL, 0);
    if (n == WEFT_COUNT_ERROR) return fail("tokenize", weft_last_status());
    uint32_t *ids = malloc((size_t)-n * sizeof *ids);
    n = weft_tokenize(model, prompt, (int32_t)strlen(prompt), true, ids, -n);

    weft_session *session = NULL;
    st = weft_session_new(model, NULL, &session);
    if (st != WEFT_OK) return fail("session", st);

    weft_sampling_params sampling = weft_sampling_default_params();
    sampling.temperature = 0.8f;
    current = session;
    signal(SIGINT, on_sigint);
    fputs(prompt, stdout);
    st = weft_session_generate(session, ids, (size_t)n, &sampling, max_tokens, print_piece, NULL);
    current = NULL;
    putchar('\n');
    if (st == WEFT_ERR_CANCELLED) fputs("(stopped)\n", stderr);
    else if (st != WEFT_OK) fail("generate", st);

    free(ids);
    weft_session_free(&session);
    weft_model_free(&model);
    return st == WEFT_OK || st == WEFT_ERR_CANCELLED ? 0 : 1;
}
