/* quant/wquant.c - RTN rounding of weight matrices to int4 / int8 with
 * per-row or per-group scales, and the shared step/round definitions
 * (wquant.h), and GPTQ. */
#include "quant/wquant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "model/half.h"
#include "quant/linalg.h"
#include "util/mem.h"
#include "util/pool.h"
#include "util/status.h"

float llx_wq_scale(const llx_wq *q, float amax)
{
    float s = amax / (q->bits == 4 ? 7.0f : 127.0f);
    if (q->f16) s = llx_f16_to_f32(llx_f32_to_f16(s));
    return s > 0.0f && isfinite(s) ? s : 0.0f;
}

/* int8 keeps the W8A8 formula (q8(w * 127/amax)); int4 divides by the step */
static int round_with(const llx_wq *q, float w, float s, float inv)
{
    if (s == 0.0f) return 0;
    if (q->bits == 8 && !q->f16) return llx_q8(w * inv);
    float r = rintf(w / s);
    const float lo = q->bits == 4 ? -8.0f : -127.0f, hi = q->bits == 4 ? 7.0f : 127.0f;
    if (!(r >= lo)) r = lo;
    if (r > hi) r = hi;
    return (int)r;
}

static float inv_of(const llx_wq *q, float amax) { return q->bits == 8 && amax > 0.0f ? 127.0f / amax : 0.0f; }

static float group_amax(const float *w, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = fabsf(w[i]) > m ? fabsf(w[i]) : m;
    return m;
}

#define CLIP_STEPS 50 /* ratios 1, 0.99, ..., 0.50 */

/* the magnitude a group's scale comes from: amax, or with clip the
 * clipped magnitude of least squared rounding error (wquant.h) */
static float scale_amax(const llx_wq *q, const float *w, int n)
{
    const float amax = group_amax(w, n);
    if (!q->clip || q->bits != 4 || amax == 0.0f) return amax;
    float best = amax;
    double best_err = INFINITY;
    for (int i = 0; i <= CLIP_STEPS; i++) {
        const float a = amax * (1.0f - 0.01f * (float)i), s = llx_wq_scale(q, a);
        if (s == 0.0f) break;
        double err = 0.0;
        for (int k = 0; k < n && err < best_err; k++) {
            const double d = (double)w[k] - (double)round_with(q, w[k], s, 0.0f) * s;
            err += d * d;
        }
        if (err < best_err) best_err = err, best = a;
    }
    return best;
}

void llx_wq_rtn(const llx_wq *q, const float *w, int R, int K, int8_t *out, float *scales)
{
    const int G = q->group > 0 && q->group < K ? q->group : K, ng = K / G;
    for (int r = 0; r < R; r++)
        for (int g = 0; g < ng; g++) {
            const float *wg = w + (size_t)r * K + (size_t)g * G;
            const float amax = scale_amax(q, wg, G), s = llx_wq_scale(q, amax), inv = inv_of(q, amax);
            scales[(size_t)r * ng + g] = s;
            for (int k = 0; k < G; k++) out[(size_t)r * K + (size_t)g * G + k] = (int8_t)round_with(q, wg[k], s, inv);
        }
}

double llx_wq_error(const float *w, const int8_t *q, const float *scales, int R, int K, int group, const double *h)
{
    const int G = group > 0 && group < K ? group : K, ng = K / G;
    double *d = malloc((size_t)K * sizeof *d), total = 0.0;
    if (!d) return -1.0;
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < K; k++)
            d[k] = (double)w[(size_t)r * K + k] - (double)q[(size_t)r * K + k] * scales[(size_t)r * ng + k / G];
        for (int i = 0; i < K; i++) {
            double s = 0.0;
            for (int j = 0; j < K; j++) s += h[(size_t)i * K + j] * d[j];
            total += d[i] * s;
        }
    }
    free(d);
    return total;
}

/* ---- GPTQ ---- */

/* permute rows and columns of h and columns of w by perm (new index -> old) */
static llx_status permute(double *h, float *w, int R, int K, const int *perm)
{
    double *tmp = malloc((size_t)K * K * sizeof *tmp);
    float *row = malloc((size_t)K * sizeof *row);
    if (!tmp || !row) {
        free(tmp), free(row);
        return llx_fail(LLX_ERR_NOMEM, "out of memory (GPTQ, %d columns)", K);
    }
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) tmp[(size_t)i * K + j] = h[(size_t)perm[i] * K + perm[j]];
    memcpy(h, tmp, (size_t)K * K * sizeof *h);
    for (int r = 0; r < R; r++) {
        float *wr = w + (size_t)r * K;
        for (int j = 0; j < K; j++) row[j] = wr[perm[j]];
        memcpy(wr, row, (size_t)K * sizeof *row);
    }
    free(tmp), free(row);
    return LLX_OK;
}

