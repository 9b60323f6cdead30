/* engine/attn_w8a8.c - the W8A8 attention executor: appends the pass's int8
 * k and v of the node's KV heads to the position-major cache, then int8
 * Q.K -> fp32 softmax -> int8 probabilities (x127) . int8 V, and the
 * context as int8 (static scale) or fp32 (quantized per token after the
 * gather).  Layout and formulas: w8a8_node.h, docs/quantization.md. */
#include <stdlib.h>
#include <string.h>

#include "engine/w8a8_node.h"
#include "kernels/attn_prefill.h"
#include "util/status.h"

static void *alloc_or(llx_status *st, size_t bytes)
{
    void *p = *st == LLX_OK ? llx_alloc(bytes ? bytes : 1) : NULL;
    if (!p && *st == LLX_OK) *st = llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB)", bytes >> 20);
    return p;
}

llx_status w8_attn_alloc(node *nd, w8_node *q)
{
    const llx_config *c = nd->cfg;
    const size_t nth = (size_t)llx_pool_size(nd->pool), hd = (size_t)llx_config_head_dim(c);
    q->kv_ctx = nd->kv_cap; /* whole blocks, so whole chunks */
    q->p_ld = (nd->max_ctx + 31) & ~31;
    q->kv_layer = (size_t)nd->kv_heads * (size_t)q->kv_ctx * hd;
    const size_t kv = (size_t)c->n_layer * q->kv_layer, NH = (size_t)(nd->heads > 0 ? nd->heads : 1);
    llx_status st = LLX_OK;
    q->kc = alloc_or(&st, kv);
    q->vc = alloc_or(&st, kv);
    q->sc_ld = (size_t)nd->max_ctx > hd ? (size_t)nd->max_ctx : hd;
    q->scores = alloc_or(&st, nth * NH * q->sc_ld * 4);
    q->iscores = alloc_or(&st, nth * NH * (size_t)nd->max_ctx * 4);
    q->probs = alloc_or(&st, nth * NH * (size_t)q->p_ld);
    q->cacc = alloc_or(&st, nth * NH * hd * 4);
    q->cpart = alloc_or(&st, nth * NH * hd * 4);
    q->pscratch_bytes = llx_attn_prefill_scratch(nd->k, nd->max_ctx, (int)hd);
    q->pscratch = alloc_or(&st, nth * q->pscratch_bytes);
    return st;
}

typedef struct attn_job {
    node *nd;
    const llx_stage *st;
    int h0, h1, groups; /* heads [h0, h1) in `groups` parts per token */
    int t0;             /* the first query token (llx_stage_row0) */
} attn_job;

/* Query heads per KV head (grouped-query attention; 1 for GPT-2). */
static int group_of(const llx_stage *st) { return st->heads / st->kv_heads; }

/* The node-local KV head query head h reads.  A kernel call over query
 * heads [a, b) passes the K and V of kv_local(a) and the group size: a is
 * the first head of its group, or [a, b) lies in one group (kernels.h). */
static int kv_local(const node *nd, const llx_stage *st, int h) { return h / group_of(st) - nd->kv0; }

/* Head h's scores (int32, n) -> int8 probabilities, zero-padded to whole
 * chunks for the context kernel; sh is fp32 scratch. */
static void head_probs(const node *nd, const w8_layer *L, int h, const int32_t *si, float *sh, int8_t *ph, int n)
{
    nd->k->scale_i32(sh, si, L->score_scale[h], n);
    nd->k->softmax_f32(sh, n);
    nd->k->quant_i8(ph, sh, 127.0f, n);
    memset(ph + n, 0, (size_t)(((n + 31) & ~31) - n));
}

/* int32 context of H heads from head h0, at o -> int8 (static) or fp32
 * (quantized per token after the gather) context, each head by its own
 * scale; tmp is fp32 scratch of H * hd. */
