/* engine/load_w8a8.c - a node's weights for the quantized datapath, from a
 * .llx file of any scheme: its rows of every matrix (int8 packed in the
 * tier's layout, int4 in the tier's q4 panels with panel-major group
 * scales widened to fp32, or fp32), biases, norms (static mode folds the
 * output's 1/scale in), the static activation scales, and the per-head
 * scales of q, k and v (one per tensor in version 1 files).  Weight data is
 * copied into the node's own arena (huge pages, first touched by the
 * node's thread); the file's pages are released afterwards. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/w8a8_node.h"
#include "model/half.h"
#include "util/status.h"

static void *alloc_or(llx_status *st, size_t bytes)
{
    void *p = *st == LLX_OK ? malloc(bytes ? bytes : 1) : NULL;
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

static void *own_space(w8_node *q, llx_status *st, size_t n)
{
    if (*st != LLX_OK) return NULL;
    void *d = llx_arena_take(&q->weights, n);
    if (!d) *st = llx_fail(LLX_ERR_INTERNAL, "node weight arena too small");
    return d;
}

static const float *own_floats(w8_node *q, llx_status *st, const float *src, size_t n)
{
    float *d = own_space(q, st, n * sizeof *d);
    if (d) memcpy(d, src, n * sizeof *d);
    return d;
}

static float *copy_scaled(llx_status *st, const float *src, int n, float mul)
{
    float *d = alloc_or(st, (size_t)n * sizeof *d);
    if (d)
        for (int i = 0; i < n; i++) d[i] = src[i] * mul;
    return d;
}

/* The weight format of matrix m in this file (and run). */
static int format_of(const w8_node *q, const llx_scheme_info *s, llx_matrix m)
{
    const int bits = m == LLX_MAT_LM_HEAD ? s->lm_bits
                     : s->scheme == LLX_SCHEME_W8A8 ? 8
                     : s->scheme == LLX_SCHEME_F32 ? 32 : 4;
    if (m == LLX_MAT_LM_HEAD && !q->lm_int8) return W8_WF_F32;
    return bits == 8 ? W8_WF_I8 : bits == 4 ? W8_WF_Q4 : W8_WF_F32;
}

static size_t matrix_bytes(const node *nd, int fmt, int groups, size_t n, int cols)
{
    const int P = nd->k->q4_rows;
    switch (fmt) {
    case W8_WF_I8: return n * (llx_i8_ld(nd->k, cols) + sizeof(float));
    case W8_WF_Q4: return llx_q4_bytes((int)n, cols, P) + llx_q4_scales((int)n, groups, P) * sizeof(float);
    default: return n * (size_t)cols * sizeof(float);
    }
}

static int groups_of(const llx_scheme_info *s, int cols) { return s->group ? cols / s->group : 1; }

size_t w8_arena_bytes(const node *nd, const w8_node *q)
{
    const llx_scheme_info *s = &llx_llx_qinfo(nd->model->qf)->s;
    size_t bytes = 0;
    for (int m = 0; m < LLX_MAT_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(nd->cfg, (llx_matrix)m, &rows, &cols);
        const llx_range r = nd->part->rows[m][nd->id];
        const size_t n = (size_t)(r.end - r.begin), f = format_of(q, s, (llx_matrix)m);
        const size_t one = matrix_bytes(nd, (int)f, groups_of(s, cols), n, cols) + n * sizeof(float) + 64 * 4;
        bytes += m == LLX_MAT_LM_HEAD ? one : one * (size_t)nd->cfg->n_layer;
    }
    return bytes;
}

/* int4 rows [begin, begin + n) of a stored matrix and their scales (fp32
 * or fp16, [rows] or [rows][groups]) into the tier's panels */
static void load_q4(const node *nd, w8_node *q, llx_status *st, w8_layer *L, llx_matrix m, const uint8_t *w,
                    const void *sc, int f16, llx_range r, int cols)
{
    const int P = nd->k->q4_rows, n = r.end - r.begin, ng = L->groups[m];
    uint8_t *dw = own_space(q, st, llx_q4_bytes(n, cols, P));
    float *ds = own_space(q, st, llx_q4_scales(n, ng, P) * sizeof(float));
    float *tmp = alloc_or(st, (size_t)n * ng * sizeof *tmp);
    if (*st != LLX_OK) {
        free(tmp);
        return;
    }
    llx_pack_q4_panels(dw, w + (size_t)r.begin * cols / 2, n, cols, P);
    for (size_t i = 0; i < (size_t)n * ng; i++) {
        const size_t at = (size_t)r.begin * ng + i;
        tmp[i] = f16 ? llx_f16_to_f32(((const uint16_t *)sc)[at]) : ((const float *)sc)[at];
    }
    llx_pack_q4_scales(ds, tmp, n, ng, P);
    free(tmp);
    L->w4[m] = dw;
    L->ws[m] = ds;
}

