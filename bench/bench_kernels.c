/* bench/bench_kernels.c - kernel micro-benchmarks, for every kernel tier
 * this machine runs.
 *
 *   make bench && ./build/bench-kernels [--threads N] [--mb MB] [--reps R] [--k K] [--tiers LIST]
 *
 * With --threads threads splitting the rows (correctness is the tests' job):
 *   read      the read bandwidth probe (read_bytes): the reference for GB/s ratios
 *   gemv_i8   T=1 int8 matrix-vector over an MB-sized matrix of K columns in
 *             the tier's packed layout, through the quantization unit (decode):
 *             GB/s of weights and the fraction of the read probe
 *   gemv_f32  T=1 fp32 matrix-vector (decode, fp32 engine): bytes = 4*R*K
 *   gemm_i8   T=128 int8 GEMM with the fused epilogue (int8 out) on GPT-2
 *             medium's prefill shapes: QKV 3072x1024, FC1 4096x1024, FC2
 *             1024x4096 (GOP/s = 2*T*R*K / s), and `peak`: a 256x1024 matrix
 *             that stays in L2, the tier's best int8 GEMM rate here
 *   gemv_q4   T=1 int4 weights (the tier's q4 panels) x int8 activations over
 *             the same bytes (twice the rows), per-row scales (G=K) and
 *             groups of 64 columns: GB/s of weights and scales; then the
 *             same (G=K) in kernel calls of 64 KiB, 256 KiB and 1 MiB of
 *             weights each, as % of the read (a decode thread's part of a
 *             GPT-2 medium matrix is 256 KiB-1 MiB at two threads)
 *   gemm_q4   T=128 int4 GEMM, one scale per row (G=K) and groups of 64,
 *             on the gemm_i8 shapes: GOP/s
 *   gemm_f32  T=128 fp32 GEMM, 1024x4096 and GPT-2 small's FC1 3072x768: GFLOP/s
 *   peak      the tier's inner product instruction at its issue rate on this
 *             core (bench/peak.h: avx2 maddubs+madd+add, avx512 vpdpbusd,
 *             and the 8- and 16-lane FMA), each thread on its own chains:
 *             GOP/s, the peak the GEMMs are measured against
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
#include "peak.h"
#include "util/pool.h"
#include "util/timer.h"

enum { OP_READ, OP_GEMM_I8, OP_GEMM_F32, OP_ATTN, OP_GEMM_Q4, OP_PEAK };

/* Short runs of the peak loops (about 0.1 ms), the best of many: on a
 * shared machine the best is a run no other process interrupted. */
#define PEAK_ITERS 20000L
#define PEAK_RUNS 400

typedef struct job {
    const llx_kernels *k;
    int op;
    int T, R, K, G;
    int call_rows; /* OP_GEMM_Q4: rows per kernel call (0: a thread's rows in one call) */
    const void *w, *x;
    void *out;
    const float *ws, *s_in;
    size_t bytes;
    uint64_t sink;
    uint32_t (*peak)(long iters, int seed); /* OP_PEAK */
    double best_s[64];                       /* OP_PEAK: each member's shortest run */
} job;

static void member(void *arg, int ith, int nth)
{
    job *j = arg;
    int b, e;
    switch (j->op) {
    case OP_READ: {
        const size_t per = (j->bytes / (size_t)nth) & ~(size_t)127;
        j->sink += j->k->read_bytes((const char *)j->w + per * (size_t)ith, per);
        break;
    }
    case OP_GEMM_I8: { /* packed weights through the quantization unit, int8 out, as the engine's QKV */
        llx_split_work(j->R, ith, nth, 16, &b, &e);
        const llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = j->ws + b, .s_in = j->s_in, .out_i8 = 1, .nseg = 1,
                                 .seg_inv = {0.05f}, .out = (int8_t *)j->out + b, .ldo = (size_t)j->R};
        j->k->gemm_i8(&ep, j->x, j->K, (const int8_t *)j->w + (size_t)b * llx_i8_ld(j->k, j->K), j->T, e - b, j->K);
        break;
    }
    case OP_GEMM_Q4: /* int4 weights, fp32 out (groups [g][R]) */
        llx_split_work(j->R, ith, nth, 16, &b, &e);
        for (int r = b, step = j->call_rows ? j->call_rows : e - b; r < e; r += step) {
            const int n = e - r < step ? e - r : step;
            const llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = j->ws + (size_t)r * (j->K / j->G), .s_in = j->s_in,
                                     .ng = j->K / j->G, .out = (float *)j->out + r, .ldo = (size_t)j->R};
            j->k->gemm_q4(&ep, j->x, j->K, (const uint8_t *)j->w + (size_t)r * j->K / 2, j->T, n, j->K, j->G);
        }
        break;
    case OP_PEAK:
        j->best_s[ith] = 1e30;
        for (int r = 0; r < PEAK_RUNS; r++) {
            const double t0 = llx_now_s();
            j->sink += j->peak(PEAK_ITERS, ith + r);
            const double t = llx_now_s() - t0;
            if (t < j->best_s[ith]) j->best_s[ith] = t;
        }
        break;
    case OP_ATTN: { /* R layers of a [pos][16][64] K and a chunked V, T positions */
        enum { H = 16, HD = 64 };
        llx_split_work(j->R, ith, nth, 1, &b, &e);
        const size_t layer = (size_t)j->T * H * HD;
        int32_t *acc = (int32_t *)j->out + (size_t)ith * H * (j->T + HD);
        for (int l = b; l < e; l++) {
            const int8_t *kc = (const int8_t *)j->w + 2 * (size_t)l * layer, *vc = kc + layer;
            j->k->attn_qk_i8(acc, j->T, j->x, kc, H * HD, H, 1, j->T, HD);
            j->k->attn_pv_i8(acc, (const int8_t *)j->x + 4096, j->T, vc, (size_t)H * 32 * HD, H, 1, j->T, HD);
        }
        break;
    }
    default:
        llx_split_work(j->R, ith, nth, 12, &b, &e);
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

