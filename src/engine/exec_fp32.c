/* engine/exec_fp32.c - the FP32 datapath: weight slices of one node and
 * the stage implementations the schedule walker calls.
 *
 * Buffers hold up to max_batch tokens, row-major [token][feature]:
 *   x   residual stream (C)      h   LayerNorm output (C)
 *   qkv QKV output (3C)          ctx attention context (C)
 *   br  PROJ / FC2 output (C)    g   FC1+GELU output (F)
 *   logits (V per wanted token)
 * The KV cache holds only this node's heads: K as [layer][head][position][d],
 * V transposed as [layer][head][d][position] (both blocks max_ctx * d). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "kernels/vecops.h"
#include "util/status.h"

typedef struct f32_layer {
    float *w[4], *b[4]; /* QKV, PROJ, FC1, FC2 slices: own rows x cols */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
} f32_layer;

typedef struct f32_node {
    llx_range own[LLX_MAT_COUNT]; /* own rows of each matrix */
    llx_arena weights;            /* all weight slices of this node (huge pages) */
    f32_layer *layers;
    float *lm, *lnf_g, *lnf_b;
    float *x, *h, *qkv, *ctx, *br, *g, *logits;
    int logit_rows;
    float *kc, *vc;
    float *scores; /* [threads][max_ctx] */
    float *emb;    /* C scratch for the embedding */
} f32_node;

static f32_node *impl(const node *nd) { return nd->impl; }

static llx_status alloc_f(float **p, size_t n)
{
    *p = llx_alloc(n * sizeof(float));
    return *p ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB)", n * 4 >> 20);
}

static size_t kv_index(const node *nd, int layer, int hl, int pos)
{
    const int hd = llx_config_head_dim(nd->cfg);
    return (((size_t)layer * (size_t)nd->heads + (size_t)hl) * (size_t)nd->max_ctx + (size_t)pos) * (size_t)hd;
}

static llx_status load_layer(node *nd, f32_node *f, int l)
{
    const llx_hf *hf = nd->model->hf;
    const int C = nd->cfg->n_embd;
    f32_layer *L = &f->layers[l];
    for (int m = 0; m < 4; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const llx_range r = f->own[m];
        L->w[m] = llx_arena_take(&f->weights, (size_t)(r.end - r.begin) * (size_t)cols * sizeof(float));
        if (!L->w[m]) return llx_fail(LLX_ERR_INTERNAL, "node weight arena too small");
        LLX_TRY(alloc_f(&L->b[m], (size_t)(r.end - r.begin)));
        LLX_TRY(llx_hf_read_rows(hf, l, (llx_matrix)m, r.begin, r.end, L->w[m]));
        LLX_TRY(llx_hf_read_bias(hf, l, (llx_matrix)m, r.begin, r.end, L->b[m]));
    }
    float **v[4] = {&L->ln1_g, &L->ln1_b, &L->ln2_g, &L->ln2_b};
    const llx_vec which[4] = {LLX_VEC_LN1_G, LLX_VEC_LN1_B, LLX_VEC_LN2_G, LLX_VEC_LN2_B};
    for (int i = 0; i < 4; i++) {
        LLX_TRY(alloc_f(v[i], (size_t)C));
        LLX_TRY(llx_hf_read_vec(hf, l, which[i], *v[i]));
    }
    return LLX_OK;
}

