/* engine/exec_w8a8.c - the W8A8 SmoothQuant datapath (the accelerator's
 * arithmetic) on one node.  Weights are int8 rows mapped straight from the
 * .llx file; every matrix stage is int8 x int8 -> int32, then the
 * quantization unit: y = acc * (s_in[t] * s_w[r]) + b[r] in fp32, rounded to
 * int8 for an int8 consumer or kept fp32 for the residual.  LayerNorm and
 * residual are fp32; attention is int8 Q.K -> fp32 softmax -> int8
 * probabilities (x127) . int8 V.  Formulas: docs/quantization.md.
 * The int8 KV cache holds this node's heads position-major, so that a
 * decode step reads each layer's cache as one sequential stream: K as
 * [layer][pos][head][d], V in chunks of 32 positions,
 * [layer][pos/32][head][d][pos%32] (the layout of the attention kernels,
 * kernels.h).
 *
 * Activation scales s_in are static per-tensor constants (the hardware) or
 * per-token values computed from the whole vector (dynamic mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "kernels/vecops.h"
#include "model/llx_file.h"
#include "kernels/q8.h"
#include "util/status.h"

/* int32 accumulators per thread: a tile of rows x tokens; at decode (one
 * token) a tile is 16K rows, so the kernel sees whole matrices and keeps its
 * four weight streams long */
#define ACC_ELEMS 16384

typedef struct w8_layer {
    const int8_t *w[4];
    const float *ws[4], *b[4]; /* own rows */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    float sc[LLX_SC_COUNT];
    float inv_ln1, inv_ln2, inv_out[3], inv_ctx, inv_gelu, score_scale, ctx_scale;
} w8_layer;

typedef struct w8_node {
    llx_range own[LLX_MAT_COUNT];
    llx_arena weights;      /* this node's copies of its int8 (and LM head) rows */
    int dynamic, lm_int8;
    w8_layer *layers;
    const float *wte, *wpe, *lnf_g, *lnf_b, *lm_f32, *lm_s;
    const int8_t *lm_i8;
    float *x, *hf, *br, *ctxf, *gf, *logits;
    int logit_rows;
    int8_t *h8, *qkv8, *ctx8, *g8;
    float *hs, *ctxs, *gs;  /* per-token scale of h8, ctx8, g8 */
    int8_t *kc, *vc;        /* [layer][pos][head][d]; V: [layer][pos/32][head][d][pos%32] */
    int kv_ctx;             /* max_ctx rounded up to whole chunks */
    size_t kv_layer;        /* bytes of K (or V) per layer: kv_ctx * heads * head_dim */
    int32_t *acc;           /* [threads][ACC_ELEMS + max_batch * 8] */
    float *ybuf;            /* [threads][ACC_ELEMS] epilogue row */
    float *scores;          /* [threads][heads][sc_ld] */
    size_t sc_ld;           /* max(max_ctx, head_dim): scores, then the fp32 context */
    int32_t *iscores;       /* [threads][heads][max_ctx] */
    int8_t *probs;          /* [threads][heads][kv_ctx] */
    int32_t *cacc;          /* [threads][heads][head_dim] */
} w8_node;

static w8_node *impl(const node *nd) { return nd->impl; }

static void *alloc_or(llx_status *st, size_t bytes)
{
    void *p = *st == LLX_OK ? llx_alloc(bytes) : NULL;
    if (!p && *st == LLX_OK) *st = llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB)", bytes >> 20);
    return p;
}

static const void *tensor(const node *nd, llx_status *st, const char *name, llx_dtype dt, long long r, long long c)
{
    if (*st != LLX_OK) return NULL;
    const void *p = llx_llx_tensor(nd->model->qf, name, dt, r, c);
    if (!p) *st = LLX_ERR_FORMAT;
    return p;
}

/* Space for n bytes in the node's weight arena (allocated and first
 * touched by the node's thread, in huge pages). */
static void *own_space(w8_node *q, llx_status *st, size_t n)
{
    if (*st != LLX_OK) return NULL;
    void *d = llx_arena_take(&q->weights, n);
    if (!d) *st = llx_fail(LLX_ERR_INTERNAL, "node weight arena too small");
    return d;
}

/* The node's copy of `rows` int8 rows of `cols`, packed in the layout of
 * its kernel tier (kernels.h). */
static const int8_t *own_packed(const node *nd, w8_node *q, llx_status *st, const int8_t *src, int rows, int cols)
{
    int8_t *d = own_space(q, st, (size_t)rows * llx_i8_ld(nd->k, cols));
    if (d) nd->k->pack_i8(d, src, (size_t)cols, rows, cols);
    return d;
}

