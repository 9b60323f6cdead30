/* engine/exec_fp32.c - the FP32 datapath: one node's weight slices, its
 * buffer table and the executors the schedule walker calls.
 *
 * One buffer per activation slot (llx/schedule.h), each holding up to
 * max_batch tokens, row-major [token][feature]; a stage names the slots it
 * reads and writes and is run by the executor of its `work`.  The KV cache
 * holds only this node's KV heads: K as [layer][kv head][cache pos][d], V
 * transposed as [layer][kv head][d][cache pos] (both blocks kv_cap * d; a
 * sequence's positions map to cache positions through its blocks,
 * internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "kernels/vecops.h"
#include "util/status.h"

/* A layer's weights, or (layer -1) the final norm and the LM head. */
typedef struct f32_layer {
    float *w[LLX_MAT_COUNT], *b[LLX_MAT_COUNT]; /* own rows x cols; b NULL when the model has none */
    float *ng[3], *nb[3];                       /* norm weights by llx_normw (nb NULL for RMSNorm) */
} f32_layer;

#define ATT_QB 16 /* query tokens per prompt-attention item (prompt_part) */

typedef struct f32_node {
    llx_arena weights; /* all weight slices of this node (huge pages) */
    f32_layer *layers, top;
    float *buf[LLX_SLOT_COUNT];
    int ld[LLX_SLOT_COUNT];
    int logit_rows;
    float *kc, *vc; /* KV cache (attn_f32.c: llx_attn_f32_kv_base) */
    float *rope;   /* Llama: [position][cos of d/2 angles, then sin] */
    float *scores; /* [threads][ATT_QB][max_ctx] */
    float *vt;     /* [threads][head_dim][max_ctx]: a sequence's V gathered when its blocks are apart */
    float *emb;    /* C scratch for the embedding */
} f32_node;

static f32_node *impl(const node *nd) { return nd->impl; }

static const f32_layer *layer_of(const f32_node *f, const llx_stage *st)
{
    return st->layer >= 0 ? &f->layers[st->layer] : &f->top;
}

static llx_status alloc_f(float **p, size_t n)
{
    *p = llx_alloc((n ? n : 1) * sizeof(float));
    return *p ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB)", n * 4 >> 20);
}

static llx_status load_matrix(node *nd, f32_node *f, f32_layer *L, int layer, llx_matrix m)
{
    int rows, cols;
    llx_matrix_shape(nd->cfg, m, &rows, &cols);
    const llx_range r = nd->part->rows[m][nd->id];
    if (rows == 0) return LLX_OK;
    L->w[m] = llx_arena_take(&f->weights, (size_t)(r.end - r.begin) * (size_t)cols * sizeof(float));
    if (!L->w[m]) return llx_fail(LLX_ERR_INTERNAL, "node weight arena too small");
    LLX_TRY(llx_hf_read_rows(nd->model->hf, layer, m, r.begin, r.end, L->w[m]));
    if (m == LLX_MAT_LM_HEAD || !llx_hf_has_bias(nd->model->hf)) return LLX_OK; /* no bias */
    LLX_TRY(alloc_f(&L->b[m], (size_t)(r.end - r.begin)));
    return llx_hf_read_bias(nd->model->hf, layer, m, r.begin, r.end, L->b[m]);
}

static llx_status load_norm(node *nd, f32_layer *L, int layer, llx_normw w)
{
    static const llx_vec g[3] = {LLX_VEC_LN1_G, LLX_VEC_LN2_G, LLX_VEC_LNF_G};
    static const llx_vec b[3] = {LLX_VEC_LN1_B, LLX_VEC_LN2_B, LLX_VEC_LNF_B};
    const size_t C = (size_t)nd->cfg->n_embd;
    LLX_TRY(alloc_f(&L->ng[w], C));
    LLX_TRY(llx_hf_read_vec(nd->model->hf, layer, g[w], L->ng[w]));
    if (!llx_hf_has_bias(nd->model->hf)) return LLX_OK; /* RMSNorm */
    LLX_TRY(alloc_f(&L->nb[w], C));
    return llx_hf_read_vec(nd->model->hf, layer, b[w], L->nb[w]);
}