typedef struct diag_ix {
    double d;
    int i;
} diag_ix;

static int by_diag_desc(const void *a, const void *b)
{
    const diag_ix *x = a, *y = b;
    if (x->d != y->d) return x->d > y->d ? -1 : 1;
    return x->i - y->i;
}

/* perm[new] = old column, by decreasing diag (ties: lower index first) */
static llx_status act_order_perm(const double *diag, int K, int *perm)
{
    diag_ix *v = malloc((size_t)K * sizeof *v);
    if (!v) return llx_fail(LLX_ERR_NOMEM, "out of memory (GPTQ)");
    for (int j = 0; j < K; j++) v[j] = (diag_ix){diag[j], j};
    qsort(v, (size_t)K, sizeof *v, by_diag_desc);
    for (int j = 0; j < K; j++) perm[j] = v[j].i;
    free(v);
    return LLX_OK;
}

typedef struct gptq_state {
    const llx_wq *q;
    int R, K, G, ng;
    float *w;       /* R x K, permuted */
    const double *u; /* K x K upper factor */
    const int *perm;
    int8_t *out;
    float *scales, *inv; /* R x ng */
    int static_groups;
} gptq_state;

static void set_group_scale(gptq_state *s, int r, int g, const float *wg)
{
    const float amax = scale_amax(s->q, wg, s->G);
    s->scales[(size_t)r * s->ng + g] = llx_wq_scale(s->q, amax);
    s->inv[(size_t)r * s->ng + g] = inv_of(s->q, amax);
}

#define LAZY_TILE 256 /* columns of the lazy update per pass over the rows */
#define LAZY_ROWS 16  /* rows of W sharing each pass over those columns */

/* One block of columns [b0, b1) of rows [r0, r1): round, propagate inside,
 * then onto the later columns.  Rows are independent: any split of them
 * gives the same bits. */
static void gptq_block(gptq_state *s, int b0, int b1, int r0, int r1, double *err)
{
    const int K = s->K, B = b1 - b0;
    const llx_la_tier *t = llx_la_tier_best();
    for (int r = r0; r < r1; r++) { /* a row's columns in order; its block stays in cache */
        float *wr = s->w + (size_t)r * K;
        for (int i = b0; i < b1; i++) {
            const int col = s->perm[i], g = col / s->G;
            const double *ui = s->u + (size_t)i * K;
            if (!s->static_groups && col % s->G == 0) set_group_scale(s, r, g, wr + i);
            const float sc = s->scales[(size_t)r * s->ng + g];
            const int qv = round_with(s->q, wr[i], sc, s->inv[(size_t)r * s->ng + g]);
            s->out[(size_t)r * K + col] = (int8_t)qv;
            const double e = ((double)wr[i] - (double)qv * sc) / ui[i];
            err[(size_t)r * B + (i - b0)] = e;
            t->sub_f32(wr + i + 1, ui + i + 1, e, b1 - i - 1);
        }
    }
    /* the block's errors onto the later columns; plain loop:
     *   for r, k >= b1: d = 0; for i < B: d += err[r][i] u[b0 + i][k]; w[r][k] -= (float)d
     * here a tile of LAZY_TILE columns of the block's rows of u (in cache)
     * serves every row r, LAZY_ROWS rows at a time, the sums over i in the
     * same order */
    double d[LAZY_ROWS * LAZY_TILE];
    for (int k0 = b1; k0 < K; k0 += LAZY_TILE) {
        const int nk = K - k0 < LAZY_TILE ? K - k0 : LAZY_TILE;
        const double *u0 = s->u + (size_t)b0 * K + k0;
        for (int r = r0; r < r1; r += LAZY_ROWS) {
            const int nr = r1 - r < LAZY_ROWS ? r1 - r : LAZY_ROWS;
            llx_lazy_sums(d, LAZY_TILE, err + (size_t)r * B, (size_t)B, u0, (size_t)K, nr, B, nk, t);
            for (int q = 0; q < nr; q++) {
                float *wr = s->w + (size_t)(r + q) * K + k0;
                for (int k = 0; k < nk; k++) wr[k] -= (float)d[q * LAZY_TILE + k];
            }
        }
    }
}

