/* engine/attn_f32q.c - the quantized datapath's attention with an fp32
 * KV cache (schemes without int8 KV): q, k and v arrive in fp32 from the
 * QKV stage, the cache holds the node's KV heads as the fp32 datapath's
 * does (per layer and KV head, K [cache position][d] and V transposed
 * [d][cache position]), and each (head, token) is llx_attn_f32_head.  The
 * context is written in fp32 (quantized per token after the gather) or,
 * with static activation scales, as int8 by the context's static scale. */
#include <stdlib.h>

#include "engine/w8a8_node.h"
#include "util/status.h"

static size_t kv_base(const node *nd, int layer, int kvl)
{
    const int hd = llx_config_head_dim(nd->cfg);
    return ((size_t)layer * (size_t)nd->kv_heads + (size_t)kvl) * (size_t)nd->kv_cap * (size_t)hd;
}

llx_status w8_attn_f32_alloc(node *nd, w8_node *q)
{
    const size_t hd = (size_t)llx_config_head_dim(nd->cfg), nth = (size_t)llx_pool_size(nd->pool);
    const size_t per = (size_t)nd->cfg->n_layer * (size_t)nd->kv_heads * (size_t)nd->kv_cap * hd;
    q->kcf = llx_alloc((per ? per : 1) * sizeof(float));
    q->vcf = llx_alloc((per ? per : 1) * sizeof(float));
    /* per thread: scores (max_ctx), the gathered V^T (max_ctx * hd), an int8 output's fp32 context (hd) */
    q->sc_ld = (size_t)nd->max_ctx * (1 + hd) + hd;
    q->scores = llx_alloc(nth * q->sc_ld * sizeof(float));
    if (!q->kcf || !q->vcf || !q->scores) return llx_fail(LLX_ERR_NOMEM, "out of memory for the fp32 KV cache");
    return LLX_OK;
}

typedef struct attn_job {
    node *nd;
    const llx_stage *st;
    int h0;
} attn_job;

static void attn_part(void *arg, int a, int b, int ith)
{
    const attn_job *j = arg;
    node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const w8_layer *L = w8_layer_of(q, st);
    const int hd = st->head_dim, T = st->tokens, G = st->heads / st->kv_heads;
    const int ldq = q->ld[st->in], ldc = q->ld[st->out];
    float *sc = q->scores + (size_t)ith * q->sc_ld, *vt = sc + nd->max_ctx, *tmp = vt + (size_t)nd->max_ctx * hd;
    for (int it = a; it < b; it++) {
        const int h = j->h0 + it / T, t = it % T;
        const size_t base = kv_base(nd, st->layer, h / G - nd->kv0), o = (size_t)t * ldc + (size_t)h * hd;
        float *out = st->quant == LLX_QUANT_STATIC ? tmp : q->f[st->out] + o;
        llx_attn_f32_head(nd, t, q->f[st->in] + (size_t)t * ldq + (size_t)h * hd, q->kcf + base, q->vcf + base, hd,
                          out, sc, vt);
        if (st->quant == LLX_QUANT_STATIC) nd->k->quant_i8(q->q[st->out] + o, tmp, L->inv[st->scale], hd);
    }
}

llx_status w8_attn_f32(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, G = st->heads / st->kv_heads, ldq = q->ld[st->in];
    const int kofs = st->heads * hd, vofs = kofs + st->kv_heads * hd;
    if (h1 <= h0) return LLX_OK;
    for (int kv = h0 / G; kv <= (h1 - 1) / G; kv++)
        for (int t = 0; t < st->tokens; t++) {
            const float *row = q->f[st->in] + (size_t)t * ldq;
            const size_t base = kv_base(nd, st->layer, kv - nd->kv0);
            llx_attn_f32_append(nd, t, q->kcf + base, q->vcf + base, row + kofs + (size_t)kv * hd,
                                row + vofs + (size_t)kv * hd, hd);
        }
    attn_job j = {nd, st, h0};
    llx_node_parallel_rows(nd, (h1 - h0) * st->tokens, 1, attn_part, &j);
    return LLX_OK;
}
