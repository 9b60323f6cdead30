/* kernels/attn_prefill.c - the blocked causal prompt attention of
 * attn_prefill.h, built from the tier's packing, GEMM and element kernels
 * (so it runs, and is exact, on every tier). */
#include "kernels/attn_prefill.h"

#include <string.h>

#define TB 32 /* query tokens per block */

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The scratch: packed K (n x hd), V transposed (hd x n32) and packed, the
 * block's scores (TB x n fp32) and probabilities (TB x n32 int8). */
typedef struct parts {
    int8_t *kp, *vt, *vp, *p;
    float *s;
} parts;

static parts carve(const llx_kernels *k, void *scratch, int n, int hd)
{
    const size_t n32 = ((size_t)n + 31) & ~(size_t)31;
    parts p;
    char *c = scratch;
    p.kp = (int8_t *)c, c += up64((size_t)n * llx_i8_ld(k, hd));
    p.vt = (int8_t *)c, c += up64((size_t)hd * n32);
    p.vp = (int8_t *)c, c += up64((size_t)hd * llx_i8_ld(k, (int)n32));
    p.s = (float *)c, c += up64((size_t)TB * n * sizeof(float));
    p.p = (int8_t *)c;
    return p;
}

size_t llx_attn_prefill_scratch(const llx_kernels *k, int n, int hd)
{
    const size_t n32 = ((size_t)n + 31) & ~(size_t)31;
    return up64((size_t)n * llx_i8_ld(k, hd)) + up64((size_t)hd * n32) + up64((size_t)hd * llx_i8_ld(k, (int)n32)) +
           up64((size_t)TB * n * sizeof(float)) + up64((size_t)TB * n32);
}

/* V of the head, positions [0, n32) (chunks are whole), as hd rows of n32
 * (row d: V[0][d], V[1][d], ...) */
static void v_transposed(int8_t *vt, const int8_t *v, size_t cs, int n32, int hd)
{
    for (int c = 0; c < n32 / 32; c++)
        for (int d = 0; d < hd; d++) memcpy(vt + (size_t)d * n32 + 32 * (size_t)c, v + (size_t)c * cs + 32 * (size_t)d, 32);
}

void llx_attn_prefill_i8(const llx_kernels *k, const llx_attn_prefill *a, void *scratch)
{
    const int n = a->pos0 + a->T, n32 = (n + 31) & ~31, hd = a->hd, g = k->i8_rows;
    const parts s = carve(k, scratch, n, hd);
    k->pack_i8(s.kp, a->k, a->ldk, n, hd);
    v_transposed(s.vt, a->v, a->cs, n32, hd);
    /* positions past n are never read: their probabilities are zero, and V
     * bytes of unwritten positions may be anything, so clear them here */
    for (int d = 0; d < hd; d++) memset(s.vt + (size_t)d * n32 + n, 0, (size_t)(n32 - n));
    k->pack_i8(s.vp, s.vt, (size_t)n32, hd, n32);
    for (int t0 = 0; t0 < a->T; t0 += TB) {
        const int nt = a->T - t0 < TB ? a->T - t0 : TB, seen = a->pos0 + t0 + nt;
        /* the positions the block's last token sees, in whole packed row groups */
        const int rows = (seen + g - 1) / g * g < n ? (seen + g - 1) / g * g : n;
        const llx_epilogue es = {.scale = LLX_EPI_SCALE, .s = a->score_scale, .out = s.s, .ldo = (size_t)n};
        k->gemm_i8(&es, a->q + (size_t)t0 * a->ldq, (int)a->ldq, s.kp, nt, rows, hd);
        for (int t = 0; t < nt; t++) {
            const int nt_seen = a->pos0 + t0 + t + 1;
            float *st = s.s + (size_t)t * n;
            int8_t *pt = s.p + (size_t)t * n32;
            k->softmax_f32(st, nt_seen);
            k->quant_i8(pt, st, 127.0f, nt_seen);
            memset(pt + nt_seen, 0, (size_t)(n32 - nt_seen));
        }
        const size_t esz = a->out_i8 ? 1 : sizeof(float);
        const llx_epilogue ec = {.scale = LLX_EPI_SCALE, .s = a->ctx_scale, .out_i8 = a->out_i8, .nseg = 1,
                                 .seg_inv = {a->inv_ctx}, .out = (char *)a->out + (size_t)t0 * a->ldo * esz, .ldo = a->ldo};
        k->gemm_i8(&ec, s.p, n32, s.vp, nt, hd, n32);
    }
}
