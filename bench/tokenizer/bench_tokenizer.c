/* bench/tokenizer/bench_tokenizer.c - tokenizer load time and encode /
 * decode throughput (best of R runs) for a model folder's tokenizer
 * (tokenizer.json or vocab.json + merges.txt) on a text file.
 *
 *   make bench && ./build/bench-tokenizer MODEL_DIR TEXT_FILE [--reps R]
 *
 * Prints the load average beside the figures (the machine is shared), and
 * the load's CPU time, which a busy machine disturbs less than wall time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llx/tokenizer.h"
#include "util/file.h"
#include "util/status.h"
#include "util/timer.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-tokenizer MODEL_DIR TEXT_FILE [--reps R]\n");
        return 2;
    }
    int reps = argc > 4 && !strcmp(argv[3], "--reps") ? atoi(argv[4]) : 5;
    if (reps < 1) reps = 1;
    char *text = NULL;
    size_t len = 0;
    if (llx_read_file(argv[2], (size_t)1 << 30, &text, &len) != LLX_OK) {
        fprintf(stderr, "bench-tokenizer: %s\n", llx_errmsg());
        return 1;
    }
    double load = 1e9, load_cpu = 1e9, enc = 1e9, dec = 1e9;
    llx_tokenizer *t = NULL;
    for (int r = 0; r < reps; r++) {
        llx_tokenizer_free(t);
        double t0 = llx_now_s();
        clock_t c0 = clock();
        if (llx_tokenizer_load_dir(&t, argv[1]) != LLX_OK) {
            fprintf(stderr, "bench-tokenizer: %s\n", llx_errmsg());
            return 1;
        }
        double d = llx_now_s() - t0, c = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (d < load) load = d;
        if (c < load_cpu) load_cpu = c;
    }
    int *ids = NULL, n = 0;
    for (int r = 0; r < reps; r++) {
        free(ids);
        double t0 = llx_now_s();
        if (llx_tokenize(t, text, len, &ids, &n) != LLX_OK) return 1;
        double d = llx_now_s() - t0;
        if (d < enc) enc = d;
    }
    for (int r = 0; r < reps; r++) {
        char *back = NULL;
        size_t bl = 0;
        double t0 = llx_now_s();
        if (llx_detokenize(t, ids, n, &back, &bl) != LLX_OK || bl != len) return 1;
        double d = llx_now_s() - t0;
        if (d < dec) dec = d;
        free(back);
    }
    double la = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &la) != 1) la = -1;
    if (f) fclose(f);
    printf("tokenizer %s: %d ids, %d merges (%s)\n", argv[1], llx_tokenizer_vocab_size(t), llx_tokenizer_merge_count(t),
           llx_tokenizer_is_hf(t) ? "tokenizer.json" : "vocab.json + merges.txt");
    printf("load    %.3f s wall, %.3f s CPU (best of %d)\n", load, load_cpu, reps);
    printf("encode  %.1f MB/s  (%zu bytes -> %d ids in %.1f ms)\n", len / enc / 1e6, len, n, enc * 1e3);
    printf("decode  %.1f MB/s\n", len / dec / 1e6);
    printf("load average %.2f\n", la);
    free(ids);
    free(text);
    llx_tokenizer_free(t);
    return 0;
}
