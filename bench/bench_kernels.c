/* bench/bench_kernels.c - kernel micro-benchmarks.
 *
 *   make bench && ./build/bench-kernels [--threads N] [--mb MB] [--reps R] [--k K]
 *
 * For every kernel table (ref, avx2) it times, with --threads threads
 * splitting the rows (correctness is tests/test_kernels.c's job):
 *   gemv_i8   T=1 int8 matrix-vector (packed weights, the engine's layout) on an
 *             MB-sized weight matrix of K columns (decode):
 *             bytes = R*K weights; reported as GB/s and as a fraction of the
 *             read bandwidth measured by read_bytes on a buffer of the same size
 *   gemv_f32  T=1 fp32 matrix-vector (decode, fp32 engine): bytes = 4*R*K
 *   gemm_i8   T=128 int8 matrix-matrix (packed), 1024x4096 (prefill): GOP/s = 2*T*R*K / s
 *   gemm_f32  T=128 fp32 matrix-matrix, 1024x4096: GFLOP/s
 *   attn_i8   decode attention kernels of GPT-2 medium at context 1024
 *             (attn_qk_i8 then attn_pv_i8, 16 heads of 64, over 24 layers'
 *             int8 K and V caches: 48 MB, more than the caches hold); the
 *             threads split the layers; GB/s of K and V read
 * Medians over --reps runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "util/pool.h"
#include "util/timer.h"

typedef struct job {
    const llx_kernels *k;
    int op; /* 0 read, 1 gemv_i8, 2 gemv_f32, 3 gemm_i8, 4 gemm_f32, 5 attn_i8 */
    int T, R, K;
    const void *w, *x;
    void *out;
    size_t bytes;
    uint64_t sink;
} job;