static llx_status f32_load(node *nd)
{
    const llx_config *c = nd->cfg;
    f32_node *f = calloc(1, sizeof *f);
    if (!f) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    nd->impl = f;
    if (nd->model->kind != LLX_MODEL_HF)
        return llx_fail(LLX_ERR_UNSUPPORTED, "fp32 precision needs a HuggingFace model folder");
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        f->own[m] = llx_split_range(rows, nd->nodes, nd->id);
    }
    f->layers = calloc((size_t)c->n_layer, sizeof *f->layers);
    if (!f->layers) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const llx_range lm = f->own[LLX_MAT_LM_HEAD];
    const size_t C = (size_t)c->n_embd, B = (size_t)nd->max_batch;
    size_t floats = (size_t)(lm.end - lm.begin) * C;
    for (int m = 0; m < 4; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        floats += (size_t)(f->own[m].end - f->own[m].begin) * cols * c->n_layer;
    }
    if (!llx_arena_init(&f->weights, floats * sizeof(float), (size_t)c->n_layer * 4 + 1))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for %zu MB of weights", floats * 4 >> 20);
    for (int l = 0; l < c->n_layer; l++) LLX_TRY(load_layer(nd, f, l));
    f->lm = llx_arena_take(&f->weights, (size_t)(lm.end - lm.begin) * C * sizeof(float));
    if (!f->lm) return llx_fail(LLX_ERR_INTERNAL, "node weight arena too small");
    LLX_TRY(llx_hf_read_rows(nd->model->hf, -1, LLX_MAT_LM_HEAD, lm.begin, lm.end, f->lm));
    LLX_TRY(alloc_f(&f->lnf_g, C));
    LLX_TRY(alloc_f(&f->lnf_b, C));
    LLX_TRY(llx_hf_read_vec(nd->model->hf, -1, LLX_VEC_LNF_G, f->lnf_g));
    LLX_TRY(llx_hf_read_vec(nd->model->hf, -1, LLX_VEC_LNF_B, f->lnf_b));

    LLX_TRY(alloc_f(&f->x, B * C));
    LLX_TRY(alloc_f(&f->h, B * C));
    LLX_TRY(alloc_f(&f->qkv, B * 3 * C));
    LLX_TRY(alloc_f(&f->ctx, B * C));
    LLX_TRY(alloc_f(&f->br, B * C));
    LLX_TRY(alloc_f(&f->g, B * (size_t)c->n_inner));
    LLX_TRY(alloc_f(&f->emb, C));
    f->logit_rows = 1;
    LLX_TRY(alloc_f(&f->logits, (size_t)c->n_vocab));
    const size_t kv = (size_t)c->n_layer * (size_t)nd->heads * (size_t)nd->max_ctx * (size_t)llx_config_head_dim(c);
    LLX_TRY(alloc_f(&f->kc, kv ? kv : 1));
    LLX_TRY(alloc_f(&f->vc, kv ? kv : 1));
    LLX_TRY(alloc_f(&f->scores, (size_t)llx_pool_size(nd->pool) * (size_t)nd->max_ctx));
    return LLX_OK;
}

