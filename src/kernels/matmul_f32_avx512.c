/* kernels/matmul_f32_avx512.c - the avx512 tier's fp32 GEMM, in the vector
 * tiers' summation order (kernels.h): its results equal the avx2 tier's bit
 * for bit.  Built with AVX-512 flags; entered only after the CPU check.
 *
 * Prefill goes 16 tokens at a time (below, "16 tokens in the lanes"): a
 * zmm holds one of the 8 lanes of 16 elements, x is packed transposed, and
 * the weights are broadcast from memory by the multiply-adds themselves, so
 * the vector unit runs nothing but the multiply-adds.  A block of 8 tokens
 * left over goes to the pair kernel: a zmm holds the 8-lane accumulators of
 * two elements, tokens t and t+1 of one row; each step multiplies the
 * pair's x[k .. k+7] (two halves) by the row's w[k .. k+7] broadcast to both
 * halves, a tile is 4 token pairs x 6 rows (24 accumulators).  Both keep
 * each lane's sequence of fused multiply-adds and combine the lanes with the
 * avx2 tree, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).  Fewer than 8 tokens
 * (decode) go to the avx2 kernel, which streams four rows at once.
 *
 * Rows go in chunks, and every token block passes over a chunk before the
 * next, so prefill reads each weight from memory once, not once per token
 * block (the avx2 kernel sweeps the whole matrix for every 4 tokens).
 *
 * On Zen 4 a zmm FMA is two 256-bit halves, so AVX-512 brings no more
 * multiply-adds per cycle than AVX2; the gains are the 32 registers (24
 * accumulators), the broadcast operands (the pair kernel spends a broadcast
 * of 8 floats per row and step besides), rows a multiple of 4 KiB apart
 * not evicting each other in L1 (the avx2 kernel's row streams do: K =
 * 1024, 3072, 4096), and the chunks.  GPT-2 small's four shapes at T=128 over 12
 * layers' weights (one core, thread CPU time, best of 8, load 10): QKV,
 * proj, FC1, FC2 at 89-93 GFLOP/s with 16 tokens in the lanes, 82-85 with
 * the pair kernel alone (issue 13). */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

static void (*matmul_below)(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, const float *bias,
                            int T, int R, int K);

/* The eight accumulators v[0..7] (each two elements, low and high half)
 * reduced with the avx2 tree; result lane 4q + j is the element of
 * quarter q of combine(v[2j], v[2j+1]): q = 0, 1: v[2j]'s low, high; q = 2,
 * 3: v[2j+1]'s low, high. */
static inline __m512 reduce8(const __m512 *v)
{
    __m512 c[4], d[2];
    for (int j = 0; j < 4; j++) /* l_i + l_{i+4} for each element's lanes i < 4 */
        c[j] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int i = 0; i < 2; i++) /* c0 + c2, c1 + c3 */
        d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

#define KB 512 /* columns per block */
#define RC 96  /* rows per chunk at most: 16 row tiles share a packed block of x */
#define L2_W ((size_t)384 << 10) /* weight bytes per chunk: they stay in the 1 MiB L2 with x */

/* 8 tokens (xp: their x[k0 .. k1) packed in pairs, 8 columns x 2 tokens
 * per 64 bytes) x 6 rows (w rows wr[0..5]) over k in [k0, k1) (multiples
 * of 8), continuing the 24 accumulators in acc (zero when k0 is 0); with
 * last set, acc[16 * g + l] becomes the sums of rows 2g, 2g+1 as reduce8
 * orders them.  Storing and reloading the accumulators between blocks
 * changes no bit: each lane's sequence of operations is the same. */