/* Matrix m of layer l (-1: the LM head): own rows, scales, biases. */
static llx_status load_matrix(node *nd, w8_node *q, w8_layer *L, int l, llx_matrix m)
{
    int rows, cols;
    llx_matrix_shape(nd->cfg, m, &rows, &cols);
    if (rows == 0) return LLX_OK;
    const llx_scheme_info *s = &llx_llx_qinfo(nd->model->qf)->s;
    const llx_range r = nd->part->rows[m][nd->id];
    const int n = r.end - r.begin;
    llx_status st = LLX_OK;
    char pre[32], w[40], sc[40], b[40];
    if (l >= 0) snprintf(pre, sizeof pre, "h.%d.%s", l, llx_matrix_name(m));
    else snprintf(pre, sizeof pre, "%s", llx_matrix_name(m));
    snprintf(w, sizeof w, "%s.w", pre);
    snprintf(sc, sizeof sc, "%s.s", pre);
    snprintf(b, sizeof b, "%s.b", pre);
    L->fmt[m] = format_of(q, s, m);
    if (m == LLX_MAT_LM_HEAD && !q->lm_int8) {
        if (s->rotate || s->lm_bits == 32)
            return llx_fail(LLX_ERR_UNSUPPORTED, "%s: an fp32 LM head from the embedding needs an unrotated quantized model",
                            nd->model->path);
        /* tied: the embedding's rows; untied (Llama): the file's fp32 LM head */
        const float *f = nd->cfg->untied ? tensor(nd, &st, "lm_head.f", LLX_DT_F32, rows, cols) : q->wte;
        if (f) L->wf[m] = own_floats(q, &st, f + (size_t)r.begin * cols, (size_t)n * cols);
        return st;
    }
    if (L->fmt[m] == W8_WF_I8) {
        const int8_t *src = tensor(nd, &st, w, LLX_DT_I8, rows, cols);
        const float *ws = tensor(nd, &st, sc, LLX_DT_F32, rows, 0);
        if (st != LLX_OK) return st;
        L->ws[m] = own_floats(q, &st, ws + r.begin, (size_t)n);
        int8_t *d = own_space(q, &st, (size_t)n * llx_i8_ld(nd->k, cols));
        if (d) nd->k->pack_i8(d, src + (size_t)r.begin * cols, (size_t)cols, n, cols);
        L->w[m] = d;
    } else if (L->fmt[m] == W8_WF_Q4) {
        L->groups[m] = groups_of(s, cols);
        L->group[m] = cols / L->groups[m];
        const uint8_t *src = tensor(nd, &st, w, LLX_DT_Q4, rows, cols);
        const void *ws = tensor(nd, &st, sc, s->scales_f16 ? LLX_DT_F16 : LLX_DT_F32, rows, s->group ? L->groups[m] : 0);
        if (st != LLX_OK) return st;
        load_q4(nd, q, &st, L, m, src, ws, s->scales_f16, r, cols);
    } else {
        const float *src = tensor(nd, &st, w, LLX_DT_F32, rows, cols);
        if (src) L->wf[m] = own_floats(q, &st, src + (size_t)r.begin * cols, (size_t)n * cols);
    }
    const int has_bias = m == LLX_MAT_LM_HEAD ? s->lm_bias : nd->cfg->arch == LLX_ARCH_GPT2;
    if (st != LLX_OK || !has_bias) return st;
    const float *bias = tensor(nd, &st, b, LLX_DT_F32, rows, 0);
    if (bias) L->b[m] = own_floats(q, &st, bias + r.begin, (size_t)n);
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
    for (int i = 0; i < (nd->cfg->arch == LLX_ARCH_GPT2 ? 2 : 1); i++) { /* RMSNorm: no bias */
        if (l >= 0) snprintf(name, sizeof name, "h.%d.%s.%c", l, names[w], "gb"[i]);
        else snprintf(name, sizeof name, "%s.%c", names[w], "gb"[i]);
        const float *v = tensor(nd, &st, name, LLX_DT_F32, C, 0);
        float **dst = i ? &L->nb[w] : &L->ng[w];
        if (v) *dst = copy_scaled(&st, v, C, mul);
    }
    return st;
}

