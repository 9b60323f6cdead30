/* quant/rotate.c - norm folding, centring and Hadamard rotations of fp32
 * weights, in double precision (rotate.h). */
#include "quant/rotate.h"

#include <math.h>
#include <stdlib.h>

#include "util/rng.h"
#include "util/status.h"

void llx_rot_apply_f64(const llx_hadamard *h, const int8_t *signs, double *v)
{
    const int m = h->m, p = h->p;
    if (signs)
        for (int i = 0; i < h->n; i++) v[i] *= signs[i];
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
                for (int l = 0; l < m; l++) acc += h->hm[i * m + l] * col[l];
                v[(size_t)i * p + j] = acc;
            }
        }
    }
    const double sc = 1.0 / sqrt((double)h->n);
    for (int i = 0; i < h->n; i++) v[i] *= sc;
}

static llx_status scratch(double **d, int n)
{
    *d = malloc((size_t)n * sizeof **d);
    return *d ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
}

static void rot_vec(float *v, const llx_hadamard *h, const int8_t *signs, double *d)
{
    for (int i = 0; i < h->n; i++) d[i] = v[i];
    llx_rot_apply_f64(h, signs, d);
    for (int i = 0; i < h->n; i++) v[i] = (float)d[i];
}

llx_status llx_rot_vec(float *v, const llx_hadamard *h, const int8_t *signs)
{
    return llx_rot_rows(v, 1, h, signs);
}

llx_status llx_rot_rows(float *w, int R, const llx_hadamard *h, const int8_t *signs)
{
    double *d;
    LLX_TRY(scratch(&d, h->n));
    for (int r = 0; r < R; r++) rot_vec(w + (size_t)r * h->n, h, signs, d);
    free(d);
    return LLX_OK;
}

llx_status llx_rot_cols(float *w, int K, const llx_hadamard *h, const int8_t *signs)
{
    const int n = h->n;
    double *d;
    LLX_TRY(scratch(&d, n));
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < n; i++) d[i] = w[(size_t)i * K + k];
        llx_rot_apply_f64(h, signs, d);
        for (int i = 0; i < n; i++) w[(size_t)i * K + k] = (float)d[i];
    }
    free(d);
    return LLX_OK;
}

llx_status llx_rot_row_segments(float *w, int R, int K, const llx_hadamard *h)
{
    double *d;
    LLX_TRY(scratch(&d, h->n));
    for (int r = 0; r < R; r++)
        for (int s = 0; s + h->n <= K; s += h->n) rot_vec(w + (size_t)r * K + s, h, NULL, d);
    free(d);
    return LLX_OK;
}

void llx_rot_signs(int8_t *signs, int n, uint64_t seed)
{
    llx_rng g;
    llx_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) signs[i] = (llx_rng_u64(&g) >> 63) ? -1 : 1;
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

void llx_center_out(float *w, int R, int K, float *c)
{
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int r = 0; r < R; r++) s += w[(size_t)r * K + k];
        const double mean = s / R;
        for (int r = 0; r < R; r++) w[(size_t)r * K + k] = (float)(w[(size_t)r * K + k] - mean);
    }
    if (c) llx_center_rows(c, 1, R);
}

void llx_center_rows(float *x, int n, int C)
{
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * C;
        double s = 0.0;
        for (int j = 0; j < C; j++) s += v[j];
        const double mean = s / C;
        for (int j = 0; j < C; j++) v[j] = (float)(v[j] - mean);
    }
}
