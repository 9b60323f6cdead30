/* engine/exec_w8a8.c - the W8A8 SmoothQuant datapath (the accelerator's
 * arithmetic) on one node: weights, buffers, and the executors of the
 * schedule's stages (attention: attn_w8a8.c).  Weights are int8 rows
 * copied from the .llx file; every matrix stage is int8 x int8 -> int32,
 * then the quantization unit: y = acc * (s_in[t] * s_w[r]) + b[r] in fp32,
 * the stage's activation, and either int8 with a static scale or fp32 (the
 * stage's `quant`).  Norms and residual are fp32.  Formulas:
 * docs/quantization.md.
 *
 * Activation scales s_in are static per-tensor constants (the hardware) or
 * per-token values computed from the whole vector (dynamic mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/w8a8_node.h"
#include "kernels/q8.h"
#include "kernels/vecops.h"
#include "util/status.h"

static void *alloc_or(llx_status *st, size_t bytes)
{
    void *p = *st == LLX_OK ? llx_alloc(bytes ? bytes : 1) : NULL;
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

/* A copy of n floats in the arena (the file's pages are released once
 * loaded; these are read with every row). */
static const float *own_floats(w8_node *q, llx_status *st, const float *src, int n)
{
    float *d = own_space(q, st, (size_t)n * sizeof *d);
    if (d) memcpy(d, src, (size_t)n * sizeof *d);
    return d;
}

static float *copy_scaled(llx_status *st, const float *src, int n, float mul)
{
    float *d = alloc_or(st, (size_t)n * sizeof *d);
    if (d)
        for (int i = 0; i < n; i++) d[i] = src[i] * mul;
    return d;
}

/* Matrix m of layer l (-1: the LM head): own rows, row scales, biases. */
static llx_status load_matrix(node *nd, w8_node *q, w8_layer *L, int l, llx_matrix m)
{
    int rows, cols;
    llx_matrix_shape(nd->cfg, m, &rows, &cols);
    if (rows == 0) return LLX_OK;
    const llx_range r = nd->part->rows[m][nd->id];
    const int n = r.end - r.begin;
    llx_status st = LLX_OK;
    char name[64];
    const char *prefix = l >= 0 ? "h." : "";
    char layer[16] = "";
    if (l >= 0) snprintf(layer, sizeof layer, "%d.", l);
    snprintf(name, sizeof name, "%s%s%s.w", prefix, layer, llx_matrix_name(m));
    const int8_t *w = tensor(nd, &st, name, LLX_DT_I8, rows, cols);
    snprintf(name, sizeof name, "%s%s%s.s", prefix, layer, llx_matrix_name(m));
    const float *ws = tensor(nd, &st, name, LLX_DT_F32, rows, 0);
    if (st != LLX_OK) return st;
    L->ws[m] = own_floats(q, &st, ws + r.begin, n);
    if (m == LLX_MAT_LM_HEAD && !q->lm_int8) {
        L->wf[m] = own_floats(q, &st, q->wte + (size_t)r.begin * cols, n * cols); /* tied: wte rows */
        return st;
    }
    L->w[m] = own_packed(nd, q, &st, w + (size_t)r.begin * cols, n, cols);
    if (m == LLX_MAT_LM_HEAD) return st;
    snprintf(name, sizeof name, "h.%d.%s.b", l, llx_matrix_name(m));
    const float *b = tensor(nd, &st, name, LLX_DT_F32, rows, 0);
    if (b) L->b[m] = own_floats(q, &st, b + r.begin, n);
    return st;
}

/* Norm weights; in static mode the output's scale is folded in (the
 * quantization unit then rounds with 1). */
static llx_status load_norm(node *nd, w8_node *q, w8_layer *L, int l, llx_normw w)
{
    static const char *names[3] = {"ln1", "ln2", "ln_f"};
    static const int folds[3] = {LLX_SC_LN1, LLX_SC_LN2, -1};
    const int C = nd->cfg->n_embd;
    llx_status st = LLX_OK;
    char name[64];
    const float mul = q->dynamic || folds[w] < 0 ? 1.0f : L->inv[folds[w]];
    for (int i = 0; i < 2; i++) {
        if (l >= 0) snprintf(name, sizeof name, "h.%d.%s.%c", l, names[w], "gb"[i]);
        else snprintf(name, sizeof name, "%s.%c", names[w], "gb"[i]);
        const float *v = tensor(nd, &st, name, LLX_DT_F32, C, 0);
        float **dst = i ? &L->nb[w] : &L->ng[w];
        if (v) *dst = copy_scaled(&st, v, C, mul);
    }
    return st;
}