static void tile_8x6(float *acc, const float *xp, const float *const *wr, int k0, int k1, int last)
{
#define A(p, r) a##p##r
#define ld(i) (k0 ? _mm512_load_ps(acc + 16 * (i)) : _mm512_setzero_ps())
#define LOAD6(p)                                                                                                   \
    __m512 A(p, 0) = ld(6 * p), A(p, 1) = ld(6 * p + 1), A(p, 2) = ld(6 * p + 2), A(p, 3) = ld(6 * p + 3),       \
           A(p, 4) = ld(6 * p + 4), A(p, 5) = ld(6 * p + 5);
    LOAD6(0) LOAD6(1) LOAD6(2) LOAD6(3)
    for (int k = k0; k < k1; k += 8, xp += 64) {
        const __m512 x0 = _mm512_load_ps(xp), x1 = _mm512_load_ps(xp + 16), x2 = _mm512_load_ps(xp + 32),
                     x3 = _mm512_load_ps(xp + 48);
#define ROW(r)                                                                                                     \
    {                                                                                                              \
        const __m512 wv = _mm512_broadcast_f32x8(_mm256_loadu_ps(wr[r] + k));                                      \
        A(0, r) = _mm512_fmadd_ps(wv, x0, A(0, r));                                                                \
        A(1, r) = _mm512_fmadd_ps(wv, x1, A(1, r));                                                                \
        A(2, r) = _mm512_fmadd_ps(wv, x2, A(2, r));                                                                \
        A(3, r) = _mm512_fmadd_ps(wv, x3, A(3, r));                                                                \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    if (!last) {
        const __m512 all[24] = {A(0, 0), A(0, 1), A(0, 2), A(0, 3), A(0, 4), A(0, 5), A(1, 0), A(1, 1),
                                A(1, 2), A(1, 3), A(1, 4), A(1, 5), A(2, 0), A(2, 1), A(2, 2), A(2, 3),
                                A(2, 4), A(2, 5), A(3, 0), A(3, 1), A(3, 2), A(3, 3), A(3, 4), A(3, 5)};
        for (int i = 0; i < 24; i++) _mm512_store_ps(acc + 16 * i, all[i]);
        return;
    }
    /* group g: rows 2g, 2g+1 of the four pairs, in reduce8's order */
    const __m512 g0[8] = {A(0, 0), A(0, 1), A(1, 0), A(1, 1), A(2, 0), A(2, 1), A(3, 0), A(3, 1)};
    const __m512 g1[8] = {A(0, 2), A(0, 3), A(1, 2), A(1, 3), A(2, 2), A(2, 3), A(3, 2), A(3, 3)};
    const __m512 g2[8] = {A(0, 4), A(0, 5), A(1, 4), A(1, 5), A(2, 4), A(2, 5), A(3, 4), A(3, 5)};
    _mm512_store_ps(acc, reduce8(g0));
    _mm512_store_ps(acc + 16, reduce8(g1));
    _mm512_store_ps(acc + 32, reduce8(g2));
#undef LOAD6
#undef ld
#undef A
}

/* Where reduce8 put element (token j, row i of the pair group g = i / 2):
 * v[2j'] holds pair j' = j / 2 and row 2g, v[2j'+1] row 2g+1; quarter q =
 * 2 * (row is odd) + (token is odd). */
static inline int lane(int j, int i) { return 4 * (2 * (i & 1) + (j & 1)) + j / 2; }

/* x[k0 .. k1) of tokens xr[0..7] in pairs: per 8 columns, tokens 0,1 then 2,3 ... */
static void pack_x(float *xp, const float *const *xr, int k0, int k1)
{
    for (int k = k0; k < k1; k += 8, xp += 64)
        for (int p = 0; p < 4; p++) {
            _mm256_store_ps(xp + 16 * p, _mm256_loadu_ps(xr[2 * p] + k));
            _mm256_store_ps(xp + 16 * p + 8, _mm256_loadu_ps(xr[2 * p + 1] + k));
        }
}

typedef struct f32_args {
    float *out;
    int ldo, ldx, ldw, K;
    const float *x, *w, *bias;
} f32_args;

/* tokens [t, t + 8) x rows [r0, r0 + nr), nr <= RC: x is packed block by
 * block once for all the chunk's row tiles (rows far apart in memory would
 * also fall in the same L1 sets when a row is a multiple of 4 KiB) */
static void chunk(const f32_args *a, int t, int r0, int nr)
{
    _Alignas(64) float xp[KB * 8];
    _Alignas(64) float acc[RC / 6][24 * 16];
    const int K8 = a->K & ~7, tiles = (nr + 5) / 6;
    const float *xr[8];
    for (int j = 0; j < 8; j++) xr[j] = a->x + (size_t)(t + j) * a->ldx;
    for (int k0 = 0;; k0 += KB) {
        const int k1 = K8 - k0 < KB ? K8 : k0 + KB;
        pack_x(xp, xr, k0, k1);
        for (int i = 0; i < tiles; i++) {
            const float *wr[6];
            for (int q = 0; q < 6; q++) wr[q] = a->w + (size_t)(r0 + (6 * i + q < nr ? 6 * i + q : nr - 1)) * a->ldw;
            tile_8x6(acc[i], xp, wr, k0, k1, k1 == K8);
        }
        if (k1 == K8) break;
    }
    for (int j = 0; j < 8; j++)
        for (int r = 0; r < nr; r++) {
            const float *wr = a->w + (size_t)(r0 + r) * a->ldw;
            float s = acc[r / 6][16 * (r % 6 / 2) + lane(j, r % 6)];
            for (int k = K8; k < a->K; k++) s += wr[k] * xr[j][k];
            a->out[(size_t)(t + j) * a->ldo + r0 + r] = a->bias ? s + a->bias[r0 + r] : s;
        }
}

/* ---- 16 tokens in the lanes: the prefill kernel ----
 * A zmm holds one lane l of 16 elements: tokens t .. t+15 of one row.  Each
 * step multiplies the tokens' x[k + l] (x packed transposed: 16 tokens per
 * column) by the row's w[k + l], broadcast from memory by the multiply-add
 * itself, so no instruction but the 24 multiply-adds uses the vector unit;
 * a tile is 3 rows x the 8 lanes (24 accumulators) of 16 tokens.  Each
 * lane's sequence of fused multiply-adds, and the tree that combines the
 * lanes, are the avx2 kernel's, so the bits are the same. */

#define KB16 384 /* columns per block: 24 KiB of packed x, in L1 */
#define RC16 144 /* rows per chunk at most: x is packed once per 48 row tiles */
#define W16 ((size_t)3 << 20) /* weight bytes per chunk at most, in L2 and L3: 4 bytes of
                                * weights feed 16 multiply-adds, a slow stream */

/* An 8 x 8 transpose: row i of dst (dst + i * ldd, 8 floats) gets column
 * k + i of the rows src[0..7]. */
static inline void tr8(float *dst, size_t ldd, const float *const *src, int k)
{
    const __m256 r0 = _mm256_loadu_ps(src[0] + k), r1 = _mm256_loadu_ps(src[1] + k), r2 = _mm256_loadu_ps(src[2] + k),
                 r3 = _mm256_loadu_ps(src[3] + k), r4 = _mm256_loadu_ps(src[4] + k), r5 = _mm256_loadu_ps(src[5] + k),
                 r6 = _mm256_loadu_ps(src[6] + k), r7 = _mm256_loadu_ps(src[7] + k);
    /* s0: rows 0,1 of columns 0,1 (and 4,5 in the high half); s1: columns 2,3 (6,7) */
    const __m256 s0 = _mm256_unpacklo_ps(r0, r1), s1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 s2 = _mm256_unpacklo_ps(r2, r3), s3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 s4 = _mm256_unpacklo_ps(r4, r5), s5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 s6 = _mm256_unpacklo_ps(r6, r7), s7 = _mm256_unpackhi_ps(r6, r7);
    /* c[i]: column i of rows 0-3 (low half), column i + 4 (high half); d[i]: rows 4-7 */
    const __m256 c[4] = {_mm256_shuffle_ps(s0, s2, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s0, s2, _MM_SHUFFLE(3, 2, 3, 2)),
                         _mm256_shuffle_ps(s1, s3, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s1, s3, _MM_SHUFFLE(3, 2, 3, 2))};
    const __m256 d[4] = {_mm256_shuffle_ps(s4, s6, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s4, s6, _MM_SHUFFLE(3, 2, 3, 2)),
                         _mm256_shuffle_ps(s5, s7, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s5, s7, _MM_SHUFFLE(3, 2, 3, 2))};
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(c[i], d[i], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(c[i], d[i], 0x31));
    }
}

/* x[k0 .. k1) of tokens xr[0..15], transposed: xt[16 * (k - k0) + j] = xr[j][k] */
static void pack_xt(float *xt, const float *const *xr, int k0, int k1)
{
    for (int k = k0; k < k1; k += 8, xt += 128) {
        tr8(xt, 16, xr, k);
        tr8(xt + 8, 16, xr + 8, k);
    }
}

/* The 3-row x 8-lane accumulator set of tile_16x3 and tile_16x3_causal:
 * A(r, l) the accumulator of row r, lane l; LOAD8 declares a row's eight,
 * from acc (or zero when k0 is 0); TREE combines a row's lanes into sum,
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); STORE8 keeps them in acc. */
#define A(r, l) a##r##l
#define ld(r, l) (k0 ? _mm512_load_ps(acc + 16 * (8 * (r) + (l))) : _mm512_setzero_ps())
#define LOAD8(r)                                                                                                   \
    __m512 A(r, 0) = ld(r, 0), A(r, 1) = ld(r, 1), A(r, 2) = ld(r, 2), A(r, 3) = ld(r, 3), A(r, 4) = ld(r, 4),   \
           A(r, 5) = ld(r, 5), A(r, 6) = ld(r, 6), A(r, 7) = ld(r, 7);
#define TREE(r)                                                                                                    \
    _mm512_store_ps(sum + 16 * (r), _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(A(r, 0), A(r, 4)),                  \
                                                                _mm512_add_ps(A(r, 2), A(r, 6))),                  \
                                                  _mm512_add_ps(_mm512_add_ps(A(r, 1), A(r, 5)),                  \
                                                                _mm512_add_ps(A(r, 3), A(r, 7)))));