static float *copy_scaled(llx_status *st, const float *src, int n, float mul)
{
    float *d = alloc_or(st, (size_t)n * sizeof *d);
    if (d)
        for (int i = 0; i < n; i++) d[i] = src[i] * mul;
    return d;
}

static llx_status load_layer(node *nd, w8_node *q, int l)
{
    static const char *mat[4] = {"qkv", "proj", "fc1", "fc2"};
    const llx_config *c = nd->cfg;
    w8_layer *L = &q->layers[l];
    llx_status st = LLX_OK;
    char name[64];
    for (int m = 0; m < 4; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        const llx_range r = q->own[m];
        snprintf(name, sizeof name, "h.%d.%s.w", l, mat[m]);
        const int8_t *w = tensor(nd, &st, name, LLX_DT_I8, rows, cols);
        snprintf(name, sizeof name, "h.%d.%s.s", l, mat[m]);
        const float *ws = tensor(nd, &st, name, LLX_DT_F32, rows, 0);
        snprintf(name, sizeof name, "h.%d.%s.b", l, mat[m]);
        const float *b = tensor(nd, &st, name, LLX_DT_F32, rows, 0);
        if (st != LLX_OK) return st;
        L->w[m] = own_packed(nd, q, &st, w + (size_t)r.begin * cols, r.end - r.begin, cols);
        /* the row scales and biases beside the rows (the file's pages are
         * released once loaded; these are read with every row) */
        float *sb = own_space(q, &st, (size_t)(r.end - r.begin) * 2 * sizeof(float));
        if (sb) {
            memcpy(sb, ws + r.begin, (size_t)(r.end - r.begin) * sizeof(float));
            memcpy(sb + (r.end - r.begin), b + r.begin, (size_t)(r.end - r.begin) * sizeof(float));
        }
        L->ws[m] = sb;
        L->b[m] = sb ? sb + (r.end - r.begin) : NULL;
    }
    snprintf(name, sizeof name, "h.%d.act", l);
    const float *sc = tensor(nd, &st, name, LLX_DT_F32, LLX_SC_COUNT, 0);
    const float *g[4];
    static const char *ln[4] = {"ln1.g", "ln1.b", "ln2.g", "ln2.b"};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "h.%d.%s", l, ln[i]);
        g[i] = tensor(nd, &st, name, LLX_DT_F32, c->n_embd, 0);
    }
    if (st != LLX_OK) return st;
    memcpy(L->sc, sc, sizeof L->sc);
    for (int i = 0; i < LLX_SC_COUNT - 1; i++)
        if (!(L->sc[i] > 0.0f) || L->sc[i] > 1e30f)
            return llx_fail(LLX_ERR_FORMAT, "%s: layer %d: activation scale %d is not positive", nd->model->path, l, i);
    L->inv_ln1 = 1.0f / L->sc[LLX_SC_LN1];
    L->inv_ln2 = 1.0f / L->sc[LLX_SC_LN2];
    for (int i = 0; i < 3; i++) L->inv_out[i] = 1.0f / L->sc[LLX_SC_Q + i];
    L->inv_ctx = 1.0f / L->sc[LLX_SC_CTX];
    L->inv_gelu = 1.0f / L->sc[LLX_SC_GELU];
    L->score_scale = L->sc[LLX_SC_Q] * L->sc[LLX_SC_K] / sqrtf((float)llx_config_head_dim(c));
    L->ctx_scale = L->sc[LLX_SC_V] / 127.0f;
    /* static mode folds the LayerNorm output scale into gamma and beta */
    const float m1 = q->dynamic ? 1.0f : L->inv_ln1, m2 = q->dynamic ? 1.0f : L->inv_ln2;
    L->ln1_g = copy_scaled(&st, g[0], c->n_embd, m1);
    L->ln1_b = copy_scaled(&st, g[1], c->n_embd, m1);
    L->ln2_g = copy_scaled(&st, g[2], c->n_embd, m2);
    L->ln2_b = copy_scaled(&st, g[3], c->n_embd, m2);
    return st;
}

