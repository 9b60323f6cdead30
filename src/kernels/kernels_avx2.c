/* kernels/kernels_avx2.c - the avx2 tier: AVX2+FMA kernels (built with
 * -mavx2 -mfma; entered only after the CPU check of kernels_select.c).
 *
 * Float order contract: every output element is reduced with one 8-lane
 * accumulator over k < K8 = K & ~7 (lane j sums k = j mod 8 in increasing
 * k), then hsum8() in a fixed tree, then the tail k = K8 .. K-1 in order,
 * then the bias.  Tiles only decide how many elements share loads, never
 * the order, so a row gives the same bits in any tile, block or thread.
 *
 * int8 products use the sign trick: maddubs(|x|, sign(w, x)) gives exact
 * int16 pair sums because |x|, |w| <= 127 (2 * 127 * 127 < 32767). */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecops.h"
#include "kernels/q8.h"

static inline float hsum8(__m256 v)
{
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

static inline float finish(__m256 acc, const float *w, const float *x, int K8, int K)
{
    float s = hsum8(acc);
    for (int k = K8; k < K; k++) s += w[k] * x[k];
    return s;
}

/* one row x one token */
static inline float dot_row(const float *w, const float *x, int K)
{
    const int K8 = K & ~7;
    __m256 a = _mm256_setzero_ps();
    for (int k = 0; k < K8; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), a);
    return finish(a, w, x, K8, K);
}

/* four rows x one token: decode is weight-streaming bound, so share x loads */
/* four rows x one token; the rows are `rs` rows apart (1: a block of four;
 * a quarter of the matrix: four sequential weight streams at decode) */
static void tile_4x1(float *out, size_t os, const float *x, const float *w, size_t rs, int K)
{
    const int K8 = K & ~7;
    const float *w0 = w, *w1 = w + rs, *w2 = w + 2 * rs, *w3 = w + 3 * rs;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < K8; k += 8) {
        __m256 xv = _mm256_loadu_ps(x + k);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xv, a3);
    }
    out[0] = finish(a0, w0, x, K8, K);
    out[os] = finish(a1, w1, x, K8, K);
    out[2 * os] = finish(a2, w2, x, K8, K);
    out[3 * os] = finish(a3, w3, x, K8, K);
}

/* three rows x four tokens: 12 accumulators, 7 loads per 12 FMAs */
static void tile_3x4(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, int K)
{
    const int K8 = K & ~7;
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * (size_t)ldw;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * (size_t)ldx, *x3 = x + 3 * (size_t)ldx;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    for (int k = 0; k < K8; k += 8) {
        __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k), v2 = _mm256_loadu_ps(w2 + k);
        __m256 xv = _mm256_loadu_ps(x0 + k);
        c00 = _mm256_fmadd_ps(v0, xv, c00);
        c10 = _mm256_fmadd_ps(v1, xv, c10);
        c20 = _mm256_fmadd_ps(v2, xv, c20);
        xv = _mm256_loadu_ps(x1 + k);
        c01 = _mm256_fmadd_ps(v0, xv, c01);
        c11 = _mm256_fmadd_ps(v1, xv, c11);
        c21 = _mm256_fmadd_ps(v2, xv, c21);
        xv = _mm256_loadu_ps(x2 + k);
        c02 = _mm256_fmadd_ps(v0, xv, c02);
        c12 = _mm256_fmadd_ps(v1, xv, c12);
        c22 = _mm256_fmadd_ps(v2, xv, c22);
        xv = _mm256_loadu_ps(x3 + k);
        c03 = _mm256_fmadd_ps(v0, xv, c03);
        c13 = _mm256_fmadd_ps(v1, xv, c13);
        c23 = _mm256_fmadd_ps(v2, xv, c23);
    }
    out[0] = finish(c00, w0, x0, K8, K);
    out[1] = finish(c10, w1, x0, K8, K);
    out[2] = finish(c20, w2, x0, K8, K);
    out[ldo + 0] = finish(c01, w0, x1, K8, K);
    out[ldo + 1] = finish(c11, w1, x1, K8, K);
    out[ldo + 2] = finish(c21, w2, x1, K8, K);
    out[2 * (size_t)ldo + 0] = finish(c02, w0, x2, K8, K);
    out[2 * (size_t)ldo + 1] = finish(c12, w1, x2, K8, K);
    out[2 * (size_t)ldo + 2] = finish(c22, w2, x2, K8, K);
    out[3 * (size_t)ldo + 0] = finish(c03, w0, x3, K8, K);
    out[3 * (size_t)ldo + 1] = finish(c13, w1, x3, K8, K);
    out[3 * (size_t)ldo + 2] = finish(c23, w2, x3, K8, K);
}