/* Per head h: q's scale, and its KV head's k and v scales (version 1
 * files: the tensors' scales for every head). */
static llx_status head_scales(node *nd, w8_layer *L, int l)
{
    const llx_config *c = nd->cfg;
    const llx_scheme_info *s = &llx_llx_qinfo(nd->model->qf)->s;
    const int NH = c->n_head, KV = llx_config_kv_heads(c), d = llx_config_head_dim(c), n = NH + 2 * KV;
    llx_status st = LLX_OK;
    const float *kv = NULL;
    if (s->kv_per_head) {
        char name[64];
        snprintf(name, sizeof name, "h.%d.kv", l);
        kv = tensor(nd, &st, name, LLX_DT_F32, n, 0);
    }
    L->seg_end = alloc_or(&st, (size_t)n * sizeof *L->seg_end);
    L->seg_inv = alloc_or(&st, (size_t)n * sizeof *L->seg_inv);
    L->score_scale = alloc_or(&st, (size_t)NH * sizeof *L->score_scale);
    L->ctx_scale = alloc_or(&st, (size_t)NH * sizeof *L->ctx_scale);
    LLX_TRY(st);
    float *sh = malloc((size_t)n * sizeof *sh);
    if (!sh) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        sh[i] = kv ? kv[i] : L->sc[i < NH ? LLX_SC_Q : i < NH + KV ? LLX_SC_K : LLX_SC_V];
        L->seg_end[i] = (i + 1) * d;
        L->seg_inv[i] = 1.0f / sh[i];
    }
    L->nseg = n;
    for (int h = 0; h < NH; h++) {
        const int g = h / (NH / KV);
        L->score_scale[h] = sh[h] * sh[NH + g] / sqrtf((float)d);
        L->ctx_scale[h] = sh[NH + KV + g] / 127.0f;
    }
    free(sh);
    return LLX_OK;
}

/* Static activation scales (all 1 in an fp32 model without them). */
static llx_status load_scales(node *nd, w8_layer *L, int l)
{
    const llx_scheme_info *s = &llx_llx_qinfo(nd->model->qf)->s;
    for (int i = 0; i < LLX_SC_COUNT; i++) L->sc[i] = L->inv[i] = 1.0f;
    if (s->scheme != LLX_SCHEME_F32 || s->kv_int8) {
        llx_status st = LLX_OK;
        char name[64];
        snprintf(name, sizeof name, "h.%d.act", l);
        const float *sc = tensor(nd, &st, name, LLX_DT_F32, LLX_SC_COUNT, 0);
        if (st != LLX_OK) return st;
        memcpy(L->sc, sc, sizeof L->sc);
        for (int i = 0; i < LLX_SC_COUNT - 1; i++) {
            if (!(L->sc[i] > 0.0f) || L->sc[i] > 1e30f)
                return llx_fail(LLX_ERR_FORMAT, "%s: layer %d: activation scale %d is not positive", nd->model->path, l,
                                i);
            L->inv[i] = 1.0f / L->sc[i];
        }
    }
    return head_scales(nd, L, l);
}

llx_status w8_load_weights(node *nd, w8_node *q)
{
    const llx_config *c = nd->cfg;
    llx_status st = LLX_OK;
    q->wte = tensor(nd, &st, "wte", LLX_DT_F32, c->n_vocab, c->n_embd);
    if (c->arch == LLX_ARCH_GPT2) q->wpe = tensor(nd, &st, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd);
    LLX_TRY(st);
    for (int l = 0; l < c->n_layer; l++) {
        w8_layer *L = &q->layers[l];
        LLX_TRY(load_scales(nd, L, l));
        for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) LLX_TRY(load_matrix(nd, q, L, l, (llx_matrix)m));
        LLX_TRY(load_norm(nd, q, L, l, LLX_NORMW_1));
        LLX_TRY(load_norm(nd, q, L, l, LLX_NORMW_2));
    }
    LLX_TRY(load_matrix(nd, q, &q->top, -1, LLX_MAT_LM_HEAD));
    return load_norm(nd, q, &q->top, -1, LLX_NORMW_F);
}

void w8_free_layer(w8_layer *L)
{
    for (int i = 0; i < 3; i++) free(L->ng[i]), free(L->nb[i]);
    free(L->seg_end), free(L->seg_inv), free(L->score_scale), free(L->ctx_scale);
}