static llx_status load_scales(node *nd, w8_layer *L, int l)
{
    llx_status st = LLX_OK;
    char name[64];
    snprintf(name, sizeof name, "h.%d.act", l);
    const float *sc = tensor(nd, &st, name, LLX_DT_F32, LLX_SC_COUNT, 0);
    if (st != LLX_OK) return st;
    memcpy(L->sc, sc, sizeof L->sc);
    for (int i = 0; i < LLX_SC_COUNT - 1; i++) {
        if (!(L->sc[i] > 0.0f) || L->sc[i] > 1e30f)
            return llx_fail(LLX_ERR_FORMAT, "%s: layer %d: activation scale %d is not positive", nd->model->path, l, i);
        L->inv[i] = 1.0f / L->sc[i];
    }
    L->score_scale = L->sc[LLX_SC_Q] * L->sc[LLX_SC_K] / sqrtf((float)llx_config_head_dim(nd->cfg));
    L->ctx_scale = L->sc[LLX_SC_V] / 127.0f;
    return LLX_OK;
}

static size_t arena_bytes(const node *nd, const w8_node *q)
{
    size_t bytes = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const llx_range r = nd->part->rows[m][nd->id];
        const size_t n = (size_t)(r.end - r.begin);
        if (m == LLX_MAT_LM_HEAD) bytes += n * (q->lm_int8 ? llx_i8_ld(nd->k, cols) : 4 * (size_t)cols) + n * sizeof(float);
        else bytes += n * (llx_i8_ld(nd->k, cols) + 2 * sizeof(float)) * nd->cfg->n_layer;
    }
    return bytes;
}

static llx_status load_buffers(node *nd, w8_node *q)
{
    const llx_config *c = nd->cfg;
    const size_t B = (size_t)nd->max_batch, nth = (size_t)llx_pool_size(nd->pool);
    llx_status st = LLX_OK;
    for (int s = 0; s < LLX_SLOT_COUNT; s++) {
        q->ld[s] = llx_slot_width(c, (llx_slot)s);
        if (s == LLX_SLOT_LOGITS) continue;
        q->f[s] = alloc_or(&st, B * q->ld[s] * 4);
        q->q[s] = alloc_or(&st, B * q->ld[s]);
        q->s[s] = alloc_or(&st, B * 4);
    }
    q->f[LLX_SLOT_LOGITS] = alloc_or(&st, (size_t)c->n_vocab * 4);
    q->logit_rows = 1;
    q->acc = alloc_or(&st, nth * (W8_ACC_ELEMS + B * 8) * 4);
    q->ybuf = alloc_or(&st, nth * W8_ACC_ELEMS * 4);
    LLX_TRY(st);
    return w8_attn_alloc(nd, q);
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
    q->layers = calloc((size_t)c->n_layer, sizeof *q->layers);
    if (!q->layers) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const size_t bytes = arena_bytes(nd, q);
    if (!llx_arena_init(&q->weights, bytes, (size_t)c->n_layer * 3 * LLX_MAT_COUNT + 3))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for %zu MB of weights", bytes >> 20);
    llx_status st = LLX_OK;
    q->wte = tensor(nd, &st, "wte", LLX_DT_F32, c->n_vocab, c->n_embd);
    q->wpe = tensor(nd, &st, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd);
    LLX_TRY(st);
    for (int l = 0; l < c->n_layer; l++) {
        w8_layer *L = &q->layers[l];
        LLX_TRY(load_scales(nd, L, l));
        for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) LLX_TRY(load_matrix(nd, q, L, l, (llx_matrix)m));
        LLX_TRY(load_norm(nd, q, L, l, LLX_NORMW_1));
        LLX_TRY(load_norm(nd, q, L, l, LLX_NORMW_2));
    }
    LLX_TRY(load_matrix(nd, q, &q->top, -1, LLX_MAT_LM_HEAD));
    LLX_TRY(load_norm(nd, q, &q->top, -1, LLX_NORMW_F));
    return load_buffers(nd, q);
}

static void free_norms(w8_layer *L)
{
    for (int i = 0; i < 3; i++) free(L->ng[i]), free(L->nb[i]);
}