typedef struct bufs {
    int8_t *w8, *wp, *x8, *xa, *out8;
    float *wf, *xf, *ws, *s_in;
    void *out;
    size_t alloc;
} bufs;

static double gemm_i8(llx_pool *pool, const llx_kernels *k, const bufs *b, int T, int R, int K, int reps)
{
    k->pack_i8(b->wp, b->w8, (size_t)K, R, K);
    job j = {.k = k, .op = OP_GEMM_I8, .T = T, .R = R, .K = K, .w = b->wp, .x = b->x8, .out = b->out8, .ws = b->ws,
             .s_in = b->s_in};
    return 2.0 * T * R * K / time_job(pool, &j, reps) / 1e9;
}

static double gemm_q4_calls(llx_pool *pool, const llx_kernels *k, const bufs *b, int T, int R, int K, int G, int reps,
                           int call_rows)
{
    llx_pack_q4_panels((uint8_t *)b->wp, (const uint8_t *)b->w8, R, K, k->q4_rows);
    job j = {.k = k, .op = OP_GEMM_Q4, .T = T, .R = R, .K = K, .G = G, .w = b->wp, .x = b->x8, .out = b->out,
             .ws = b->ws, .s_in = b->s_in, .call_rows = call_rows};
    return time_job(pool, &j, reps);
}

static double gemm_q4(llx_pool *pool, const llx_kernels *k, const bufs *b, int T, int R, int K, int G, int reps)
{
    return gemm_q4_calls(pool, k, b, T, R, K, G, reps, 0);
}

/* The decode GEMV in calls of fewer rows (a thread's part of a smaller
 * matrix): what each call's start costs against one long call. */
static void gemv_q4_calls(llx_pool *pool, const llx_kernels *k, const bufs *b, int R, int K, double bw, int reps)
{
    static const int kib[] = {64, 256, 1024};
    const double q4 = (double)R * K + 4.0 * 2 * R;
    printf("%-7s %-10s", k->name, "gemv_q4");
    for (size_t i = 0; i < sizeof kib / sizeof *kib; i++) {
        const int rows = (int)((size_t)kib[i] * 2048 / (size_t)K) / 16 * 16;
        const double s = gemm_q4_calls(pool, k, b, 1, 2 * R, K, K, reps, rows > 16 ? rows : 16);
        printf(" %d KiB %.1f%%", kib[i], 100 * q4 / s / 1e9 / bw);
    }
    printf(" of read bandwidth in calls of that many weight bytes (G=%d)\n", K);
}

/* The peak loops of the tier's instruction set (none for ref and the
 * emulated or absent amx): GOP/s summed over the threads, each at its best
 * run (the loops touch no memory). */
static void run_peaks(llx_pool *pool, const llx_kernels *k)
{
    static const struct {
        llx_tier tier;
        const char *what;
        uint32_t (*fn)(long, int);
        double ops;
    } peaks[] = {{LLX_TIER_AVX2, "int8 vpmaddubsw+vpmaddwd+vpaddd (ymm)", llx_peak_avx2_i8, PEAK_AVX2_I8_OPS},
                 {LLX_TIER_AVX2, "fp32 vfmadd231ps (ymm)", llx_peak_fma256, PEAK_FMA256_OPS},
                 {LLX_TIER_AVX512, "int8 vpdpbusd (zmm)", llx_peak_vnni512, PEAK_VNNI_OPS},
                 {LLX_TIER_AVX512, "fp32 vfmadd231ps (zmm)", llx_peak_fma512, PEAK_FMA512_OPS}};
    for (size_t i = 0; i < sizeof peaks / sizeof *peaks; i++) {
        if (peaks[i].tier != k->tier) continue;
        job j = {.k = k, .op = OP_PEAK, .peak = peaks[i].fn};
        llx_pool_run(pool, member, &j);
        double gops = 0;
        for (int t = 0; t < llx_pool_size(pool); t++) gops += peaks[i].ops * PEAK_ITERS / j.best_s[t] / 1e9;
        printf("%-7s %-10s %10.1f GOP/s  %s, best of %d runs per thread\n", k->name, "peak", gops, peaks[i].what,
               PEAK_RUNS);
    }
}

