/* kernels/q4_avx2.c - the avx2 tier's int4-weight GEMM and GEMV on the
 * 8-row q4 panel layout (kernels.h).  Built with AVX2 flags; entered only
 * after the CPU check of kernels_select.c.
 *
 * A 32-byte load of a panel octet holds 8 rows x 8 columns as w + 8: the
 * low nibbles are columns 0-3 and the high ones columns 4-7.  maddubs
 * multiplies each by 4 activation bytes broadcast to every row (pairs of
 * products in int16, at most 2 * 15 * 128), the two are added in int16
 * and madd with ones leaves one int32 per row.  At each group's end
 * 8 sum x is subtracted (the offset of the stored weights) and the group's
 * scaled product is added to the row's fp32 sum in group order, as the
 * reference does; the tail of the epilogue is the table's.  Decode
 * streams four panels (from the four quarters of the rows), each
 * prefetched PF_AHEAD bytes ahead, and widens the int16 sums once per four
 * octets.  On Zen 4 (this tier forced; a scratch harness over a decode's
 * sequence of matrices, medians of 40 interleaved repetitions) that read
 * 88 % of the read probe for Llama-3.2-1B at one thread and 80-82 % for
 * GPT-2 medium at two, where two unprefetched streams read 85 % and 77 %;
 * a prefetch 1 KiB ahead and four unprefetched streams read less in three
 * of four such runs (within 1.3 points in the fourth), two prefetched
 * streams less in all. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/q4_walk.h"

#define MAX_GROUPS 2048 /* K / G */
#define NT 4

void llx_gemm_q4_avx2(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K,
                      int G);

static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

typedef struct q4_args {
    const llx_kernels *k;
    const llx_epilogue *ep;
    const int8_t *x;
    size_t ldx;
    int K, G, ng;
    const int32_t *xs8;
} q4_args;

/* y (8 rows from r, n of them real) of token t through the epilogue's tail */
static void finish8(const q4_args *a, int t, int r, int n, __m256 y)
{
    const llx_epilogue *ep = a->ep;
    if (ep->bias) {
        float b[8] = {0};
        memcpy(b, ep->bias + r, sizeof(float) * (size_t)n);
        y = _mm256_add_ps(y, _mm256_loadu_ps(b));
    } else {
        y = _mm256_add_ps(y, _mm256_setzero_ps());
    }
    float v[8];
    _mm256_storeu_ps(v, y);
    const llx_epilogue e = llx_epilogue_at(ep, 0, r);
    float *out = llx_epilogue_y(&e, t, v);
    if (out != v) memcpy(out, v, sizeof(float) * (size_t)n);
    if (ep->act || ep->aux || ep->out_i8) llx_epilogue_tail(a->k, &e, t, out, n);
}

static inline __m256 group_scales(const llx_epilogue *ep, int ng, int g, int r, int n)
{
    if (ng > 1) return _mm256_loadu_ps(ep->ws + (size_t)r * ng + (size_t)g * 8); /* panel-major, padded */
    const float *p = ep->ws + r;
    if (n == 8) return _mm256_loadu_ps(p);
    float v[8] = {0};
    memcpy(v, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(v);
}

/* NP (<= 4) panels x nt (<= NT) tokens */
static inline __attribute__((always_inline)) void tile(const q4_args *a, const uint8_t *const *w, const int *r,
                                                       const int *rows, int t0, int nt, const int NP)
{
    const llx_epilogue *ep = a->ep;
    const __m256i nib = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i c[4][NT];
    __m256 y[4][NT];
    for (int p = 0; p < NP; p++)
        for (int j = 0; j < NT; j++) c[p][j] = _mm256_setzero_si256(), y[p][j] = _mm256_setzero_ps();
    const int8_t *xj[NT];
    for (int j = 0; j < NT; j++) xj[j] = a->x + (size_t)(t0 + (j < nt ? j : 0)) * a->ldx;
    for (int g = 0, oc = 0; g < a->ng; g++) {
        for (const int oe = oc + a->G / 8; oc < oe; oc++) {
            const size_t o = (size_t)oc * 32;
            __m256i lo[4], hi[4];
            for (int p = 0; p < NP; p++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(w[p] + o));
                lo[p] = _mm256_and_si256(v, nib);
                hi[p] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
            }
            for (int j = 0; j < NT; j++) {
                if (j >= nt) break;
                const __m256i bl = bcast4(xj[j] + 8 * oc), bh = bcast4(xj[j] + 8 * oc + 4);
                for (int p = 0; p < NP; p++) {
                    const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo[p], bl), _mm256_maddubs_epi16(hi[p], bh));
                    c[p][j] = _mm256_add_epi32(c[p][j], _mm256_madd_epi16(s16, ones));
                }
            }
        }
        for (int j = 0; j < nt; j++) {
            const __m256i corr = _mm256_set1_epi32(a->xs8[(size_t)(t0 + j) * a->ng + g]);
            const __m256 s = _mm256_set1_ps(ep->s_in[t0 + j]);
            for (int p = 0; p < NP; p++) {
                const __m256 ws = group_scales(ep, a->ng, g, r[p], rows[p]);
                const __m256 pr = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(c[p][j], corr)), _mm256_mul_ps(s, ws));
                y[p][j] = g ? _mm256_add_ps(y[p][j], pr) : pr;
                c[p][j] = _mm256_setzero_si256();
            }
        }
    }
    for (int j = 0; j < nt; j++)
        for (int p = 0; p < NP; p++) finish8(a, t0 + j, r[p], rows[p], y[p][j]);
}