static void w8_unload(node *nd)
{
    w8_node *q = w8_impl(nd);
    if (!q) return;
    if (q->layers)
        for (int l = 0; l < nd->cfg->n_layer; l++) free_norms(&q->layers[l]);
    free_norms(&q->top);
    free(q->layers);
    llx_arena_free(&q->weights);
    for (int s = 0; s < LLX_SLOT_COUNT; s++) free(q->f[s]), free(q->q[s]), free(q->s[s]);
    void *bufs[] = {q->kc, q->vc, q->acc, q->ybuf, q->scores, q->iscores, q->probs, q->cacc, q->cpart};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(q);
    nd->impl = NULL;
}

/* ---- EMBED ---- */

static llx_status w8_embed(node *nd, const llx_stage *st, int u0, int u1)
{
    w8_node *q = w8_impl(nd);
    const int C = nd->cfg->n_embd, ld = q->ld[st->out];
    for (int t = 0; t < st->tokens; t++) {
        float *xt = q->f[st->out] + (size_t)t * ld;
        memcpy(xt, q->wte + (size_t)nd->tokens[t] * C, (size_t)C * sizeof *xt);
        if (st->pos_embed) llx_add_f32(xt, q->wpe + (size_t)llx_tok_pos(nd, t) * C, C);
    }
    return LLX_OK;
}

/* ---- NORM: X += in; out = norm(X), quantized per the stage ---- */

typedef struct norm_job {
    node *nd;
    const llx_stage *st;
} norm_job;

static void norm_rows(void *arg, int t0, int t1, int ith)
{
    const norm_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const int C = nd->cfg->n_embd, o = st->out;
    const w8_layer *L = w8_layer_of(q, st);
    for (int t = t0; t < t1; t++) {
        float *xt = q->f[LLX_SLOT_X] + (size_t)t * q->ld[LLX_SLOT_X];
        if (st->in != LLX_SLOT_NONE) llx_add_f32(xt, q->f[st->in] + (size_t)t * q->ld[st->in], C);
        if (st->norm == LLX_NORM_NONE) continue;
        float *hf = q->f[o] + (size_t)t * q->ld[o];
        int8_t *h8 = q->q[o] + (size_t)t * q->ld[o];
        nd->k->layernorm_f32(hf, xt, L->ng[st->normw], L->nb[st->normw], C, nd->cfg->ln_eps);
        if (st->quant == LLX_QUANT_DYNAMIC) {
            llx_quantize_dynamic(hf, C, h8, &q->s[o][t]);
        } else if (st->quant == LLX_QUANT_STATIC) {
            nd->k->quant_i8(h8, hf, 1.0f, C); /* 1/s is folded into the norm's weights */
            q->s[o][t] = L->sc[st->scale];
        }
    }
}

static llx_status w8_norm(node *nd, const llx_stage *st, int u0, int u1)
{
    norm_job j = {nd, st};
    llx_node_parallel_rows(nd, st->tokens, 1, norm_rows, &j);
    return LLX_OK;
}

/* ---- MATMUL ---- */

typedef struct mp_job {
    node *nd;
    const llx_stage *st;
    const w8_layer *L;
    const int8_t *w, *in;
    const float *wf, *inf, *ws, *b, *s_in, *aux;
    int r0, tokens, K, ldi, ldo, lda;
    float *outf;    /* fp32 output (quant F32 / DYNAMIC) */
    int8_t *out8;   /* int8 output (quant STATIC) */
    int nseg;       /* static output: segments of rows with their own scale */
    int seg_end[3];
    float seg_inv[3];
} mp_job;

/* Static output scales by row: the QKV slot holds q | k | v, each with its
 * own scale (Q, K, V); every other slot has one. */
static void static_segments(const node *nd, const llx_stage *st, const w8_layer *L, mp_job *j)
{
    j->nseg = 1;
    j->seg_end[0] = st->rows;
    j->seg_inv[0] = L->inv[st->scale];
    if (st->out != LLX_SLOT_QKV) return;
    const int d = llx_config_head_dim(nd->cfg), q = nd->cfg->n_head * d, kv = llx_config_kv_heads(nd->cfg) * d;
    j->nseg = 3;
    j->seg_end[0] = q, j->seg_end[1] = q + kv, j->seg_end[2] = q + 2 * kv;
    for (int i = 0; i < 3; i++) j->seg_inv[i] = L->inv[st->scale + i];
}

/* The quantization unit for rows [a, b) (relative to j->r0) of the tile in
 * acc: y = acc * (s_in[t] * s_w[r]) + b[r], the activation, the aux
 * product, then int8 by the output's static scale(s) or fp32. */
