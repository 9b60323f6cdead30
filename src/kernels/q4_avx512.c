/* kernels/q4_avx512.c - the avx512 tier's int4-weight GEMM and GEMV on the
 * 16-row q4 panel layout (kernels.h).  Built with AVX-512 + VNNI flags;
 * entered only after the CPU check of kernels_select.c.
 *
 * A 64-byte load of a panel octet holds 16 rows x 8 columns as w + 8;
 * masking the low nibbles gives columns 0-3 and shifting the high ones
 * columns 4-7, each a vpdpbusd operand of 16 rows x 4 unsigned bytes
 * against 4 activation bytes broadcast to all lanes: one int32 lane per
 * row, no horizontal sums.  At the end of each group of G columns the
 * lanes hold sum (w + 8) x; subtracting 8 sum x (the group's activation
 * sum) leaves the exact product, which the epilogue scales by the group's
 * 16 scales and adds to the row's fp32 sum in group order, as the
 * reference does.
 *
 * Decode (one token) streams four panels from the four quarters of the
 * rows at once, each prefetched PF_AHEAD bytes ahead.  On Zen 4 at one
 * thread this reads 92-93 % of the read probe (bench-kernels gemv_q4,
 * K = 8192) where two streams without prefetch read 75-78 %; alone over
 * a decode's sequence of Llama-3.2-1B or GPT-2 medium matrices, 81-93 %
 * against 70-82 % (medians of interleaved runs, one and two threads).
 * Two prefetched streams, four unprefetched ones, and prefetches 256 or
 * 512 bytes ahead or into L2 only read less; 2048 bytes ahead read about
 * the same (82.8-89.8 % against 84.9-93.4 %, performance.md).  A call of
 * a single panel (64 KiB at K = 8192) loses a little to the prefetch
 * (52-58 % against 66-71 %); the engine's calls are 256 KiB or more.
 * Not measured on Intel (the amx tier uses this GEMV).
 * Prefill holds 2 panels x 4 tokens in registers. */
#include <immintrin.h>
#include <string.h>

#include "kernels/epi_avx512.h"
#include "kernels/gemm_avx512.h"
#include "kernels/q4_walk.h"

#define MAX_GROUPS 2048 /* K / G */
#define NT 4            /* tokens per prefill tile */

static inline __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* sums of x over each group, times 8 (the offset of the stored weights):
 * 64 bytes per vpdpbusd against ones, the group's tail masked (G is a
 * multiple of 8).  Exact int32 sums, as the reference's; a decode GEMV
 * calls this once per matrix slice, where the scalar loop cost ~K cycles. */
static void group_sums(int32_t *xs8, const int8_t *x, int K, int G)
{
    const __m512i ones = _mm512_set1_epi8(1);
    for (int g = 0; g < K / G; g++) {
        const int8_t *xg = x + (size_t)g * G;
        __m512i a = _mm512_setzero_si512();
        int k = 0;
        for (; k + 64 <= G; k += 64) a = _mm512_dpbusd_epi32(a, ones, _mm512_loadu_si512(xg + k));
        if (k < G) a = _mm512_dpbusd_epi32(a, ones, _mm512_maskz_loadu_epi8(~0ull >> (64 - (G - k)), xg + k));
        xs8[g] = 8 * _mm512_reduce_add_epi32(a);
    }
}

typedef struct q4_args {
    const llx_epilogue *ep;
    const int8_t *x;
    size_t ldx;
    int K, G, ng;
    const int32_t *xs8; /* [token of the chunk][ng] */
} q4_args;

/* One register tile: NP panels (at w[p], first rows r[p]) x nt tokens
 * (t0 ..).  The accumulators are named variables c<panel><token>. */
#define FOR_T(M, p) M(p, 0) M(p, 1) M(p, 2) M(p, 3)
#define FOR_PT(M) FOR_T(M, 0) FOR_T(M, 1) FOR_T(M, 2) FOR_T(M, 3)
#define DECL(p, j)                                                                                                 \
    __m512i c##p##j = _mm512_setzero_si512();                                                                      \
    __m512 y##p##j = _mm512_setzero_ps();
#define UNPACK(p)                                                                                                  \
    __m512i lo##p = zero, hi##p = zero;                                                                              \
    if (NP > p) {                                                                                                  \
        const __m512i v = _mm512_loadu_si512(w[p] + o);                                                            \
        lo##p = _mm512_and_si512(v, nib);                                                                          \
        hi##p = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);                                                    \
    }
#define DOT(p, j)                                                                                                  \
    if (NP > p && nt > j) {                                                                                        \
        c##p##j = _mm512_dpbusd_epi32(c##p##j, lo##p, bl##j);                                                      \
        c##p##j = _mm512_dpbusd_epi32(c##p##j, hi##p, bh##j);                                                      \
    }
#define BCAST(j)                                                                                                   \
    __m512i bl##j = zero, bh##j = zero;                                                                              \
    if (nt > j) {                                                                                                  \
        bl##j = bcast4(xj[j] + 8 * oc);                                                                            \
        bh##j = bcast4(xj[j] + 8 * oc + 4);                                                                        \
    }
