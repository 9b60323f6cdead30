/* quant/hessian.h - GPTQ's Hessian of one matrix's input, H = sum_t x_t x_t^T
 * over calibration tokens, accumulated in double from fp32 products of
 * each batch (the kernel table's fp32 GEMM on the transposed batch).  With
 * a4_clip > 0 each token is first replaced by its W4A4 int4 code times its
 * scale (llx_quantize_a4 with that clip ratio): the Hessian of the inputs
 * the int4 path multiplies rather than of the fp32 ones. */
#ifndef LLX_QUANT_HESSIAN_H
#define LLX_QUANT_HESSIAN_H

#include "kernels/kernels.h"
#include "llx/status.h"

typedef struct llx_hess {
    int K;           /* input width */
    long long n;     /* tokens seen */
    double *h;       /* K x K */
    float *xt, *tmp; /* scratch: the batch transposed (K x cap), one batch's K x K */
    int cap;         /* tokens per batch the scratch holds */
    float a4_clip;   /* > 0: accumulate int4-quantized tokens (set after init) */
    int8_t *q;       /* scratch: one token's int4 code */
} llx_hess;

llx_status llx_hess_init(llx_hess *h, int K, int batch);
/* Add T tokens x[t * ldx + k] (T of any size: split into batches). */
void llx_hess_add(llx_hess *h, const llx_kernels *k, const float *x, int T, int ldx);
void llx_hess_free(llx_hess *h);

#endif
