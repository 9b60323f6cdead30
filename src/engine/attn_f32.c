/* engine/attn_f32.c - fp32 attention of one query head over its KV head's
 * cache, shared by the fp32 datapath and the quantized datapath's fp32-KV
 * mode.  The cache of one layer's KV head is K [cache position][d] and V
 * transposed [d][cache position] (row length kv_cap); a sequence's
 * positions live in its blocks (internal.h).  Scores are one
 * matrix-vector product per stretch of consecutive blocks (every score its
 * own dot product); the context is another over the rows of V^T, in one
 * call over all n positions so its sums run in the same order however the
 * blocks lie (gathered first when they lie apart).  And the attention
 * call both datapaths run over such a cache (llx_attn_f32_run): append the
 * KV heads (a prompt's in the pool, blocks of 16 tokens), then every
 * (head, token) on the node's threads. */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

size_t llx_attn_f32_kv_base(const node *nd, int layer, int kvl)
{
    const int hd = llx_config_head_dim(nd->cfg);
    return ((size_t)layer * (size_t)nd->kv_heads + (size_t)kvl) * (size_t)nd->kv_cap * (size_t)hd;
}

static void attn_head(const node *nd, int t, const float *q, const float *kc, const float *vc, int hd, float *out,
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

static void append_kv(const node *nd, int t, float *kc, float *vc, const float *k, const float *v, int hd)
{
    const int p = llx_cache_pos(nd, t, llx_tok_pos(nd, t));
    memcpy(kc + (size_t)p * hd, k, (size_t)hd * sizeof(float));
    for (int d = 0; d < hd; d++) vc[(size_t)d * nd->kv_cap + p] = v[d];
}

static void append_heads(const llx_attn_f32_job *j)
{
    const llx_stage *st = j->st;
    const int hd = st->head_dim, G = st->heads / st->kv_heads;
    const int kofs = st->heads * hd, vofs = kofs + st->kv_heads * hd;
    /* the KV heads of these query heads (rewritten with the same values
     * when the heads of one group come in several calls) */
    for (int kv = j->h0 / G; kv <= (j->h1 - 1) / G; kv++)
        for (int t = 0; t < st->tokens; t++) {
            const float *row = j->in + (size_t)t * j->ldq;
            const size_t base = llx_attn_f32_kv_base(j->nd, st->layer, kv - j->nd->kv0);
            append_kv(j->nd, t, j->kc + base, j->vc + base, row + kofs + (size_t)kv * hd, row + vofs + (size_t)kv * hd,
                      hd);
        }
}

/* The append of a prompt (one stretch of the cache) in the pool: item =
 * (KV head, from that of j->h0; block of APPEND_QB tokens).  V goes in
 * transposed a block at a time, so each of the head's hd rows of V^T gets
 * one run of the block's positions (a token at a time, its hd values land
 * hd rows apart, all in one L1 set when a row is a multiple of 4 KiB). */
#define APPEND_QB 16

static void append_part(void *arg, int a, int b, int ith)
{
    const llx_attn_f32_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    const int hd = st->head_dim, T = st->tokens, nb = (T + APPEND_QB - 1) / APPEND_QB, G = st->heads / st->kv_heads;
    const int kofs = st->heads * hd, vofs = kofs + st->kv_heads * hd;
    const size_t p0 = (size_t)llx_cache_pos(nd, 0, llx_tok_pos(nd, 0)); /* token t sits at p0 + t */
    for (int it = a; it < b; it++) {
        const int kv = j->h0 / G + it / nb, t0 = it % nb * APPEND_QB, t1 = t0 + APPEND_QB < T ? t0 + APPEND_QB : T;
        const size_t base = llx_attn_f32_kv_base(nd, st->layer, kv - nd->kv0);
        const float *x = j->in + (size_t)t0 * j->ldq;
        for (int t = 0; t < t1 - t0; t++)
            memcpy(j->kc + base + (p0 + t0 + t) * hd, x + (size_t)t * j->ldq + kofs + (size_t)kv * hd,
                   (size_t)hd * sizeof(float));
        for (int d = 0; d < hd; d++) {
            float *vd = j->vc + base + (size_t)d * nd->kv_cap + p0 + t0;
            const float *xd = x + vofs + (size_t)kv * hd + d;
            for (int t = 0; t < t1 - t0; t++) vd[t] = xd[(size_t)t * j->ldq];
        }
    }
}

void llx_attn_f32_append(const llx_attn_f32_job *j)
{
    const llx_stage *st = j->st;
    if (st->tokens > 1 && llx_pass_one_stretch(j->nd, st->tokens)) {
        const int G = st->heads / st->kv_heads, nb = (st->tokens + APPEND_QB - 1) / APPEND_QB;
        llx_node_parallel_rows(j->nd, ((j->h1 - 1) / G - j->h0 / G + 1) * nb, 1, append_part, (void *)j);
    } else {
        append_heads(j);
    }
}

/* item = head-major (head, token) pair, tokens from j->t0 */
static void heads_part(void *arg, int a, int b, int ith)
{
    const llx_attn_f32_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    const int hd = st->head_dim, T = st->tokens, G = st->heads / st->kv_heads;
    float *sc = j->sc + (size_t)ith * j->sc_ld, *vt = j->vt + (size_t)ith * j->vt_ld, *tmp = vt + (size_t)nd->max_ctx * hd;
    for (int it = a; it < b; it++) {
        const int h = j->h0 + it / (T - j->t0), t = j->t0 + it % (T - j->t0);
        const size_t base = llx_attn_f32_kv_base(nd, st->layer, h / G - nd->kv0), o = (size_t)t * j->ldc + (size_t)h * hd;
        float *out = j->qout ? tmp : j->out + o;
        attn_head(nd, t, j->in + (size_t)t * j->ldq + (size_t)h * hd, j->kc + base, j->vc + base, hd, out, sc, vt);
        if (j->qout) nd->k->quant_i8(j->qout + o, tmp, j->inv, hd);
    }
}

void llx_attn_f32_heads(const llx_attn_f32_job *j)
{
    llx_node_parallel_rows(j->nd, (j->h1 - j->h0) * (j->st->tokens - j->t0), 1, heads_part, (void *)j);
}

void llx_attn_f32_run(const llx_attn_f32_job *j)
{
    if (j->h1 <= j->h0) return;
    llx_attn_f32_append(j);
    llx_attn_f32_heads(j);
}
