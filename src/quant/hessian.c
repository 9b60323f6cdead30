/* quant/hessian.c - accumulating GPTQ Hessians (hessian.h). */
#include "quant/hessian.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
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
    free(h->h), free(h->xt), free(h->tmp), free(h->q);
    memset(h, 0, sizeof *h);
}