static void matmul_f32_avx2(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, const float *bias,
                            int T, int R, int K)
{
    int t = 0;
    /* token tiles of 4 sweep the rows in groups of 3: weights are read T/4 times */
    for (; t + 4 <= T; t += 4) {
        const float *xt = x + (size_t)t * ldx;
        float *ot = out + (size_t)t * ldo;
        int r = 0;
        for (; r + 3 <= R; r += 3) tile_3x4(ot + r, ldo, xt, ldx, w + (size_t)r * ldw, ldw, K);
        for (; r < R; r++)
            for (int j = 0; j < 4; j++) ot[(size_t)j * ldo + r] = dot_row(w + (size_t)r * ldw, xt + (size_t)j * ldx, K);
    }
    for (; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        float *ot = out + (size_t)t * ldo;
        const int q = R / 4; /* rows r, r+q, r+2q, r+3q: one stream per quarter */
        for (int r = 0; r < q; r++) tile_4x1(ot + r, (size_t)q, xt, w + (size_t)r * ldw, (size_t)q * ldw, K);
        for (int r = 4 * q; r < R; r++) ot[r] = dot_row(w + (size_t)r * ldw, xt, K);
    }
    if (bias)
        for (t = 0; t < T; t++)
            for (int r = 0; r < R; r++) out[(size_t)t * ldo + r] += bias[r];
}

static inline int32_t hsum8_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* the four horizontal sums of a0..a3 in one go (int32: order is irrelevant) */
static inline void hsum4_i32(int32_t *out, ptrdiff_t stride, __m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    out[0] = _mm_cvtsi128_si32(s);
    out[stride] = _mm_extract_epi32(s, 1);
    out[2 * stride] = _mm_extract_epi32(s, 2);
    out[3 * stride] = _mm_extract_epi32(s, 3);
}

/* acc += sum over 32 pairs of w * x, as 8 int32 lanes; ax = |x| */
static inline __m256i madd_i8(__m256i acc, __m256i ax, __m256i xv, __m256i wv, __m256i ones)
{
    __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv, xv));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
}

static inline int32_t tail_i8(const int8_t *w, const int8_t *x, int k, int K)
{
    int32_t s = 0;
    for (; k < K; k++) s += (int32_t)w[k] * (int32_t)x[k];
    return s;
}

static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, int n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int n32 = n & ~31;
    __m256i acc = _mm256_setzero_si256();
    for (int k = 0; k < n32; k += 32) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(b + k));
        acc = madd_i8(acc, _mm256_abs_epi8(xv), xv, _mm256_loadu_si256((const __m256i *)(a + k)), ones);
    }
    return hsum8_i32(acc) + tail_i8(a, b, n32, n);
}

/* ---- packed int8 weights (layout in kernels.h) ---- */

/* row i (0, 1) of the pair at g: chunk c at g + 2c + 32i; tails after 2*K32 */
static inline int32_t pair_tail(const int8_t *g, int i, const int8_t *x, int K32, int K)
{
    if (K32 == K) return 0;
    return tail_i8(g + 2 * (size_t)K32 + (size_t)i * (K - K32) - K32, x, K32, K);
}