static void context_out(const node *nd, const llx_stage *st, const w8_layer *L, const int32_t *acc, float *tmp,
                        size_t o, int h0, int H)
{
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim;
    float *y = st->quant == LLX_QUANT_STATIC ? tmp : q->f[st->out] + o;
    for (int h = 0; h < H; h++) nd->k->scale_i32(y + (size_t)h * hd, acc + (size_t)h * hd, L->ctx_scale[h0 + h], hd);
    if (st->quant == LLX_QUANT_STATIC) nd->k->quant_i8(q->q[st->out] + o, tmp, L->inv[st->scale], H * hd);
}

/* Scores of H query heads (reading from local KV head hl: the first of
 * them starts its group, or all lie in one) of token t over positions
 * [a, b) of its sequence, stretch by stretch of consecutive cache blocks;
 * si is indexed by position. */
static void scores_range(const node *nd, const llx_stage *st, int t, const int8_t *qv, int hl, int H, int32_t *si, int a,
                         int b)
{
    const w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, KV = nd->kv_heads;
    const int8_t *kl = q->kc + (size_t)st->layer * q->kv_layer;
    for (int p = a, e; p < b; p = e) {
        e = llx_cache_run(nd, t, p, b);
        const size_t c = (size_t)llx_cache_pos(nd, t, p);
        nd->k->attn_qk_i8(si + p, nd->max_ctx, qv, kl + (c * KV + (size_t)hl) * hd, KV * hd, H, group_of(st), e - p,
                          hd);
    }
}

/* Context partial sums of H heads (KV head hl as above) over positions [a, b) (a a multiple of
 * 32) into acc, int32 and so exact whatever the stretches; part is scratch
 * of H * hd. */
static void context_range(const node *nd, const llx_stage *st, int t, const int8_t *pr, int hl, int H, int32_t *acc,
                          int32_t *part, int a, int b)
{
    const w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, KV = nd->kv_heads;
    const size_t cs = (size_t)KV * 32 * hd;
    const int8_t *vl = q->vc + (size_t)st->layer * q->kv_layer;
    for (int p = a, e, first = 1; p < b; p = e, first = 0) {
        e = llx_cache_run(nd, t, p, b);
        const size_t c = (size_t)llx_cache_pos(nd, t, p);
        int32_t *dst = first ? acc : part;
        nd->k->attn_pv_i8(dst, pr + p, q->p_ld, vl + (c / 32) * cs + (size_t)hl * 32 * hd, cs, H, group_of(st), e - p,
                          hd);
        if (!first)
            for (int i = 0; i < H * hd; i++) acc[i] += part[i];
    }
}

/* Append the pass's k rows (append_k) or v rows (append_v) of KV heads
 * [k0, k1) to the cache; append_kv both. */
static void append_k(node *nd, const llx_stage *st, int k0, int k1)
{
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, KV = nd->kv_heads, ldq = q->ld[st->in], kofs = st->heads * hd;
    int8_t *kl = q->kc + (size_t)st->layer * q->kv_layer;
    for (int t = 0; t < st->tokens; t++) {
        const int p = llx_cache_pos(nd, t, llx_tok_pos(nd, t));
        memcpy(kl + ((size_t)p * KV + (size_t)(k0 - nd->kv0)) * hd, q->q[st->in] + (size_t)t * ldq + kofs + (size_t)k0 * hd,
               (size_t)(k1 - k0) * hd);
    }
}

static void append_v(node *nd, const llx_stage *st, int k0, int k1)
{
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, KV = nd->kv_heads, ldq = q->ld[st->in];
    const int vofs = (st->heads + st->kv_heads) * hd;
    int8_t *vl = q->vc + (size_t)st->layer * q->kv_layer;
    for (int t = 0; t < st->tokens; t++) {
        const int8_t *row = q->q[st->in] + (size_t)t * ldq;
        const int p = llx_cache_pos(nd, t, llx_tok_pos(nd, t));
        int8_t *vchunk = vl + (size_t)(p / 32) * KV * 32 * hd + (size_t)(p % 32);
        for (int k = k0; k < k1; k++)
            for (int d = 0; d < hd; d++)
                vchunk[((size_t)(k - nd->kv0) * hd + d) * 32] = row[vofs + (size_t)k * hd + d];
    }
}

