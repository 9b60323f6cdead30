/* kernels/q4_walk.h - how the vector tiers' int4 kernels (q4_avx2.c,
 * q4_avx512.c) walk a matrix of P-row q4 panels (kernels.h); the tier's
 * own function computes the panels it is handed.
 *   decode: nmax panels at once, one from each of nmax equal parts of the
 *           rows (nmax weight streams, the tier's choice: four with
 *           software prefetch in both), then the panels left one by one;
 *   prefill: neighbouring pairs of panels (a last one alone), each pair
 *           over the tokens in tiles of at most nt_max.
 * No ISA code here: each tier compiles it with its own flags. */
#ifndef LLX_KERNELS_Q4_WALK_H
#define LLX_KERNELS_Q4_WALK_H

#include <stddef.h>
#include <stdint.h>

#define LLX_Q4_WALK_MAX 4 /* most panels handed over at once */

/* np panels at w[p], first row r[p], rows[p] rows (P but in the last panel);
 * a tile also gets tokens [t0, t0 + nt). */
typedef void (*llx_q4_gemv_fn)(const void *a, const uint8_t *const *w, const int *r, const int *rows, int np);
typedef void (*llx_q4_tile_fn)(const void *a, const uint8_t *const *w, const int *r, const int *rows, int t0, int nt,
                               int np);

static inline void llx_q4_walk_panel(const uint8_t *wp, int pn, int R, int K, int P, const uint8_t **w, int *r, int *rows)
{
    *w = wp + (size_t)pn * (size_t)P * (size_t)K / 2;
    *r = P * pn;
    *rows = R - *r < P ? R - *r : P;
}

static inline void llx_q4_walk_gemv(const void *a, const uint8_t *wp, int R, int K, int P, int nmax, llx_q4_gemv_fn fn)
{
    const int panels = (R + P - 1) / P, part = panels / nmax;
    const uint8_t *w[LLX_Q4_WALK_MAX];
    int r[LLX_Q4_WALK_MAX], rows[LLX_Q4_WALK_MAX];
    for (int i = 0; i < part; i++) {
        for (int q = 0; q < nmax; q++) llx_q4_walk_panel(wp, i + q * part, R, K, P, &w[q], &r[q], &rows[q]);
        fn(a, w, r, rows, nmax);
    }
    for (int p = nmax * part; p < panels; p++) {
        llx_q4_walk_panel(wp, p, R, K, P, &w[0], &r[0], &rows[0]);
        fn(a, w, r, rows, 1);
    }
}

static inline void llx_q4_walk_gemm(const void *a, const uint8_t *wp, int T, int R, int K, int P, int nt_max,
                                    llx_q4_tile_fn fn)
{
    const int panels = (R + P - 1) / P;
    for (int p = 0; p < panels; p += 2) {
        const int two = p + 1 < panels;
        const uint8_t *w[2];
        int r[2], rows[2];
        llx_q4_walk_panel(wp, p, R, K, P, &w[0], &r[0], &rows[0]);
        llx_q4_walk_panel(wp, p + two, R, K, P, &w[1], &r[1], &rows[1]);
        for (int t = 0; t < T; t += nt_max) fn(a, w, r, rows, t, T - t < nt_max ? T - t : nt_max, two ? 2 : 1);
    }
}

/* The two functions a tier hands to the walks (q4_gemv_fn, q4_tile_fn),
 * from its always-inline GEMV(a, w, r, rows, NP) and TILE(a, w, r, rows, t0,
 * nt, NP) called with a constant NP (NMAX or 1; 2 or 1), so each count is
 * compiled on its own. */
#define LLX_Q4_WALK_FNS(GEMV, TILE, NMAX)                                                                          \
    static void q4_gemv_fn(const void *a, const uint8_t *const *w, const int *r, const int *rows, int np)         \
    {                                                                                                            \
        if (np == (NMAX)) GEMV(a, w, r, rows, (NMAX));                                                           \
        else GEMV(a, w, r, rows, 1);                                                                             \
    }                                                                                                            \
    static void q4_tile_fn(const void *a, const uint8_t *const *w, const int *r, const int *rows, int t0, int nt,  \
                           int np)                                                                               \
    {                                                                                                            \
        if (np == 2) TILE(a, w, r, rows, t0, nt, 2);                                                             \
        else TILE(a, w, r, rows, t0, nt, 1);                                                                     \
    }

#endif