static void run_tier(llx_pool *pool, const llx_kernels *k, const bufs *b, int R, int K, double bw, int reps)
{
    const size_t bytes = (size_t)R * K;
    const int rr = k->tier == LLX_TIER_REF ? 1 : reps;
    k->pack_i8(b->wp, b->w8, (size_t)K, R, K);
    job g8 = {.k = k, .op = OP_GEMM_I8, .T = 1, .R = R, .K = K, .w = b->wp, .x = b->x8, .out = b->out8, .ws = b->ws,
              .s_in = b->s_in};
    double s = time_job(pool, &g8, rr);
    printf("%-7s %-10s %10.2f GB/s  %5.1f%% of read bandwidth\n", k->name, "gemv_i8", bytes / s / 1e9,
           100 * bytes / s / 1e9 / bw);
    for (int G = K; G >= 64; G = G == K ? 64 : 0) { /* twice the rows in the same bytes, plus the scales */
        const double q4 = (double)bytes + 4.0 * 2 * R * (K / G);
        s = gemm_q4(pool, k, b, 1, 2 * R, K, G, rr);
        printf("%-7s %-10s %10.2f GB/s  %5.1f%% of read bandwidth (G=%d)\n", k->name, "gemv_q4", q4 / s / 1e9,
               100 * q4 / s / 1e9 / bw, G);
    }
    gemv_q4_calls(pool, k, b, R, K, bw, rr);
    job gf = {.k = k, .op = OP_GEMM_F32, .T = 1, .R = R / 4, .K = K, .w = b->wf, .x = b->xf, .out = b->out};
    s = time_job(pool, &gf, rr);
    printf("%-7s %-10s %10.2f GB/s  %5.1f%% of read bandwidth\n", k->name, "gemv_f32", bytes / s / 1e9,
           100 * bytes / s / 1e9 / bw);
    static const int shapes[4][2] = {{3072, 1024}, {4096, 1024}, {1024, 4096}, {256, 1024}};
    static const char *names[4] = {"QKV", "FC1", "FC2", "peak"};
    printf("%-7s %-10s", k->name, "gemm_i8");
    for (int i = 0; i < 4; i++)
        printf(" %s %.1f", names[i], gemm_i8(pool, k, b, 128, shapes[i][0], shapes[i][1], k->tier ? reps : 1));
    printf(" GOP/s (T=128)\n");
    for (int per_row = 1; per_row >= 0; per_row--) { /* one scale per row (G=K), then groups of 64 */
        printf("%-7s %-10s", k->name, "gemm_q4");
        for (int i = 0; i < 4; i++) {
            const int R4 = shapes[i][0], K4 = shapes[i][1], G = per_row ? K4 : 64;
            printf(" %s %.1f", names[i], 2.0 * 128 * R4 * K4 / gemm_q4(pool, k, b, 128, R4, K4, G, k->tier ? reps : 1) / 1e9);
        }
        printf(per_row ? " GOP/s (T=128, G=K)\n" : " GOP/s (T=128, G=64)\n");
    }
    job mf = {.k = k, .op = OP_GEMM_F32, .T = 128, .R = 1024, .K = 4096, .w = b->wf, .x = b->xf, .out = b->out};
    const double f1 = 2.0 * 128 * 1024 * 4096 / time_job(pool, &mf, rr) / 1e9;
    mf.R = 3072, mf.K = 768;
    const double f2 = 2.0 * 128 * 3072 * 768 / time_job(pool, &mf, rr) / 1e9;
    printf("%-7s %-10s 1024x4096 %.1f, 3072x768 %.1f GFLOP/s (T=128)\n", k->name, "gemm_f32", f1, f2);
    run_peaks(pool, k);
    job at = {.k = k, .op = OP_ATTN, .T = 1024, .R = 24, .w = b->w8, .x = b->xa, .out = b->out};
    s = time_job(pool, &at, rr);
    const double kv = 24.0 * 2 * 1024 * 16 * 64;
    printf("%-7s %-10s %10.2f GB/s  %5.1f%% of read bandwidth (K and V, context 1024)\n", k->name, "attn_i8",
           kv / s / 1e9, 100 * kv / s / 1e9 / bw);
}