static void member(void *arg, int ith, int nth)
{
    job *j = arg;
    int b, e;
    llx_split_work(j->R, ith, nth, 12, &b, &e);
    switch (j->op) {
    case 0: {
        const size_t per = (j->bytes / (size_t)nth) & ~(size_t)127;
        j->sink += j->k->read_bytes((const char *)j->w + per * (size_t)ith, per);
        break;
    }
    case 1:
    case 3: /* packed weights, as the engine holds them; b is even (align 12) */
        j->k->matmul_i8p((int32_t *)j->out + b, j->R, j->x, j->K, (const int8_t *)j->w + (size_t)b * j->K, j->T, e - b,
                         j->K);
        break;
    case 5: { /* R layers of a [pos][16][64] K and a chunked V, T positions */
        enum { H = 16, HD = 64 };
        llx_split_work(j->R, ith, nth, 1, &b, &e);
        const size_t layer = (size_t)j->T * H * HD;
        int32_t *acc = (int32_t *)j->out + (size_t)ith * H * (j->T + HD);
        for (int l = b; l < e; l++) {
            const int8_t *kc = (const int8_t *)j->w + 2 * (size_t)l * layer, *vc = kc + layer;
            j->k->attn_qk_i8(acc, j->T, j->x, kc, H * HD, H, j->T, HD);
            j->k->attn_pv_i8(acc, (const int8_t *)j->x + 4096, j->T, vc, (size_t)H * 32 * HD, H, j->T, HD);
        }
        break;
    }
    default:
        j->k->matmul_f32((float *)j->out + b, j->R, j->x, j->K, (const float *)j->w + (size_t)b * j->K, j->K, NULL, j->T,
                         e - b, j->K);
        break;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double time_job(llx_pool *p, job *j, int reps)
{
    double t[64];
    llx_pool_run(p, member, j);
    for (int r = 0; r < reps; r++) {
        double t0 = llx_now_s();
        llx_pool_run(p, member, j);
        t[r] = llx_now_s() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    return t[reps / 2];
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 7, K = 1024;
    long mb = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mb")) mb = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) K = atoi(argv[i + 1]);
    }
    if (threads < 1 || mb < 1 || reps < 1 || reps > 64 || K < 32 || K > 65536) {
        fprintf(stderr, "usage: bench-kernels [--threads N] [--mb MB] [--reps R<=64] [--k K]\n");
        return 2;
    }
    llx_pool *pool;
    if (llx_pool_create(&pool, threads, 1) != LLX_OK) return 1;
    const int R = (int)(mb * 1024 * 1024 / K / 4) * 4; /* int8 rows of an MB-sized matrix */
    const size_t bytes = (size_t)R * K;
    const size_t alloc = bytes > ((size_t)64 << 20) ? bytes : ((size_t)64 << 20); /* GEMMs: 16 MB, attention: 48 MB */
    int8_t *w8 = aligned_alloc(1 << 21, (alloc + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1));
    madvise(w8, alloc, MADV_HUGEPAGE);
    float *wf = aligned_alloc(64, alloc); /* R/4 fp32 rows of the same byte size */
    int8_t *x8 = aligned_alloc(64, 128 * 4096);
    float *xf = aligned_alloc(64, 128 * 4096 * sizeof(float));
    void *out = aligned_alloc(64, (size_t)R * 128 * sizeof(float));
    for (size_t i = 0; i < alloc; i++) w8[i] = (int8_t)((i * 2654435761u >> 13) % 255 - 127);
    for (size_t i = 0; i < alloc / 4; i++) wf[i] = (float)((int)(i % 17) - 8) * 0.01f;
    for (int i = 0; i < 128 * 4096; i++) x8[i] = (int8_t)(i % 255 - 127), xf[i] = (float)(i % 13) * 0.1f;
    /* attention: q of 16 heads, then 16 rows of probabilities in [0, 127] */
    int8_t *xa = aligned_alloc(64, 4096 + 16 * 1024);
    for (int i = 0; i < 4096 + 16 * 1024; i++) xa[i] = (int8_t)(i < 4096 ? i % 255 - 127 : (i * 7) % 128);
    printf("threads %d, weight matrix %zu MB; medians of %d runs\n", threads, bytes >> 20, reps);
    job rd = {.k = llx_kernels_select("auto"), .op = 0, .w = w8, .bytes = bytes, .R = 1};
    const double bw = (double)bytes / time_job(pool, &rd, reps) / 1e9;
    printf("%-6s %-10s %10.2f GB/s (read bandwidth, the reference for the ratios below)\n", rd.k->name, "read", bw);
    const llx_kernels *tables[2] = {&llx_kernels_ref, llx_kernels_select("avx2")};
    for (int v = 0; v < 2; v++) {
        const llx_kernels *k = tables[v];
        if (!k) continue;
        job g8 = {.k = k, .op = 1, .T = 1, .R = R, .K = K, .w = w8, .x = x8, .out = out};
        double s = time_job(pool, &g8, reps);
        printf("%-6s %-10s %10.2f GB/s  %5.1f%% of read bandwidth\n", k->name, "gemv_i8", bytes / s / 1e9,
               100 * bytes / s / 1e9 / bw);
        job gf = {.k = k, .op = 2, .T = 1, .R = R / 4, .K = K, .w = wf, .x = xf, .out = out};
        s = time_job(pool, &gf, reps);
        printf("%-6s %-10s %10.2f GB/s  %5.1f%% of read bandwidth\n", k->name, "gemv_f32", bytes / s / 1e9,
               100 * bytes / s / 1e9 / bw);
        job m8 = {.k = k, .op = 3, .T = 128, .R = 1024, .K = 4096, .w = w8, .x = x8, .out = out};
        s = time_job(pool, &m8, v == 0 ? 1 : reps);
        printf("%-6s %-10s %10.2f GOP/s (T=128, 1024x4096)\n", k->name, "gemm_i8", 2.0 * 128 * 1024 * 4096 / s / 1e9);
        job mf = {.k = k, .op = 4, .T = 128, .R = 1024, .K = 4096, .w = wf, .x = xf, .out = out};
        s = time_job(pool, &mf, v == 0 ? 1 : reps);
        printf("%-6s %-10s %10.2f GFLOP/s (T=128, 1024x4096)\n", k->name, "gemm_f32", 2.0 * 128 * 1024 * 4096 / s / 1e9);
        job at = {.k = k, .op = 5, .T = 1024, .R = 24, .w = w8, .x = xa, .out = out};
        s = time_job(pool, &at, v == 0 ? 1 : reps);
        const double kv = 24.0 * 2 * 1024 * 16 * 64;
        printf("%-6s %-10s %10.2f GB/s  %5.1f%% of read bandwidth (K and V, context 1024)\n", k->name, "attn_i8",
               kv / s / 1e9, 100 * kv / s / 1e9 / bw);
    }
    llx_pool_free(pool);
    free(w8), free(wf), free(x8), free(xf), free(xa), free(out);
    return 0;
}