#define STORE8(r)                                                                                                  \
    _mm512_store_ps(acc + 16 * (8 * (r) + 0), A(r, 0)), _mm512_store_ps(acc + 16 * (8 * (r) + 1), A(r, 1)),       \
        _mm512_store_ps(acc + 16 * (8 * (r) + 2), A(r, 2)), _mm512_store_ps(acc + 16 * (8 * (r) + 3), A(r, 3)),   \
        _mm512_store_ps(acc + 16 * (8 * (r) + 4), A(r, 4)), _mm512_store_ps(acc + 16 * (8 * (r) + 5), A(r, 5)),   \
        _mm512_store_ps(acc + 16 * (8 * (r) + 6), A(r, 6)), _mm512_store_ps(acc + 16 * (8 * (r) + 7), A(r, 7));

/* 16 tokens (xt, packed over [k0, k1)) x 3 rows (wr[0..2]) over k in [k0,
 * k1), multiples of 8, continuing the 24 accumulators in acc (zero when k0
 * is 0): acc[16 * (8 * r + l) + j] is lane l of row r, token j.  With last
 * set, the lanes are combined instead, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)),
 * and sum[16 * r + j] is row r's sum for token j.  Storing and reloading
 * the accumulators between blocks changes no bit. */
static void tile_16x3(float *acc, float *sum, const float *xt, const float *const *wr, int k0, int k1, int last)
{
    LOAD8(0) LOAD8(1) LOAD8(2)
    const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2];
    for (int k = k0; k < k1; k += 8, xt += 128) {
#define LANE(l)                                                                                                    \
    {                                                                                                              \
        __m512 xv = _mm512_load_ps(xt + 16 * (l));                                                                 \
        __asm__("" : "+v"(xv)); /* one load, kept in a register, for the three rows */                            \
        A(0, l) = _mm512_fmadd_ps(_mm512_set1_ps(w0[k + (l)]), xv, A(0, l));                                       \
        A(1, l) = _mm512_fmadd_ps(_mm512_set1_ps(w1[k + (l)]), xv, A(1, l));                                       \
        A(2, l) = _mm512_fmadd_ps(_mm512_set1_ps(w2[k + (l)]), xv, A(2, l));                                       \
    }
        LANE(0) LANE(1) LANE(2) LANE(3) LANE(4) LANE(5) LANE(6) LANE(7)
#undef LANE
    }
    if (last) {
        TREE(0) TREE(1) TREE(2)
    } else {
        STORE8(0) STORE8(1) STORE8(2)
    }
}

