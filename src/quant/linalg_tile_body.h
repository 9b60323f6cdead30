/* quant/linalg_tile_body.h - one tier's tiles of linalg_tile.h, included
 * by the file of that tier after it defines
 *   LA_LANES  doubles per vector
 *   LA_ROWS   rows of a tile
 *   LA_VECS   vectors per row of a tile (cols = LA_LANES * LA_VECS)
 *   LA_SUB, LA_ADD, LA_SUB_F32  the names of its functions.
 * The vectors are GCC/Clang vector extensions: each lane's arithmetic is
 * the scalar IEEE operation.  Contraction into fused multiply-adds is
 * turned off here as well as by the build's -ffp-contract=off, so the
 * products are rounded before they are added, as in the scalar loop. */
#include <string.h>

#ifdef __clang__ /* GCC has no such pragma; the build's -ffp-contract=off does it there */
#pragma STDC FP_CONTRACT OFF
#endif

typedef double la_vec __attribute__((vector_size(LA_LANES * sizeof(double))));

static inline la_vec la_load(const double *p)
{
    la_vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void la_store(double *p, la_vec v) { memcpy(p, &v, sizeof v); }

typedef float la_vecf __attribute__((vector_size(LA_LANES * sizeof(float))));

static void LA_SUB_F32(float *w, const double *u, double e, int n)
{
    int k = 0;
    for (; k + LA_LANES <= n; k += LA_LANES) {
        la_vecf wv;
        memcpy(&wv, w + k, sizeof wv);
        wv -= __builtin_convertvector(e * la_load(u + k), la_vecf);
        memcpy(w + k, &wv, sizeof wv);
    }
    for (; k < n; k++) w[k] -= (float)(e * u[k]);
}

#define LA_TILE_FN(NAME, OP)                                                                                      \
    static void NAME(double *y, size_t ldy, const double *v, size_t vr, size_t vk, const double *x, size_t ldx,   \
                     int nk)                                                                                      \
    {                                                                                                             \
        la_vec acc[LA_ROWS][LA_VECS];                                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < LA_ROWS; r++)                                                \
            _Pragma("GCC unroll 4") for (int q = 0; q < LA_VECS; q++) acc[r][q] =                                 \
                la_load(y + r * ldy + q * LA_LANES);                                                              \
        for (int k = 0; k < nk; k++) {                                                                            \
            const double *xk = x + (size_t)k * ldx, *vk_ = v + (size_t)k * vk;                                   \
            la_vec xv[LA_VECS];                                                                                   \
            _Pragma("GCC unroll 4") for (int q = 0; q < LA_VECS; q++) xv[q] = la_load(xk + q * LA_LANES);        \
            _Pragma("GCC unroll 16") for (int r = 0; r < LA_ROWS; r++)                                            \
            {                                                                                                     \
                const double b = vk_[r * vr];                                                                     \
                _Pragma("GCC unroll 4") for (int q = 0; q < LA_VECS; q++) acc[r][q] = acc[r][q] OP(b * xv[q]);   \
            }                                                                                                     \
        }                                                                                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < LA_ROWS; r++)                                                \
            _Pragma("GCC unroll 4") for (int q = 0; q < LA_VECS; q++)                                             \
                la_store(y + r * ldy + q * LA_LANES, acc[r][q]);                                                  \
    }

LA_TILE_FN(LA_SUB, -)
LA_TILE_FN(LA_ADD, +)