static llx_status load_buffers(node *nd, w8_node *q)
{
    const llx_config *c = nd->cfg;
    const size_t B = (size_t)nd->max_batch, C = (size_t)c->n_embd, F = (size_t)c->n_inner;
    const size_t nth = (size_t)llx_pool_size(nd->pool), hd = (size_t)llx_config_head_dim(c);
    q->kv_ctx = (nd->max_ctx + 31) & ~31;
    q->kv_layer = (size_t)nd->heads * (size_t)q->kv_ctx * hd;
    const size_t kv = (size_t)c->n_layer * q->kv_layer, NH = (size_t)(nd->heads > 0 ? nd->heads : 1);
    llx_status st = LLX_OK;
    q->x = alloc_or(&st, B * C * 4);
    q->hf = alloc_or(&st, B * C * 4);
    q->br = alloc_or(&st, B * C * 4);
    q->ctxf = alloc_or(&st, B * C * 4);
    q->gf = alloc_or(&st, q->dynamic ? B * F * 4 : 4);
    q->logits = alloc_or(&st, (size_t)c->n_vocab * 4);
    q->logit_rows = 1;
    q->h8 = alloc_or(&st, B * C);
    q->qkv8 = alloc_or(&st, B * 3 * C);
    q->ctx8 = alloc_or(&st, B * C);
    q->g8 = alloc_or(&st, B * F);
    q->hs = alloc_or(&st, B * 4);
    q->ctxs = alloc_or(&st, B * 4);
    q->gs = alloc_or(&st, B * 4);
    q->kc = alloc_or(&st, kv ? kv : 1);
    q->vc = alloc_or(&st, kv ? kv : 1);
    q->acc = alloc_or(&st, nth * (ACC_ELEMS + B * 8) * 4);
    q->ybuf = alloc_or(&st, nth * ACC_ELEMS * 4);
    q->sc_ld = (size_t)nd->max_ctx > hd ? (size_t)nd->max_ctx : hd;
    q->scores = alloc_or(&st, nth * NH * q->sc_ld * 4);
    q->iscores = alloc_or(&st, nth * NH * (size_t)nd->max_ctx * 4);
    q->probs = alloc_or(&st, nth * NH * (size_t)q->kv_ctx);
    q->cacc = alloc_or(&st, nth * NH * hd * 4);
    return st;
}

static llx_status w8_load(node *nd)
{
    const llx_config *c = nd->cfg;
    w8_node *q = calloc(1, sizeof *q);
    if (!q) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    nd->impl = q;
    if (nd->model->kind != LLX_MODEL_LLX)
        return llx_fail(LLX_ERR_UNSUPPORTED, "w8a8 needs a quantized .llx model");
    q->dynamic = nd->opt->precision == LLX_PREC_W8A8_DYNAMIC;
    q->lm_int8 = nd->opt->lm_head_int8;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        q->own[m] = llx_split_range(rows, nd->nodes, nd->id);
    }
    q->layers = calloc((size_t)c->n_layer, sizeof *q->layers);
    if (!q->layers) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    size_t bytes = 0;
    for (int m = 0; m < 4; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        bytes += (size_t)(q->own[m].end - q->own[m].begin) * (llx_i8_ld(nd->k, cols) + 2 * sizeof(float)) * c->n_layer;
    }
    const size_t lm_rows = (size_t)(q->own[LLX_MAT_LM_HEAD].end - q->own[LLX_MAT_LM_HEAD].begin);
    bytes += lm_rows * (q->lm_int8 ? llx_i8_ld(nd->k, c->n_embd) : 4 * (size_t)c->n_embd) + lm_rows * sizeof(float);
    if (!llx_arena_init(&q->weights, bytes, (size_t)c->n_layer * 8 + 2))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for %zu MB of weights", bytes >> 20);
    for (int l = 0; l < c->n_layer; l++) LLX_TRY(load_layer(nd, q, l));
    llx_status st = LLX_OK;
    q->wte = tensor(nd, &st, "wte", LLX_DT_F32, c->n_vocab, c->n_embd);
    q->wpe = tensor(nd, &st, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd);
    q->lnf_g = tensor(nd, &st, "ln_f.g", LLX_DT_F32, c->n_embd, 0);
    q->lnf_b = tensor(nd, &st, "ln_f.b", LLX_DT_F32, c->n_embd, 0);
    const int8_t *lw = tensor(nd, &st, "lm_head.w", LLX_DT_I8, c->n_vocab, c->n_embd);
    const float *ls = tensor(nd, &st, "lm_head.s", LLX_DT_F32, c->n_vocab, 0);
    if (st != LLX_OK) return st;
    const llx_range lm = q->own[LLX_MAT_LM_HEAD];
    float *lms = own_space(q, &st, lm_rows * sizeof(float));
    if (lms) memcpy(lms, ls + lm.begin, lm_rows * sizeof(float));
    q->lm_s = lms;
    if (q->lm_int8) {
        q->lm_i8 = own_packed(nd, q, &st, lw + (size_t)lm.begin * c->n_embd, (int)lm_rows, c->n_embd);
    } else {
        float *d = own_space(q, &st, lm_rows * c->n_embd * 4);
        if (d) memcpy(d, q->wte + (size_t)lm.begin * c->n_embd, lm_rows * c->n_embd * 4);
        q->lm_f32 = d;
    }
    LLX_TRY(st);
    return load_buffers(nd, q);
}