typedef struct block_job {
    gptq_state *s;
    int b0, b1;
    double *err;
} block_job;

static void block_rows(void *ctx, int ith, int nth)
{
    const block_job *j = ctx;
    int r0, r1;
    llx_split_work(j->s->R, ith, nth, 1, &r0, &r1);
    gptq_block(j->s, j->b0, j->b1, r0, r1, j->err);
}

/* U, upper with U^T U = H^-1 (what GPTQ moves each column's error with),
 * of the damped H (dead columns already set to 1). */
static llx_status upper_factor(double *h, int K, double damp, double **u, llx_pool *pool)
{
    double mean = 0.0;
    for (int j = 0; j < K; j++) mean += h[(size_t)j * K + j];
    mean /= K;
    for (int j = 0; j < K; j++) h[(size_t)j * K + j] += damp * mean;
    *u = llx_alloc((size_t)K * K * sizeof **u); /* huge pages: 512 MB at K = 8192 */
    const int ok = *u ? llx_inverse_upper_factor(h, K, *u, pool, NULL) : -1;
    if (ok == 0) return llx_fail(LLX_ERR_ARG, "GPTQ: the damped Hessian is not positive definite (raise the damping)");
    if (ok < 0) return llx_fail(LLX_ERR_NOMEM, "out of memory (GPTQ, %d columns)", K);
    return LLX_OK;
}

llx_status llx_wq_gptq(const llx_wq *q, const llx_gptq_opts *o, float *w, int R, int K, double *h, int8_t *out,
                       float *scales)
{
    gptq_state s = {.q = q, .R = R, .K = K, .out = out, .scales = scales, .static_groups = o->act_order};
    s.G = q->group > 0 && q->group < K ? q->group : K;
    s.ng = K / s.G;
    int *perm = malloc((size_t)K * sizeof *perm);
    double *diag = malloc((size_t)K * sizeof *diag), *u = NULL, *err = NULL;
    s.inv = malloc((size_t)R * s.ng * sizeof *s.inv);
    const int B = o->block > 0 ? o->block : 128;
    err = malloc((size_t)R * B * sizeof *err);
    llx_status st = perm && diag && s.inv && err ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory (GPTQ)");
    for (int j = 0; st == LLX_OK && j < K; j++) {
        perm[j] = j;
        if (h[(size_t)j * K + j] == 0.0) { /* a column no input ever reaches */
            h[(size_t)j * K + j] = 1.0;
            for (int r = 0; r < R; r++) w[(size_t)r * K + j] = 0.0f;
        }
        diag[j] = h[(size_t)j * K + j];
    }
    if (st == LLX_OK && s.static_groups)
        for (int r = 0; r < R; r++)
            for (int g = 0; g < s.ng; g++) set_group_scale(&s, r, g, w + (size_t)r * K + (size_t)g * s.G);
    if (st == LLX_OK && o->act_order) {
        st = act_order_perm(diag, K, perm);
        if (st == LLX_OK) st = permute(h, w, R, K, perm);
    }
    llx_pool *pool = NULL; /* the rows of the linear algebra and of the blocks, shared */
    if (st == LLX_OK && o->threads > 1 && llx_pool_create(&pool, o->threads, 1) != LLX_OK) pool = NULL;
    if (st == LLX_OK) st = upper_factor(h, K, o->damp, &u, pool);
    s.w = w, s.u = u, s.perm = perm;
    for (int b0 = 0; st == LLX_OK && b0 < K; b0 += B) {
        block_job j = {&s, b0, b0 + B < K ? b0 + B : K, err};
        if (pool) llx_pool_run(pool, block_rows, &j);
        else block_rows(&j, 0, 1);
    }
    llx_pool_free(pool);
    if (st == LLX_OK && o->act_order) { /* the updated weights back in column order */
        float *row = malloc((size_t)K * sizeof *row);
        for (int r = 0; row && r < R; r++) {
            for (int j = 0; j < K; j++) row[perm[j]] = w[(size_t)r * K + j];
            memcpy(w + (size_t)r * K, row, (size_t)K * sizeof *row);
        }
        free(row);
    }
    free(perm), free(diag), free(u), free(err), free(s.inv);
    return st;
}
