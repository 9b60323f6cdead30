/* quant/hessian.c - accumulating GPTQ Hessians (hessian.h). */
#include "quant/hessian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "quant/linalg.h"
#include "quant/wquant.h"
#include "util/status.h"

#define GRAM_ROWS 64 /* rows of a block: its fp32 products (GRAM_ROWS x K) are added while in cache */

llx_status llx_hess_init(llx_hess *h, int K, int batch)
{
    memset(h, 0, sizeof *h);
    h->K = K;
    h->cap = batch > 0 ? batch : 128;
    /* calloc, not llx_alloc: until llx_hess_matrix mirrors it, the upper
     * triangle's 4 KiB pages are never touched and cost no memory */
    h->lo = calloc((size_t)K * K, sizeof *h->lo);
    h->xt = malloc((size_t)K * h->cap * sizeof *h->xt);
    h->q = malloc((size_t)K);
    h->tmp = malloc((size_t)GRAM_ROWS * K * sizeof *h->tmp);
    h->tmp_members = 1;
    if (!h->lo || !h->xt || !h->q || !h->tmp) {
        llx_hess_free(h);
        return llx_fail(LLX_ERR_NOMEM, "out of memory for a %d x %d Hessian", K, K);
    }
    return LLX_OK;
}

/* dst[i][j] += sum_t a[i][t] b[j][t] (a, b: K x n) in blocks of rows; for
 * the lower triangle (lower: b is a) j <= i only.  Member ith of nth takes
 * rows [cut(ith), cut(ith + 1)): equal shares of the triangle's area. */
typedef struct gram_job {
    const llx_kernels *k;
    const float *a, *b;
    double *dst;
    float *tmp; /* per member GRAM_ROWS x K */
    int K, n, lower;
} gram_job;

static int gram_cut(int K, int p, int nth, int lower)
{
    if (p >= nth) return K;
    const double f = lower ? sqrt((double)p / nth) : (double)p / nth;
    const int r = (int)(f * K) / 16 * 16;
    return r < K ? r : K;
}

static void gram_member(void *ctx, int ith, int nth)
{
    const gram_job *j = ctx;
    const int K = j->K, r1 = gram_cut(K, ith + 1, nth, j->lower);
    float *tmp = j->tmp + (size_t)ith * GRAM_ROWS * K;
    for (int i0 = gram_cut(K, ith, nth, j->lower); i0 < r1; i0 += GRAM_ROWS) {
        const int i1 = i0 + GRAM_ROWS < r1 ? i0 + GRAM_ROWS : r1, cols = j->lower ? i1 : K;
        j->k->matmul_f32(tmp, K, j->a + (size_t)i0 * j->n, j->n, j->b, j->n, NULL, i1 - i0, cols, j->n);
        for (int i = i0; i < i1; i++) {
            double *d = j->dst + (size_t)i * K;
            const float *t = tmp + (size_t)(i - i0) * K;
            const int e = j->lower ? i + 1 : K;
            for (int c = 0; c < e; c++) d[c] += t[c];
        }
    }
}

/* The members' scratch, grown to the pool's size; one member's (made by
 * init) when that fails: the same bits on this thread alone. */
static void gram(llx_hess *h, const llx_kernels *k, double *dst, const float *a, const float *b, int n, llx_pool *pool)
{
    const int K = h->K;
    int nth = pool && K >= 2 * GRAM_ROWS ? llx_pool_size(pool) : 1;
    if (nth > h->tmp_members) {
        float *t = realloc(h->tmp, (size_t)nth * GRAM_ROWS * K * sizeof *t);
        if (t) h->tmp = t, h->tmp_members = nth;
        else nth = 1;
    }
    gram_job j = {k, a, b, dst, h->tmp, K, n, a == b};
    if (nth > 1) llx_pool_run(pool, gram_member, &j);
    else gram_member(&j, 0, 1);
}

/* dst (K x n) = the rows t0 .. t0+n of x transposed */
static void transpose(float *dst, const float *x, int t0, int n, int K, int ldx)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < K; i++) dst[(size_t)i * n + t] = x[(size_t)(t0 + t) * ldx + i];
}

void llx_hess_add(llx_hess *h, const llx_kernels *k, const float *x, int T, int ldx, llx_pool *pool)
{
    const int K = h->K;
    for (int t0 = 0; t0 < T; t0 += h->cap) {
        const int n = T - t0 < h->cap ? T - t0 : h->cap;
        if (h->a4_clip > 0.0f)
            for (int t = 0; t < n; t++) {
                float s;
                int z;
                llx_quantize_a4(x + (size_t)(t0 + t) * ldx, K, h->a4_clip, h->q, &s, &z);
                for (int i = 0; i < K; i++) h->xt[(size_t)i * n + t] = s * (float)h->q[i];
            }
        else
            transpose(h->xt, x, t0, n, K, ldx);
        gram(h, k, h->lo, h->xt, h->xt, n, pool);
        h->n += n;
        h->stale = 1;
    }
}

