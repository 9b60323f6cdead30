/* kernels/gemm_i8_avx512.c - the avx512 tier's int8 GEMM and GEMV on the
 * panel layout (kernels.h), with the quantization unit fused into the
 * epilogue.  Built with AVX-512 + VNNI flags; entered only after the CPU
 * check of kernels_select.c.
 *
 * One vpdpbusd multiplies 64 unsigned weight bytes (w + 128: 16 rows x 4
 * columns, one panel group) by 4 signed activation bytes broadcast to all
 * 16 lanes, and adds the 16 four-term sums to 16 int32 accumulators: one
 * per output row, no horizontal sums.  sum (w + 128) x - 128 sum x is the
 * exact product in int32 (each step's terms are below 2^17 and the true
 * result fits).  x columns past K are read as 0 and the panel's padding is
 * w = 0.
 *
 * Prefill (the GEMM) reuses each weight group across up to 12 tokens held
 * in registers; the panels of a group of rows stay in L2 while the token
 * blocks pass over them.  Decode (one token) streams four panels from the
 * four quarters of the matrix at once, prefetched, as the AVX2 GEMV does
 * with row pairs. */
#include <immintrin.h>
#include <string.h>

#include "kernels/epi_avx512.h"
#include "kernels/gemm_avx512.h"

#define NT_MAX 8 /* tokens per register tile */
#define NP_MAX 3 /* panels per register tile: 3 x 8 = 24 accumulators */
#define PF_DIST 2048 /* decode software prefetch distance, as the AVX2 GEMV */

/* the four bytes x[k .. k+3] as one int32, zero past K */
static inline int32_t x4(const int8_t *x, int k, int K)
{
    int32_t v = 0;
    if (k + 4 <= K) memcpy(&v, x + k, 4);
    else if (k < K) memcpy(&v, x + k, (size_t)(K - k));
    return v;
}

static inline __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

void llx_xsum_i8(int32_t *s, const int8_t *x, int ldx, int T, int K)
{
    const __m512i ones = _mm512_set1_epi8(1);
    for (int t = 0; t < T; t++) {
        const int8_t *xt = x + (size_t)t * ldx;
        __m512i a = _mm512_setzero_si512();
        int k = 0;
        for (; k + 64 <= K; k += 64) a = _mm512_dpbusd_epi32(a, ones, _mm512_loadu_si512(xt + k));
        if (k < K) a = _mm512_dpbusd_epi32(a, ones, _mm512_maskz_loadu_epi8(~0ull >> (64 - (K - k)), xt + k));
        s[t] = _mm512_reduce_add_epi32(a);
    }
}

/* The accumulators of a register tile are named variables (c<panel><token>):
 * GCC keeps an array of vectors in memory across the loop. */
#define FOR_J(M, p) M(p, 0) M(p, 1) M(p, 2) M(p, 3) M(p, 4) M(p, 5) M(p, 6) M(p, 7)
#define FOR_PJ(M) FOR_J(M, 0) FOR_J(M, 1) FOR_J(M, 2)
#define DECL(p, j) __m512i c##p##j = _mm512_setzero_si512();
#define DOT(p, j)                                                                                                  \
    if (NP > p && NT > j) c##p##j = _mm512_dpbusd_epi32(c##p##j, w##p, b);
/* token j's broadcast, used at once by the NP panels (one register for all) */
#define TOKEN(j)                                                                                                   \
    if (NT > j) {                                                                                                  \
        const __m512i b = bcast4((j < 4 ? xa : xb) + (size_t)(j & 3) * ldx);                                       \
        DOT(0, j) DOT(1, j) DOT(2, j)                                                                              \
    }
#define TOKEN_TAIL(j)                                                                                              \
    if (NT > j) {                                                                                                  \
        const __m512i b = _mm512_set1_epi32(x4(x + (size_t)(t0 + j) * ldx, 4 * G, K));                             \
        DOT(0, j) DOT(1, j) DOT(2, j)                                                                              \
    }