static int parse(int argc, char **argv, int *threads, long *mb, int *reps, int *K, const char **tiers)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) *threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mb")) *mb = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) *reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) *K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tiers")) *tiers = argv[i + 1];
        else return 0;
    }
    return *threads >= 1 && *threads <= 64 && *mb >= 16 && *reps >= 1 && *reps <= 64 && *K >= 32 && *K <= 65536 && argc % 2;
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 7, K = 1024;
    long mb = 256;
    const char *tiers = "ref,avx2,avx512,amx";
    if (!parse(argc, argv, &threads, &mb, &reps, &K, &tiers)) {
        fprintf(stderr, "usage: bench-kernels [--threads N] [--mb MB>=16] [--reps R<=64] [--k K] [--tiers LIST]\n");
        return 2;
    }
    llx_pool *pool;
    if (llx_pool_create(&pool, threads, 1) != LLX_OK) return 1;
    const int R = (int)(mb * 1024 * 1024 / K / 64) * 64; /* int8 rows of an MB-sized matrix */
    const size_t bytes = (size_t)R * K;
    bufs b;
    b.alloc = bytes > ((size_t)64 << 20) ? bytes : ((size_t)64 << 20); /* GEMMs: 16 MB, attention: 48 MB */
    const size_t big = (b.alloc + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1);
    b.w8 = aligned_alloc(1 << 21, big);
    b.wp = aligned_alloc(1 << 21, big + ((size_t)R << 2)); /* packed rows are padded to K4 at most */
    madvise(b.w8, big, MADV_HUGEPAGE);
    madvise(b.wp, big, MADV_HUGEPAGE);
    b.wf = aligned_alloc(64, b.alloc); /* R/4 fp32 rows of the same byte size */
    b.x8 = aligned_alloc(64, 128 * 4096);
    b.xf = aligned_alloc(64, 128 * 4096 * sizeof(float));
    b.out = aligned_alloc(64, (size_t)2 * R * 128 * sizeof(float));
    b.out8 = aligned_alloc(64, (size_t)R * 128);
    b.ws = aligned_alloc(64, (size_t)2 * R * (K / 64 + 1) * sizeof(float)); /* int4 group scales */
    b.s_in = aligned_alloc(64, 128 * sizeof(float));
    for (size_t i = 0; i < b.alloc; i++) b.w8[i] = (int8_t)((i * 2654435761u >> 13) % 255 - 127);
    for (size_t i = 0; i < b.alloc / 4; i++) b.wf[i] = (float)((int)(i % 17) - 8) * 0.01f;
    for (int i = 0; i < 128 * 4096; i++) b.x8[i] = (int8_t)(i % 255 - 127), b.xf[i] = (float)(i % 13) * 0.1f;
    for (size_t i = 0; i < (size_t)2 * R * (K / 64 + 1); i++) b.ws[i] = 1e-4f * (float)(1 + i % 7);
    for (int i = 0; i < 128; i++) b.s_in[i] = 0.02f;
    /* attention: q of 16 heads, then 16 rows of probabilities in [0, 127] */
    b.xa = aligned_alloc(64, 4096 + 16 * 1024);
    for (int i = 0; i < 4096 + 16 * 1024; i++) b.xa[i] = (int8_t)(i < 4096 ? i % 255 - 127 : (i * 7) % 128);
    printf("threads %d, weight matrix %zu MB; medians of %d runs\n", threads, bytes >> 20, reps);
    job rd = {.k = llx_kernels_select("auto"), .op = OP_READ, .w = b.w8, .bytes = bytes, .R = 1};
    const double bw = (double)bytes / time_job(pool, &rd, reps) / 1e9;
    printf("%-7s %-10s %10.2f GB/s (read bandwidth, the reference for the ratios below)\n", rd.k->name, "read", bw);
    for (int t = 0; t < LLX_TIER_COUNT; t++) {
        const char *name = llx_tier_name((llx_tier)t), *at = strstr(tiers, name);
        const size_t n = strlen(name);
        if (!at || (at != tiers && at[-1] != ',') || (at[n] && at[n] != ',')) continue;
        const llx_kernels *k = llx_kernels_tier((llx_tier)t);
        if (!k) printf("%-7s skipped: %s\n", name, llx_tier_missing((llx_tier)t));
        else run_tier(pool, k, &b, R, K, bw, reps);
    }
    llx_pool_free(pool);
    free(b.w8), free(b.wp), free(b.wf), free(b.x8), free(b.xf), free(b.xa), free(b.out), free(b.out8), free(b.ws),
        free(b.s_in);
    return 0;
}