const double *llx_hess_matrix(llx_hess *h)
{
    const int K = h->K, B = 32; /* tile by tile, so the column walk stays in cache */
    if (h->stale)
        for (int i0 = 0; i0 < K; i0 += B)
            for (int j0 = 0; j0 <= i0; j0 += B)
                for (int i = i0; i < i0 + B && i < K; i++)
                    for (int j = j0; j < j0 + B && j < i; j++) h->lo[(size_t)j * K + i] = h->lo[(size_t)i * K + j];
    h->stale = 0;
    return h->lo;
}

void llx_hess_free(llx_hess *h)
{
    free(h->lo), free(h->xt), free(h->tmp), free(h->q), free(h->c), free(h->xft);
    memset(h, 0, sizeof *h);
}

llx_status llx_hess_init_cross(llx_hess *h, int K, int batch)
{
    LLX_TRY(llx_hess_init(h, K, batch));
    h->c = calloc((size_t)K * K, sizeof *h->c);
    h->xft = malloc((size_t)K * h->cap * sizeof *h->xft);
    if (!h->c || !h->xft) {
        llx_hess_free(h);
        return llx_fail(LLX_ERR_NOMEM, "out of memory for a %d x %d cross term", K, K);
    }
    return LLX_OK;
}

void llx_hess_add_cross(llx_hess *h, const llx_kernels *k, const float *x, const float *xq, int T, int ldx,
                        llx_pool *pool)
{
    const int K = h->K;
    for (int t0 = 0; t0 < T; t0 += h->cap) {
        const int n = T - t0 < h->cap ? T - t0 : h->cap;
        transpose(h->xt, xq, t0, n, K, ldx);
        transpose(h->xft, x, t0, n, K, ldx);
        gram(h, k, h->lo, h->xt, h->xt, n, pool);
        gram(h, k, h->c, h->xft, h->xt, n, pool); /* c[i][j] += sum_t x_i(t) xq_j(t) */
        h->n += n;
        h->stale = 1;
    }
}

/* Rows of W solved together by llx_hess_asym_target: they share each read
 * of D, L and L^T. */
#define ASYM_ROWS 32
#define ASYM_TILE 512 /* columns of b per sweep over D */

/* For rows [r0, r0 + nr) of w: b = alpha (W D)_r, then L y = b, L^T z = y,
 * w += z.  Plain loop per row (the specification; tests/test_gptqseq.c):
 *   b = 0; for i: wi = alpha w[i]; if wi != 0: for j: b[j] += wi d[i][j]
 *   for i ascending:  s = b[i]; for j < i: s -= L[i][j] b[j]; b[i] = s / L[i][i]
 *   for i descending: s = b[i]; for j > i: s -= L[j][i] b[j]; b[i] = s / L[i][i]
 *   w[j] = (float)(w[j] + b[j])
 * Here the rows' chains run side by side (bt[j][r] holds row r's b[j]),
 * each with its own operations in its own order. */
static void asym_rows(float *w, int r0, int nr, int K, const double *d, const double *l, const double *lt,
                      double alpha, double *b, double *bt)
{
    for (size_t j = 0; j < (size_t)nr * K; j++) b[j] = 0.0;
    for (int j0 = 0; j0 < K; j0 += ASYM_TILE) { /* a tile of every row's b stays in cache over all i */
        const int j1 = j0 + ASYM_TILE < K ? j0 + ASYM_TILE : K;
        for (int i = 0; i < K; i++) {
            const double *di = d + (size_t)i * K;
            for (int r = 0; r < nr; r++) {
                const double wi = alpha * w[(size_t)(r0 + r) * K + i];
                double *br = b + (size_t)r * K;
                if (wi != 0.0) llx_axpy(br + j0, di + j0, wi, j1 - j0);
            }
        }
    }
    for (int j = 0; j < K; j++) /* rows past nr solve zeros beside the others and are not used */
        for (int r = 0; r < ASYM_ROWS; r++) bt[(size_t)j * ASYM_ROWS + r] = r < nr ? b[(size_t)r * K + j] : 0.0;
    double sr[ASYM_ROWS];
    for (int i = 0; i < K; i++) { /* L y = b */
        const double *li = l + (size_t)i * K;
        for (int r = 0; r < ASYM_ROWS; r++) sr[r] = bt[(size_t)i * ASYM_ROWS + r];
        for (int j = 0; j < i; j++) {
            const double lij = li[j], *bj = bt + (size_t)j * ASYM_ROWS;
            for (int r = 0; r < ASYM_ROWS; r++) sr[r] -= lij * bj[r];
        }
        for (int r = 0; r < ASYM_ROWS; r++) bt[(size_t)i * ASYM_ROWS + r] = sr[r] / li[i];
    }
    for (int i = K - 1; i >= 0; i--) { /* L^T z = y, L^T's row i = L's column i */
        const double *ti = lt + (size_t)i * K;
        for (int r = 0; r < ASYM_ROWS; r++) sr[r] = bt[(size_t)i * ASYM_ROWS + r];
        for (int j = i + 1; j < K; j++) {
            const double tij = ti[j], *bj = bt + (size_t)j * ASYM_ROWS;
            for (int r = 0; r < ASYM_ROWS; r++) sr[r] -= tij * bj[r];
        }
        for (int r = 0; r < ASYM_ROWS; r++) bt[(size_t)i * ASYM_ROWS + r] = sr[r] / l[(size_t)i * K + i];
    }
    for (int r = 0; r < nr; r++) {
        float *wr = w + (size_t)(r0 + r) * K;
        for (int j = 0; j < K; j++) wr[j] = (float)(wr[j] + bt[(size_t)j * ASYM_ROWS + r]);
    }
}

