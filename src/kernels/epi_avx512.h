/* kernels/epi_avx512.h - the quantization unit in 16 lanes: the epilogue
 * of the avx512 and amx tiers' int8 GEMMs (kernels.h states the formula)
 * and the exp/GELU of vecops.h, bit-exact with the reference.  Included
 * only by files built with AVX-512 flags. */
#ifndef LLX_KERNELS_EPI_AVX512_H
#define LLX_KERNELS_EPI_AVX512_H

#include <immintrin.h>

#include "kernels/kernels.h"

/* llx_exp_ref, sixteen at a time (same clamps, rounding and fused steps) */
static inline __m512 llx_exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693145751953125f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* llx_gelu1, sixteen at a time: x / (1 + exp(-2u)), u = k (x + ((c x) x) x) */
static inline __m512 llx_gelu16(__m512 v)
{
    const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), v), v), v);
    const __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_add_ps(v, cube));
    const __m512 e = llx_exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* q8(v): clamp in float (max returns its second operand, -127, for NaN),
 * then round half to even; the 16 bytes of the result */
static inline __m128i llx_q8x16(__m512 v)
{
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    return _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v));
}

/* GELU out of line: the epilogue is inlined into every register tile and
 * GELU is long (it runs once per 16 outputs, after a whole K loop) */
static __attribute__((noinline, unused)) __m512 llx_epi_gelu16(__m512 y) { return llx_gelu16(y); }

/* What the epilogue needs of 16 rows r .. r+15 (m: the rows that exist),
 * loaded once and used for every token. */
typedef struct llx_epi16 {
    __m512 ws, bias, inv;
    __mmask16 m;
} llx_epi16;

static inline __attribute__((always_inline)) llx_epi16 llx_epi16_rows(const llx_epilogue *ep, int r, int n)
{
    llx_epi16 p;
    p.m = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    p.ws = ep->scale == LLX_EPI_DEQUANT ? _mm512_maskz_loadu_ps(p.m, ep->ws + r) : _mm512_setzero_ps();
    p.bias = ep->bias && ep->scale == LLX_EPI_DEQUANT ? _mm512_maskz_loadu_ps(p.m, ep->bias + r) : _mm512_setzero_ps();
    p.inv = _mm512_setzero_ps();
    if (ep->out_i8) {
        const int a = llx_epi_seg(ep, ep->row0 + r), b = llx_epi_seg(ep, ep->row0 + r + (n > 0 ? n : 1) - 1);
        if (a == b) {
            p.inv = _mm512_set1_ps(ep->seg_inv[a]);
        } else { /* the rows cross a q|k|v boundary */
            float v[16] = {0};
            for (int i = 0; i < n; i++) v[i] = ep->seg_inv[llx_epi_seg(ep, ep->row0 + r + i)];
            p.inv = _mm512_loadu_ps(v);
        }
    }
    return p;
}

/* The epilogue's steps after the scale (act, aux, out_i8 or the fp32
 * store) on the 16 values y of token t, rows r .. r+15. */
static inline __attribute__((always_inline)) void llx_epi16_tail(const llx_epilogue *ep, const llx_epi16 *p, int t,
                                                                  int r, __m512 y)
{
    const size_t o = (size_t)t * ep->ldo + (size_t)r;
    if (ep->act == LLX_EPI_GELU) y = llx_epi_gelu16(y);
    if (ep->aux) y = _mm512_mul_ps(y, _mm512_maskz_loadu_ps(p->m, ep->aux + (size_t)t * ep->lda + (size_t)r));
    if (ep->out_i8) _mm_mask_storeu_epi8((int8_t *)ep->out + o, p->m, llx_q8x16(_mm512_mul_ps(y, p->inv)));
    else _mm512_mask_storeu_ps((float *)ep->out + o, p->m, y);
}

/* The epilogue of the 16 results acc (int32, rows r .. r+15) of token t. */
static inline __attribute__((always_inline)) void llx_epi16_store(const llx_epilogue *ep, const llx_epi16 *p, int t,
                                                                   int r, __m512i acc)
{
    if (ep->scale == LLX_EPI_I32) {
        _mm512_mask_storeu_epi32((int32_t *)ep->out + (size_t)t * ep->ldo + (size_t)r, p->m, acc);
        return;
    }
    __m512 y = _mm512_cvtepi32_ps(acc);
    if (ep->scale == LLX_EPI_DEQUANT)
        y = _mm512_add_ps(_mm512_mul_ps(y, _mm512_mul_ps(_mm512_set1_ps(ep->s_in[t]), p->ws)), p->bias);
    else
        y = _mm512_mul_ps(y, _mm512_set1_ps(ep->s));
    llx_epi16_tail(ep, p, t, r, y);
}

#endif