static void append_kv(node *nd, const llx_stage *st, int k0, int k1)
{
    append_k(nd, st, k0, k1);
    append_v(nd, st, k0, k1);
}

/* One (token, group of heads) pair per item: int8 scores over the
 * sequence's K cache (attn_qk_i8), fp32 softmax per head, int8
 * probabilities, and the int8 context over its chunked V cache
 * (attn_pv_i8).  Prefill gives each thread whole tokens; a short decode
 * gives each a group of heads. */
static void attn_part(void *arg, int a, int b, int ith)
{
    const attn_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, NH = nd->heads, G = group_of(st);
    const w8_layer *L = w8_layer_of(q, st);
    const size_t lds = (size_t)nd->max_ctx, ldp = (size_t)q->p_ld, ldq = (size_t)q->ld[st->in];
    float *sc = q->scores + (size_t)ith * NH * q->sc_ld;
    int32_t *si = q->iscores + (size_t)ith * NH * lds;
    int8_t *pr = q->probs + (size_t)ith * NH * ldp;
    int32_t *acc = q->cacc + (size_t)ith * NH * hd, *part = q->cpart + (size_t)ith * NH * hd;
    for (int it = a; it < b; it++) {
        const int t = j->t0 + it / j->groups, g = it % j->groups, n = llx_tok_pos(nd, t) + 1;
        int hb, he; /* parts of whole groups when the heads start a group */
        llx_split_work(j->h1 - j->h0, g, j->groups, j->h0 % G ? 1 : G, &hb, &he);
        const int H = he - hb, kv = kv_local(nd, st, j->h0 + hb);
        if (H <= 0) continue;
        const int8_t *qv = q->q[st->in] + (size_t)t * ldq + (size_t)(j->h0 + hb) * hd;
        scores_range(nd, st, t, qv, kv, H, si, 0, n);
        for (int h = 0; h < H; h++)
            head_probs(nd, L, j->h0 + hb + h, si + (size_t)h * lds, sc + (size_t)h * lds, pr + (size_t)h * ldp, n);
        context_range(nd, st, t, pr, kv, H, acc, part, 0, n);
        context_out(nd, st, L, acc, sc, (size_t)t * q->ld[st->out] + (size_t)(j->h0 + hb) * hd, j->h0 + hb, H);
    }
}

/* A prompt, or a chunk of one, over one stretch of the cache
 * (llx_pass_one_stretch): each of the node's heads attends for all the
 * pass's tokens at once with the blocked causal kernel of
 * kernels/attn_prefill.h (scores and context are GEMMs that reuse the
 * head's packed K and V across the tokens), bit-identical to token by
 * token.  An item is a head and a group of the tokens, so all threads work
 * even when a ring block is one head.  Other multi-token passes (tokens of
 * several sequences, blocks apart) take attn_part. */
typedef struct prefill_job {
    node *nd;
    const llx_stage *st;
    int h0, groups;
    int t0; /* the first query token (llx_stage_row0) */
} prefill_job;