static inline __m256i ld(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Software prefetch 2 KiB ahead in each stream.  A stage's matrix is only
 * 1-4 MB per node, and the hardware prefetcher needs a while to ramp up on
 * each of the four new streams.  Measured in the engine (W8A8 medium,
 * decode): no prefetch 80 tok/s on one thread, 1 KiB 84-90, 2 KiB 92-100;
 * 512 B was worse and 4 KiB no better. */
#define PF_DIST 2048

/* Decode: four pairs from four quarters of the matrix at once, so one core
 * keeps four sequential weight streams in flight.  out[q*part + i] for the
 * pairs at rows q*part + r, r < part. */
static void gemv_4streams(int32_t *out, const int8_t *x, const int8_t *wp, int part, int K)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int K32 = K & ~31;
    for (int r = 0; r < part; r += 2) {
        const int8_t *g0 = wp + (size_t)r * K, *g1 = g0 + (size_t)part * K;
        const int8_t *g2 = g1 + (size_t)part * K, *g3 = g2 + (size_t)part * K;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (int k = 0; k < K32; k += 32) {
            const __m256i xv = ld(x + k), ax = _mm256_abs_epi8(xv);
            const size_t o = 2 * (size_t)k;
            _mm_prefetch((const char *)(g0 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(g1 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(g2 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(g3 + o + PF_DIST), _MM_HINT_T0);
            a0 = madd_i8(a0, ax, xv, ld(g0 + o), ones);
            a1 = madd_i8(a1, ax, xv, ld(g0 + o + 32), ones);
            b0 = madd_i8(b0, ax, xv, ld(g1 + o), ones);
            b1 = madd_i8(b1, ax, xv, ld(g1 + o + 32), ones);
            c0 = madd_i8(c0, ax, xv, ld(g2 + o), ones);
            c1 = madd_i8(c1, ax, xv, ld(g2 + o + 32), ones);
            d0 = madd_i8(d0, ax, xv, ld(g3 + o), ones);
            d1 = madd_i8(d1, ax, xv, ld(g3 + o + 32), ones);
        }
        int32_t s4[4];
        hsum4_i32(s4, 1, a0, b0, c0, d0);
        out[r] = s4[0] + pair_tail(g0, 0, x, K32, K);
        out[part + r] = s4[1] + pair_tail(g1, 0, x, K32, K);
        out[2 * part + r] = s4[2] + pair_tail(g2, 0, x, K32, K);
        out[3 * part + r] = s4[3] + pair_tail(g3, 0, x, K32, K);
        hsum4_i32(s4, 1, a1, b1, c1, d1);
        out[r + 1] = s4[0] + pair_tail(g0, 1, x, K32, K);
        out[part + r + 1] = s4[1] + pair_tail(g1, 1, x, K32, K);
        out[2 * part + r + 1] = s4[2] + pair_tail(g2, 1, x, K32, K);
        out[3 * part + r + 1] = s4[3] + pair_tail(g3, 1, x, K32, K);
    }
}

/* one pair x one token */
static void gp_2x1(int32_t *acc, const int8_t *x, const int8_t *g, int K)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int K32 = K & ~31;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (int k = 0; k < K32; k += 32) {
        const __m256i xv = ld(x + k), ax = _mm256_abs_epi8(xv);
        a0 = madd_i8(a0, ax, xv, ld(g + 2 * (size_t)k), ones);
        a1 = madd_i8(a1, ax, xv, ld(g + 2 * (size_t)k + 32), ones);
    }
    acc[0] = hsum8_i32(a0) + pair_tail(g, 0, x, K32, K);
    acc[1] = hsum8_i32(a1) + pair_tail(g, 1, x, K32, K);
}

/* Prefill: one pair x four tokens; |w| is shared by the tokens (the sign
 * trick with the roles of w and x swapped). */
static void gp_2x4(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *g, int K)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int K32 = K & ~31;
    __m256i c[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) c[i][j] = _mm256_setzero_si256();
    for (int k = 0; k < K32; k += 32) {
        const __m256i w0 = ld(g + 2 * (size_t)k), w1 = ld(g + 2 * (size_t)k + 32);
        const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
        for (int j = 0; j < 4; j++) {
            const __m256i xv = ld(x + (size_t)j * ldx + k);
            c[0][j] = madd_i8(c[0][j], aw0, w0, xv, ones);
            c[1][j] = madd_i8(c[1][j], aw1, w1, xv, ones);
        }
    }
    int32_t s4[4];
    for (int i = 0; i < 2; i++) {
        hsum4_i32(s4, 1, c[i][0], c[i][1], c[i][2], c[i][3]);
        for (int j = 0; j < 4; j++) acc[(size_t)j * lda + i] = s4[j] + pair_tail(g, i, x + (size_t)j * ldx, K32, K);
    }
}

/* Prefill: two pairs (4 rows) x two tokens; |x| is shared by the 4 rows. */
static void gp_4x2(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *g, int K)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int K32 = K & ~31;
    const int8_t *h = g + 2 * (size_t)K, *x0 = x, *x1 = x + ldx;
    __m256i c00 = _mm256_setzero_si256(), c10 = c00, c20 = c00, c30 = c00;
    __m256i c01 = c00, c11 = c00, c21 = c00, c31 = c00;
    for (int k = 0; k < K32; k += 32) {
        const size_t o = 2 * (size_t)k;
        const __m256i w0 = ld(g + o), w1 = ld(g + o + 32), w2 = ld(h + o), w3 = ld(h + o + 32);
        __m256i xv = ld(x0 + k), ax = _mm256_abs_epi8(xv);
        c00 = madd_i8(c00, ax, xv, w0, ones);
        c10 = madd_i8(c10, ax, xv, w1, ones);
        c20 = madd_i8(c20, ax, xv, w2, ones);
        c30 = madd_i8(c30, ax, xv, w3, ones);
        xv = ld(x1 + k), ax = _mm256_abs_epi8(xv);
        c01 = madd_i8(c01, ax, xv, w0, ones);
        c11 = madd_i8(c11, ax, xv, w1, ones);
        c21 = madd_i8(c21, ax, xv, w2, ones);
        c31 = madd_i8(c31, ax, xv, w3, ones);
    }
    int32_t s4[4];
    hsum4_i32(s4, 1, c00, c10, c20, c30);
    acc[0] = s4[0] + pair_tail(g, 0, x0, K32, K);
    acc[1] = s4[1] + pair_tail(g, 1, x0, K32, K);
    acc[2] = s4[2] + pair_tail(h, 0, x0, K32, K);
    acc[3] = s4[3] + pair_tail(h, 1, x0, K32, K);
    hsum4_i32(s4, 1, c01, c11, c21, c31);
    acc[lda + 0] = s4[0] + pair_tail(g, 0, x1, K32, K);
    acc[lda + 1] = s4[1] + pair_tail(g, 1, x1, K32, K);
    acc[lda + 2] = s4[2] + pair_tail(h, 0, x1, K32, K);
    acc[lda + 3] = s4[3] + pair_tail(h, 1, x1, K32, K);
}

