/* Tiny test harness for the C API tests: CHECK macros, the fixture paths and expected values. */
#ifndef WEFT_CHECK_H
#define WEFT_CHECK_H

#include <stdio.h>
#include <string.h>

#include "weft.h"

extern int checks_passed, checks_failed;

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (cond) {                                                                 \
            checks_passed++;                                                        \
        } else {                                                                    \
            checks_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fprintf(stderr, " (last error: %s)\n", weft_last_error());              \
        }                                                                           \
    } while (0)

/* `call` returns `want` and the thread's last error mentions `needle` ("" = any message). */
#define CHECK_STATUS(call, want, needle)                                            \
    do {                                                                            \
        weft_status got_ = (call);                                                  \
        CHECK(got_ == (want), "%s: got %s, want %s", #call, weft_status_name(got_), \
              weft_status_name(want));                                              \
        CHECK(strstr(weft_last_error(), (needle)) != NULL, "%s: message \"%s\" lacks \"%s\"", \
              #call, weft_last_error(), (needle));                                  \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, WEFT_OK, "")

#define MAX_IDS 256

/* One `name count values...` line of expected.txt. */
typedef struct {
    size_t n;
    unsigned ids[MAX_IDS];
    float values[MAX_IDS];
} expected_line;

typedef struct {
    char dir[1024];
    char model[1100], bare[1100], side[1100], tokenizer[1100], sensor[1100];
    expected_line prompt_ids, greedy, frame_logits, sensor_frames, sensor_outputs;
} fixture;

/* Reads `<dir>/expected.txt` and fills the paths; returns 0 on success. */
int fixture_load(fixture *fx, const char *dir);

/* Relative tolerance for float outputs against the Rust side's: the kernels are picked at run
 * time (AVX-512, AVX2, scalar), and valgrind hides AVX-512, so the last bits may differ. */
#define TOL 1e-4f

/* The prompt the Rust side tokenized (ffi/examples/ffi_fixture.rs). */
#define PROMPT "Hello world! The quick brown fox"

/* Greedy tokens of a session, pulled one by one (sample + step). */
size_t pull_greedy(weft_session *s, unsigned *out, size_t max, int eos);

void test_model(const fixture *fx);
void test_text(const fixture *fx);
void test_session(const fixture *fx);
void test_state(const fixture *fx);
void test_threads(const fixture *fx);
void test_sensor(const fixture *fx);

#endif