static void prefill_part(void *arg, int a, int b, int ith)
{
    const prefill_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, KV = nd->kv_heads;
    const w8_layer *L = w8_layer_of(q, st);
    const size_t c0 = (size_t)llx_cache_pos(nd, 0, 0), cs = (size_t)KV * 32 * hd; /* the stretch's start */
    const int8_t *kl = q->kc + (size_t)st->layer * q->kv_layer + c0 * KV * hd;
    const int8_t *vl = q->vc + (size_t)st->layer * q->kv_layer + c0 / 32 * cs;
    const int out_i8 = st->quant == LLX_QUANT_STATIC, ldq = q->ld[st->in], ldo = q->ld[st->out];
    for (int it = a; it < b; it++) {
        const int h = j->h0 + it / j->groups, hl = kv_local(nd, st, h); /* its KV head */
        int t0, t1;
        llx_split_work(st->tokens - j->t0, it % j->groups, j->groups, 1, &t0, &t1);
        if (t1 <= t0) continue;
        t0 += j->t0, t1 += j->t0;
        const size_t o = (size_t)t0 * ldo + (size_t)h * hd;
        const llx_attn_prefill ap = {
            .q = q->q[st->in] + (size_t)t0 * ldq + (size_t)h * hd, .ldq = (size_t)ldq,
            .k = kl + (size_t)hl * hd, .ldk = (size_t)KV * hd,
            .v = vl + (size_t)hl * 32 * hd, .cs = cs,
            .T = t1 - t0, .pos0 = llx_tok_pos(nd, 0) + t0, .hd = hd,
            .score_scale = L->score_scale[h], .ctx_scale = L->ctx_scale[h],
            .out_i8 = out_i8, .inv_ctx = out_i8 ? L->inv[st->scale] : 0.0f, /* no output scale when fp32 */
            .out = out_i8 ? (void *)(q->q[st->out] + o) : (void *)(q->f[st->out] + o), .ldo = (size_t)ldo};
        llx_attn_prefill_i8(nd->k, &ap, q->pscratch + (size_t)ith * q->pscratch_bytes);
    }
}

/* Decode on several threads: the layer's cache is split by position, so
 * each thread streams a contiguous part of K and of V with all heads.
 * Scores are int32 and the context partial sums int32, so splitting them
 * changes no bit; the softmax runs per head.  Three steps, one pool run
 * each; thread 0's scratch holds the shared scores and probabilities. */
#define SPLIT_MIN_POS 64 /* positions per thread below which heads are split instead */

typedef struct split_job {
    node *nd;
    const llx_stage *st;
    int h0, h1, n;
} split_job;

/* Thread 0 has just written the new position's K row and V bytes (the V
 * write dirties every line of the last chunk), so it takes the parts at
 * the end of the cache: the rows [a, b) a member gets are mirrored. */
static void split_qk(void *arg, int a, int b, int ith)
{
    const split_job *j = arg;
    const int a0 = a;
    a = j->n - b, b = j->n - a0;
    const node *nd = j->nd;
    w8_node *q = w8_impl(nd);
    const int8_t *qv = q->q[j->st->in] + (size_t)j->h0 * j->st->head_dim; /* one token */
    scores_range(nd, j->st, 0, qv, kv_local(nd, j->st, j->h0), j->h1 - j->h0, q->iscores, a, b);
}

static void split_probs(void *arg, int a, int b, int ith)
{
    const split_job *j = arg;
    const node *nd = j->nd;
    w8_node *q = w8_impl(nd);
    const w8_layer *L = w8_layer_of(q, j->st);
    const size_t lds = (size_t)nd->max_ctx, ldp = (size_t)q->p_ld;
    for (int h = a; h < b; h++)
        head_probs(nd, L, j->h0 + h, q->iscores + h * lds, q->scores + h * lds, q->probs + h * ldp, j->n);
}

static void split_pv(void *arg, int a, int b, int ith)
{
    const split_job *j = arg;
    const int chunks = (j->n + 31) / 32, a0 = a;
    a = chunks - b, b = chunks - a0;
    const node *nd = j->nd;
    w8_node *q = w8_impl(nd);
    const int hd = j->st->head_dim, NH = nd->heads;
    const int end = 32 * b < j->n ? 32 * b : j->n;
    context_range(nd, j->st, 0, q->probs, kv_local(nd, j->st, j->h0), j->h1 - j->h0, q->cacc + (size_t)ith * NH * hd,
                  q->cpart + (size_t)ith * NH * hd, 32 * a, end);
}