void llx_matmul_i8p_multi_avx2(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R,
                               int K); /* gemm_i8_avx2.c */

/* From this many tokens the blocked GEMM of gemm_i8_avx2.c (which prepares
 * each weight block once for all tokens) is faster than the tiles below. */
#define MULTI_MIN_T 8

static void matmul_i8p_avx2(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    const int pairs_end = R & ~1, quads_end = R & ~3;
    int t = 0;
    if (T >= MULTI_MIN_T) {
        llx_matmul_i8p_multi_avx2(acc, lda, x, ldx, wp, T, pairs_end, K);
        t = T;
    }
    for (; t + 4 <= T; t += 4) {
        for (int r = 0; r < quads_end; r += 4) {
            const int8_t *g = wp + (size_t)r * K;
            int32_t *a = acc + (size_t)t * lda + r;
            const int8_t *xt = x + (size_t)t * ldx;
            gp_4x2(a, lda, xt, ldx, g, K);
            gp_4x2(a + 2 * (size_t)lda, lda, xt + 2 * (size_t)ldx, ldx, g, K);
        }
        if (quads_end < pairs_end)
            gp_2x4(acc + (size_t)t * lda + quads_end, lda, x + (size_t)t * ldx, ldx, wp + (size_t)quads_end * K, K);
    }
    for (; t < T; t++) {
        int32_t *at = acc + (size_t)t * lda;
        const int8_t *xt = x + (size_t)t * ldx;
        const int part = (R / 4) & ~1; /* rows per stream, whole pairs */
        if (part >= 2) gemv_4streams(at, xt, wp, part, K);
        for (int r = part >= 2 ? 4 * part : 0; r < pairs_end; r += 2) gp_2x1(at + r, xt, wp + (size_t)r * K, K);
    }
    if (pairs_end < R) /* an odd last row, stored as it is */
        for (t = 0; t < T; t++)
            acc[(size_t)t * lda + R - 1] = dot_i8_avx2(wp + (size_t)(R - 1) * K, x + (size_t)t * ldx, K);
}