static void f32_unload(node *nd)
{
    f32_node *f = impl(nd);
    if (!f) return;
    if (f->layers)
        for (int l = 0; l < nd->cfg->n_layer; l++) {
            f32_layer *L = &f->layers[l];
            for (int m = 0; m < 4; m++) free(L->b[m]);
            free(L->ln1_g), free(L->ln1_b), free(L->ln2_g), free(L->ln2_b);
        }
    free(f->layers);
    llx_arena_free(&f->weights);
    float *bufs[] = {f->lnf_g, f->lnf_b, f->x, f->h, f->qkv, f->ctx, f->br,
                     f->g, f->logits, f->kc, f->vc, f->scores, f->emb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(f);
    nd->impl = NULL;
}

static llx_status f32_embed(node *nd, const int *tokens, int n, int pos)
{
    f32_node *f = impl(nd);
    const int C = nd->cfg->n_embd;
    for (int t = 0; t < n; t++) {
        float *xt = f->x + (size_t)t * C;
        LLX_TRY(llx_hf_read_wte(nd->model->hf, tokens[t], tokens[t] + 1, xt));
        LLX_TRY(llx_hf_read_wpe(nd->model->hf, pos + t, pos + t + 1, f->emb));
        llx_add_f32(xt, f->emb, C);
    }
    return LLX_OK;
}

typedef struct ln_job {
    node *nd;
    const llx_stage *st;
} ln_job;

static void ln_rows(void *arg, int t0, int t1, int ith)
{
    const ln_job *j = arg;
    f32_node *f = impl(j->nd);
    const int C = j->nd->cfg->n_embd;
    const float eps = j->nd->cfg->ln_eps;
    const f32_layer *L = j->st->layer >= 0 ? &f->layers[j->st->layer] : NULL;
    for (int t = t0; t < t1; t++) {
        float *xt = f->x + (size_t)t * C, *ht = f->h + (size_t)t * C;
        switch (j->st->op) {
        case LLX_OP_LN1: j->nd->k->layernorm_f32(ht, xt, L->ln1_g, L->ln1_b, C, eps); break;
        case LLX_OP_RES_LN2:
            llx_add_f32(xt, f->br + (size_t)t * C, C);
            j->nd->k->layernorm_f32(ht, xt, L->ln2_g, L->ln2_b, C, eps);
            break;
        case LLX_OP_RES: llx_add_f32(xt, f->br + (size_t)t * C, C); break;
        case LLX_OP_LN_F: j->nd->k->layernorm_f32(ht, xt, f->lnf_g, f->lnf_b, C, eps); break;
        default: break;
        }
    }
}

static void observe(const node *nd, const llx_stage *st, llx_obs_point p, const float *x, int width)
{
    if (nd->obs && nd->obs->fn) nd->obs->fn(nd->obs->ud, st->layer, p, x, st->tokens, width);
}

static void f32_lnres(node *nd, const llx_stage *st)
{
    ln_job j = {nd, st};
    llx_node_parallel_rows(nd, st->tokens, 1, ln_rows, &j);
    if (st->op == LLX_OP_LN1) observe(nd, st, LLX_OBS_LN1, impl(nd)->h, nd->cfg->n_embd);
    if (st->op == LLX_OP_RES_LN2) observe(nd, st, LLX_OBS_LN2, impl(nd)->h, nd->cfg->n_embd);
}

static void f32_mp_done(node *nd, const llx_stage *st)
{
    if (st->op == LLX_OP_QKV) observe(nd, st, LLX_OBS_QKV, impl(nd)->qkv, 3 * nd->cfg->n_embd);
    if (st->op == LLX_OP_FC1) observe(nd, st, LLX_OBS_GELU, impl(nd)->g, nd->cfg->n_inner);
}

static void f32_attn_done(node *nd, const llx_stage *st)
{
    observe(nd, st, LLX_OBS_CTX, impl(nd)->ctx, nd->cfg->n_embd);
}

static void f32_mp_target(node *nd, const llx_stage *st, void **dst, int *ld)
{
    f32_node *f = impl(nd);
    const llx_config *c = nd->cfg;
    switch (st->op) {
    case LLX_OP_EMBED: *dst = f->x, *ld = c->n_embd; return;
    case LLX_OP_QKV: *dst = f->qkv, *ld = 3 * c->n_embd; return;
    case LLX_OP_FC1: *dst = f->g, *ld = c->n_inner; return;
    case LLX_OP_LM_HEAD:
        llx_logits_reserve(&f->logits, &f->logit_rows, st->tokens, c->n_vocab);
        *dst = f->logits, *ld = c->n_vocab;
        return;
    default: *dst = f->br, *ld = c->n_embd; return;
    }
}

typedef struct mp_job {
    node *nd;
    const llx_stage *st;
    const float *w, *b, *in;
    float *out;
    int ldi, ldo, tokens, r0;
} mp_job;

static void mp_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const int K = j->st->cols;
    float *out = j->out + j->r0 + a;
    j->nd->k->matmul_f32(out, j->ldo, j->in, j->ldi, j->w + (size_t)a * K, K, j->b ? j->b + a : NULL, j->tokens,
                         b - a, K);
    if (j->st->gelu)
        for (int t = 0; t < j->tokens; t++) j->nd->k->gelu_f32(out + (size_t)t * j->ldo, b - a);
}