static size_t weight_floats(const node *nd)
{
    size_t floats = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const llx_range r = nd->part->rows[m][nd->id];
        floats += (size_t)(r.end - r.begin) * cols * (m == LLX_MAT_LM_HEAD ? 1 : nd->cfg->n_layer);
    }
    return floats;
}

static llx_status load_buffers(node *nd, f32_node *f)
{
    const llx_config *c = nd->cfg;
    const size_t B = (size_t)nd->max_batch;
    for (int s = 0; s < LLX_SLOT_COUNT; s++) {
        f->ld[s] = llx_slot_width(c, (llx_slot)s);
        if (s != LLX_SLOT_LOGITS) LLX_TRY(alloc_f(&f->buf[s], B * (size_t)f->ld[s]));
    }
    f->logit_rows = 1;
    LLX_TRY(alloc_f(&f->buf[LLX_SLOT_LOGITS], (size_t)c->n_vocab));
    LLX_TRY(alloc_f(&f->emb, (size_t)c->n_embd));
    const size_t kv = (size_t)c->n_layer * (size_t)nd->kv_heads * (size_t)nd->kv_cap * (size_t)llx_config_head_dim(c);
    LLX_TRY(alloc_f(&f->kc, kv));
    LLX_TRY(alloc_f(&f->vc, kv));
    LLX_TRY(alloc_f(&f->vt, (size_t)llx_pool_size(nd->pool) * (size_t)nd->max_ctx * (size_t)llx_config_head_dim(c)));
    if (c->arch == LLX_ARCH_LLAMA && !(f->rope = llx_rope_table(c, nd->max_ctx)))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for the rotary table");
    return alloc_f(&f->scores, (size_t)llx_pool_size(nd->pool) * ATT_QB * (size_t)nd->max_ctx);
}

static llx_status f32_load(node *nd)
{
    const llx_config *c = nd->cfg;
    f32_node *f = calloc(1, sizeof *f);
    if (!f) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    nd->impl = f;
    if (nd->model->kind != LLX_MODEL_HF)
        return llx_fail(LLX_ERR_UNSUPPORTED, "fp32 precision needs a HuggingFace model folder");
    f->layers = calloc((size_t)c->n_layer, sizeof *f->layers);
    if (!f->layers) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const size_t floats = weight_floats(nd);
    if (!llx_arena_init(&f->weights, floats * sizeof(float), (size_t)c->n_layer * LLX_MAT_COUNT + 1))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for %zu MB of weights", floats * 4 >> 20);
    for (int l = 0; l < c->n_layer; l++) {
        for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) LLX_TRY(load_matrix(nd, f, &f->layers[l], l, (llx_matrix)m));
        LLX_TRY(load_norm(nd, &f->layers[l], l, LLX_NORMW_1));
        LLX_TRY(load_norm(nd, &f->layers[l], l, LLX_NORMW_2));
    }
    LLX_TRY(load_matrix(nd, f, &f->top, -1, LLX_MAT_LM_HEAD));
    LLX_TRY(load_norm(nd, &f->top, -1, LLX_NORMW_F));
    return load_buffers(nd, f);
}

static void free_layer(f32_layer *L)
{
    for (int m = 0; m < LLX_MAT_COUNT; m++) free(L->b[m]);
    for (int i = 0; i < 3; i++) free(L->ng[i]), free(L->nb[i]);
}

static void f32_unload(node *nd)
{
    f32_node *f = impl(nd);
    if (!f) return;
    if (f->layers)
        for (int l = 0; l < nd->cfg->n_layer; l++) free_layer(&f->layers[l]);
    free_layer(&f->top);
    free(f->layers);
    llx_arena_free(&f->weights);
    for (int s = 0; s < LLX_SLOT_COUNT; s++) free(f->buf[s]);
    free(f->kc), free(f->vc), free(f->rope), free(f->scores), free(f->vt), free(f->emb);
    free(f);
    nd->impl = NULL;
}

/* ---- EMBED: out = wte[token] (+ wpe[position]) on the host node ---- */

