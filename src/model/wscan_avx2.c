/* model/wscan_avx2.c - the AVX2 tier of the load passes (model/wscan.h):
 * F32, BF16 and F16 runs widened to fp32 eight lanes at a time with the
 * NaN/Inf check fused in (an AND, an ADD and an OR per vector).  F16 blocks
 * holding a subnormal go through the scalar specification.  The tile
 * passes load 8 source rows of 8 elements, widen and check them the same
 * way, transpose the 8x8 block in registers and store 8 destination rows;
 * the check's accumulator is tested once per call. */
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

/* The 8x8 block in v (row i = v[i]) transposed in place. */
static inline void transpose8(__m256 v[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]); /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44); /* a0 b0 c0 d0 | a4 b4 c4 d4 */
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee); /* column 1 | 5 */
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44); /* column 2 | 6 */
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee); /* column 3 | 7 */
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

enum { T_F32, T_F16, T_BF16 };

/* The tile pass of dtype dt (a constant in each caller): 8x8 blocks in
 * registers, the rows and columns past the last whole block by the scalar
 * specification. */
static inline __attribute__((always_inline)) int tile_avx2(int dt, const char *src, size_t stride, size_t kn,
                                                           size_t rn, float *dst, size_t ld)
{
    const llx_wscan_tile_fn ref = dt == T_F32 ? llx_wscan_tile_f32_ref
                                  : dt == T_F16 ? llx_wscan_tile_f16_ref : llx_wscan_tile_bf16_ref;
    const size_t es = dt == T_F32 ? 4 : 2, k8 = kn & ~(size_t)7, r8 = rn & ~(size_t)7;
    const __m256i ex = _mm256_set1_epi32(0x7c00), man = _mm256_set1_epi32(0x3ff), z = _mm256_setzero_si256();
    __m256i acc = z;
    int bad = 0;
    for (size_t r = 0; r < r8; r += 8)
        for (size_t k = 0; k < k8; k += 8) {
            const char *s = src + k * stride + r * es;
            __m256i x[8];
            __m256i sub = z;
            for (int i = 0; i < 8; i++) {
                if (dt == T_F32) {
                    x[i] = _mm256_loadu_si256((const __m256i *)(s + (size_t)i * stride));
                    NF(acc, nf32(x[i]));
                } else if (dt == T_BF16) {
                    const __m128i h = _mm_loadu_si128((const __m128i *)(s + (size_t)i * stride));
                    x[i] = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
                    NF(acc, nf32(x[i]));
                } else {
                    x[i] = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + (size_t)i * stride)));
                    const __m256i e = _mm256_and_si256(x[i], ex);
                    NF(acc, _mm256_add_epi32(e, _mm256_set1_epi32(0x0400)));
                    sub = _mm256_or_si256(sub, _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(x[i], man), z),
                                                                   _mm256_cmpeq_epi32(e, z)));
                }
            }
            float *d = dst + r * ld + k;
            if (dt == T_F16 && !_mm256_testz_si256(sub, sub)) {
                bad |= ref(s, stride, 8, 8, d, ld);
                continue;
            }
            __m256 v[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_castsi256_ps(dt == T_F16 ? widen_f16(x[i]) : x[i]);
            transpose8(v);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + (size_t)i * ld, v[i]);
        }
    bad |= dt == T_F16 ? !_mm256_testz_si256(acc, _mm256_set1_epi32(0x8000)) : any_top32(acc);
    if (k8 < kn) bad |= ref(src + k8 * stride, stride, kn - k8, rn, dst + k8, ld);
    if (r8 < rn) bad |= ref(src + r8 * es, stride, k8, rn - r8, dst + r8 * ld, ld);
    return bad;
}

static int tile_f32_avx2(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    return tile_avx2(T_F32, src, stride, kn, rn, dst, ld);
}

static int tile_f16_avx2(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    return tile_avx2(T_F16, src, stride, kn, rn, dst, ld);
}

static int tile_bf16_avx2(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    return tile_avx2(T_BF16, src, stride, kn, rn, dst, ld);
}

void llx_wscan_fill_avx2(llx_wscan *w)
{
    w->tile_f32 = tile_f32_avx2;
    w->tile_f16 = tile_f16_avx2;
    w->tile_bf16 = tile_bf16_avx2;
    w->name = "avx2";
    w->f32 = f32_avx2;
    w->bf16 = bf16_avx2;
    w->f16 = f16_avx2;
}