static void epilogue(const mp_job *j, const int32_t *acc, int a, int b, float *y)
{
    const llx_kernels *k = j->nd->k;
    const int n = b - a;
    for (int t = 0; t < j->tokens; t++) {
        const size_t o = (size_t)t * j->ldo + (size_t)(j->r0 + a);
        float *yt = j->out8 ? y : j->outf + o;
        k->dequant_f32(yt, acc + (size_t)t * n, j->ws + a, j->b ? j->b + a : NULL, j->s_in[t], n);
        if (j->st->act == LLX_ACT_GELU) k->gelu_f32(yt, n);
        if (j->aux)
            for (int i = 0; i < n; i++) yt[i] *= j->aux[(size_t)t * j->lda + j->r0 + a + i];
        if (!j->out8) continue;
        for (int i = 0, R = j->r0 + a, s = 0; i < n;) { /* rows split at the segment boundaries */
            while (R >= j->seg_end[s]) s++;
            const int len = j->seg_end[s] - R < n - i ? j->seg_end[s] - R : n - i;
            k->quant_i8(j->out8 + o + i, y + i, j->seg_inv[s], len);
            i += len, R += len;
        }
    }
}

static void mp_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    const w8_node *q = w8_impl(j->nd);
    const size_t per = W8_ACC_ELEMS + (size_t)j->nd->max_batch * 8;
    int32_t *acc = q->acc + (size_t)ith * per;
    float *y = q->ybuf + (size_t)ith * W8_ACC_ELEMS;
    /* rows per tile: as many as the scratch holds, in whole packed units;
     * with several tokens (prefill, a batch of sequences) no more than fit
     * the L2 cache, so the kernel's passes over the tile for each group of
     * tokens read the weights from memory only once */
    const int align = j->nd->k->i8_rows;
    int step = (int)(W8_ACC_ELEMS / (size_t)j->tokens) / align * align;
    const int l2_rows = (int)(W8_L2_TILE / (size_t)j->K) / align * align;
    if (j->tokens > 1 && l2_rows < step) step = l2_rows;
    if (step < align) step = align;
    for (int r = a; r < b; r += step) {
        const int e = r + step < b ? r + step : b;
        /* r is a multiple of i8_rows from the slice start: a packed sub-matrix (kernels.h) */
        j->nd->k->matmul_i8p(acc, e - r, j->in, j->ldi, j->w + (size_t)r * llx_i8_ld(j->nd->k, j->K), j->tokens, e - r,
                             j->K);
        epilogue(j, acc, r, e, y);
    }
}

/* A matrix kept in fp32 (the LM head with --lm-head fp32) reads the fp32 input. */
static void f32_part(void *arg, int a, int b, int ith)
{
    const mp_job *j = arg;
    j->nd->k->matmul_f32(j->outf + j->r0 + a, j->ldo, j->inf, j->ldi, j->wf + (size_t)a * j->K, j->K, NULL,
                         j->tokens, b - a, j->K);
}

static void w8_target(node *nd, const llx_stage *st, void **dst, int *ld)
{
    w8_node *q = w8_impl(nd);
    if (st->out == LLX_SLOT_LOGITS) llx_logits_reserve(&q->f[LLX_SLOT_LOGITS], &q->logit_rows, st->tokens, nd->cfg->n_vocab);
    *dst = st->quant == LLX_QUANT_STATIC ? (void *)q->q[st->out] : (void *)q->f[st->out];
    *ld = q->ld[st->out];
}

static llx_status w8_matmul(node *nd, const llx_stage *st, int r0, int r1)
{
    w8_node *q = w8_impl(nd);
    const w8_layer *L = w8_layer_of(q, st);
    const int m = st->matrix, own0 = nd->part->rows[m][nd->id].begin;
    mp_job j = {.nd = nd, .st = st, .L = L, .r0 = r0, .tokens = st->tokens, .K = st->cols};
    void *dst;
    w8_target(nd, st, &dst, &j.ldo);
    if (st->out == LLX_SLOT_LOGITS && j.tokens > q->logit_rows) j.tokens = q->logit_rows;
    if (st->quant == LLX_QUANT_STATIC) {
        j.out8 = dst;
        static_segments(nd, st, L, &j);
    } else {
        j.outf = dst;
    }
    const size_t skip = (size_t)(nd->pass_tokens - j.tokens); /* the LM head reads the last tokens */
    j.ldi = q->ld[st->in];
    if (st->aux != LLX_SLOT_NONE) {
        j.aux = q->f[st->aux];
        j.lda = q->ld[st->aux];
    }
    if (L->wf[m]) {
        j.wf = L->wf[m] + (size_t)(r0 - own0) * st->cols;
        j.inf = q->f[st->in] + skip * j.ldi;
        llx_node_parallel_paced(nd, nd->pace, r1 - r0, 4, f32_part, &j);
        return LLX_OK;
    }
    j.w = L->w[m] + (size_t)(r0 - own0) * llx_i8_ld(nd->k, st->cols);
    j.ws = L->ws[m] + (r0 - own0);
    j.b = L->b[m] ? L->b[m] + (r0 - own0) : NULL;
    j.in = q->q[st->in] + skip * j.ldi;
    j.s_in = q->s[st->in] + skip;
    llx_node_parallel_paced(nd, nd->pace, r1 - r0, nd->k->i8_rows, mp_part, &j);
    return LLX_OK;
}