static llx_status f32_embed(node *nd, const llx_stage *st, int u0, int u1)
{
    f32_node *f = impl(nd);
    const int C = nd->cfg->n_embd, ld = f->ld[st->out];
    for (int t = 0; t < st->tokens; t++) {
        float *xt = f->buf[st->out] + (size_t)t * ld;
        LLX_TRY(llx_hf_read_wte(nd->model->hf, nd->tokens[t], nd->tokens[t] + 1, xt));
        if (!st->pos_embed) continue;
        const int p = llx_tok_pos(nd, t);
        LLX_TRY(llx_hf_read_wpe(nd->model->hf, p, p + 1, f->emb));
        llx_add_f32(xt, f->emb, C);
    }
    return LLX_OK;
}

/* ---- NORM: X += in; out = norm(X), every node, token by token ---- */

typedef struct norm_job {
    node *nd;
    const llx_stage *st;
    int t0; /* the first row (llx_stage_row0) */
} norm_job;

static void norm_rows(void *arg, int t0, int t1, int ith)
{
    const norm_job *j = arg;
    const llx_stage *st = j->st;
    f32_node *f = impl(j->nd);
    const f32_layer *L = layer_of(f, st);
    for (int t = j->t0 + t0; t < j->t0 + t1; t++) {
        const float *in = st->in != LLX_SLOT_NONE ? f->buf[st->in] + (size_t)t * f->ld[st->in] : NULL;
        float *out = st->norm != LLX_NORM_NONE ? f->buf[st->out] + (size_t)t * f->ld[st->out] : NULL;
        llx_norm_token(j->nd, st, f->buf[LLX_SLOT_X] + (size_t)t * f->ld[LLX_SLOT_X], in, out, L->ng, L->nb);
    }
}

static llx_status f32_norm(node *nd, const llx_stage *st, int u0, int u1)
{
    norm_job j = {nd, st, llx_stage_row0(nd, st)};
    llx_node_parallel_rows(nd, st->tokens - j.t0, 1, norm_rows, &j);
    return LLX_OK;
}

/* ---- MATMUL: out[:, r0:r1] = act(in W^T + b) (* aux), rows split ---- */

typedef struct mp_job {
    node *nd;
    const llx_stage *st;
    const float *w, *b, *in, *aux;
    float *out;
    int ldi, ldo, lda, tokens;
} mp_job;

static void mp_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const llx_kernels *k = j->nd->k;
    const int K = j->st->cols, n = b - a;
    float *out = j->out + a;
    k->matmul_f32(out, j->ldo, j->in, j->ldi, j->w + (size_t)a * K, K, j->b ? j->b + a : NULL, j->tokens, n, K);
    for (int t = 0; t < j->tokens; t++) {
        float *o = out + (size_t)t * j->ldo;
        if (j->st->act == LLX_ACT_GELU) k->gelu_f32(o, n);
        else if (j->st->act == LLX_ACT_SILU) k->silu_f32(o, n);
        if (j->aux)
            for (int i = 0; i < n; i++) o[i] *= j->aux[(size_t)t * j->lda + a + i];
    }
}

/* The stage's output buffer and its row stride; returns the rows it holds
 * (the logits buffer may hold fewer than the stage's tokens). */
static int f32_dst(node *nd, const llx_stage *st, void **dst, int *ld)
{
    f32_node *f = impl(nd);
    *ld = f->ld[st->out];
    if (st->out != LLX_SLOT_LOGITS) {
        *dst = f->buf[st->out];
        return st->tokens;
    }
    int rows;
    *dst = llx_logits_dst(nd, &f->buf[LLX_SLOT_LOGITS], &f->logit_rows, st->tokens, &rows);
    return rows;
}

static void f32_target(node *nd, const llx_stage *st, void **dst, int *ld) { (void)f32_dst(nd, st, dst, ld); }

