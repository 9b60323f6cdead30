/* engine/attn_f32.c - fp32 attention of one query head over its KV head's
 * cache, shared by the fp32 datapath and the quantized datapath's fp32-KV
 * mode.  The cache of one layer's KV head is K [cache position][d] and V
 * transposed [d][cache position] (row length kv_cap); a sequence's
 * positions live in its blocks (internal.h).  Scores are one
 * matrix-vector product per stretch of consecutive blocks (every score its
 * own dot product); the context is another over the rows of V^T, in one
 * call over all n positions so its sums run in the same order however the
 * blocks lie (gathered first when they lie apart). */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

void llx_attn_f32_head(const node *nd, int t, const float *q, const float *kc, const float *vc, int hd, float *out,
                       float *sc, float *vt)
{
    const int n = llx_tok_pos(nd, t) + 1;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int p = 0, e; p < n; p = e) {
        e = llx_cache_run(nd, t, p, n);
        const size_t c = (size_t)llx_cache_pos(nd, t, p);
        nd->k->matmul_f32(sc + p, e - p, q, hd, kc + c * hd, hd, NULL, 1, e - p, hd);
    }
    for (int s = 0; s < n; s++) sc[s] *= scale;
    nd->k->softmax_f32(sc, n);
    const float *v = vc + (size_t)llx_cache_pos(nd, t, 0);
    int ldv = nd->kv_cap;
    if (llx_cache_run(nd, t, 0, n) < n) { /* the blocks lie apart: gather V^T [d][n] */
        for (int p = 0, e; p < n; p = e) {
            e = llx_cache_run(nd, t, p, n);
            const size_t c = (size_t)llx_cache_pos(nd, t, p);
            for (int d = 0; d < hd; d++)
                memcpy(vt + (size_t)d * n + p, vc + (size_t)d * nd->kv_cap + c, (size_t)(e - p) * sizeof(float));
        }
        v = vt;
        ldv = n;
    }
    nd->k->matmul_f32(out, hd, sc, n, v, ldv, NULL, 1, hd, n);
}

void llx_attn_f32_append(const node *nd, int t, float *kc, float *vc, const float *k, const float *v, int hd)
{
    const int p = llx_cache_pos(nd, t, llx_tok_pos(nd, t));
    memcpy(kc + (size_t)p * hd, k, (size_t)hd * sizeof(float));
    for (int d = 0; d < hd; d++) vc[(size_t)d * nd->kv_cap + p] = v[d];
}
