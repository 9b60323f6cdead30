/* quant/linalg_tile.c - the generic tier of linalg_tile.h, the choice of
 * a tier, and the rectangle driver.  Built without ISA flags. */
#include "quant/linalg_tile.h"

#include <pthread.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"

#define LA_LANES 2
#define LA_ROWS 4
#define LA_VECS 2
#define LA_SUB tile_sub_generic
#define LA_ADD tile_add_generic
#define LA_SUB_F32 sub_f32_generic
#include "quant/linalg_tile_body.h"

static const llx_la_tier generic = {"generic", LA_ROWS, LA_LANES * LA_VECS, LA_SUB, LA_ADD, LA_SUB_F32};
extern const llx_la_tier llx_la_tier_avx512_table;

const llx_la_tier *llx_la_tier_generic(void) { return &generic; }

const llx_la_tier *llx_la_tier_avx512(void) { return llx_cpu_get()->avx512 ? &llx_la_tier_avx512_table : NULL; }

static const llx_la_tier *best;

const llx_la_tier *llx_la_tier_for(const llx_kernels *k)
{
    const llx_la_tier *t = k && k->tier >= LLX_TIER_AVX512 ? llx_la_tier_avx512() : NULL;
    return t ? t : &generic;
}

/* a name LLX_KERNELS gives that the kernels refuse (the engine reports it)
 * leaves the generic tier */
static void choose(void) { best = llx_la_tier_for(llx_kernels_select(NULL)); }

const llx_la_tier *llx_la_tier_best(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose);
    return best;
}

/* the scalar loop, for the elements outside whole tiles */
static void edge(int add, double *y, size_t ldy, const double *v, size_t vr, size_t vk, const double *x, size_t ldx,
                 int r0, int r1, int c0, int c1, int nk)
{
    for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) {
            double s = y[(size_t)r * ldy + c];
            for (int k = 0; k < nk; k++) {
                const double p = v[(size_t)r * vr + (size_t)k * vk] * x[(size_t)k * ldx + c];
                s = add ? s + p : s - p;
            }
            y[(size_t)r * ldy + c] = s;
        }
}

#define KBLOCK 128 /* steps of k per pass over the rectangle: x's rows of a column tile stay in L1 */

void llx_la_update(const llx_la_tier *t, int add, double *y, size_t ldy, const double *v, size_t vr, size_t vk,
                   const double *x, size_t ldx, int nr, int nc, int nk)
{
    if (!t) t = llx_la_tier_best();
    const llx_la_tile_fn fn = add ? t->add : t->sub;
    const int R = t->rows, C = t->cols, rt = nr - nr % R, ct = nc - nc % C;
    for (int k0 = 0; k0 < nk; k0 += KBLOCK) { /* each element's k stay in order: block after block */
        const int kn = nk - k0 < KBLOCK ? nk - k0 : KBLOCK;
        const double *vb = v + (size_t)k0 * vk, *xb = x + (size_t)k0 * ldx;
        for (int c = 0; c < ct; c += C)
            for (int r = 0; r < rt; r += R) fn(y + (size_t)r * ldy + c, ldy, vb + (size_t)r * vr, vr, vk, xb + c, ldx, kn);
        edge(add, y, ldy, vb, vr, vk, xb, ldx, 0, rt, ct, nc, kn);
        edge(add, y, ldy, vb, vr, vk, xb, ldx, rt, nr, 0, nc, kn);
    }
}