/* ---- the executor table, quantization after the gather, observers ---- */

typedef llx_status (*exec_fn)(node *nd, const llx_stage *st, int u0, int u1);
static const exec_fn executors[LLX_WORK_COUNT] = {
    [LLX_WORK_EMBED] = w8_embed,
    [LLX_WORK_NORM] = w8_norm,
    [LLX_WORK_MATMUL] = w8_matmul,
    [LLX_WORK_ATTN] = w8_attn,
};

static llx_status w8_run(node *nd, const llx_stage *st, int u0, int u1)
{
    const exec_fn fn = (unsigned)st->work < LLX_WORK_COUNT ? executors[st->work] : NULL;
    if (!fn) return llx_fail(LLX_ERR_UNSUPPORTED, "the w8a8 datapath has no %s stage", llx_op_name(st->op));
    return fn(nd, st, u0, u1);
}

static void w8_before(node *nd, const llx_stage *st)
{
    const int p = llx_obs_point_before(st->op);
    if (p >= 0 && nd->obs && nd->obs->fn)
        nd->obs->fn(nd->obs->ud, st->layer, (llx_obs_point)p, w8_impl(nd)->f[LLX_SLOT_X], st->tokens, nd->cfg->n_embd);
}

/* A gathered output becomes int8 now: per token from the whole vector
 * (DYNAMIC) or by the static scale it was rounded with (STATIC).  Norms
 * quantize their own output token by token. */
static void w8_done(node *nd, const llx_stage *st)
{
    w8_node *q = w8_impl(nd);
    const int o = st->out;
    if (o != LLX_SLOT_NONE && st->work != LLX_WORK_NORM && st->quant != LLX_QUANT_F32) {
        const w8_layer *L = w8_layer_of(q, st);
        for (int t = 0; t < st->tokens; t++) {
            if (st->quant == LLX_QUANT_DYNAMIC)
                llx_quantize_dynamic(q->f[o] + (size_t)t * q->ld[o], q->ld[o], q->q[o] + (size_t)t * q->ld[o], &q->s[o][t]);
            else q->s[o][t] = L->sc[st->scale];
        }
    }
    const int p = llx_obs_point_of(st->op);
    if (p < 0 || !nd->obs || o == LLX_SLOT_NONE) return;
    if (st->quant == LLX_QUANT_F32) {
        if (nd->obs->fn) nd->obs->fn(nd->obs->ud, st->layer, (llx_obs_point)p, q->f[o], st->tokens, q->ld[o]);
    } else if (nd->obs->fn8) {
        nd->obs->fn8(nd->obs->ud, st->layer, (llx_obs_point)p, q->q[o], q->s[o], st->tokens, q->ld[o]);
    }
}

static const float *w8_logits(const node *nd) { return w8_impl(nd)->f[LLX_SLOT_LOGITS]; }

static long long w8_weight_bytes(const node *nd)
{
    const w8_node *q = w8_impl(nd);
    long long n = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const llx_range r = nd->part->rows[m][nd->id];
        const long long own = r.end - r.begin;
        if (m == LLX_MAT_LM_HEAD) n += own * cols * (q->lm_int8 ? 1 : 4) + (q->lm_int8 ? own * 4 : 0);
        else n += (own * cols + own * 8) * nd->cfg->n_layer;
    }
    return n;
}

const node_ops llx_w8a8_ops = {
    .name = "w8a8",
    .weight_bytes_per_elem = 1,
    .load = w8_load,
    .unload = w8_unload,
    .before = w8_before,
    .run = w8_run,
    .target = w8_target,
    .done = w8_done,
    .logits = w8_logits,
    .weight_bytes = w8_weight_bytes,
};