static void w8_unload(node *nd)
{
    w8_node *q = impl(nd);
    if (!q) return;
    if (q->layers)
        for (int l = 0; l < nd->cfg->n_layer; l++) {
            w8_layer *L = &q->layers[l];
            free(L->ln1_g), free(L->ln1_b), free(L->ln2_g), free(L->ln2_b);
        }
    free(q->layers);
    llx_arena_free(&q->weights);
    void *bufs[] = {q->x, q->hf, q->br, q->ctxf, q->gf, q->logits, q->h8, q->qkv8, q->ctx8, q->g8, q->hs,
                    q->ctxs, q->gs, q->kc, q->vc, q->acc, q->ybuf, q->scores, q->iscores, q->probs, q->cacc};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(q);
    nd->impl = NULL;
}

static llx_status w8_embed(node *nd, const int *tokens, int n, int pos)
{
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd;
    for (int t = 0; t < n; t++) {
        float *xt = q->x + (size_t)t * C;
        memcpy(xt, q->wte + (size_t)tokens[t] * C, (size_t)C * sizeof *xt);
        llx_add_f32(xt, q->wpe + (size_t)(pos + t) * C, C);
    }
    return LLX_OK;
}

typedef struct ln_job {
    node *nd;
    const llx_stage *st;
} ln_job;

/* LN of token t into int8 h8[t] (static: folded gamma/beta; dynamic: per token) */
static void ln_quant(w8_node *q, const node *nd, int t, const float *g, const float *b)
{
    const int C = nd->cfg->n_embd;
    float *hf = q->hf + (size_t)t * C;
    nd->k->layernorm_f32(hf, q->x + (size_t)t * C, g, b, C, nd->cfg->ln_eps);
    if (q->dynamic) llx_quantize_dynamic(hf, C, q->h8 + (size_t)t * C, &q->hs[t]);
    else nd->k->quant_i8(q->h8 + (size_t)t * C, hf, 1.0f, C); /* 1/s is folded into gamma, beta */
}

static void ln_rows(void *arg, int t0, int t1, int ith)
{
    const ln_job *j = arg;
    const node *nd = j->nd;
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd;
    const w8_layer *L = j->st->layer >= 0 ? &q->layers[j->st->layer] : NULL;
    for (int t = t0; t < t1; t++) {
        float *xt = q->x + (size_t)t * C;
        switch (j->st->op) {
        case LLX_OP_LN1:
            ln_quant(q, nd, t, L->ln1_g, L->ln1_b);
            if (!q->dynamic) q->hs[t] = L->sc[LLX_SC_LN1];
            break;
        case LLX_OP_RES_LN2:
            llx_add_f32(xt, q->br + (size_t)t * C, C);
            ln_quant(q, nd, t, L->ln2_g, L->ln2_b);
            if (!q->dynamic) q->hs[t] = L->sc[LLX_SC_LN2];
            break;
        case LLX_OP_RES: llx_add_f32(xt, q->br + (size_t)t * C, C); break;
        case LLX_OP_LN_F:
            nd->k->layernorm_f32(q->hf + (size_t)t * C, xt, q->lnf_g, q->lnf_b, C, nd->cfg->ln_eps);
            if (q->lm_int8) llx_quantize_dynamic(q->hf + (size_t)t * C, C, q->h8 + (size_t)t * C, &q->hs[t]);
            break;
        default: break;
        }
    }
}

static void obs8(const node *nd, const llx_stage *st, llx_obs_point p, const int8_t *q, const float *s, int w)
{
    if (nd->obs && nd->obs->fn8) nd->obs->fn8(nd->obs->ud, st->layer, p, q, s, st->tokens, w);
}

static void obs32(const node *nd, const llx_stage *st, llx_obs_point p, const float *x, int w)
{
    if (nd->obs && nd->obs->fn) nd->obs->fn(nd->obs->ud, st->layer, p, x, st->tokens, w);
}