static llx_status f32_matmul(node *nd, const llx_stage *st, int r0, int r1)
{
    f32_node *f = impl(nd);
    const f32_layer *L = layer_of(f, st);
    const llx_range own = nd->part->rows[st->matrix][nd->id];
    mp_job j = {.nd = nd, .st = st, .tokens = st->tokens};
    void *dst;
    const int rows = f32_dst(nd, st, &dst, &j.ldo);
    if (j.tokens > rows) j.tokens = rows;
    j.out = (float *)dst + r0;
    j.w = L->w[st->matrix] + (size_t)(r0 - own.begin) * st->cols;
    j.b = L->b[st->matrix] ? L->b[st->matrix] + (r0 - own.begin) : NULL;
    j.ldi = f->ld[st->in];
    j.in = f->buf[st->in] + (size_t)(nd->pass_tokens - st->tokens) * j.ldi; /* the LM head reads the last tokens */
    if (st->aux != LLX_SLOT_NONE) {
        j.lda = f->ld[st->aux];
        j.aux = f->buf[st->aux] + r0;
    }
    const int t0 = llx_stage_row0(nd, st);
    if (t0 > 0) {
        j.tokens -= t0;
        j.in += (size_t)t0 * j.ldi;
        j.out += (size_t)t0 * j.ldo;
        if (j.aux) j.aux += (size_t)t0 * j.lda;
    }
    llx_node_parallel_paced(nd, nd->pace, r1 - r0, 12, mp_part, &j);
    return LLX_OK;
}

/* ---- ROPE: rotate q of query heads [h0, h1) and k of their KV heads ---- */

static llx_status f32_rope(node *nd, const llx_stage *st, int h0, int h1)
{
    f32_node *f = impl(nd);
    const int hd = st->head_dim, G = st->heads / st->kv_heads, ld = f->ld[st->out];
    const int kofs = st->heads * hd;
    if (h1 <= h0) return LLX_OK;
    for (int t = 0; t < st->tokens; t++) {
        float *row = f->buf[st->out] + (size_t)t * ld;
        const float *cs = f->rope + (size_t)llx_tok_pos(nd, t) * hd;
        for (int h = h0; h < h1; h++) nd->k->rope_f32(row + (size_t)h * hd, cs, hd / 2);
        for (int kv = h0 / G; kv <= (h1 - 1) / G; kv++) nd->k->rope_f32(row + kofs + (size_t)kv * hd, cs, hd / 2);
    }
    return LLX_OK;
}

/* ---- ATTN: append k, v of the node's KV heads; context of heads [h0, h1) ---- */

/* A prompt, or a chunk of one, over one stretch of the cache
 * (llx_pass_one_stretch): item = (head, block of ATT_QB tokens from block
 * j->t0), head-major.
 * The block's scores are one matmul over the KV head's K rows up to the
 * block's last position, so K is read once per block, not per token; each
 * score is a dot product of length head_dim in the kernel's one order, so
 * this equals token by token (attn_f32.c) bit for bit.  Each token then
 * scales and softmaxes its own positions, and its context is a
 * matrix-vector product over the transposed V cache of exactly its length:
 * the block's in one causal product where the tier has one (kernels.h),
 * the same bits.  Other passes: llx_attn_f32_heads, item = (head, token). */