static void attn_decode_split(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = w8_impl(nd);
    const int hd = st->head_dim, NH = nd->heads, H = h1 - h0, nth = llx_pool_size(nd->pool);
    split_job j = {nd, st, h0, h1, llx_tok_pos(nd, 0) + 1};
    memset(q->cacc, 0, (size_t)nth * NH * hd * sizeof *q->cacc); /* a thread without chunks adds zeros */
    llx_node_parallel_paced(nd, nd->pace_attn, j.n, 8, split_qk, &j);
    llx_node_parallel_rows(nd, H, 1, split_probs, &j);
    llx_node_parallel_paced(nd, nd->pace_attn, (j.n + 31) / 32, 1, split_pv, &j);
    for (int i = 1; i < nth; i++)
        for (int d = 0; d < H * hd; d++) q->cacc[d] += q->cacc[(size_t)i * NH * hd + d];
    context_out(nd, st, w8_layer_of(q, st), q->cacc, q->scores, (size_t)h0 * hd, h0, H);
}

/* Decode below SPLIT_MIN_POS positions per thread: one pool run.  A K row
 * is read by one thread (the lines of a row come from memory together,
 * so threads that each read part of every row would each wait for all of
 * it): member i computes the scores of every head over its contiguous
 * share of the positions into thread 0's score rows; the new position's
 * scores (the last member's) read its k from the pass's QKV row, so no
 * member waits for the cache row.  Each member appends the k and v of its
 * own heads (whole KV groups) first, and after a barrier turns their
 * scores into probabilities and their context over all positions,
 * reading the V chunks it appended to.  Scores are int32 and each head's
 * softmax and context are those of one thread: the same bits as any other
 * split. */
typedef struct fused_job {
    node *nd;
    const llx_stage *st;
    int h0, h1, n;
} fused_job;

static void fused_member(void *arg, int ith, int nth)
{
    const fused_job *j = arg;
    node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const int G = group_of(st), hd = st->head_dim, NH = nd->heads;
    int pb, pe, hb, he;
    llx_split_work(j->n, ith, nth, 8, &pb, &pe); /* the last member's part ends at the new position */
    llx_split_work(j->h1 - j->h0, ith, nth, G, &hb, &he);
    hb += j->h0, he += j->h0;
    if (he > hb) append_kv(nd, st, hb / G, (he - 1) / G + 1);
    const size_t lds = (size_t)nd->max_ctx, ldp = (size_t)q->p_ld;
    const int8_t *qv = q->q[st->in] + (size_t)j->h0 * hd; /* one token */
    const int last = j->n - 1, H = j->h1 - j->h0, pc = pe < last ? pe : last; /* [pb, pc): cached positions */
    if (pc > pb) scores_range(nd, st, 0, qv, kv_local(nd, st, j->h0), H, q->iscores, pb, pc);
    if (pe > last) { /* the new position's k straight from the pass's row, laid out as a cache row */
        const int8_t *kv = q->q[st->in] + (size_t)st->heads * hd + (size_t)(j->h0 / G) * hd;
        nd->k->attn_qk_i8(q->iscores + last, nd->max_ctx, qv, kv, nd->kv_heads * hd, H, G, 1, hd);
    }
    llx_pool_barrier(nd->pool);
    if (he <= hb) return;
    const w8_layer *L = w8_layer_of(q, st);
    float *sc = q->scores + (size_t)ith * NH * q->sc_ld;
    int8_t *pr = q->probs + (size_t)ith * NH * ldp;
    for (int h = hb; h < he; h++)
        head_probs(nd, L, h, q->iscores + (size_t)(h - j->h0) * lds, sc + (size_t)(h - hb) * lds,
                   pr + (size_t)(h - hb) * ldp, j->n);
    int32_t *acc = q->cacc + (size_t)ith * NH * hd, *part = q->cpart + (size_t)ith * NH * hd;
    context_range(nd, st, 0, pr, kv_local(nd, st, hb), he - hb, acc, part, 0, j->n);
    context_out(nd, st, L, acc, sc, (size_t)hb * hd, hb, he - hb);
}