typedef struct asym_job {
    float *w;
    const double *d, *l, *lt;
    double alpha, *scratch; /* per member: b (ASYM_ROWS x K), then bt (K x ASYM_ROWS) */
    int R, K;
} asym_job;

/* member ith of nth takes the blocks of rows ith, ith + nth, ... */
static void asym_member(void *ctx, int ith, int nth)
{
    const asym_job *j = ctx;
    double *b = j->scratch + (size_t)ith * 2 * ASYM_ROWS * j->K, *bt = b + (size_t)ASYM_ROWS * j->K;
    for (int r0 = ith * ASYM_ROWS; r0 < j->R; r0 += nth * ASYM_ROWS)
        asym_rows(j->w, r0, j->R - r0 < ASYM_ROWS ? j->R - r0 : ASYM_ROWS, j->K, j->d, j->l, j->lt, j->alpha, b, bt);
}

llx_status llx_hess_asym_target(float *w, int R, int K, const double *h, const double *c, double damp, double alpha,
                                int threads)
{
    const size_t kk = (size_t)K * K;
    /* blocks of rows dealt out: each row's operations are its own, so any count gives the same bits */
    llx_pool *pool = NULL;
    if (threads > 1 && R > ASYM_ROWS && llx_pool_create(&pool, threads, 1) != LLX_OK) pool = NULL;
    const int nth = pool ? llx_pool_size(pool) : 1;
    double *a = malloc(kk * sizeof *a), *d = malloc(kk * sizeof *d), *lt = malloc(kk * sizeof *lt);
    double *scratch = malloc((size_t)nth * 2 * ASYM_ROWS * K * sizeof *scratch + 1);
    llx_status st = LLX_OK;
    if (!a || !d || !lt || !scratch) st = llx_fail(LLX_ERR_NOMEM, "out of memory (asymmetric target, %d columns)", K);
    if (st == LLX_OK) {
        memcpy(a, h, kk * sizeof *a);
        double mean = 0.0;
        for (int j = 0; j < K; j++) {
            if (a[(size_t)j * K + j] == 0.0) a[(size_t)j * K + j] = 1.0; /* as GPTQ treats a dead column */
            mean += a[(size_t)j * K + j];
        }
        mean /= K;
        for (int j = 0; j < K; j++) a[(size_t)j * K + j] += damp * mean;
        const int ok = llx_cholesky_pool(a, K, pool, NULL); /* a = L L^T, L in the lower triangle */
        if (ok == 0) st = llx_fail(LLX_ERR_ARG, "GPTQ: the damped Hessian is not positive definite (raise the damping)");
        if (ok < 0) st = llx_fail(LLX_ERR_NOMEM, "out of memory (asymmetric target, %d columns)", K);
    }
    if (st == LLX_OK) {
        for (size_t i = 0; i < kk; i++) d[i] = c[i] - h[i]; /* D = C - H */
        for (int i = 0; i < K; i++) /* lt[i][j] = L[j][i], j >= i */
            for (int j = i; j < K; j++) lt[(size_t)i * K + j] = a[(size_t)j * K + i];
        asym_job job = {w, d, a, lt, alpha, scratch, R, K};
        if (pool) llx_pool_run(pool, asym_member, &job);
        else asym_member(&job, 0, 1);
    }
    llx_pool_free(pool);
    free(a), free(d), free(lt), free(scratch);
    return st;
}