static void f32_mp_rows(node *nd, const llx_stage *st, int r0, int r1)
{
    f32_node *f = impl(nd);
    const llx_config *c = nd->cfg;
    mp_job j = {.nd = nd, .st = st, .tokens = st->tokens, .r0 = r0};
    void *dst;
    f32_mp_target(nd, st, &dst, &j.ldo);
    j.out = dst;
    if (st->op == LLX_OP_LM_HEAD) {
        const llx_range own = f->own[LLX_MAT_LM_HEAD];
        if (j.tokens > f->logit_rows) j.tokens = f->logit_rows;
        j.w = f->lm + (size_t)(r0 - own.begin) * c->n_embd;
        j.b = NULL;
        j.in = f->h + (size_t)(nd->pass_tokens - st->tokens) * c->n_embd;
        j.ldi = c->n_embd;
    } else {
        const f32_layer *L = &f->layers[st->layer];
        const int m = st->matrix;
        const llx_range own = f->own[m];
        j.w = L->w[m] + (size_t)(r0 - own.begin) * st->cols;
        j.b = L->b[m] + (r0 - own.begin);
        j.in = st->op == LLX_OP_PROJ ? f->ctx : st->op == LLX_OP_FC2 ? f->g : f->h;
        j.ldi = st->cols;
    }
    llx_node_parallel_paced(nd, nd->pace, r1 - r0, 12, mp_part, &j);
}

typedef struct attn_job {
    node *nd;
    const llx_stage *st;
    int h0;
} attn_job;

/* item = head-major (head, token) pair.  Scores are one matrix-vector
 * product over the head's K rows; the context is another over the rows of
 * the transposed V cache ([d][position]), so both use the matmul kernels. */
static void attn_part(void *arg, int a, int b, int ith)
{
    const attn_job *j = arg;
    node *nd = j->nd;
    f32_node *f = impl(nd);
    const int C = nd->cfg->n_embd, hd = j->st->head_dim, T = j->st->tokens;
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = f->scores + (size_t)ith * nd->max_ctx;
    for (int it = a; it < b; it++) {
        const int h = j->h0 + it / T, t = it % T, n = j->st->pos + t + 1;
        const float *q = f->qkv + (size_t)t * 3 * C + (size_t)h * hd;
        const size_t base = kv_index(nd, j->st->layer, h - nd->head0, 0);
        nd->k->matmul_f32(sc, n, q, hd, f->kc + base, hd, NULL, 1, n, hd);
        for (int s = 0; s < n; s++) sc[s] *= scale;
        nd->k->softmax_f32(sc, n);
        nd->k->matmul_f32(f->ctx + (size_t)t * C + (size_t)h * hd, hd, sc, n, f->vc + base, nd->max_ctx, NULL, 1, hd, n);
    }
}

static void f32_attn(node *nd, const llx_stage *st, int h0, int h1)
{
    f32_node *f = impl(nd);
    const int C = nd->cfg->n_embd, hd = st->head_dim;
    for (int h = h0; h < h1; h++)
        for (int t = 0; t < st->tokens; t++) {
            const float *row = f->qkv + (size_t)t * 3 * C;
            const size_t base = kv_index(nd, st->layer, h - nd->head0, 0);
            const int p = st->pos + t;
            memcpy(f->kc + base + (size_t)p * hd, row + C + (size_t)h * hd, (size_t)hd * sizeof(float));
            for (int d = 0; d < hd; d++) f->vc[base + (size_t)d * nd->max_ctx + p] = row[2 * C + (size_t)h * hd + d];
        }
    attn_job j = {nd, st, h0};
    llx_node_parallel_rows(nd, (h1 - h0) * st->tokens, 1, attn_part, &j);
}

static void f32_attn_target(node *nd, const llx_stage *st, void **dst, int *ld)
{
    *dst = impl(nd)->ctx;
    *ld = nd->cfg->n_embd;
}

static const float *f32_logits(const node *nd) { return impl(nd)->logits; }

static long long f32_weight_bytes(const node *nd)
{
    const f32_node *f = impl(nd);
    long long n = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const long long own = f->own[m].end - f->own[m].begin;
        n += own * cols * (m == LLX_MAT_LM_HEAD ? 1 : nd->cfg->n_layer);
    }
    return n * (long long)sizeof(float);
}

const node_ops llx_fp32_ops = {
    .name = "fp32",
    .load = f32_load,
    .unload = f32_unload,
    .embed = f32_embed,
    .lnres = f32_lnres,
    .mp_target = f32_mp_target,
    .mp_rows = f32_mp_rows,
    .mp_done = f32_mp_done,
    .attn = f32_attn,
    .attn_target = f32_attn_target,
    .attn_done = f32_attn_done,
    .logits = f32_logits,
    .weight_bytes = f32_weight_bytes,
};