static void prompt_part(void *arg, int a, int b, int ith)
{
    const llx_attn_f32_job *j = arg;
    node *nd = j->nd;
    const llx_stage *st = j->st;
    f32_node *f = impl(nd);
    const int hd = st->head_dim, T = st->tokens, G = st->heads / st->kv_heads, nb = (T + ATT_QB - 1) / ATT_QB;
    const int ldq = f->ld[st->in], ldc = f->ld[st->out], lds = nd->max_ctx, p0 = llx_tok_pos(nd, 0);
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = f->scores + (size_t)ith * ATT_QB * lds;
    const size_t c0 = (size_t)llx_cache_pos(nd, 0, 0);
    for (int it = a; it < b; it++) {
        const int h = j->h0 + it / (nb - j->t0), t0 = (j->t0 + it % (nb - j->t0)) * ATT_QB;
        const int t1 = t0 + ATT_QB < T ? t0 + ATT_QB : T;
        const size_t base = llx_attn_f32_kv_base(nd, st->layer, h / G - nd->kv0);
        const float *q = f->buf[st->in] + (size_t)t0 * ldq + (size_t)h * hd;
        nd->k->matmul_f32(sc, lds, q, ldq, f->kc + base + c0 * hd, hd, NULL, t1 - t0, p0 + t1, hd);
        for (int t = t0; t < t1; t++) {
            float *s = sc + (size_t)(t - t0) * lds;
            const int n = p0 + t + 1;
            for (int i = 0; i < n; i++) s[i] *= scale;
            nd->k->softmax_f32(s, n);
        }
        float *out = f->buf[st->out] + (size_t)t0 * ldc + (size_t)h * hd;
        const float *vt = f->vc + base + c0;
        if (nd->k->matmul_f32_causal) nd->k->matmul_f32_causal(out, ldc, sc, lds, vt, nd->kv_cap, t1 - t0, hd, p0 + t0 + 1);
        else
            for (int t = t0; t < t1; t++)
                nd->k->matmul_f32(out + (size_t)(t - t0) * ldc, hd, sc + (size_t)(t - t0) * lds, p0 + t + 1, vt,
                                  nd->kv_cap, NULL, 1, hd, p0 + t + 1);
    }
}

static llx_status f32_attn(node *nd, const llx_stage *st, int h0, int h1)
{
    f32_node *f = impl(nd);
    const int hd = st->head_dim, nb = (st->tokens + ATT_QB - 1) / ATT_QB;
    const int prompt = st->tokens > 1 && llx_pass_one_stretch(nd, st->tokens), q0 = llx_stage_row0(nd, st);
    const llx_attn_f32_job j = {
        .nd = nd, .st = st, .h0 = h0, .h1 = h1, .t0 = prompt ? q0 / ATT_QB : q0, /* the first query wanted */
        .in = f->buf[st->in], .ldq = (size_t)f->ld[st->in], .out = f->buf[st->out], .ldc = (size_t)f->ld[st->out],
        .kc = f->kc, .vc = f->vc,
        .sc = f->scores, .vt = f->vt, .sc_ld = (size_t)ATT_QB * nd->max_ctx, .vt_ld = (size_t)nd->max_ctx * hd};
    if (h1 <= h0) return LLX_OK;
    llx_attn_f32_append(&j); /* every token's K and V */
    if (prompt) llx_node_parallel_rows(nd, (h1 - h0) * (nb - j.t0), 1, prompt_part, (void *)&j); /* the wanted blocks */
    else llx_attn_f32_heads(&j);
    return LLX_OK;
}

/* ---- the executor table and the observers ---- */

static const llx_exec_fn executors[LLX_WORK_COUNT] = {
    [LLX_WORK_EMBED] = f32_embed,
    [LLX_WORK_NORM] = f32_norm,
    [LLX_WORK_MATMUL] = f32_matmul,
    [LLX_WORK_ROPE] = f32_rope,
    [LLX_WORK_ATTN] = f32_attn,
};

static llx_status f32_run(node *nd, const llx_stage *st, int u0, int u1)
{
    return llx_node_exec(executors, "fp32", nd, st, u0, u1);
}

static void f32_done(node *nd, const llx_stage *st)
{
    const int p = llx_obs_point_at(nd->cfg, st);
    if (p < 0 || !nd->obs || !nd->obs->fn || st->out == LLX_SLOT_NONE) return;
    f32_node *f = impl(nd);
    nd->obs->fn(nd->obs->ud, st->layer, (llx_obs_point)p, f->buf[st->out], st->tokens, f->ld[st->out]);
}

static const float *f32_logits(const node *nd) { return impl(nd)->buf[LLX_SLOT_LOGITS]; }

static long long f32_weight_bytes(const node *nd) { return (long long)weight_floats(nd) * (long long)sizeof(float); }

const node_ops llx_fp32_ops = {
    .name = "fp32",
    .weight_bytes_per_elem = 4,
    .load = f32_load,
    .unload = f32_unload,
    .run = f32_run,
    .target = f32_target,
    .done = f32_done,
    .logits = f32_logits,
    .weight_bytes = f32_weight_bytes,
};