static void gemm_i8_avx2(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    llx_gemm_i8_tiled(llx_kernels_tier(LLX_TIER_AVX2), ep, x, ldx, wp, T, R, K);
}

/* separate multiply and add (no FMA): the same roundings as the reference */
static void dequant_f32_avx2(float *y, const int32_t *acc, const float *ws, const float *b, float s, int n)
{
    const __m256 sv = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + i)));
        const __m256 v = _mm256_mul_ps(a, _mm256_mul_ps(sv, _mm256_loadu_ps(ws + i)));
        _mm256_storeu_ps(y + i, _mm256_add_ps(v, b ? _mm256_loadu_ps(b + i) : _mm256_setzero_ps()));
    }
    for (; i < n; i++) y[i] = (float)acc[i] * (s * ws[i]) + (b ? b[i] : 0.0f);
}

static void scale_i32_avx2(float *y, const int32_t *a, float s, int n)
{
    const __m256 sv = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(a + i))), sv));
    for (; i < n; i++) y[i] = (float)a[i] * s;
}

/* Clamp in float first (the bounds are integers, so clamping before or
 * after rounding agrees; max_ps returns its second operand for NaN, giving
 * -127 like the reference), then cvtps_epi32 rounds half to even. */
static void quant_i8_avx2(int8_t *q, const float *y, float inv, int n)
{
    const __m256 iv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(y + i), iv), lo), hi);
        const __m256i r = _mm256_cvtps_epi32(v);
        const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(p16, p16));
    }
    for (; i < n; i++) q[i] = llx_q8(y[i] * inv);
}

/* eight int32 vectors -> the vector of their eight horizontal sums */
static inline __m256i hsum8x8_i32(const __m256i r[8])
{
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(r[0], r[1]), _mm256_hadd_epi32(r[2], r[3]));
    const __m256i g = _mm256_hadd_epi32(_mm256_hadd_epi32(r[4], r[5]), _mm256_hadd_epi32(r[6], r[7]));
    /* h: sums of r0..r3 over each 128-bit half; g: of r4..r7 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(h, g, 0x20), _mm256_permute2x128_si256(h, g, 0x31));
}

/* Eight positions at a time (8 rows of K, all heads: one sequential pass
 * over the layer's K cache), each head's eight dot products reduced
 * together. */
static void attn_qk_i8_avx2(int32_t *s, int lds, const int8_t *q, const int8_t *k, int ldk, int H, int group, int n,
                            int hd)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int d32 = hd & ~31, n8 = n & ~7;
    const int span = ((H + group - 1) / group) * hd; /* the KV heads' bytes of a row */
    for (int p = 0; p < n8; p += 8) {
        const int8_t *kb = k + (size_t)p * ldk;
        /* K is cold (the weight stream evicted it): fetch two blocks ahead */
        for (int i = 16; i < 24; i++)
            for (int o = 0; o < span; o += 64) _mm_prefetch((const char *)(kb + (size_t)i * ldk + o), _MM_HINT_T0);
        for (int h = 0; h < H; h++) {
            const int8_t *qh = q + (size_t)h * hd, *kh = kb + (size_t)(h / group) * hd;
            __m256i r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) r[i] = _mm256_setzero_si256();
            for (int d = 0; d < d32; d += 32) {
                const __m256i qv = ld(qh + d), aq = _mm256_abs_epi8(qv);
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) r[i] = madd_i8(r[i], aq, qv, ld(kh + (size_t)i * ldk + d), ones);
            }
            __m256i sum = hsum8x8_i32(r);
            if (d32 < hd) {
                int32_t t[8];
                for (int i = 0; i < 8; i++) t[i] = tail_i8(kh + (size_t)i * ldk, qh, d32, hd);
                sum = _mm256_add_epi32(sum, _mm256_loadu_si256((const __m256i *)t));
            }
            _mm256_storeu_si256((__m256i *)(s + (size_t)h * lds + p), sum);
        }
    }
    for (int p = n8; p < n; p++)
        for (int h = 0; h < H; h++)
            s[(size_t)h * lds + p] = dot_i8_avx2(q + (size_t)h * hd, k + (size_t)p * ldk + (size_t)(h / group) * hd, hd);
}

