/* kernels/gemm_avx512.h - the avx512 tier's int8 GEMM entry points, also
 * used by the amx tier (for decode and for the sums of x).  Callable only
 * where the avx512 tier is. */
#ifndef LLX_KERNELS_GEMM_AVX512_H
#define LLX_KERNELS_GEMM_AVX512_H

#include "kernels/kernels.h"

/* s[t] = sum_{k<K} x[t*ldx + k] */
void llx_xsum_i8(int32_t *s, const int8_t *x, int ldx, int T, int K);
/* gemm_i8 and matmul_i8p of the avx512 tier (panel layout) */
void llx_gemm_i8_avx512(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K);
/* gemm_i8 with the sums of x given: xs[t] = sum_k x[t*ldx + k], t < T */
void llx_gemm_i8_avx512_sums(const llx_epilogue *ep, const int8_t *x, int ldx, const int32_t *xs, const int8_t *wp,
                             int T, int R, int K);
void llx_matmul_i8p_avx512(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K);

/* gemm_q4 of the avx512 tier (16-row q4 panels, q4_avx512.c) */
void llx_gemm_q4_avx512(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K,
                        int G);

#endif
