/* Harness state, the fixture reader and shared helpers. */
#include <stdlib.h>

#include "check.h"

int checks_passed = 0, checks_failed = 0;

static int read_line(FILE *f, const char *name, expected_line *line) {
    char word[64];
    if (fscanf(f, "%63s %zu", word, &line->n) != 2 || strcmp(word, name) != 0 || line->n > MAX_IDS) {
        fprintf(stderr, "expected.txt: bad line for %s\n", name);
        return -1;
    }
    for (size_t i = 0; i < line->n; i++) {
        char num[64];
        if (fscanf(f, "%63s", num) != 1) return -1;
        line->ids[i] = (unsigned)strtoul(num, NULL, 10);
        line->values[i] = strtof(num, NULL);
    }
    return 0;
}

int fixture_load(fixture *fx, const char *dir) {
    snprintf(fx->dir, sizeof fx->dir, "%s", dir);
    snprintf(fx->model, sizeof fx->model, "%s/model.gguf", dir);
    snprintf(fx->bare, sizeof fx->bare, "%s/bare.gguf", dir);
    snprintf(fx->side, sizeof fx->side, "%s/side/model.gguf", dir);
    snprintf(fx->tokenizer, sizeof fx->tokenizer, "%s/hf/tokenizer.json", dir);
    snprintf(fx->sensor, sizeof fx->sensor, "%s/sensor.gguf", dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    int bad = read_line(f, "prompt_ids", &fx->prompt_ids) || read_line(f, "greedy", &fx->greedy) ||
              read_line(f, "frame_logits", &fx->frame_logits) ||
              read_line(f, "sensor_frames", &fx->sensor_frames) ||
              read_line(f, "sensor_outputs", &fx->sensor_outputs);
    fclose(f);
    return bad ? -1 : 0;
}

size_t pull_greedy(weft_session *s, unsigned *out, size_t max, int eos) {
    weft_sampling_params greedy = weft_sampling_greedy_params();
    size_t n = 0;
    while (n < max) {
        uint32_t t = 0;
        if (weft_session_sample(s, &greedy, &t) != WEFT_OK || (int)t == eos) break;
        out[n++] = t;
        if (weft_session_step_token(s, t, NULL, NULL) != WEFT_OK) break;
    }
    return n;
}