/* tokens [t, t + 16) x rows [r0, r0 + nr), nr <= RC16, K >= 8: sums in
 * sum[16 * r + j], then the tail k = K8 .. K-1 and the bias as the avx2
 * kernel adds them, then out, 8 rows x 8 tokens at a time */
static void chunk16(const f32_args *a, int t, int r0, int nr)
{
    _Alignas(64) float xt[KB16 * 16];
    _Alignas(64) float sum[(RC16 + 2) * 16];
    _Alignas(64) float acc[RC16 / 3][24 * 16];
    const int K8 = a->K & ~7, tiles = (nr + 2) / 3;
    const float *xr[16];
    for (int j = 0; j < 16; j++) xr[j] = a->x + (size_t)(t + j) * a->ldx;
    for (int k0 = 0; k0 < K8; k0 += KB16) {
        const int k1 = K8 - k0 < KB16 ? K8 : k0 + KB16;
        pack_xt(xt, xr, k0, k1);
        for (int i = 0; i < tiles; i++) {
            const float *wr[3];
            for (int q = 0; q < 3; q++) wr[q] = a->w + (size_t)(r0 + (3 * i + q < nr ? 3 * i + q : nr - 1)) * a->ldw;
            tile_16x3(acc[i], sum + 48 * i, xt, wr, k0, k1, k1 == K8);
        }
    }
    for (int r = 0; r < nr; r++) {
        float *s = sum + 16 * r;
        const float *wr = a->w + (size_t)(r0 + r) * a->ldw;
        if (K8 < a->K) /* the tail, then the bias, element by element */
            for (int j = 0; j < 16; j++) {
                float e = s[j];
                for (int k = K8; k < a->K; k++) e += wr[k] * xr[j][k];
                s[j] = a->bias ? e + a->bias[r0 + r] : e;
            }
        else if (a->bias)
            _mm512_store_ps(s, _mm512_add_ps(_mm512_load_ps(s), _mm512_set1_ps(a->bias[r0 + r])));
    }
    float *out = a->out + (size_t)t * a->ldo + r0;
    int r = 0;
    for (; r + 8 <= nr; r += 8) {
        const float *rows[8];
        for (int i = 0; i < 8; i++) rows[i] = sum + 16 * (r + i);
        tr8(out + r, (size_t)a->ldo, rows, 0);
        tr8(out + 8 * (size_t)a->ldo + r, (size_t)a->ldo, rows, 8);
    }
    for (; r < nr; r++)
        for (int j = 0; j < 16; j++) out[(size_t)j * a->ldo + r] = sum[16 * r + j];
}

