/* engine/exec_w8a8.c - the quantized datapath (the accelerator's
 * arithmetic) on one node for every .llx scheme: buffers and the
 * executors of the schedule's stages.  Weights: load_w8a8.c; matrix
 * stages (int8, int4 or fp32 weights, then the quantization unit):
 * mm_w8a8.c; attention: attn_w8a8.c (int8) and attn_f32q.c (fp32).  Norms,
 * residual and the online Hadamard transform are fp32; a stage's output
 * is int8 with a static scale, fp32, or fp32 quantized per token after the
 * gather (int8, or int4 asymmetric for W4A4): the stage's `quant`.
 * Formulas: docs/quantization.md.
 *
 * Activation scales s_in are static per-tensor constants (the hardware) or
 * per-token values computed from the whole vector. */
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
    if (st == LLX_OK && c->arch == LLX_ARCH_LLAMA && !(q->rope = llx_rope_table(c, nd->max_ctx)))
        st = llx_fail(LLX_ERR_NOMEM, "out of memory for the rotary table");
    LLX_TRY(st);
    return q->kv_f32 ? w8_attn_f32_alloc(nd, q) : w8_attn_alloc(nd, q);
}

static llx_status w8_load(node *nd)
{
    const llx_config *c = nd->cfg;
    w8_node *q = calloc(1, sizeof *q);
    if (!q) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    nd->impl = q;
    if (nd->model->kind != LLX_MODEL_LLX)
        return llx_fail(LLX_ERR_UNSUPPORTED, "w8a8 needs a quantized .llx model");
    const llx_scheme_info *s = &llx_llx_qinfo(nd->model->qf)->s;
    /* norms fold 1/scale into their weights only for static int8 outputs */
    q->dynamic = nd->opt->precision == LLX_PREC_W8A8_DYNAMIC || s->scheme == LLX_SCHEME_W4A4 ||
                 s->scheme == LLX_SCHEME_F32;
    q->lm_int8 = nd->opt->lm_head_int8 || s->lm_bits == 4 || s->lm_bits == 32;
    q->kv_f32 = !s->kv_int8;
    q->a4_clip = s->act_clip > 0.0f ? s->act_clip : 1.0f;
    if (s->had_down) {
        q->had = malloc(sizeof *q->had);
        if (!q->had) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        if (!llx_hadamard_init(q->had, c->n_inner, 0))
            return llx_fail(LLX_ERR_UNSUPPORTED, "%s: no Hadamard matrix of order %d", nd->model->path, c->n_inner);
        const int8_t *d = llx_llx_tensor(nd->model->qf, "down.signs", LLX_DT_I8, c->n_inner, 0);
        if (!d) return LLX_ERR_FORMAT;
        int8_t *own = malloc((size_t)c->n_inner); /* the file's pages are released after loading */
        if (!own) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        memcpy(own, d, (size_t)c->n_inner);
        q->had_signs = own;
    }
    q->layers = calloc((size_t)c->n_layer, sizeof *q->layers);
    if (!q->layers) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const size_t bytes = w8_arena_bytes(nd, q);
    if (!llx_arena_init(&q->weights, bytes, (size_t)c->n_layer * 4 * LLX_MAT_COUNT + 4))
        return llx_fail(LLX_ERR_NOMEM, "out of memory for %zu MB of weights", bytes >> 20);
    LLX_TRY(w8_load_weights(nd, q));
    return load_buffers(nd, q);
}

