/* quant/hessian.h - GPTQ's Hessian of one matrix's input, H = sum_t x_t x_t^T
 * over calibration tokens, accumulated in double from fp32 products of
 * each batch (the kernel table's fp32 GEMM on the transposed batch). */
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
} llx_hess;

llx_status llx_hess_init(llx_hess *h, int K, int batch);
/* Add T tokens x[t * ldx + k] (T of any size: split into batches). */
void llx_hess_add(llx_hess *h, const llx_kernels *k, const float *x, int T, int ldx);
void llx_hess_free(llx_hess *h);

#endif