/* Chunk by chunk (one sequential pass over the layer's V cache), head by
 * head, 8 rows at a time against the chunk's 32 probabilities: p is
 * unsigned, so maddubs takes it as is. */
static void attn_pv_i8_avx2(int32_t *acc, const int8_t *p, int ldp, const int8_t *v, size_t cs, int H, int group,
                            int n, int hd)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int chunks = (n + 31) / 32, d8 = hd & ~7;
    memset(acc, 0, (size_t)H * hd * sizeof *acc);
    for (int c = 0; c < chunks; c++)
        for (int h = 0; h < H; h++) {
            const int8_t *ph = p + (size_t)h * ldp + 32 * c;
            const __m256i pv = ld(ph);
            const int8_t *chunk = v + (size_t)c * cs + (size_t)(h / group) * 32 * hd;
            int32_t *ah = acc + (size_t)h * hd;
            for (int d = 0; d < d8; d += 8) {
                const int8_t *rows = chunk + (size_t)d * 32;
                __m256i r[8];
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) r[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(pv, ld(rows + 32 * i)), ones);
                __m256i *a = (__m256i *)(ah + d);
                _mm256_storeu_si256(a, _mm256_add_epi32(_mm256_loadu_si256(a), hsum8x8_i32(r)));
            }
            for (int d = d8; d < hd; d++)
                for (int i = 0; i < 32; i++) ah[d] += (int32_t)ph[i] * chunk[(size_t)d * 32 + i];
        }
}

/* llx_exp_ref, eight at a time (same clamps, rounding and fused steps) */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693145751953125f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

static void layernorm_f32_avx2(float *out, const float *x, const float *g, const float *b, int C, float eps)
{
    const int C8 = C & ~7;
    __m256 l = _mm256_setzero_ps();
    for (int i = 0; i < C8; i += 8) l = _mm256_add_ps(l, _mm256_loadu_ps(x + i));
    float s = hsum8(l);
    for (int i = C8; i < C; i++) s += x[i];
    const float mean = s / (float)C;
    const __m256 mv = _mm256_set1_ps(mean);
    l = _mm256_setzero_ps();
    for (int i = 0; i < C8; i += 8) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), mv);
        l = _mm256_add_ps(l, _mm256_mul_ps(d, d));
    }
    float v = hsum8(l);
    for (int i = C8; i < C; i++) {
        const float d = x[i] - mean;
        v += d * d;
    }
    const float rstd = 1.0f / sqrtf(v / (float)C + eps);
    const __m256 rv = _mm256_set1_ps(rstd);
    int i = 0;
    for (; i < C8; i += 8) {
        const __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv), rv), _mm256_loadu_ps(g + i));
        _mm256_storeu_ps(out + i, _mm256_add_ps(y, _mm256_loadu_ps(b + i)));
    }
    for (; i < C; i++) out[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

static void rmsnorm_f32_avx2(float *out, const float *x, const float *g, int C, float eps)
{
    const int C8 = C & ~7;
    __m256 l = _mm256_setzero_ps();
    for (int i = 0; i < C8; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        l = _mm256_add_ps(l, _mm256_mul_ps(v, v));
    }
    float s = hsum8(l);
    for (int i = C8; i < C; i++) s += x[i] * x[i];
    const float rstd = 1.0f / sqrtf(s / (float)C + eps);
    const __m256 rv = _mm256_set1_ps(rstd);
    int i = 0;
    for (; i < C8; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), rv), _mm256_loadu_ps(g + i)));
    for (; i < C; i++) out[i] = x[i] * rstd * g[i];
}

/* products rounded separately, then the sum (as the reference: no FMA) */
static void rope_f32_avx2(float *x, const float *cs, int half)
{
    int i = 0;
    for (; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + half + i);
        const __m256 c = _mm256_loadu_ps(cs + i), s = _mm256_loadu_ps(cs + half + i);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
        _mm256_storeu_ps(x + half + i, _mm256_add_ps(_mm256_mul_ps(b, c), _mm256_mul_ps(a, s)));
    }
    for (; i < half; i++) {
        const float a = x[i], b = x[i + half], c = cs[i], s1 = cs[half + i];
        const float ac = a * c, bs = b * s1, bc = b * c, as = a * s1;
        x[i] = ac - bs;
        x[i + half] = bc + as;
    }
}

