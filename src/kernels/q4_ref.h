/* kernels/q4_ref.h - the reference int4-weight GEMM (the specification of
 * gemm_q4 in every tier) and the int4 panel packing. */
#ifndef LLX_KERNELS_Q4_REF_H
#define LLX_KERNELS_Q4_REF_H

#include "kernels/kernels.h"

void llx_gemm_q4_ref(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K, int G);

/* y for rows [0, n) of token t before the epilogue's tail: the group sum
 * of kernels.h with s = s_in[t], from the int32 group sums acc[r * ng + g],
 * the scales in the layout of P-row panels. */
void llx_q4_dequant_ref(float *y, const int32_t *acc, int ng, int P, const llx_epilogue *ep, int t, int n);

#endif