/* Decode of NP (<= GV_MAX) panels at w[p] (first rows r[p], rows[p] of
 * them), one token.  The int16 sums of maddubs stay in int16 over up to
 * four octets (|4 x 2 x 2 x 15 x 128| = 30720 < 2^15) before one madd
 * widens them: the expensive step runs once per 128 bytes of a panel. */
#define GV_MAX 4      /* panels a decode streams at once (<= 4) */
#define PF_AHEAD 2048 /* bytes ahead of each stream's loads it prefetches (past a
                       * stream's or the matrix's end too: a prefetch never faults) */
#define FOR_P(M) M(0) M(1) M(2) M(3)
#define GV_PTR(p) const uint8_t *w##p = w[NP > p ? p : 0];
#define GV_ACC(p) __m256i c##p = _mm256_setzero_si256();
#define GV_S16(p) __m256i s##p = _mm256_setzero_si256();
#define GV_DOT(p)                                                                                                  \
    if (NP > p) {                                                                                                  \
        const __m256i v = _mm256_loadu_si256((const __m256i *)(w##p + o));                                         \
        if (o & 32) _mm_prefetch((const char *)(w##p + o + PF_AHEAD), _MM_HINT_T0); /* once per line */        \
        s##p = _mm256_add_epi16(s##p, _mm256_maddubs_epi16(_mm256_and_si256(v, nib), bl));                         \
        s##p = _mm256_add_epi16(s##p, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), nib), bh));   \
    }
#define GV_WIDEN(p)                                                                                                \
    if (NP > p) c##p = _mm256_add_epi32(c##p, _mm256_madd_epi16(s##p, ones));
#define GV_SUM(p)                                                                                                  \
    if (NP > p) acc[p] = _mm256_sub_epi32(c##p, corr);

static inline __attribute__((always_inline)) void gemv_panels(const q4_args *a, const uint8_t *const *w, const int *r,
                                                              const int *rows, const int NP)
{
    const llx_epilogue *ep = a->ep;
    const int ng = a->ng, G8 = a->G / 8;
    const __m256i nib = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const __m256 s = _mm256_set1_ps(ep->s_in[0]);
    __m256 y[GV_MAX];
    for (int p = 0; p < NP; p++) y[p] = _mm256_setzero_ps();
    FOR_P(GV_PTR)
    const int8_t *x = a->x;
    size_t o = 0;
    for (int g = 0; g < ng; g++) {
        FOR_P(GV_ACC)
        for (int i = 0; i < G8;) {
            FOR_P(GV_S16)
            for (const int e = i + 4 < G8 ? i + 4 : G8; i < e; i++, o += 32, x += 8) {
                const __m256i bl = bcast4(x), bh = bcast4(x + 4);
                FOR_P(GV_DOT)
            }
            FOR_P(GV_WIDEN)
        }
        const __m256i corr = _mm256_set1_epi32(a->xs8[g]);
        __m256i acc[LLX_Q4_WALK_MAX]; /* FOR_P names four; the guard NP > p leaves those past GV_MAX unused */
        FOR_P(GV_SUM)
        for (int p = 0; p < NP; p++) {
            const __m256 pr = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[p]), _mm256_mul_ps(s, group_scales(ep, ng, g, r[p], rows[p])));
            y[p] = g ? _mm256_add_ps(y[p], pr) : pr;
        }
    }
    for (int p = 0; p < NP; p++) finish8(a, 0, r[p], rows[p], y[p]);
}

LLX_Q4_WALK_FNS(gemv_panels, tile, GV_MAX) /* the walks of q4_walk.h over these panels */

void llx_gemm_q4_avx2(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K,
                      int G)
{
    int32_t xs8[NT * MAX_GROUPS];
    const int ng = K / G;
    const llx_kernels *k = llx_kernels_tier(LLX_TIER_AVX2);
    for (int c = 0; c < T; c += NT) {
        const int nc = T - c < NT ? T - c : NT;
        for (int t = 0; t < nc; t++) {
            const int8_t *xt = x + (size_t)(c + t) * ldx;
            for (int g = 0; g < ng; g++) {
                int32_t s = 0;
                for (int i = g * G; i < (g + 1) * G; i++) s += xt[i];
                xs8[(size_t)t * ng + g] = 8 * s;
            }
        }
        const llx_epilogue e = llx_epilogue_at(ep, c, 0);
        const q4_args a = {k, &e, x + (size_t)c * ldx, (size_t)ldx, K, G, ng, xs8};
        if (nc == 1) llx_q4_walk_gemv(&a, wp, R, K, 8, GV_MAX, q4_gemv_fn);
        else llx_q4_walk_gemm(&a, wp, nc, R, K, 8, NT, q4_tile_fn);
    }
}
