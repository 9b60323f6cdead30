/* quant/wquant.h - rounding fp32 weight matrices to symmetric integers:
 * round-to-nearest (RTN) and GPTQ, per output row or per group of input
 * columns, with fp32 or fp16 scales.
 *
 * A matrix W is R x K, row-major [out][in].  Its columns are cut into
 * groups of `group` consecutive columns (group = K: one scale per row).
 * Each (row, group) has a scale s; the stored integer is
 * q = clamp(rint(w / s), qmin, qmax) and the weight it stands for is q * s.
 *   bits 4: s = max|w| / 7 over the group, q in [-8, 7]
 *   bits 8: s = max|w| / 127, q in [-127, 127] (the W8A8 rounding)
 * With fp16 scales, s is rounded to fp16 first and the rounding uses the
 * rounded s, so q * s is exactly what the engine computes with.  A group
 * whose scale is 0 (all zero, or below fp16's range) stores q = 0.
 * With clip (int4 only), amax above is replaced by the clipped magnitude
 * c * amax, c in {1, 0.99, ..., 0.50}, whose rounding has the least squared
 * error sum_k (w_k - q_k s)^2 over the group (ties: the larger c); values
 * beyond it saturate at -8 or 7 (QuaRot's weight clipping for RTN; GPTQ
 * takes its group scales the same way).
 *
 * GPTQ (Frantar et al., 2023) rounds the columns one at a time and moves
 * each column's rounding error onto the columns not yet rounded, weighted
 * by the inverse Hessian of the layer's reconstruction error,
 * H = sum_t x_t x_t^T over calibration inputs x_t:
 *   - columns whose H_jj is 0 (never active) are zeroed, H_jj set to 1;
 *   - damping: H += damp * mean(diag H) * I;
 *   - act-order: columns processed in decreasing H_jj;
 *   - U = the upper Cholesky factor of H^-1 (H^-1 = U^T U); column j's
 *     error e = (w_j - q_j s) / U_jj updates columns k > j by -e U_jk,
 *     lazily in blocks of 128 columns;
 *   - scales: without act-order each group's scales are taken from the
 *     (already updated) weights when its first column is reached, as the
 *     reference implementation does; with act-order, from the original
 *     weights before any update ("static groups"), so groups stay
 *     contiguous in the stored layout. */
#ifndef LLX_QUANT_WQUANT_H
#define LLX_QUANT_WQUANT_H

#include <stdint.h>

#include "llx/status.h"

typedef struct llx_wq {
    int bits;     /* 4 or 8 */
    int group;    /* columns per scale; K (or 0) = one per row */
    int f16;      /* round scales to fp16 */
    int clip;     /* int4: search the MSE-optimal clip ratio per group */
} llx_wq;

typedef struct llx_gptq_opts {
    double damp;   /* fraction of mean(diag H) added to the diagonal (0.01) */
    int act_order; /* process columns in decreasing H_jj */
    int block;     /* lazy-update block (128) */
    int threads;   /* threads sharing the rows (0 or 1: this one); no effect on the result */
} llx_gptq_opts;

/* The scale for a group with largest magnitude amax (rounded to fp16 if asked). */
float llx_wq_scale(const llx_wq *q, float amax);

/* RTN: q (R x K values) and scales (R x K/group). */
void llx_wq_rtn(const llx_wq *q, const float *w, int R, int K, int8_t *out, float *scales);

/* GPTQ on w (R x K, overwritten with the error-updated weights) with the
 * Hessian h (K x K, symmetric, overwritten).  Fails when H + damping is
 * not positive definite (LLX_ERR_ARG) or memory runs out. */
llx_status llx_wq_gptq(const llx_wq *q, const llx_gptq_opts *o, float *w, int R, int K, double *h, int8_t *out,
                       float *scales);

/* sum over rows r of || (W - Q) x ||^2-style error: tr((W - Wq) H (W - Wq)^T),
 * the quantity GPTQ minimises (tests). */
double llx_wq_error(const float *w, const int8_t *q, const float *scales, int R, int K, int group, const double *h);

#endif
