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
 * rows at once, prefetched; prefill holds 2 panels x 4 tokens in
 * registers. */
#include <immintrin.h>
#include <string.h>

#include "kernels/epi_avx512.h"
#include "kernels/gemm_avx512.h"

#define PF_DIST 2048
#define MAX_GROUPS 2048 /* K / G */
#define NT 4            /* tokens per prefill tile */

static inline __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* sums of x over each group, times 8 (the offset of the stored weights) */
static void group_sums(int32_t *xs8, const int8_t *x, int K, int G)
{
    for (int g = 0; g < K / G; g++) {
        int32_t s = 0;
        for (int k = g * G; k < (g + 1) * G; k++) s += x[k];
        xs8[g] = 8 * s;
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
        if (PF) _mm_prefetch((const char *)(w[p] + o + PF_DIST), _MM_HINT_T0);                                     \
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
                                                       const int *rows, int t0, int nt, const int NP, const int PF)
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

/* Decode: four panels from the four quarters at once, then the rest. */
static void gemv(const q4_args *a, const uint8_t *wp, int R)
{
    const size_t ps = 8 * (size_t)a->K; /* 16 rows x K/2 bytes */
    const int panels = (R + 15) / 16, part = panels / 4;
    for (int i = 0; i < part; i++) {
        const int pn[4] = {i, i + part, i + 2 * part, i + 3 * part};
        const uint8_t *w[4];
        int r[4], rows[4];
        for (int q = 0; q < 4; q++) {
            w[q] = wp + (size_t)pn[q] * ps;
            r[q] = 16 * pn[q];
            rows[q] = R - r[q] < 16 ? R - r[q] : 16;
        }
        tile(a, w, r, rows, 0, 1, 4, 1);
    }
    for (int p = 4 * part; p < panels; p++) {
        const uint8_t *w[1] = {wp + (size_t)p * ps};
        const int r[1] = {16 * p}, rows[1] = {R - 16 * p < 16 ? R - 16 * p : 16};
        tile(a, w, r, rows, 0, 1, 1, 1);
    }
}

/* Prefill: two panels x four tokens per tile. */
static void gemm(const q4_args *a, const uint8_t *wp, int T, int R)
{
    const size_t ps = 8 * (size_t)a->K;
    const int panels = (R + 15) / 16;
    for (int p = 0; p < panels; p += 2) {
        const int two = p + 1 < panels;
        const uint8_t *w[2] = {wp + (size_t)p * ps, wp + (size_t)(p + two) * ps};
        const int r[2] = {16 * p, 16 * (p + two)};
        const int rows[2] = {R - r[0] < 16 ? R - r[0] : 16, R - r[1] < 16 ? R - r[1] : 16};
        for (int t = 0; t < T; t += NT) {
            const int nt = T - t < NT ? T - t : NT;
            if (two) tile(a, w, r, rows, t, nt, 2, 0);
            else tile(a, w, r, rows, t, nt, 1, 0);
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
    const int tc = ng <= MAX_GROUPS / 8 ? TC : NT;
    for (int c = 0; c < T; c += tc) {
        const int nc = T - c < tc ? T - c : tc;
        for (int t = 0; t < nc; t++) group_sums(xs8 + (size_t)t * ng, x + (size_t)(c + t) * ldx, K, G);
        const llx_epilogue e = llx_epilogue_at(ep, c, 0);
        const q4_args a = {&e, x + (size_t)c * ldx, (size_t)ldx, K, G, ng, xs8};
        if (nc == 1) gemv(&a, wp, R);
        else gemm(&a, wp, nc, R);
    }
}
