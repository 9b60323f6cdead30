/* bench/load/bench_load.c - model load time: llx_model_open +
 * llx_engine_create (one node, --threads T, a 64-position cache), the way
 * every command loads a model, repeated --reps times in one process.
 *
 *   make bench
 *   ./build/bench-load MODEL [--reps R] [--threads T]
 *   ./build/bench-load-nocheck MODEL ...   the same program linked with the
 *        load passes built without the NaN/Inf check (-DLLX_WSCAN_NO_CHECK,
 *        model/wscan.h): the check's cost is the difference
 *
 * Prints one line per load (wall and process CPU seconds of the whole load),
 * the minimum over the loads after the first (the first one may read the
 * file from disk), with the load average; then the minimum over --pass-reps
 * runs of the pass the check lives in, alone, on the mapped file:
 *   HF folder  every F32/F16/BF16 tensor widened by this machine's tier
 *              into a 1 MiB buffer (the engine's destination is colder, so
 *              the check shows more here than in a load)
 *   .llx       llx_model_open (the checksums, the float ones with the check)
 * The two programs' pass times differ by the check's cost alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llx/engine.h"
#include "llx/model.h"
#include "llx/status.h"
#include "model/hf_internal.h"
#include "model/wscan.h"

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* One load; 0 on failure (message printed). */
static int one_load(const char *path, int threads, double *w, double *c)
{
    const double w0 = wall(), c0 = cpu();
    llx_model *m = NULL;
    llx_engine *e = NULL;
    int ok = llx_model_open(&m, path) == LLX_OK;
    if (ok) {
        llx_engine_opts o = llx_engine_defaults();
        o.threads = threads;
        o.max_ctx = 64;
        if (llx_model_kind_of(m) == LLX_MODEL_LLX) {
            llx_quant_info q;
            llx_model_quant_info(m, &q);
            o.precision = q.act_mode == 2 ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
        }
        ok = llx_engine_create(&e, m, &o) == LLX_OK;
    }
    *w = wall() - w0;
    *c = cpu() - c0;
    if (!ok) fprintf(stderr, "bench-load: %s\n", llx_errmsg());
    llx_engine_free(e);
    llx_model_close(m);
    return ok;
}

/* Every float tensor of the HF checkpoint through the tier's widening pass. */
static int hf_pass(const llx_hf *hf)
{
    enum { CHUNK = 1 << 18 };
    static float buf[CHUNK];
    const llx_wscan *w = llx_wscan_get();
    int bad = 0;
    for (int i = 0; i < hf->st.n; i++) {
        const llx_st_tensor *t = &hf->st.t[i];
        const llx_wscan_conv_fn f = t->dtype == LLX_ST_F32 ? w->f32 : t->dtype == LLX_ST_F16 ? w->f16 : w->bf16;
        const size_t es = t->dtype == LLX_ST_F32 ? 4 : 2;
        if (t->dtype != LLX_ST_F32 && t->dtype != LLX_ST_F16 && t->dtype != LLX_ST_BF16) continue;
        for (uint64_t k = 0; k < t->numel; k += CHUNK)
            bad |= f(t->data + k * es, t->numel - k < CHUNK ? (size_t)(t->numel - k) : CHUNK, buf);
    }
    return bad;
}

/* min wall / CPU seconds of `reps` runs of the check's pass over path */
static int pass_time(const char *path, int reps, double *best_w, double *best_c)
{
    llx_model *m = NULL;
    if (llx_model_open(&m, path) != LLX_OK) return 0;
    const llx_hf *hf = llx_model_checkpoint(m);
    *best_w = *best_c = 1e9;
    int ok = 1;
    for (int r = 0; r < reps && ok; r++) {
        const double w0 = wall(), c0 = cpu();
        if (hf) {
            ok = hf_pass(hf) == 0;
        } else {
            llx_model *again = NULL;
            ok = llx_model_open(&again, path) == LLX_OK;
            llx_model_close(again);
        }
        const double w = wall() - w0, c = cpu() - c0;
        if (w < *best_w) *best_w = w;
        if (c < *best_c) *best_c = c;
    }
    llx_model_close(m);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench-load MODEL [--reps R] [--threads T] [--pass-reps P]\n");
        return 2;
    }
    int reps = 4, threads = 1, pass_reps = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pass-reps")) pass_reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench-load: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (reps < 2 || threads < 1) {
        fprintf(stderr, "bench-load: --reps must be at least 2 and --threads at least 1\n");
        return 2;
    }
    double best_w = 1e9, best_c = 1e9;
    for (int r = 0; r < reps; r++) {
        double w, c;
        if (!one_load(argv[1], threads, &w, &c)) return 1;
        printf("load %d: wall %.4f s cpu %.4f s\n", r, w, c);
        if (r > 0 && w < best_w) best_w = w;
        if (r > 0 && c < best_c) best_c = c;
    }
    printf("min over loads 1..%d: wall %.4f s cpu %.4f s (load average %.2f)\n", reps - 1, best_w, best_c, loadavg());
    if (pass_reps > 0) {
        double pw, pc;
        if (!pass_time(argv[1], pass_reps, &pw, &pc)) {
            fprintf(stderr, "bench-load: the pass failed: %s\n", llx_errmsg());
            return 1;
        }
        printf("the check's pass, min over %d: wall %.4f s cpu %.4f s (load average %.2f)\n", pass_reps, pw, pc,
               loadavg());
    }
    return 0;
}
