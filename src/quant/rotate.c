/* quant/rotate.c - norm folding and Hadamard rotations of fp32 weights,
 * in double precision (rotate.h). */
#include "quant/rotate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"
#include "util/status.h"

/* v <- H v / sqrt(n), or H^T v / sqrt(n) */
static void had_f64(const llx_hadamard *h, double *v, int transpose)
{
    const int m = h->m, p = h->p;
    for (int i = 0; i < m; i++) {
        double *r = v + (size_t)i * p;
        for (int hs = 1; hs < p; hs *= 2)
            for (int j0 = 0; j0 < p; j0 += 2 * hs)
                for (int j = j0; j < j0 + hs; j++) {
                    const double a = r[j], b = r[j + hs];
                    r[j] = a + b;
                    r[j + hs] = a - b;
                }
    }
    if (m > 1) {
        double col[LLX_HAD_MAX_M];
        for (int j = 0; j < p; j++) {
            for (int l = 0; l < m; l++) col[l] = v[(size_t)l * p + j];
            for (int i = 0; i < m; i++) {
                double acc = 0.0;
                for (int l = 0; l < m; l++) acc += (transpose ? h->hm[l * m + i] : h->hm[i * m + l]) * col[l];
                v[(size_t)i * p + j] = acc;
            }
        }
    }
    const double sc = 1.0 / sqrt((double)h->n);
    for (int i = 0; i < h->n; i++) v[i] *= sc;
}

llx_status llx_rot_init(llx_rotation *r, int n, uint64_t seed, int mix)
{
    memset(r, 0, sizeof *r);
    r->mix = mix;
    if (!llx_hadamard_init(&r->h, n, 0))
        return llx_fail(LLX_ERR_UNSUPPORTED,
                        "no Hadamard matrix of order %d here (orders m * 2^k with m 1 or a Paley order, e.g. 12, 20, 28)",
                        n);
    r->d = malloc((size_t)n);
    double *ones = malloc((size_t)n * sizeof *ones);
    if (!r->d || !ones) {
        free(ones);
        llx_rot_free(r);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) ones[i] = 1.0;
    had_f64(&r->h, ones, 0);
    llx_rng g;
    llx_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) {
        const int8_t s = (llx_rng_u64(&g) >> 63) ? -1 : 1;
        r->d[i] = mix && fabs(ones[i]) > 1e-9 ? 1 : s; /* mixing: keep the all-ones direction */
    }
    free(ones);
    return LLX_OK;
}

llx_status llx_rot_init_dense(llx_rotation *r, int n, const double *q)
{
    memset(r, 0, sizeof *r);
    r->h.n = n;
    r->q = malloc((size_t)n * n * sizeof *r->q);
    r->tmp = malloc((size_t)n * sizeof *r->tmp);
    if (!r->q || !r->tmp) {
        llx_rot_free(r);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    memcpy(r->q, q, (size_t)n * n * sizeof *r->q);
    return LLX_OK;
}

void llx_rot_free(llx_rotation *r)
{
    free(r->d);
    free(r->q);
    free(r->tmp);
    r->d = NULL, r->q = NULL, r->tmp = NULL;
}

static void dense_f64(const llx_rotation *r, double *v)
{
    const int n = r->h.n;
    for (int i = 0; i < n; i++) {
        const double *row = r->q + (size_t)i * n;
        double s = 0.0;
        for (int k = 0; k < n; k++) s += row[k] * v[k];
        r->tmp[i] = s;
    }
    memcpy(v, r->tmp, (size_t)n * sizeof *v);
}

void llx_rot_apply_f64(const llx_rotation *r, double *v)
{
    if (r->q) {
        dense_f64(r, v);
        return;
    }
    if (r->mix) had_f64(&r->h, v, 0);
    for (int i = 0; i < r->h.n; i++) v[i] *= r->d[i];
    had_f64(&r->h, v, r->mix);
}

static llx_status scratch(double **d, int n)
{
    *d = malloc((size_t)n * sizeof **d);
    return *d ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
}

static void rot_vec(float *v, const llx_rotation *r, double *d)
{
    for (int i = 0; i < r->h.n; i++) d[i] = v[i];
    llx_rot_apply_f64(r, d);
    for (int i = 0; i < r->h.n; i++) v[i] = (float)d[i];
}

llx_status llx_rot_vec(float *v, const llx_rotation *r) { return llx_rot_rows(v, 1, r); }

llx_status llx_rot_rows(float *w, int R, const llx_rotation *r)
{
    double *d;
    LLX_TRY(scratch(&d, r->h.n));
    for (int i = 0; i < R; i++) rot_vec(w + (size_t)i * r->h.n, r, d);
    free(d);
    return LLX_OK;
}

llx_status llx_rot_cols(float *w, int K, const llx_rotation *r)
{
    const int n = r->h.n;
    double *d;
    LLX_TRY(scratch(&d, n));
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < n; i++) d[i] = w[(size_t)i * K + k];
        llx_rot_apply_f64(r, d);
        for (int i = 0; i < n; i++) w[(size_t)i * K + k] = (float)d[i];
    }
    free(d);
    return LLX_OK;
}

llx_status llx_rot_row_segments(float *w, int R, int K, const llx_rotation *r)
{
    double *d;
    LLX_TRY(scratch(&d, r->h.n));
    for (int i = 0; i < R; i++)
        for (int s = 0; s + r->h.n <= K; s += r->h.n) rot_vec(w + (size_t)i * K + s, r, d);
    free(d);
    return LLX_OK;
}

void llx_fold_norm(float *w, int R, int K, float *c, const float *g, const float *b)
{
    for (int r = 0; r < R; r++) {
        float *wr = w + (size_t)r * K;
        if (b && c) {
            double s = c[r];
            for (int k = 0; k < K; k++) s += (double)wr[k] * b[k];
            c[r] = (float)s;
        }
        for (int k = 0; k < K; k++) wr[k] *= g[k];
    }
}