/* ROPE: the fp32 q of query heads [h0, h1) and k of their KV heads turned
 * by the position's angles, then q, k and v of those heads rounded to int8
 * with their static scales (per head, or the Q, K, V tensors' in version 1
 * files; the gathered QKV slot arrives in fp32 for this). */
llx_status w8_rope(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = w8_impl(nd);
    const w8_layer *L = w8_layer_of(q, st);
    const int hd = st->head_dim, G = group_of(st), ld = q->ld[st->in];
    const int kofs = st->heads * hd, vofs = kofs + st->kv_heads * hd, k0 = h0 / G, k1 = h1 > h0 ? (h1 - 1) / G + 1 : k0;
    for (int t = 0; t < st->tokens; t++) {
        float *row = q->f[st->in] + (size_t)t * ld;
        int8_t *out = q->q[st->out] + (size_t)t * ld;
        const float *cs = q->rope + (size_t)llx_tok_pos(nd, t) * hd;
        for (int h = h0; h < h1; h++) nd->k->rope_f32(row + (size_t)h * hd, cs, hd / 2);
        for (int k = k0; k < k1; k++) nd->k->rope_f32(row + kofs + (size_t)k * hd, cs, hd / 2);
        if (st->quant == LLX_QUANT_F32) continue; /* an fp32 KV cache: attention reads the turned fp32 row */
        const size_t qo = (size_t)h0 * hd, ko = (size_t)kofs + (size_t)k0 * hd, vo = (size_t)vofs + (size_t)k0 * hd;
        for (int h = h0; h < h1; h++) /* each head by its static scale (segments q heads | k | v) */
            nd->k->quant_i8(out + qo + (size_t)(h - h0) * hd, row + qo + (size_t)(h - h0) * hd, L->seg_inv[h], hd);
        for (int k = k0; k < k1; k++) {
            const size_t d = (size_t)(k - k0) * hd;
            nd->k->quant_i8(out + ko + d, row + ko + d, L->seg_inv[st->heads + k], hd);
            nd->k->quant_i8(out + vo + d, row + vo + d, L->seg_inv[st->heads + st->kv_heads + k], hd);
        }
    }
    return LLX_OK;
}

llx_status w8_attn(node *nd, const llx_stage *st, int h0, int h1)
{
    if (h1 <= h0) return LLX_OK;
    const int nth = llx_pool_size(nd->pool), G = group_of(st);
    const int split = st->tokens == 1 && nth > 1 && llx_tok_pos(nd, 0) + 1 >= SPLIT_MIN_POS * nth;
    const int q0 = llx_stage_row0(nd, st), T = st->tokens - q0; /* the queries wanted: tokens [q0, tokens) */
    /* the fused run needs every thread (an in-run barrier): not when a
     * thread was missing from the last row split (llx_pool_run_shares) */
    if (st->tokens == 1 && T == 1 && nth > 1 && !split && h0 % G == 0 && !llx_pool_short_handed(nd->pool)) {
        fused_job f = {nd, st, h0, h1, llx_tok_pos(nd, 0) + 1};
        llx_pool_run(nd->pool, fused_member, &f);
        return LLX_OK;
    }
    /* the KV heads of these query heads (rewritten with the same bytes when
     * the heads of one group come in several calls) */
    append_kv(nd, st, h0 / G, (h1 - 1) / G + 1);
    if (split) {
        attn_decode_split(nd, st, h0, h1);
        return LLX_OK;
    }
    if (st->tokens > 1 && llx_pass_one_stretch(nd, st->tokens)) {
        const int H = h1 - h0, groups = H >= nth ? 1 : (nth + H - 1) / H;
        prefill_job p = {nd, st, h0, groups < T ? groups : T, q0};
        llx_node_parallel_rows(nd, H * p.groups, 1, prefill_part, &p);
        return LLX_OK;
    }
    attn_job j = {nd, st, h0, h1, T >= nth ? 1 : nth, q0};
    llx_node_parallel_rows(nd, T * j.groups, 1, attn_part, &j);
    return LLX_OK;
}