/* Rows per chunk: whole row tiles of at most L2_W bytes of weights (at
 * least one tile, at most RC rows). */
static int chunk_rows(int K)
{
    const int rc = (int)(L2_W / ((size_t)K * sizeof(float))) / 6 * 6;
    return rc < 6 ? 6 : rc > RC ? RC : rc;
}

/* Rows per 16-token chunk: whole row tiles of at most W16 bytes of weights
 * (at least one tile, at most RC16 rows). */
static int chunk16_rows(int K)
{
    const int rc = (int)(W16 / ((size_t)K * sizeof(float))) / 3 * 3;
    return rc < 3 ? 3 : rc > RC16 ? RC16 : rc;
}

static void matmul_f32_avx512(float *out, int ldo, const float *x, int ldx, const float *w, int ldw,
                              const float *bias, int T, int R, int K)
{
    const int T16 = K >= 8 ? T & ~15 : 0, T8 = T & ~7;
    const f32_args a = {out, ldo, ldx, ldw, K, x, w, bias};
    const int rc16 = chunk16_rows(K), rc = chunk_rows(K);
    for (int r = 0; r < R; r += rc16) /* a chunk's rows stay in L2 while every token block passes */
        for (int t = 0; t < T16; t += 16) chunk16(&a, t, r, R - r < rc16 ? R - r : rc16);
    for (int r = 0; r < R && T16 < T8; r += rc) /* blocks of 8 tokens left (K < 8: all) */
        for (int t = T16; t < T8; t += 8) chunk(&a, t, r, R - r < rc ? R - r : rc);
    if (T8 < T)
        matmul_below(out + (size_t)T8 * ldo, ldo, x + (size_t)T8 * ldx, ldx, w, ldw, bias, T - T8, R, K);
}

