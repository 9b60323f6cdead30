/* model/wscan_avx2.c - the AVX2 tier of the load passes (model/wscan.h):
 * F32, BF16 and F16 runs widened to fp32 eight lanes at a time with the
 * NaN/Inf check fused in (an AND, an ADD and an OR per vector).  F16 blocks
 * holding a subnormal go through the scalar specification. */
#include <immintrin.h>

#include "model/wscan.h"

#ifdef LLX_WSCAN_NO_CHECK
#define NF(acc, expr) ((void)sizeof(expr)) /* expr is not evaluated */
#else
#define NF(acc, expr) ((acc) = _mm256_or_si256((acc), (expr)))
#endif

/* (v & exponent) + step: the lane's top bit set only for NaN/Inf */
static inline __m256i nf32(__m256i v)
{
    return _mm256_add_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x7f800000)), _mm256_set1_epi32(0x00800000));
}

static inline int any_top32(__m256i acc) { return !_mm256_testz_si256(acc, _mm256_set1_epi32((int)0x80000000u)); }

static int f32_avx2(const void *src, size_t n, float *dst)
{
    const char *p = src;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    size_t k = 0;
    for (; k + 32 <= n; k += 32) {
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)(p + 4 * k));
        const __m256i v1 = _mm256_loadu_si256((const __m256i *)(p + 4 * k + 32));
        const __m256i v2 = _mm256_loadu_si256((const __m256i *)(p + 4 * k + 64));
        const __m256i v3 = _mm256_loadu_si256((const __m256i *)(p + 4 * k + 96));
        _mm256_storeu_si256((__m256i *)(dst + k), v0);
        _mm256_storeu_si256((__m256i *)(dst + k + 8), v1);
        _mm256_storeu_si256((__m256i *)(dst + k + 16), v2);
        _mm256_storeu_si256((__m256i *)(dst + k + 24), v3);
        NF(a0, _mm256_or_si256(nf32(v0), nf32(v1)));
        NF(a1, _mm256_or_si256(nf32(v2), nf32(v3)));
    }
    for (; k + 8 <= n; k += 8) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 4 * k));
        _mm256_storeu_si256((__m256i *)(dst + k), v);
        NF(a0, nf32(v));
    }
    int bad = any_top32(_mm256_or_si256(a0, a1));
    if (k < n) bad |= llx_wscan_f32_ref(p + 4 * k, n - k, dst + k);
    return bad;
}

static int bf16_avx2(const void *src, size_t n, float *dst)
{
    const char *p = src;
    __m256i acc = _mm256_setzero_si256();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256i h = _mm256_loadu_si256((const __m256i *)(p + 2 * k));
        const __m256i v0 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h)), 16);
        const __m256i v1 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 16);
        _mm256_storeu_si256((__m256i *)(dst + k), v0);
        _mm256_storeu_si256((__m256i *)(dst + k + 8), v1);
        NF(acc, _mm256_or_si256(nf32(v0), nf32(v1)));
    }
    int bad = any_top32(acc);
    if (k < n) bad |= llx_wscan_bf16_ref(p + 2 * k, n - k, dst + k);
    return bad;
}

/* Eight F16 (zero-extended to 32-bit lanes) without subnormals to fp32:
 * sign | ((h & 0x7fff) << 13) + (112 << 23), or the sign alone for +-0
 * (exact for normal values; NaN/Inf lanes are flagged, their value unspecified). */
static inline __m256i widen_f16(__m256i x)
{
    const __m256i mag = _mm256_and_si256(x, _mm256_set1_epi32(0x7fff));
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x8000)), 16);
    const __m256i val = _mm256_add_epi32(_mm256_slli_epi32(mag, 13), _mm256_set1_epi32(112 << 23));
    const __m256i zero = _mm256_cmpeq_epi32(mag, _mm256_setzero_si256());
    return _mm256_or_si256(sign, _mm256_andnot_si256(zero, val));
}

static int f16_avx2(const void *src, size_t n, float *dst)
{
    const char *p = src;
    __m256i acc = _mm256_setzero_si256();
    int bad = 0;
    size_t k = 0;
    const __m256i ex = _mm256_set1_epi32(0x7c00), man = _mm256_set1_epi32(0x3ff), z = _mm256_setzero_si256();
    for (; k + 8 <= n; k += 8) {
        const __m256i x = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * k)));
        const __m256i e = _mm256_and_si256(x, ex);
        NF(acc, _mm256_add_epi32(e, _mm256_set1_epi32(0x0400)));
        /* subnormal lanes: exponent 0, mantissa not */
        const __m256i sub = _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(x, man), z), _mm256_cmpeq_epi32(e, z));
        if (!_mm256_testz_si256(sub, sub)) bad |= llx_wscan_f16_ref(p + 2 * k, 8, dst + k);
        else _mm256_storeu_si256((__m256i *)(dst + k), widen_f16(x));
    }
    bad |= !_mm256_testz_si256(acc, _mm256_set1_epi32(0x8000));
    if (k < n) bad |= llx_wscan_f16_ref(p + 2 * k, n - k, dst + k);
    return bad;
}

void llx_wscan_fill_avx2(llx_wscan *w)
{
    w->name = "avx2";
    w->f32 = f32_avx2;
    w->bf16 = bf16_avx2;
    w->f16 = f16_avx2;
}