#define GROUP_END(p, j)                                                                                            \
    if (NP > p && nt > j) {                                                                                        \
        const __m512i a = _mm512_sub_epi32(c##p##j, _mm512_set1_epi32(a_->xs8[(size_t)(t0 + j) * a_->ng + g]));    \
        const __m512 ws = a_->ng == 1 ? e[p].ws /* per row, masked */                                              \
                                      : _mm512_loadu_ps(ep->ws + (size_t)r[p] * a_->ng + (size_t)g * 16);          \
        const __m512 pr = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(_mm512_set1_ps(ep->s_in[t0 + j]), ws)); \
        y##p##j = g ? _mm512_add_ps(y##p##j, pr) : pr;                                                             \
        c##p##j = _mm512_setzero_si512();                                                                          \
    }
#define FINISH(p, j)                                                                                               \
    if (NP > p && nt > j) llx_epi16_tail(ep, &e[p], t0 + j, r[p], _mm512_add_ps(y##p##j, e[p].bias));

static inline __attribute__((always_inline)) void tile(const q4_args *a_, const uint8_t *const *w, const int *r,
                                                       const int *rows, int t0, int nt, const int NP)
{
    const llx_epilogue *ep = a_->ep;
    const int G = a_->G, K = a_->K;
    const __m512i nib = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
    llx_epi16 e[4];
    for (int p = 0; p < NP; p++) e[p] = llx_epi16_rows(ep, r[p], rows[p]);
    const int8_t *xj[NT];
    for (int j = 0; j < NT; j++) xj[j] = a_->x + (size_t)(t0 + (j < nt ? j : 0)) * a_->ldx;
    FOR_PT(DECL)
    for (int g = 0, oc = 0; g < a_->ng; g++) {
        for (const int oe = oc + G / 8; oc < oe; oc++) {
            const size_t o = (size_t)oc * 64;
            UNPACK(0) UNPACK(1) UNPACK(2) UNPACK(3)
            BCAST(0) BCAST(1) BCAST(2) BCAST(3)
            FOR_PT(DOT)
        }
        FOR_PT(GROUP_END)
    }
    (void)K;
    FOR_PT(FINISH)
}

/* Decode of NP (<= GV_MAX) panels at w[p] (first rows r[p], rows[p] of them):
 * one token, two accumulators per panel so no vpdpbusd waits for another.
 * The low nibbles are masked (columns 0-3); the high ones are masked in
 * place (16 (w + 8), columns 4-7), which saves the shift: their sums are
 * 16 times the product, exact in int32 (|16 * 15 * 128 * K/2| < 2^31 for
 * K < 139810), and an arithmetic shift by 4 at the group's end gives it back. */
#define GV_MAX 4    /* panels a decode streams at once (<= 4) */
#define PF_AHEAD 1024 /* bytes ahead of each stream's loads it prefetches (past a
                       * stream's or the matrix's end too: a prefetch never faults) */
#define FOR_P(M) M(0) M(1) M(2) M(3)
#define GV_PTR(p) const uint8_t *w##p = w[NP > p ? p : 0];
#define GV_ACC(p) __m512i l##p = _mm512_setzero_si512(), h##p = l##p;
#define GV_DOT(p)                                                                                                  \
    if (NP > p) {                                                                                                  \
        const __m512i v = _mm512_loadu_si512(w##p + o);                                                            \
        _mm_prefetch((const char *)(w##p + o + PF_AHEAD), _MM_HINT_T0);                                          \
        l##p = _mm512_dpbusd_epi32(l##p, _mm512_and_si512(v, lom), bl);                                            \
        h##p = _mm512_dpbusd_epi32(h##p, _mm512_and_si512(v, him), bh);                                            \
    }
#define GV_SUM(p)                                                                                                  \
    if (NP > p) acc[p] = _mm512_sub_epi32(_mm512_add_epi32(l##p, _mm512_srai_epi32(h##p, 4)), corr);

static inline __attribute__((always_inline)) void gemv_panels(const q4_args *a, const uint8_t *const *w, const int *r,
                                                              const int *rows, const int NP)
{
    const llx_epilogue *ep = a->ep;
    const int ng = a->ng, G8 = a->G / 8;
    const __m512i lom = _mm512_set1_epi8(0x0f), him = _mm512_set1_epi8((char)0xf0);
    const __m512 s = _mm512_set1_ps(ep->s_in[0]);
    llx_epi16 e[GV_MAX];
    __m512 y[GV_MAX];
    for (int p = 0; p < NP; p++) e[p] = llx_epi16_rows(ep, r[p], rows[p]), y[p] = _mm512_setzero_ps();
    FOR_P(GV_PTR)
    const int8_t *x = a->x;
    size_t o = 0;
    for (int g = 0; g < ng; g++) {
        FOR_P(GV_ACC)
        for (int i = 0; i < G8; i++, o += 64, x += 8) {
            const __m512i bl = bcast4(x), bh = bcast4(x + 4);
            FOR_P(GV_DOT)
        }
        const __m512i corr = _mm512_set1_epi32(a->xs8[g]);
        __m512i acc[LLX_Q4_WALK_MAX]; /* FOR_P names four; the guard NP > p leaves those past GV_MAX unused */
        FOR_P(GV_SUM)
        for (int p = 0; p < NP; p++) {
            const __m512 ws = ng == 1 ? e[p].ws : _mm512_loadu_ps(ep->ws + (size_t)r[p] * ng + (size_t)g * 16);
            const __m512 pr = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[p]), _mm512_mul_ps(s, ws));
            y[p] = g ? _mm512_add_ps(y[p], pr) : pr;
        }
    }
    for (int p = 0; p < NP; p++) llx_epi16_tail(ep, &e[p], 0, r[p], _mm512_add_ps(y[p], e[p].bias));
}

LLX_Q4_WALK_FNS(gemv_panels, tile, GV_MAX) /* the walks of q4_walk.h over these panels */

/* Prefill with one scale per row: a block of rows unpacked once into the
 * int8 panel layout (kernels.h: w + 128 as a byte, here nibble + 120; a
 * last panel of n < 16 rows holds 4n bytes per group), then the int8 GEMM
 * of the stage design runs on it (12 x 8 token tiles, the panels in L2).
 * Its epilogue is DEQUANT, the same formula as one group's (kernels.h),
 * and its int32 sums are the same exact products: bit-exact. */
enum { I8_BUF = 192 * 1024 }; /* bytes of unpacked rows: 48 of K <= 4096, 16 of K <= 12288 */

static void unpack_i8(int8_t *dst, const uint8_t *src, int n, int K)
{
    const __m512i nib = _mm512_set1_epi8(0x0f), off = _mm512_set1_epi8(120);
    for (int p = 0; 16 * p < n; p++) {
        const int rows = n - 16 * p < 16 ? n - 16 * p : 16;
        const __mmask64 m = rows == 16 ? ~0ull : (1ull << (4 * rows)) - 1;
        const uint8_t *s = src + (size_t)p * 8 * K;
        int8_t *d = dst + (size_t)p * 16 * K;
        for (int o = 0; o < K / 8; o++) {
            const __m512i v = _mm512_loadu_si512(s + (size_t)o * 64);
            const __m512i lo = _mm512_add_epi8(_mm512_and_si512(v, nib), off);
            const __m512i hi = _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), nib), off);
            _mm512_mask_storeu_epi8(d + (size_t)(2 * o) * 4 * rows, m, lo);
            _mm512_mask_storeu_epi8(d + (size_t)(2 * o + 1) * 4 * rows, m, hi);
        }
    }
}

static void gemm_via_i8(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K)
{
    enum { TC = 1024 }; /* tokens whose sums of x are on the stack at once */
    _Alignas(64) int8_t buf[I8_BUF];
    int32_t xs[TC];
    int blk = I8_BUF / K / 16 * 16;
    blk = blk > 48 ? 48 : blk; /* the int8 GEMM's 3 panels per tile */
    for (int c = 0; c < T; c += TC) {
        const int nc = T - c < TC ? T - c : TC;
        llx_xsum_i8(xs, x + (size_t)c * ldx, ldx, nc, K);
        for (int r0 = 0; r0 < R; r0 += blk) {
            const int n = R - r0 < blk ? R - r0 : blk;
            unpack_i8(buf, wp + (size_t)r0 * K / 2, n, K);
            const llx_epilogue e = llx_epilogue_at(ep, c, r0);
            llx_gemm_i8_avx512_sums(&e, x + (size_t)c * ldx, ldx, xs, buf, nc, n, K);
        }
    }
}

void llx_gemm_q4_avx512(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K,
                        int G)
{
    enum { TC = 16 }; /* tokens whose group sums are on the stack at once */
    _Static_assert(TC % NT == 0 && TC * (MAX_GROUPS / 8) <= NT * MAX_GROUPS, "xs8 holds either chunk");
    int32_t xs8[NT * MAX_GROUPS];
    const int ng = K / G;
    if (T > 1 && ng == 1 && 16 * K <= I8_BUF) {
        gemm_via_i8(ep, x, ldx, wp, T, R, K);
        return;
    }
    const int tc = ng <= MAX_GROUPS / 8 ? TC : NT;
    for (int c = 0; c < T; c += tc) {
        const int nc = T - c < tc ? T - c : tc;
        for (int t = 0; t < nc; t++) group_sums(xs8 + (size_t)t * ng, x + (size_t)(c + t) * ldx, K, G);
        const llx_epilogue e = llx_epilogue_at(ep, c, 0);
        const q4_args a = {&e, x + (size_t)c * ldx, (size_t)ldx, K, G, ng, xs8};
        if (nc == 1) llx_q4_walk_gemv(&a, wp, R, K, 16, GV_MAX, q4_gemv_fn);
        else llx_q4_walk_gemm(&a, wp, nc, R, K, 16, NT, q4_tile_fn);
    }
}
