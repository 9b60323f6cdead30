/* quant/linalg_tile.h - the register tiles under GPTQ's linear algebra
 * (linalg.c): a rectangle of y updated by a sum of products,
 *
 *   y[r][c] = y[r][c] - v[r][k] x[k][c]   (or +), for k = 0, 1, ... in order,
 *
 * with a tile of rows x cols elements of y held in vector registers while
 * k runs, so each load of x serves every row of the tile.  Every element
 * receives exactly the scalar loop's operations in the scalar loop's
 * order (one product, rounded; then one subtraction or addition, rounded;
 * never a fused multiply-add), so every tier gives the same bits; the
 * tiers differ only in vector width and tile shape.  A tier is chosen at
 * run time from what the CPU has (kernels/cpu.h). */
#ifndef LLX_QUANT_LINALG_TILE_H
#define LLX_QUANT_LINALG_TILE_H

#include <stddef.h>

struct llx_kernels;

/* One whole tile: rows x cols elements of y (rows ldy apart), v[r][k] at
 * v[r * vr + k * vk], x[k][c] at x[k * ldx + c], k < nk. */
typedef void (*llx_la_tile_fn)(double *y, size_t ldy, const double *v, size_t vr, size_t vk, const double *x,
                               size_t ldx, int nk);

typedef struct llx_la_tier {
    const char *name;
    int rows, cols;     /* the tile's shape */
    llx_la_tile_fn sub; /* y -= v x */
    llx_la_tile_fn add; /* y += v x */
    /* w[k] = w[k] - (float)(e u[k]) for k < n: the product in double,
     * rounded to float, subtracted in float (GPTQ's step inside a block) */
    void (*sub_f32)(float *w, const double *u, double e, int n);
} llx_la_tier;

/* Two-lane vectors (SSE2: every x86-64), tiles of 4 x 4. */
const llx_la_tier *llx_la_tier_generic(void);
/* Eight-lane vectors (AVX-512 F), tiles of 8 x 16; NULL when this CPU or
 * its OS does not offer AVX-512. */
const llx_la_tier *llx_la_tier_avx512(void);
/* The tier that follows the engine's kernels (llx_kernels_select(NULL),
 * so LLX_KERNELS too): avx512 when they run avx512, amx or amx-emu, the
 * generic one otherwise. */
const llx_la_tier *llx_la_tier_best(void);
/* The tier for kernels k: avx512 for a table of tier avx512 or above (when
 * the CPU runs it), generic for ref, avx2 or NULL. */
const llx_la_tier *llx_la_tier_for(const struct llx_kernels *k);

/* The rectangle of nr x nc elements (any sizes >= 0): whole tiles with
 * the tier, the edges with the scalar loop; k in blocks whose x rows stay
 * in cache across the rectangle's rows.  t NULL: the best tier. */
void llx_la_update(const llx_la_tier *t, int add, double *y, size_t ldy, const double *v, size_t vr, size_t vk,
                   const double *x, size_t ldx, int nr, int nc, int nk);

#endif