static void silu_f32_avx2(float *x, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, neg)))));
    }
    for (; i < n; i++) x[i] = llx_silu1(x[i]);
}

static void gelu_f32_avx2(float *x, int n)
{
    const __m256 k = _mm256_set1_ps(0.7978845608028654f), c = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f), m2 = _mm256_set1_ps(-2.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        /* u = k * (x + ((0.044715 * x) * x) * x), products left to right as in C */
        const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(c, v), v), v);
        const __m256 u = _mm256_mul_ps(k, _mm256_add_ps(v, cube));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_mul_ps(m2, u)))));
    }
    for (; i < n; i++) x[i] = llx_gelu1(x[i]);
}

/* max(m, x[i0 .. n)) as the references compute it (m = x > m ? x : m):
 * in 8 lanes first, where max_ps returns its second operand (the running
 * maximum) when x is NaN, so a NaN x is skipped and a NaN m stays. */
static inline float max_from(const float *x, int i0, int n, float m)
{
    int i = i0;
    if (i + 8 <= n) {
        __m256 mx = _mm256_set1_ps(m);
        for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(_mm256_loadu_ps(x + i), mx);
        float l[8];
        _mm256_storeu_ps(l, mx);
        for (int k = 0; k < 8; k++) m = l[k] > m ? l[k] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static void softmax_f32_avx2(float *x, int n)
{
    const float m = max_from(x, 1, n, x[0]);
    int i;
    const __m256 mv = _mm256_set1_ps(m);
    const int n8 = n & ~7;
    __m256 l = _mm256_setzero_ps();
    for (i = 0; i < n8; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        l = _mm256_add_ps(l, e);
    }
    float s = hsum8(l); /* ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) */
    for (i = n8; i < n; i++) s += x[i] = llx_exp_ref(x[i] - m);
    const __m256 inv = _mm256_set1_ps(1.0f / s);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / s;
}

/* The maximum of x[0..n) and -inf, NaN skipped: four accumulators, so
 * that the max's latency does not bound the loop.  max is exact; only
 * which zero (+0 or -0) a tie of zeros keeps depends on the order, and
 * the search below finds either as equal. */
static float max4_from(const float *x, int n)
{
    int i = 0;
    float m = -INFINITY;
    if (n >= 32) {
        __m256 a = _mm256_set1_ps(m), b = a, c = a, d = a;
        for (; i + 32 <= n; i += 32) {
            a = _mm256_max_ps(_mm256_loadu_ps(x + i), a);
            b = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), b);
            c = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), c);
            d = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), d);
        }
        float l[8];
        _mm256_storeu_ps(l, _mm256_max_ps(_mm256_max_ps(a, b), _mm256_max_ps(c, d)));
        for (int k = 0; k < 8; k++) m = l[k] > m ? l[k] : m;
    }
    return max_from(x, i, n, m);
}

/* the maximum, then the first index holding it (eight at a time), NaN
 * read as -inf; when the maximum is -inf (all -inf or NaN) the first -inf
 * or NaN, found one at a time */
static int argmax_f32_avx2(const float *x, int n)
{
    const float m = max4_from(x, n);
    int i = 0;
    if (m != -INFINITY) {
        const __m256 mv = _mm256_set1_ps(m);
        for (; i + 8 <= n; i += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), mv, _CMP_EQ_OQ));
            if (hit) return i + __builtin_ctz((unsigned)hit);
        }
    }
    for (; i < n; i++)
        if ((x[i] == x[i] ? x[i] : -INFINITY) == m) return i;
    return 0;
}

/* The bandwidth probe's 4-stream pattern: the four quarters of a span
 * read at once, a whole cache line per stream per step, prefetched ahead
 * as the int8 decode GEMV does.  The probe calls it on spans of at most
 * 4 MiB: four streams 128 MiB or more apart (a power of two) read at half
 * the speed on the Zen 4 VM (docs/performance.md, the probe). */