/* ---- the causal product: token j of a block sums its first K0 + j columns ----
 * Prompt attention's context, P V^T for a block of up to 16 query tokens:
 * the tokens share the lanes as in tile_16x3, but token j's lanes take only
 * the steps k < K8_j = (K0 + j) & ~7 (a masked multiply-add leaves the
 * other tokens' lanes as they are), then the tree, then its own tail k =
 * K8_j .. K0+j-1: each element in the order of matmul_f32 with T = 1 and
 * K = K0 + j, so the same bits as token by token. */

/* 16 tokens x 3 rows over the steps [k0, k1) (multiples of 8), like
 * tile_16x3, token j's lanes stepping while k < (K0 + j) & ~7 and j < T */
static void tile_16x3_causal(float *acc, float *sum, const float *xt, const float *const *wr, int k0, int k1,
                             int last, int K0, int T)
{
    LOAD8(0) LOAD8(1) LOAD8(2)
    const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2];
    const unsigned live = (1u << T) - 1;
    for (int k = k0; k < k1; k += 8, xt += 128) {
        const int first = k + 8 - K0; /* the first token whose lanes take this step */
        const __mmask16 m = (__mmask16)(first <= 0 ? live : first >= 16 ? 0 : (0xffffu << first) & live);
#define LANE(l)                                                                                                    \
    {                                                                                                              \
        __m512 xv = _mm512_load_ps(xt + 16 * (l));                                                                 \
        __asm__("" : "+v"(xv));                                                                                    \
        A(0, l) = _mm512_mask3_fmadd_ps(_mm512_set1_ps(w0[k + (l)]), xv, A(0, l), m);                              \
        A(1, l) = _mm512_mask3_fmadd_ps(_mm512_set1_ps(w1[k + (l)]), xv, A(1, l), m);                              \
        A(2, l) = _mm512_mask3_fmadd_ps(_mm512_set1_ps(w2[k + (l)]), xv, A(2, l), m);                              \
    }
        LANE(0) LANE(1) LANE(2) LANE(3) LANE(4) LANE(5) LANE(6) LANE(7)
#undef LANE
    }
    if (last) {
        TREE(0) TREE(1) TREE(2)
    } else {
        STORE8(0) STORE8(1) STORE8(2)
    }
}

#undef TREE
#undef STORE8
#undef LOAD8
#undef ld
#undef A

/* The tails: token j adds w[k] * x_j[k] for k = K8_j .. K0+j-1 in order
 * (multiply, then add, as the scalar tail), step i of every token's tail
 * at once: the 16 lanes take w[K8_j + i] from the row's columns K8_0 ..
 * K0+T-2 (at most 23, loaded masked) and x_j[K8_j + i], gathered once. */