#define STORE(p, j)                                                                                                \
    if (NP > p && NT > j)                                                                                          \
        llx_epi16_store(ep, &e##p, t0 + j, r0 + 16 * p,                                                            \
                        _mm512_sub_epi32(c##p##j, _mm512_slli_epi32(_mm512_set1_epi32(xs[t0 + j]), 7)));

/* NP (<= 3) panels x NT (<= 8) tokens; rows: rows of the last panel (16
 * when all are full).  Panel p starts at w + p * 16 * K4; a group of a
 * last panel of fewer rows is rows * 4 bytes.  Token j's row is
 * x + j * ldx, addressed from two bases (x and x + 4 ldx) so the eight
 * rows need four registers. */
static inline __attribute__((always_inline)) void tile(const llx_epilogue *ep, const int8_t *x, size_t ldx,
                                                       const int32_t *xs, const int8_t *w, int K, int r0, int t0,
                                                       const int NT, const int NP, const int rows)
{
    const size_t ps = 16 * (((size_t)K + 3) & ~(size_t)3);
    const int G = K / 4;
    const __mmask64 lm = rows >= 16 ? ~0ull : (1ull << (rows * 4)) - 1;
    const size_t gs = rows >= 16 ? 64 : (size_t)rows * 4;
    FOR_PJ(DECL)
    const int8_t *xa = x + (size_t)t0 * ldx, *xb = xa + 4 * ldx, *wg = w;
    for (int g = 0; g < G; g++, xa += 4, xb += 4, wg += gs) {
        const __m512i w0 = rows < 16 ? _mm512_maskz_loadu_epi8(lm, wg) : _mm512_loadu_si512(wg);
        const __m512i w1 = NP > 1 ? _mm512_loadu_si512(wg + ps) : w0;
        const __m512i w2 = NP > 2 ? _mm512_loadu_si512(wg + 2 * ps) : w0;
        TOKEN(0) TOKEN(1) TOKEN(2) TOKEN(3) TOKEN(4) TOKEN(5) TOKEN(6) TOKEN(7)
    }
    if (4 * G < K) { /* the last, partial group of columns */
        const __m512i w0 = rows < 16 ? _mm512_maskz_loadu_epi8(lm, wg) : _mm512_loadu_si512(wg);
        const __m512i w1 = NP > 1 ? _mm512_loadu_si512(wg + ps) : w0;
        const __m512i w2 = NP > 2 ? _mm512_loadu_si512(wg + 2 * ps) : w0;
        TOKEN_TAIL(0) TOKEN_TAIL(1) TOKEN_TAIL(2) TOKEN_TAIL(3) TOKEN_TAIL(4) TOKEN_TAIL(5) TOKEN_TAIL(6) TOKEN_TAIL(7)
    }
    const llx_epi16 e0 = llx_epi16_rows(ep, r0, rows < 16 ? rows : 16);
    const llx_epi16 e1 = NP > 1 ? llx_epi16_rows(ep, r0 + 16, 16) : e0;
    const llx_epi16 e2 = NP > 2 ? llx_epi16_rows(ep, r0 + 32, 16) : e0;
    FOR_PJ(STORE)
}

typedef struct gemm_args {
    const llx_epilogue *ep;
    const int8_t *x;
    size_t ldx;
    const int32_t *xs;
    int K;
} gemm_args;

#define TILE(NT, NP, ROWS) tile(a->ep, a->x, a->ldx, a->xs, w, a->K, r0, t0, NT, NP, ROWS)

/* np (1 .. NP_MAX) full panels at w (rows r0 ..) x nt (1 .. NT_MAX) tokens from t0 */
static void tile_full(const gemm_args *a, const int8_t *w, int r0, int t0, int nt, int np)
{
#define NT_CASES(NP)                                                                                               \
    switch (nt) {                                                                                                  \
    case 8: TILE(8, NP, 16); break;                                                                                \
    case 7: TILE(7, NP, 16); break;                                                                                \
    case 6: TILE(6, NP, 16); break;                                                                                \
    case 5: TILE(5, NP, 16); break;                                                                                \
    case 4: TILE(4, NP, 16); break;                                                                                \
    case 3: TILE(3, NP, 16); break;                                                                                \
    case 2: TILE(2, NP, 16); break;                                                                                \
    default: TILE(1, NP, 16); break;                                                                               \
    }
    if (np == 3) NT_CASES(3)
    else if (np == 2) NT_CASES(2)
    else NT_CASES(1)
#undef NT_CASES
}

/* the last panel of rows < 16 rows, tokens [t0, t0 + nt) */
static void tile_part(const gemm_args *a, const int8_t *w, int r0, int t0, int nt, int rows)
{
    for (; nt >= 4; t0 += 4, nt -= 4) TILE(4, 1, rows);
    for (; nt > 0; t0++, nt--) TILE(1, 1, rows);
}

/* Decode: one token, four panels from the four quarters of the matrix
 * (part panels each) at once, then the rest one by one. */
static void gemv_streams(const gemm_args *a, const int8_t *w, int R)
{
    const int K = a->K;
    const size_t K4 = ((size_t)K + 3) & ~(size_t)3, ps = 16 * K4;
    const int full = R / 16, part = full / 4, G = K / 4;
    const __m512i corr = _mm512_slli_epi32(_mm512_set1_epi32(a->xs[0]), 7);
    const int32_t xt = x4(a->x, 4 * G, K);
    for (int i = 0; i < part; i++) {
        const int8_t *s0 = w + (size_t)i * ps, *s1 = s0 + (size_t)part * ps, *s2 = s1 + (size_t)part * ps,
                     *s3 = s2 + (size_t)part * ps;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < G; g++) {
            const size_t o = (size_t)g * 64;
            _mm_prefetch((const char *)(s0 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(s1 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(s2 + o + PF_DIST), _MM_HINT_T0);
            _mm_prefetch((const char *)(s3 + o + PF_DIST), _MM_HINT_T0);
            const __m512i bv = bcast4(a->x + 4 * g);
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(s0 + o), bv);
            a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(s1 + o), bv);
            a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(s2 + o), bv);
            a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(s3 + o), bv);
        }
        if (4 * G < K) {
            const __m512i bv = _mm512_set1_epi32(xt);
            const size_t o = (size_t)G * 64;
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(s0 + o), bv);
            a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(s1 + o), bv);
            a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(s2 + o), bv);
            a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(s3 + o), bv);
        }
        const int r[4] = {16 * i, 16 * (i + part), 16 * (i + 2 * part), 16 * (i + 3 * part)};
        const __m512i v[4] = {a0, a1, a2, a3};
        for (int q = 0; q < 4; q++) {
            const llx_epi16 e = llx_epi16_rows(a->ep, r[q], 16);
            llx_epi16_store(a->ep, &e, 0, r[q], _mm512_sub_epi32(v[q], corr));
        }
    }
    for (int p = 4 * part; p < full; p++) tile_full(a, w + (size_t)p * ps, 16 * p, 0, 1, 1);
    if (R % 16) tile_part(a, w + (size_t)full * ps, 16 * full, 0, 1, R % 16);
}

