/* quant/hessian.c - accumulating GPTQ Hessians (hessian.h). */
#include "quant/hessian.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "quant/linalg.h"
#include "quant/wquant.h"
#include "util/status.h"

llx_status llx_hess_init(llx_hess *h, int K, int batch)
{
    memset(h, 0, sizeof *h);
    h->K = K;
    h->cap = batch > 0 ? batch : 128;
    h->h = calloc((size_t)K * K, sizeof *h->h);
    h->xt = malloc((size_t)K * h->cap * sizeof *h->xt);
    h->tmp = malloc((size_t)K * K * sizeof *h->tmp);
    h->q = malloc((size_t)K);
    if (!h->h || !h->xt || !h->tmp || !h->q) {
        llx_hess_free(h);
        return llx_fail(LLX_ERR_NOMEM, "out of memory for a %d x %d Hessian", K, K);
    }
    return LLX_OK;
}

void llx_hess_add(llx_hess *h, const llx_kernels *k, const float *x, int T, int ldx)
{
    const int K = h->K;
    for (int t0 = 0; t0 < T; t0 += h->cap) {
        const int n = T - t0 < h->cap ? T - t0 : h->cap;
        for (int t = 0; t < n; t++) {
            const float *xr = x + (size_t)(t0 + t) * ldx;
            if (h->a4_clip > 0.0f) {
                float s;
                int z;
                llx_quantize_a4(xr, K, h->a4_clip, h->q, &s, &z);
                for (int i = 0; i < K; i++) h->xt[(size_t)i * n + t] = s * (float)h->q[i];
            } else {
                for (int i = 0; i < K; i++) h->xt[(size_t)i * n + t] = xr[i];
            }
        }
        /* tmp[i][j] = sum_t xt[i][t] xt[j][t] */
        k->matmul_f32(h->tmp, K, h->xt, n, h->xt, n, NULL, K, K, n);
        for (size_t i = 0; i < (size_t)K * K; i++) h->h[i] += h->tmp[i];
        h->n += n;
    }
}

void llx_hess_free(llx_hess *h)
{
    free(h->h), free(h->xt), free(h->tmp), free(h->q), free(h->c), free(h->xft);
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

/* dst (K x n) = the rows t0 .. t0+n of x transposed */
static void transpose(float *dst, const float *x, int t0, int n, int K, int ldx)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < K; i++) dst[(size_t)i * n + t] = x[(size_t)(t0 + t) * ldx + i];
}

void llx_hess_add_cross(llx_hess *h, const llx_kernels *k, const float *x, const float *xq, int T, int ldx)
{
    const int K = h->K;
    for (int t0 = 0; t0 < T; t0 += h->cap) {
        const int n = T - t0 < h->cap ? T - t0 : h->cap;
        transpose(h->xt, xq, t0, n, K, ldx);
        transpose(h->xft, x, t0, n, K, ldx);
        k->matmul_f32(h->tmp, K, h->xt, n, h->xt, n, NULL, K, K, n);
        for (size_t i = 0; i < (size_t)K * K; i++) h->h[i] += h->tmp[i];
        /* tmp[i][j] = sum_t x_i(t) xq_j(t) */
        k->matmul_f32(h->tmp, K, h->xft, n, h->xt, n, NULL, K, K, n);
        for (size_t i = 0; i < (size_t)K * K; i++) h->c[i] += h->tmp[i];
        h->n += n;
    }
}

llx_status llx_hess_asym_target(float *w, int R, int K, const double *h, const double *c, double damp, double alpha)
{
    double *a = malloc((size_t)K * K * sizeof *a), *b = malloc((size_t)K * sizeof *b);
    llx_status st = a && b ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory (asymmetric target, %d columns)", K);
    if (st == LLX_OK) {
        memcpy(a, h, (size_t)K * K * sizeof *a);
        double mean = 0.0;
        for (int j = 0; j < K; j++) {
            if (a[(size_t)j * K + j] == 0.0) a[(size_t)j * K + j] = 1.0; /* as GPTQ treats a dead column */
            mean += a[(size_t)j * K + j];
        }
        mean /= K;
        for (int j = 0; j < K; j++) a[(size_t)j * K + j] += damp * mean;
        const int ok = llx_cholesky(a, K); /* a = L L^T, L in the lower triangle */
        if (ok == 0) st = llx_fail(LLX_ERR_ARG, "GPTQ: the damped Hessian is not positive definite (raise the damping)");
        if (ok < 0) st = llx_fail(LLX_ERR_NOMEM, "out of memory (asymmetric target, %d columns)", K);
    }
    for (int r = 0; st == LLX_OK && r < R; r++) {
        float *wr = w + (size_t)r * K;
        for (int j = 0; j < K; j++) b[j] = 0.0;
        for (int i = 0; i < K; i++) { /* b = alpha (W D)_r, D = C - H */
            const double wi = alpha * wr[i];
            const double *ci = c + (size_t)i * K, *hi = h + (size_t)i * K;
            if (wi != 0.0)
                for (int j = 0; j < K; j++) b[j] += wi * (ci[j] - hi[j]);
        }
        for (int i = 0; i < K; i++) { /* L y = b */
            double s = b[i];
            for (int j = 0; j < i; j++) s -= a[(size_t)i * K + j] * b[j];
            b[i] = s / a[(size_t)i * K + i];
        }
        for (int i = K - 1; i >= 0; i--) { /* L^T z = y */
            double s = b[i];
            for (int j = i + 1; j < K; j++) s -= a[(size_t)j * K + i] * b[j];
            b[i] = s / a[(size_t)i * K + i];
        }
        for (int j = 0; j < K; j++) wr[j] = (float)(wr[j] + b[j]);
    }
    free(a), free(b);
    return st;
}