static void causal_tails(const f32_args *a, float *sum, const float *const *xr, int T, int K0, int r0, int nr)
{
    const int K8a = K0 & ~7, ncols = K0 + T - 1 - K8a; /* columns K8a .. K0+T-2 */
    _Alignas(64) float xs[7][16];
    _Alignas(64) int idx[7][16];
    __mmask16 tm[7];
    for (int i = 0; i < 7; i++) {
        unsigned m = 0;
        for (int j = 0; j < 16; j++) {
            const int k = ((K0 + j) & ~7) + i, live = j < T && k < K0 + j;
            m |= (unsigned)live << j;
            xs[i][j] = live ? xr[j][k] : 0.0f;
            idx[i][j] = live ? k - K8a : 0;
        }
        tm[i] = (__mmask16)m;
    }
    const __mmask16 lo = (__mmask16)(ncols >= 16 ? 0xffff : (1u << ncols) - 1);
    const __mmask16 hi = (__mmask16)(ncols > 16 ? (1u << (ncols - 16)) - 1 : 0);
    for (int r = 0; r < nr; r++) {
        const float *wr = a->w + (size_t)(r0 + r) * a->ldw + K8a;
        const __m512 w0 = _mm512_maskz_loadu_ps(lo, wr), w1 = _mm512_maskz_loadu_ps(hi, wr + 16);
        __m512 e = _mm512_load_ps(sum + 16 * r);
        for (int i = 0; i < 7 && tm[i]; i++) {
            const __m512 wv = _mm512_permutex2var_ps(w0, _mm512_load_si512(idx[i]), w1);
            e = _mm512_mask_add_ps(e, tm[i], e, _mm512_mul_ps(wv, _mm512_load_ps(xs[i])));
        }
        _mm512_store_ps(sum + 16 * r, e);
    }
}

/* tokens [0, T) x rows [r0, r0 + nr), nr <= RC16 */
static void causal_chunk(const f32_args *a, int T, int K0, int r0, int nr)
{
    _Alignas(64) float xt[KB16 * 16];
    _Alignas(64) float sum[(RC16 + 2) * 16];
    _Alignas(64) float acc[RC16 / 3][24 * 16];
    const int K8 = (K0 + T - 1) & ~7, tiles = (nr + 2) / 3;
    const float *xr[16];
    for (int j = 0; j < 16; j++) xr[j] = a->x + (size_t)(j < T ? j : T - 1) * a->ldx;
    memset(sum, 0, sizeof sum); /* K8 == 0: every token's lanes stay zero */
    for (int k0 = 0; k0 < K8; k0 += KB16) {
        const int k1 = K8 - k0 < KB16 ? K8 : k0 + KB16;
        pack_xt(xt, xr, k0, k1);
        for (int i = 0; i < tiles; i++) {
            const float *wr[3];
            for (int q = 0; q < 3; q++) wr[q] = a->w + (size_t)(r0 + (3 * i + q < nr ? 3 * i + q : nr - 1)) * a->ldw;
            tile_16x3_causal(acc[i], sum + 48 * i, xt, wr, k0, k1, k1 == K8, K0, T);
        }
    }
    causal_tails(a, sum, xr, T, K0, r0, nr);
    float *out = a->out + r0;
    int r = 0;
    for (; T == 16 && r + 8 <= nr; r += 8) {
        const float *rows[8];
        for (int i = 0; i < 8; i++) rows[i] = sum + 16 * (r + i);
        tr8(out + r, (size_t)a->ldo, rows, 0);
        tr8(out + 8 * (size_t)a->ldo + r, (size_t)a->ldo, rows, 8);
    }
    for (; r < nr; r++)
        for (int j = 0; j < T; j++) out[(size_t)j * a->ldo + r] = sum[16 * r + j];
}

static void matmul_f32_causal_avx512(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, int T,
                                     int R, int K0)
{
    const f32_args a = {out, ldo, ldx, ldw, 0, x, w, NULL};
    for (int r = 0; r < R; r += RC16) causal_chunk(&a, T, K0, r, R - r < RC16 ? R - r : RC16);
}

/* The avx512 tier's fp32 GEMM; decode shapes keep the tier below's kernel
 * (the same order, so the same bits). */
void llx_matmul_f32_fill_avx512(llx_kernels *k)
{
    matmul_below = k->matmul_f32;
    k->matmul_f32 = matmul_f32_avx512;
    k->matmul_f32_causal = matmul_f32_causal_avx512;
}