/* Decode through the epilogue: the streams' int32 results of GEMV_ROWS rows
 * at a time go to a buffer on the stack, then the epilogue runs over them
 * in row order.  Inside the streams' loop the epilogue's scales, biases and
 * outputs would be twelve more streams of single cache lines, at the
 * quarters of the matrix, that the weight streams wait for (issue 13: 15-30 %
 * of a decode step); in row order they are three short sequential ones.
 * Same operations on each value, so the same bits. */
#define GEMV_ROWS 4096
static void gemv(const gemm_args *a, const int8_t *w, int R)
{
    const llx_epilogue *ep = a->ep;
    if (ep->scale == LLX_EPI_I32) {
        gemv_streams(a, w, R);
        return;
    }
    _Alignas(64) int32_t acc[GEMV_ROWS];
    const llx_epilogue e32 = {.scale = LLX_EPI_I32, .out = acc, .ldo = GEMV_ROWS};
    const size_t ps = 16 * (((size_t)a->K + 3) & ~(size_t)3);
    for (int r0 = 0; r0 < R; r0 += GEMV_ROWS) {
        const int n = R - r0 < GEMV_ROWS ? R - r0 : GEMV_ROWS;
        const gemm_args a32 = {&e32, a->x, a->ldx, a->xs, a->K};
        gemv_streams(&a32, w + (size_t)(r0 / 16) * ps, n);
        for (int r = 0; r < n; r += 16) {
            const int m = n - r < 16 ? n - r : 16;
            const llx_epi16 e = llx_epi16_rows(ep, r0 + r, m);
            llx_epi16_store(ep, &e, 0, r0 + r, _mm512_maskz_loadu_epi32(e.m, acc + r));
        }
    }
}

/* nc tokens of a (their sums of x in a->xs) times the R rows at wp */
static void gemm_tokens(const gemm_args *a, const int8_t *wp, int nc, int R)
{
    const size_t ps = 16 * (((size_t)a->K + 3) & ~(size_t)3);
    const int full = R / 16;
    if (nc == 1) {
        gemv(a, wp, R);
        return;
    }
    /* NP_MAX panels at a time, their groups reused by every token block */
    for (int p = 0; p < full; p += NP_MAX) {
        const int np = full - p < NP_MAX ? full - p : NP_MAX;
        for (int t = 0; t < nc; t += NT_MAX)
            tile_full(a, wp + (size_t)p * ps, 16 * p, t, nc - t < NT_MAX ? nc - t : NT_MAX, np);
    }
    if (R % 16) tile_part(a, wp + (size_t)full * ps, 16 * full, 0, nc, R % 16);
}

void llx_gemm_i8_avx512_sums(const llx_epilogue *ep, const int8_t *x, int ldx, const int32_t *xs, const int8_t *wp,
                             int T, int R, int K)
{
    const gemm_args a = {ep, x, (size_t)ldx, xs, K};
    gemm_tokens(&a, wp, T, R);
}

void llx_gemm_i8_avx512(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    enum { TC = 1024 }; /* tokens per chunk: the sums of x live on the stack */
    int32_t xs[TC];
    for (int c = 0; c < T; c += TC) {
        const int nc = T - c < TC ? T - c : TC;
        llx_xsum_i8(xs, x + (size_t)c * ldx, ldx, nc, K);
        const llx_epilogue e = llx_epilogue_at(ep, c, 0);
        const gemm_args a = {&e, x + (size_t)c * ldx, (size_t)ldx, xs, K};
        gemm_tokens(&a, wp, nc, R);
    }
}

void llx_matmul_i8p_avx512(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    const llx_epilogue ep = {.scale = LLX_EPI_I32, .out = acc, .ldo = (size_t)lda};
    llx_gemm_i8_avx512(&ep, x, ldx, wp, T, R, K);
}