static void w8_lnres(node *nd, const llx_stage *st)
{
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd;
    if (st->op == LLX_OP_LN1) obs32(nd, st, LLX_OBS_X_IN, q->x, C);
    ln_job j = {nd, st};
    llx_node_parallel_rows(nd, st->tokens, 1, ln_rows, &j);
    if (st->op == LLX_OP_LN1) obs8(nd, st, LLX_OBS_LN1, q->h8, q->hs, C);
    if (st->op == LLX_OP_RES_LN2) obs8(nd, st, LLX_OBS_LN2, q->h8, q->hs, C);
}

static void w8_mp_target(node *nd, const llx_stage *st, void **dst, int *ld)
{
    w8_node *q = impl(nd);
    const llx_config *c = nd->cfg;
    switch (st->op) {
    case LLX_OP_EMBED: *dst = q->x, *ld = c->n_embd; return;
    case LLX_OP_QKV: *dst = q->qkv8, *ld = 3 * c->n_embd; return;
    case LLX_OP_FC1: *dst = q->dynamic ? (void *)q->gf : (void *)q->g8, *ld = c->n_inner; return;
    case LLX_OP_LM_HEAD:
        llx_logits_reserve(&q->logits, &q->logit_rows, st->tokens, c->n_vocab);
        *dst = q->logits, *ld = c->n_vocab;
        return;
    default: *dst = q->br, *ld = c->n_embd; return;
    }
}

typedef struct mp_job {
    node *nd;
    const llx_stage *st;
    const int8_t *w, *in;
    const float *ws, *b, *s_in;
    int r0, tokens, K, ldo;
    void *out;
} mp_job;

/* The quantization unit for rows [a, b) (relative to j->r0) of the tile in
 * acc: y = acc * (s_in[t] * s_w[r]) + b[r], then per consumer: int8 for QKV
 * (the q/k/v segment's scale), GELU (+ int8 in static mode) for FC1, fp32
 * for PROJ, FC2 and the LM head. */
static void epilogue(const mp_job *j, const int32_t *acc, int a, int b, float *y)
{
    const node *nd = j->nd;
    const llx_kernels *k = nd->k;
    const w8_node *q = impl(nd);
    const llx_stage *st = j->st;
    const w8_layer *L = st->layer >= 0 ? &q->layers[st->layer] : NULL;
    const int C = nd->cfg->n_embd, n = b - a;
    for (int t = 0; t < j->tokens; t++) {
        const size_t o = (size_t)t * j->ldo + (size_t)(j->r0 + a);
        const int fp32_out = st->op != LLX_OP_QKV && st->op != LLX_OP_FC1;
        float *yt = fp32_out ? (float *)j->out + o : y;
        k->dequant_f32(yt, acc + (size_t)t * n, j->ws + a, j->b ? j->b + a : NULL, j->s_in[t], n);
        if (st->op == LLX_OP_QKV) {
            int8_t *out = (int8_t *)j->out + o;
            for (int i = 0, R = j->r0 + a; i < n;) { /* rows split at the q|k|v boundaries */
                const int seg = R / C, len = (seg + 1) * C - R < n - i ? (seg + 1) * C - R : n - i;
                k->quant_i8(out + i, y + i, L->inv_out[seg], len);
                i += len, R += len;
            }
        } else if (st->op == LLX_OP_FC1) {
            k->gelu_f32(y, n);
            if (q->dynamic) memcpy((float *)j->out + o, y, (size_t)n * sizeof(float));
            else k->quant_i8((int8_t *)j->out + o, y, L->inv_gelu, n);
        }
    }
}

static void mp_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = impl(j->nd);
    const size_t per = ACC_ELEMS + (size_t)j->nd->max_batch * 8;
    int32_t *acc = q->acc + (size_t)ith * per;
    float *y = q->ybuf + (size_t)ith * ACC_ELEMS;
    /* rows per tile: as many as the scratch holds, in whole 8-row units */
    const int align = j->nd->k->i8_rows;
    int step = (int)(ACC_ELEMS / (size_t)j->tokens) / align * align;
    if (step < align) step = align;
    for (int r = a; r < b; r += step) {
        const int e = r + step < b ? r + step : b;
        /* r is a multiple of i8_rows from the slice start: a packed sub-matrix (kernels.h) */
        j->nd->k->matmul_i8p(acc, e - r, j->in, j->K, j->w + (size_t)r * llx_i8_ld(j->nd->k, j->K), j->tokens, e - r,
                             j->K);
        epilogue(j, acc, r, e, y);
    }
}

