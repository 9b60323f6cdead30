/* kernels/matmul_f32_avx512.c - the avx512 tier's fp32 GEMM, in the vector
 * tiers' summation order (kernels.h): its results equal the avx2 tier's bit
 * for bit.  Built with AVX-512 flags; entered only after the CPU check.
 *
 * A zmm holds the 8-lane accumulators of two elements: tokens t and t+1 of
 * one row.  Each step multiplies the pair's x[k .. k+7] (two halves) by the
 * row's w[k .. k+7] broadcast to both halves and adds with one fused
 * multiply-add per lane, exactly the avx2 kernel's per-lane operations.  A
 * tile is 4 token pairs x 6 rows (24 accumulators), run over K in blocks
 * so that its rows stay in L1; afterwards the lanes are combined with the
 * same tree, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), on 16 elements at a
 * time.  Fewer than 8 tokens (decode) go to the avx2 kernel, which streams
 * four rows at once.
 *
 * Rows go in chunks of at most L2_W bytes of weights, and every block of 8
 * tokens passes over a chunk before the next, so prefill reads each weight
 * from memory once, not once per 8 tokens (the avx2 kernel sweeps the whole
 * matrix for every 4 tokens).
 *
 * On Zen 4 a zmm FMA is two 256-bit halves, so AVX-512 brings no more
 * multiply-adds per cycle than AVX2; the gains are the 32 registers (24
 * accumulators), rows a multiple of 4 KiB apart not evicting each other in
 * L1 (the avx2 kernel's row streams do: K = 1024, 3072, 4096), and the
 * chunks.  GPT-2 small's four shapes at T=128 over 12 layers' weights (one
 * core, thread CPU time, best of 10, load 19): 80-82 GFLOP/s each, against
 * 63-82 for the unchunked kernel and 38-81 for avx2 (issue 13). */
#include <immintrin.h>

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

/* Rows per chunk: whole row tiles of at most L2_W bytes of weights (at
 * least one tile, at most RC rows). */
static int chunk_rows(int K)
{
    const int rc = (int)(L2_W / ((size_t)K * sizeof(float))) / 6 * 6;
    return rc < 6 ? 6 : rc > RC ? RC : rc;
}

static void matmul_f32_avx512(float *out, int ldo, const float *x, int ldx, const float *w, int ldw,
                              const float *bias, int T, int R, int K)
{
    const int T8 = T & ~7;
    const f32_args a = {out, ldo, ldx, ldw, K, x, w, bias};
    const int rc = chunk_rows(K);
    for (int r = 0; r < R; r += rc) /* a chunk's rows stay in L2 while every token block passes */
        for (int t = 0; t < T8; t += 8) chunk(&a, t, r, R - r < rc ? R - r : rc);
    if (T8 < T)
        matmul_below(out + (size_t)T8 * ldo, ldo, x + (size_t)T8 * ldx, ldx, w, ldw, bias, T - T8, R, K);
}

/* The avx512 tier's fp32 GEMM; decode shapes keep the tier below's kernel
 * (the same order, so the same bits). */
void llx_matmul_f32_fill_avx512(llx_kernels *k)
{
    matmul_below = k->matmul_f32;
    k->matmul_f32 = matmul_f32_avx512;
}
