/* engine/attn_f32q.c - the quantized datapath's attention with an fp32
 * KV cache (schemes without int8 KV): q, k and v arrive in fp32 from the
 * QKV stage, the cache holds the node's KV heads as the fp32 datapath's
 * does (per layer and KV head, K [cache position][d] and V transposed
 * [d][cache position]), and the call is llx_attn_f32_run (attn_f32.c).  The
 * context is written in fp32 (quantized per token after the gather) or,
 * with static activation scales, as int8 by the context's static scale. */
#include <stdlib.h>

#include "engine/w8a8_node.h"
#include "util/status.h"

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

llx_status w8_attn_f32(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = w8_impl(nd);
    const int out_i8 = st->quant == LLX_QUANT_STATIC;
    const llx_attn_f32_job j = {
        .nd = nd, .st = st, .h0 = h0, .h1 = h1, .t0 = llx_stage_row0(nd, st), /* the first query wanted */
        .in = q->f[st->in], .ldq = (size_t)q->ld[st->in],
        .out = out_i8 ? NULL : q->f[st->out], .qout = out_i8 ? q->q[st->out] : NULL, .ldc = (size_t)q->ld[st->out],
        .inv = out_i8 ? w8_layer_of(q, st)->inv[st->scale] : 0.0f,
        .kc = q->kcf, .vc = q->vcf,
        .sc = q->scores, .vt = q->scores + nd->max_ctx, .sc_ld = q->sc_ld, .vt_ld = q->sc_ld};
    llx_attn_f32_run(&j);
    return LLX_OK;
}