static void lm_f32_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = impl(j->nd);
    const int C = j->nd->cfg->n_embd;
    const float *in = q->hf + (size_t)(j->nd->pass_tokens - j->tokens) * C;
    const float *w = q->lm_f32 + (size_t)(j->r0 - q->own[LLX_MAT_LM_HEAD].begin + a) * C;
    j->nd->k->matmul_f32((float *)j->out + j->r0 + a, j->ldo, in, C, w, C, NULL, j->tokens, b - a, C);
}

static void w8_mp_rows(node *nd, const llx_stage *st, int r0, int r1)
{
    w8_node *q = impl(nd);
    mp_job j = {.nd = nd, .st = st, .r0 = r0, .tokens = st->tokens, .K = st->cols};
    w8_mp_target(nd, st, &j.out, &j.ldo);
    if (st->op == LLX_OP_LM_HEAD) {
        if (j.tokens > q->logit_rows) j.tokens = q->logit_rows;
        if (!q->lm_int8) {
            llx_node_parallel_paced(nd, nd->pace, r1 - r0, 4, lm_f32_part, &j);
            return;
        }
        const size_t skip = (size_t)(nd->pass_tokens - j.tokens);
        const int own0 = q->own[LLX_MAT_LM_HEAD].begin;
        j.w = q->lm_i8 + (size_t)(r0 - own0) * llx_i8_ld(nd->k, st->cols);
        j.ws = q->lm_s + (r0 - own0);
        j.in = q->h8 + skip * st->cols;
        j.s_in = q->hs + skip;
        j.r0 = r0;
        /* epilogue indexes ws/b relative to the part start, global rows via r0 */
        llx_node_parallel_paced(nd, nd->pace, r1 - r0, nd->k->i8_rows, mp_part, &j);
        return;
    }
    const w8_layer *L = &q->layers[st->layer];
    const int m = st->matrix;
    const int own0 = q->own[m].begin;
    j.w = L->w[m] + (size_t)(r0 - own0) * llx_i8_ld(nd->k, st->cols);
    j.ws = L->ws[m] + (r0 - own0);
    j.b = L->b[m] + (r0 - own0);
    switch (st->op) {
    case LLX_OP_PROJ: j.in = q->ctx8, j.s_in = q->ctxs; break;
    case LLX_OP_FC2: j.in = q->g8, j.s_in = q->gs; break;
    default: j.in = q->h8, j.s_in = q->hs; break;
    }
    llx_node_parallel_paced(nd, nd->pace, r1 - r0, nd->k->i8_rows, mp_part, &j);
}

static void w8_mp_done(node *nd, const llx_stage *st)
{
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd;
    if (st->op == LLX_OP_QKV) obs8(nd, st, LLX_OBS_QKV, q->qkv8, NULL, 3 * C);
    if (st->op == LLX_OP_PROJ) obs32(nd, st, LLX_OBS_PROJ, q->br, C);
    if (st->op == LLX_OP_FC2) obs32(nd, st, LLX_OBS_FC2, q->br, C);
    if (st->op != LLX_OP_FC1) return;
    const int F = nd->cfg->n_inner;
    for (int t = 0; t < st->tokens; t++) {
        if (q->dynamic) llx_quantize_dynamic(q->gf + (size_t)t * F, F, q->g8 + (size_t)t * F, &q->gs[t]);
        else q->gs[t] = q->layers[st->layer].sc[LLX_SC_GELU];
    }
    obs8(nd, st, LLX_OBS_GELU, q->g8, q->gs, F);
}

typedef struct attn_job {
    node *nd;
    const llx_stage *st;
    int h0, h1, groups; /* heads [h0, h1) in `groups` parts per token */
} attn_job;

/* Head h's scores (int32, n) -> int8 probabilities, zero-padded to whole
 * chunks for the context kernel; sh is fp32 scratch. */
static void head_probs(const node *nd, const w8_layer *L, const int32_t *si, float *sh, int8_t *ph, int n)
{
    nd->k->scale_i32(sh, si, L->score_scale, n);
    nd->k->softmax_f32(sh, n);
    nd->k->quant_i8(ph, sh, 127.0f, n);
    memset(ph + n, 0, (size_t)(((n + 31) & ~31) - n));
}

/* int32 context of `len` consecutive channels at o -> int8 (static) or
 * fp32 (dynamic) context; tmp is fp32 scratch of len. */