#define PROBE_PF_DIST 1024 /* the probe's best distance (2 KiB reads slower) */
static uint64_t read_bytes_avx2(const void *p, size_t n)
{
    const size_t len = n / 4, q = len / 64; /* bytes, whole cache lines per stream */
    const char *s0 = p, *s1 = s0 + len, *s2 = s1 + len, *s3 = s2 + len;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < q; i++) {
        const size_t o = i * 64;
        _mm_prefetch(s0 + o + PROBE_PF_DIST, _MM_HINT_T0);
        _mm_prefetch(s1 + o + PROBE_PF_DIST, _MM_HINT_T0);
        _mm_prefetch(s2 + o + PROBE_PF_DIST, _MM_HINT_T0);
        _mm_prefetch(s3 + o + PROBE_PF_DIST, _MM_HINT_T0);
        a0 = _mm256_add_epi64(a0, _mm256_add_epi64(ld((const int8_t *)s0 + o), ld((const int8_t *)s0 + o + 32)));
        a1 = _mm256_add_epi64(a1, _mm256_add_epi64(ld((const int8_t *)s1 + o), ld((const int8_t *)s1 + o + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_add_epi64(ld((const int8_t *)s2 + o), ld((const int8_t *)s2 + o + 32)));
        a3 = _mm256_add_epi64(a3, _mm256_add_epi64(ld((const int8_t *)s3 + o), ld((const int8_t *)s3 + o + 32)));
    }
    if (len % 64) { /* n % 128 == 0: a last half line per stream */
        const size_t o = q * 64;
        a0 = _mm256_add_epi64(a0, ld((const int8_t *)s0 + o));
        a1 = _mm256_add_epi64(a1, ld((const int8_t *)s1 + o));
        a2 = _mm256_add_epi64(a2, ld((const int8_t *)s2 + o));
        a3 = _mm256_add_epi64(a3, ld((const int8_t *)s3 + o));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, a0);
    return out[0] + out[1] + out[2] + out[3];
}

/* One stream, two whole cache lines per step in four independent sums, no
 * software prefetch: the hardware prefetcher follows a single stream on its
 * own.  (512-bit loads read no faster here: the loop waits on memory.) */
static uint64_t read_seq_avx2(const void *p, size_t n)
{
    const int8_t *s = p;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t o = 0; o < n; o += 128) {
        a0 = _mm256_add_epi64(a0, ld(s + o));
        a1 = _mm256_add_epi64(a1, ld(s + o + 32));
        a2 = _mm256_add_epi64(a2, ld(s + o + 64));
        a3 = _mm256_add_epi64(a3, ld(s + o + 96));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, a0);
    return out[0] + out[1] + out[2] + out[3];
}

void llx_gemm_q4_avx2(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K,
                      int G); /* q4_avx2.c */
void llx_fwht_f32_avx2(float *x, int T, int ld, const llx_hadamard *h); /* fwht_avx2.c */

void llx_kernels_fill_avx2(llx_kernels *k)
{
    k->name = "avx2";
    k->tier = LLX_TIER_AVX2;
    k->matmul_f32 = matmul_f32_avx2;
    k->matmul_i8p = matmul_i8p_avx2;
    k->gemm_i8 = gemm_i8_avx2;
    k->dequant_f32 = dequant_f32_avx2;
    k->scale_i32 = scale_i32_avx2;
    k->quant_i8 = quant_i8_avx2;
    k->attn_qk_i8 = attn_qk_i8_avx2;
    k->attn_pv_i8 = attn_pv_i8_avx2;
    k->layernorm_f32 = layernorm_f32_avx2;
    k->rmsnorm_f32 = rmsnorm_f32_avx2;
    k->silu_f32 = silu_f32_avx2;
    k->rope_f32 = rope_f32_avx2;
    k->argmax_f32 = argmax_f32_avx2;
    k->gelu_f32 = gelu_f32_avx2;
    k->softmax_f32 = softmax_f32_avx2;
    k->dot_i8 = dot_i8_avx2;
    k->read_bytes = read_bytes_avx2;
    k->read_seq = read_seq_avx2;
    k->q4_rows = 8;
    k->gemm_q4 = llx_gemm_q4_avx2;
    k->fwht_f32 = llx_fwht_f32_avx2;
}