static void w8_unload(node *nd)
{
    w8_node *q = w8_impl(nd);
    if (!q) return;
    if (q->layers)
        for (int l = 0; l < nd->cfg->n_layer; l++) w8_free_layer(&q->layers[l]);
    w8_free_layer(&q->top);
    free(q->layers);
    free(q->had);
    free((void *)q->had_signs);
    llx_arena_free(&q->weights);
    for (int s = 0; s < LLX_SLOT_COUNT; s++) free(q->f[s]), free(q->q[s]), free(q->s[s]);
    void *bufs[] = {q->kc, q->vc, q->rope, q->acc, q->ybuf, q->scores, q->iscores, q->probs, q->cacc, q->cpart, q->kcf, q->vcf,
                    q->pscratch};
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

static void w8_stream_in(node *nd, const float *x, int tokens)
{
    w8_node *q = w8_impl(nd);
    const int C = nd->cfg->n_embd;
    for (int t = 0; t < tokens; t++)
        memcpy(q->f[LLX_SLOT_X] + (size_t)t * q->ld[LLX_SLOT_X], x + (size_t)t * C, (size_t)C * sizeof *x);
}

/* ---- NORM: X += in; out = norm(X), quantized per the stage ---- */

typedef struct norm_job {
    node *nd;
    const llx_stage *st;
    int t0; /* the first row (llx_stage_row0) */
} norm_job;

static void norm_rows(void *arg, int t0, int t1, int ith)
{
    const norm_job *j = arg;
    const node *nd = j->nd;
    const llx_stage *st = j->st;
    w8_node *q = w8_impl(nd);
    const int C = nd->cfg->n_embd, o = st->out;
    const w8_layer *L = w8_layer_of(q, st);
    for (int t = j->t0 + t0; t < j->t0 + t1; t++) {
        const float *in = st->in != LLX_SLOT_NONE ? q->f[st->in] + (size_t)t * q->ld[st->in] : NULL;
        float *hf = st->norm != LLX_NORM_NONE ? q->f[o] + (size_t)t * q->ld[o] : NULL;
        if (!llx_norm_token(nd, st, q->f[LLX_SLOT_X] + (size_t)t * q->ld[LLX_SLOT_X], in, hf, L->ng, L->nb)) continue;
        int8_t *h8 = q->q[o] + (size_t)t * q->ld[o];
        if (st->quant == LLX_QUANT_DYNAMIC || st->quant == LLX_QUANT_DYNAMIC4) {
            w8_quantize(nd, st, hf, C, h8, &q->s[o][t]);
        } else if (st->quant == LLX_QUANT_STATIC) {
            nd->k->quant_i8(h8, hf, 1.0f, C); /* 1/s is folded into the norm's weights */
            q->s[o][t] = L->sc[st->scale];
        }
    }
}

static llx_status w8_norm(node *nd, const llx_stage *st, int u0, int u1)
{
    norm_job j = {nd, st, llx_stage_row0(nd, st)};
    llx_node_parallel_rows(nd, st->tokens - j.t0, 1, norm_rows, &j);
    return LLX_OK;
}

/* ---- HADAMARD: the online transform of the down projection's input ---- */

typedef struct had_job {
    node *nd;
    const llx_stage *st;
    int t0; /* the first row (llx_stage_row0) */
} had_job;

static void had_rows(void *arg, int t0, int t1, int ith)
{
    const had_job *j = arg;
    t0 += j->t0, t1 += j->t0;
    w8_node *q = w8_impl(j->nd);
    const int o = j->st->out, ld = q->ld[o], n = j->st->cols;
    for (int t = t0; t < t1; t++) { /* the signs: exact */
        float *x = q->f[o] + (size_t)t * ld;
        for (int i = 0; i < n; i++) x[i] = q->had_signs[i] < 0 ? -x[i] : x[i];
    }
    j->nd->k->fwht_f32(q->f[o] + (size_t)t0 * ld, t1 - t0, ld, q->had);
    if (j->st->quant == LLX_QUANT_STATIC) /* dynamic kinds are quantized in done() */
        for (int t = t0; t < t1; t++)
            w8_quantize(j->nd, j->st, q->f[o] + (size_t)t * ld, j->st->cols, q->q[o] + (size_t)t * ld, &q->s[o][t]);
}

static llx_status w8_hadamard(node *nd, const llx_stage *st, int u0, int u1)
{
    if (!w8_impl(nd)->had) return llx_fail(LLX_ERR_UNSUPPORTED, "the model has no online Hadamard transform");
    had_job j = {nd, st, llx_stage_row0(nd, st)};
    llx_node_parallel_rows(nd, st->tokens - j.t0, 1, had_rows, &j);
    return LLX_OK;
}

static llx_status w8_attention(node *nd, const llx_stage *st, int h0, int h1)
{
    return w8_impl(nd)->kv_f32 ? w8_attn_f32(nd, st, h0, h1) : w8_attn(nd, st, h0, h1);
}

/* ---- the executor table, quantization after the gather, observers ---- */


static const llx_exec_fn executors[LLX_WORK_COUNT] = {
    [LLX_WORK_EMBED] = w8_embed,
    [LLX_WORK_NORM] = w8_norm,
    [LLX_WORK_MATMUL] = w8_matmul,
    [LLX_WORK_ROPE] = w8_rope,
    [LLX_WORK_ATTN] = w8_attention,
    [LLX_WORK_HADAMARD] = w8_hadamard,
};

static llx_status w8_run(node *nd, const llx_stage *st, int u0, int u1)
{
    return llx_node_exec(executors, "w8a8", nd, st, u0, u1);
}

static void w8_before(node *nd, const llx_stage *st)
{
    const int p = llx_obs_point_before(st->op);
    if (p >= 0 && nd->obs && nd->obs->fn)
        nd->obs->fn(nd->obs->ud, st->layer, (llx_obs_point)p, w8_impl(nd)->f[LLX_SLOT_X], st->tokens, nd->cfg->n_embd);
}

/* A gathered output becomes int8 now: per token from the whole vector
 * (DYNAMIC) or by the static scale it was rounded with (STATIC).  Norms
 * quantize their own output token by token.  Rows before
 * llx_stage_row0 were not computed. */
static void w8_done(node *nd, const llx_stage *st)
{
    w8_node *q = w8_impl(nd);
    const int o = st->out;
    if (o != LLX_SLOT_NONE && st->work != LLX_WORK_NORM && st->quant != LLX_QUANT_F32) {
        const w8_layer *L = w8_layer_of(q, st);
        for (int t = llx_stage_row0(nd, st); t < st->tokens; t++) {
            if (st->quant == LLX_QUANT_STATIC) q->s[o][t] = L->sc[st->scale];
            else w8_quantize(nd, st, q->f[o] + (size_t)t * q->ld[o], q->ld[o], q->q[o] + (size_t)t * q->ld[o], &q->s[o][t]);
        }
    }
    const int p = llx_obs_point_at(nd->cfg, st);
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
        const w8_layer *L = m == LLX_MAT_LM_HEAD ? &q->top : q->layers;
        const long long own = r.end - r.begin;
        long long b = L->b[m] ? own * 4 : 0;
        if (L->fmt[m] == W8_WF_I8) b += own * cols + own * 4;
        else if (L->fmt[m] == W8_WF_Q4) b += own * cols / 2 + own * L->groups[m] * 4;
        else if (L->fmt[m] == W8_WF_F32) b += own * cols * 4;
        n += m == LLX_MAT_LM_HEAD ? b : b * nd->cfg->n_layer;
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
    .stream_in = w8_stream_in,
};