static void context_out(const node *nd, w8_node *q, const w8_layer *L, const int32_t *acc, float *tmp, size_t o,
                        int len)
{
    if (q->dynamic) {
        nd->k->scale_i32(q->ctxf + o, acc, L->ctx_scale, len);
    } else {
        nd->k->scale_i32(tmp, acc, L->ctx_scale, len);
        nd->k->quant_i8(q->ctx8 + o, tmp, L->inv_ctx, len);
    }
}

/* One (token, group of heads) pair per item: int8 scores over the layer's
 * K cache (attn_qk_i8), fp32 softmax per head, int8 probabilities, and the
 * int8 context over the chunked V cache (attn_pv_i8).  Prefill gives each
 * thread whole tokens; a short decode gives each a group of heads. */
static void attn_part(void *arg, int a, int b, int ith)
{
    const attn_job *j = arg;
    const node *nd = j->nd;
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd, hd = j->st->head_dim, NH = nd->heads;
    const w8_layer *L = &q->layers[j->st->layer];
    const size_t lds = (size_t)nd->max_ctx, ldp = (size_t)q->kv_ctx;
    float *sc = q->scores + (size_t)ith * NH * q->sc_ld;
    int32_t *si = q->iscores + (size_t)ith * NH * lds;
    int8_t *pr = q->probs + (size_t)ith * NH * ldp;
    int32_t *acc = q->cacc + (size_t)ith * NH * hd;
    const int8_t *kl = q->kc + (size_t)j->st->layer * q->kv_layer, *vl = q->vc + (size_t)j->st->layer * q->kv_layer;
    for (int it = a; it < b; it++) {
        const int t = it / j->groups, g = it % j->groups, n = j->st->pos + t + 1;
        int hb, he;
        llx_split_work(j->h1 - j->h0, g, j->groups, 1, &hb, &he);
        const int H = he - hb, hl = j->h0 + hb - nd->head0;
        if (H <= 0) continue;
        const int8_t *qv = q->qkv8 + (size_t)t * 3 * C + (size_t)(j->h0 + hb) * hd;
        nd->k->attn_qk_i8(si, (int)lds, qv, kl + (size_t)hl * hd, NH * hd, H, n, hd);
        for (int h = 0; h < H; h++) head_probs(nd, L, si + (size_t)h * lds, sc + (size_t)h * lds, pr + (size_t)h * ldp, n);
        nd->k->attn_pv_i8(acc, pr, (int)ldp, vl + (size_t)hl * 32 * hd, (size_t)NH * 32 * hd, H, n, hd);
        context_out(nd, q, L, acc, sc, (size_t)t * C + (size_t)(j->h0 + hb) * hd, H * hd); /* scores are spent */
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
    w8_node *q = impl(nd);
    const int hd = j->st->head_dim, NH = nd->heads, hl = j->h0 - nd->head0;
    const size_t ldk = (size_t)NH * hd;
    const int8_t *kl = q->kc + (size_t)j->st->layer * q->kv_layer + (size_t)a * ldk + (size_t)hl * hd;
    const int8_t *qv = q->qkv8 + (size_t)j->h0 * hd; /* one token */
    nd->k->attn_qk_i8(q->iscores + a, nd->max_ctx, qv, kl, (int)ldk, j->h1 - j->h0, b - a, hd);
}

static void split_probs(void *arg, int a, int b, int ith)
{
    const split_job *j = arg;
    const node *nd = j->nd;
    w8_node *q = impl(nd);
    const w8_layer *L = &q->layers[j->st->layer];
    const size_t lds = (size_t)nd->max_ctx, ldp = (size_t)q->kv_ctx;
    for (int h = a; h < b; h++) head_probs(nd, L, q->iscores + h * lds, q->scores + h * lds, q->probs + h * ldp, j->n);
}

static void split_pv(void *arg, int a, int b, int ith)
{
    const split_job *j = arg;
    const int chunks = (j->n + 31) / 32, a0 = a;
    a = chunks - b, b = chunks - a0;
    const node *nd = j->nd;
    w8_node *q = impl(nd);
    const int hd = j->st->head_dim, NH = nd->heads, hl = j->h0 - nd->head0;
    const size_t cs = (size_t)NH * 32 * hd;
    const int8_t *vl = q->vc + (size_t)j->st->layer * q->kv_layer + (size_t)a * cs + (size_t)hl * 32 * hd;
    const int end = 32 * b < j->n ? 32 * b : j->n;
    nd->k->attn_pv_i8(q->cacc + (size_t)ith * NH * hd, q->probs + 32 * (size_t)a, q->kv_ctx, vl, cs, j->h1 - j->h0,
                      end - 32 * a, hd);
}

static void attn_decode_split(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = impl(nd);
    const int hd = st->head_dim, NH = nd->heads, H = h1 - h0, nth = llx_pool_size(nd->pool);
    split_job j = {nd, st, h0, h1, st->pos + 1};
    memset(q->cacc, 0, (size_t)nth * NH * hd * sizeof *q->cacc); /* a thread without chunks adds zeros */
    llx_node_parallel_paced(nd, nd->pace_attn, j.n, 8, split_qk, &j);
    llx_node_parallel_rows(nd, H, 1, split_probs, &j);
    llx_node_parallel_paced(nd, nd->pace_attn, (j.n + 31) / 32, 1, split_pv, &j);
    for (int i = 1; i < nth; i++)
        for (int d = 0; d < H * hd; d++) q->cacc[d] += q->cacc[(size_t)i * NH * hd + d];
    context_out(nd, q, &q->layers[st->layer], q->cacc, q->scores, (size_t)h0 * hd, H * hd);
}

/* Append the pass's K and V rows of heads [h0, h1) to the cache, then
 * attend. */
static void w8_attn(node *nd, const llx_stage *st, int h0, int h1)
{
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd, hd = st->head_dim, NH = nd->heads;
    int8_t *kl = q->kc + (size_t)st->layer * q->kv_layer, *vl = q->vc + (size_t)st->layer * q->kv_layer;
    for (int t = 0; t < st->tokens; t++) {
        const int8_t *row = q->qkv8 + (size_t)t * 3 * C;
        const int p = st->pos + t;
        memcpy(kl + ((size_t)p * NH + (size_t)(h0 - nd->head0)) * hd, row + C + (size_t)h0 * hd,
               (size_t)(h1 - h0) * hd);
        int8_t *vchunk = vl + (size_t)(p / 32) * NH * 32 * hd + (size_t)(p % 32);
        for (int h = h0; h < h1; h++)
            for (int d = 0; d < hd; d++)
                vchunk[((size_t)(h - nd->head0) * hd + d) * 32] = row[2 * C + (size_t)h * hd + d];
    }
    const int nth = llx_pool_size(nd->pool);
    if (st->tokens == 1 && nth > 1 && st->pos + 1 >= SPLIT_MIN_POS * nth) {
        attn_decode_split(nd, st, h0, h1);
        return;
    }
    attn_job j = {nd, st, h0, h1, st->tokens >= nth ? 1 : nth};
    llx_node_parallel_rows(nd, st->tokens * j.groups, 1, attn_part, &j);
}

static void w8_attn_target(node *nd, const llx_stage *st, void **dst, int *ld)
{
    w8_node *q = impl(nd);
    *dst = q->dynamic ? (void *)q->ctxf : (void *)q->ctx8;
    *ld = nd->cfg->n_embd;
}

static void w8_attn_done(node *nd, const llx_stage *st)
{
    w8_node *q = impl(nd);
    const int C = nd->cfg->n_embd;
    for (int t = 0; t < st->tokens; t++) {
        if (q->dynamic) llx_quantize_dynamic(q->ctxf + (size_t)t * C, C, q->ctx8 + (size_t)t * C, &q->ctxs[t]);
        else q->ctxs[t] = q->layers[st->layer].sc[LLX_SC_CTX];
    }
    obs8(nd, st, LLX_OBS_CTX, q->ctx8, q->ctxs, C);
}

static const float *w8_logits(const node *nd) { return impl(nd)->logits; }

static long long w8_weight_bytes(const node *nd)
{
    const w8_node *q = impl(nd);
    long long n = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const long long own = q->own[m].end - q->own[m].begin;
        if (m == LLX_MAT_LM_HEAD) n += own * cols * (q->lm_int8 ? 1 : 4) + (q->lm_int8 ? own * 4 : 0);
        else n += (own * cols + own * 8) * nd->cfg->n_layer;
    }
    return n;
}

const node_ops llx_w8a8_ops = {
    .name = "w8a8",
    .load = w8_load,
    .unload = w8_unload,
    .embed = w8_embed,
    .lnres = w8_lnres,
    .mp_target = w8_mp_target,
    .mp_rows = w8_mp_rows,
    .mp_done = w8_mp_done,
    .attn = w8_attn,
    .attn_target = w8_attn_target,
    .attn_done = w8_attn_done,
    .logits = w8_logits,
    .weight_bytes = w8_weight_bytes,
};
