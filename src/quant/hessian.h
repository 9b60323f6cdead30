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
#include "util/pool.h"

typedef struct llx_hess {
    int K;           /* input width */
    long long n;     /* tokens seen */
    double *lo;      /* K x K, H's lower triangle (j <= i) kept by the adds; llx_hess_matrix gives all of H */
    int stale;       /* the upper triangle of lo is behind its lower one */
    float *xt;       /* scratch: the batch transposed (K x cap) */
    float *tmp;      /* scratch: each pool member's block of fp32 products (64 x K) */
    int tmp_members; /* members tmp has room for */
    int cap;         /* tokens per batch the scratch holds */
    float a4_clip;   /* > 0: accumulate int4-quantized tokens (set after init) */
    int8_t *q;       /* scratch: one token's int4 code */
    double *c;       /* K x K cross term sum_t x_t xq_t^T (llx_hess_init_cross), or NULL */
    float *xft;      /* scratch of the cross term: the reference batch transposed */
} llx_hess;

llx_status llx_hess_init(llx_hess *h, int K, int batch);
/* Add T tokens x[t * ldx + k] (T of any size: split into batches).  Each
 * batch's products are the kernel table's fp32 GEMM of the transposed
 * batch with itself, taken for H's lower triangle only (the GEMM's x_i.x_j
 * and x_j.x_i are the same bits: kernels.h) in blocks of rows shared out
 * to the members of pool (NULL: this thread), each added into lo in
 * double.  Every element's arithmetic is its own: the same bits for any
 * pool, and as the full K x K product gave. */
void llx_hess_add(llx_hess *h, const llx_kernels *k, const float *x, int T, int ldx, llx_pool *pool);
/* H, whole (K x K, symmetric): the upper triangle copied from the lower
 * one if an add came since the last call. */
const double *llx_hess_matrix(llx_hess *h);
void llx_hess_free(llx_hess *h);

/* Asymmetric calibration (--gptq-calib asym): also keep the cross term
 * C = sum_t x_t xq_t^T of each token's reference input x_t (the fp32
 * model's) and the input xq_t the quantized model gives the same matrix. */
llx_status llx_hess_init_cross(llx_hess *h, int K, int batch);
/* H += sum_t xq_t xq_t^T and C += sum_t x_t xq_t^T over T tokens of both
 * (rows of ldx floats; no int4 replacement: xq is already what the
 * quantized model multiplies). */
void llx_hess_add_cross(llx_hess *h, const llx_kernels *k, const float *x, const float *xq, int T, int ldx,
                        llx_pool *pool);

/* The target of the asymmetric objective ||W X - Wq Xq||^2 (GPTAQ, Li et
 * al. 2025): w (R x K) becomes W + alpha W D H^-1, D = C - H =
 * sum_t (x_t - xq_t) xq_t^T, H damped as GPTQ damps it (damp *
 * mean(diag H); dead columns H_jj = 0 set to 1).  At alpha = 1 (and no
 * damping) that is W C H^-1, the least-squares map of the quantized inputs
 * onto W's outputs on the reference ones, and then ||W X - Wq Xq||^2 =
 * ||(W' - Wq) Xq||^2 + a constant: GPTQ on W' with H minimises the
 * asymmetric objective; alpha < 1 takes that fraction of the correction
 * (GPTAQ scales it by 0.25).  h and c are left unchanged.  Blocks of rows
 * are dealt to `threads` threads (<= 1: this one); the bits do not depend
 * on it. */
llx_status llx_hess_asym_target(float *w, int R, int K, const double *h, const double *c, double damp, double alpha,
                                int threads);

#endif
