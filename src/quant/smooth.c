/* quant/smooth.c - SmoothQuant on one layer's fp32 weights (quant.h's
 * steps 2 and 3), for GPT-2 and Llama:
 *
 *   QKV input   s_j = max|X_j|^a / max|W_:,j|^(1-a) over the QKV rows; the
 *               columns of QKV times s, the first norm's weights (and GPT-2's
 *               bias) divided by s.
 *   MLP input   the same over FC1 (GPT-2) or over gate and up together
 *               (Llama: one factor for both), folded into the second norm.
 *   PROJ input  (smooth_v) through V: context channel j is a mix of V row j,
 *               so V row j (and its bias) is divided by s_j and PROJ column j
 *               multiplied.  With grouped KV heads the query heads of a
 *               group share V rows, so one factor per (KV head, channel),
 *               taken over the group.
 *   DOWN input  (Llama, smooth_down) through up: MID_i = silu(gate_i) * up_i
 *               is linear in up row i, so up row i is divided by s_i and
 *               DOWN column i multiplied.
 *
 * a = 0 turns smoothing off.  Then the static activation scales max|x|/127
 * of the layer's quantized activations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"
#include "util/status.h"

/* s_j for the column maxima wmax (K) of the weights reading inputs with
 * channel maxima xmax (K). */
static void factors(const float *xmax, const float *wmax, int K, float alpha, float *s)
{
    for (int j = 0; j < K; j++) {
        if (alpha <= 0.0f) {
            s[j] = 1.0f;
            continue;
        }
        const float x = xmax[j] > 1e-5f ? xmax[j] : 1e-5f, wm = wmax[j] > 1e-5f ? wmax[j] : 1e-5f;
        float v = powf(x, alpha) / powf(wm, 1.0f - alpha);
        s[j] = v < 1e-4f ? 1e-4f : v > 1e4f ? 1e4f : v;
    }
}

/* Column maxima of w (R x K) folded into wmax (K). */
static void col_max(const float *w, int R, int K, float *wmax)
{
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++) {
            const float a = fabsf(w[(size_t)r * K + j]);
            if (a > wmax[j]) wmax[j] = a;
        }
}

static void scale_cols(float *w, int R, int K, const float *s)
{
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++) w[(size_t)r * K + j] *= s[j];
}

/* Smooth the input of matrices ms[0..n) (all reading the same activation,
 * channel maxima xmax) into norm weights g (and b). */
static void smooth_norm_input(qlayer *q, const llx_matrix *ms, int n, float *xmax, float *g, float *b, int C,
                              float alpha, float *s, float *wmax)
{
    memset(wmax, 0, (size_t)C * sizeof *wmax);
    for (int i = 0; i < n; i++) col_max(q->w[ms[i]], q->rows[ms[i]], C, wmax);
    factors(xmax, wmax, C, alpha, s);
    for (int i = 0; i < n; i++) scale_cols(q->w[ms[i]], q->rows[ms[i]], C, s);
    for (int j = 0; j < C; j++) {
        g[j] /= s[j], xmax[j] /= s[j];
        if (b) b[j] /= s[j];
    }
}

/* PROJ's input through V rows; one factor per (KV head, channel). */
static void smooth_through_v(const llx_config *c, qlayer *q, float *ctx, float *qkv, float alpha, float *s,
                             float *wmax)
{
    const int d = llx_config_head_dim(c), NH = c->n_head, NKV = llx_config_kv_heads(c), G = NH / NKV;
    const int Q = NH * d, KVW = NKV * d, P = q->cols[LLX_MAT_PROJ], R = q->rows[LLX_MAT_PROJ];
    float *cm = wmax + P; /* context maxima per (kv, channel) */
    memset(wmax, 0, (size_t)P * sizeof *wmax);
    col_max(q->w[LLX_MAT_PROJ], R, P, wmax);
    for (int kv = 0; kv < NKV; kv++)
        for (int i = 0; i < d; i++) {
            float xm = 0.0f, wm = 0.0f;
            for (int h = kv * G; h < (kv + 1) * G; h++) {
                xm = ctx[h * d + i] > xm ? ctx[h * d + i] : xm;
                wm = wmax[h * d + i] > wm ? wmax[h * d + i] : wm;
            }
            cm[kv * d + i] = xm;
            factors(&cm[kv * d + i], &wm, 1, alpha, &s[kv * d + i]);
        }
    float *col = malloc((size_t)P * sizeof *col);
    if (!col) return; /* smoothing is an optimisation: skip it */
    for (int j = 0; j < P; j++) col[j] = s[(j / d / G) * d + j % d];
    scale_cols(q->w[LLX_MAT_PROJ], R, P, col);
    for (int j = 0; j < P; j++) ctx[j] /= col[j];
    free(col);
    for (int r = 0; r < KVW; r++) { /* V row r of the QKV matrix */
        float *vr = q->w[LLX_MAT_QKV] + (size_t)(Q + KVW + r) * c->n_embd;
        for (int k = 0; k < c->n_embd; k++) vr[k] /= s[r];
        if (q->b[LLX_MAT_QKV]) q->b[LLX_MAT_QKV][Q + KVW + r] /= s[r];
        qkv[Q + KVW + r] /= s[r];
    }
}

/* DOWN's input through up's rows (MID is linear in each up row). */
static void smooth_through_up(qlayer *q, float *mid, float alpha, float *s, float *wmax)
{
    const int F = q->cols[LLX_MAT_FC2], C = q->cols[LLX_MAT_FC1];
    memset(wmax, 0, (size_t)F * sizeof *wmax);
    col_max(q->w[LLX_MAT_FC2], q->rows[LLX_MAT_FC2], F, wmax);
    factors(mid, wmax, F, alpha, s);
    scale_cols(q->w[LLX_MAT_FC2], q->rows[LLX_MAT_FC2], F, s);
    for (int i = 0; i < F; i++) {
        float *ur = q->w[LLX_MAT_FC1] + (size_t)i * C;
        for (int k = 0; k < C; k++) ur[k] /= s[i];
        mid[i] /= s[i];
    }
}

static float amax(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float step(float maxabs) { return maxabs > 0.0f ? maxabs / 127.0f : 1.0f; }

llx_status llx_smooth_layer(const llx_config *c, const calib *cb, const llx_quant_opts *o, int l, qlayer *q, float *sc)
{
    const int C = c->n_embd, F = c->n_inner, d = llx_config_head_dim(c);
    const int Q = c->n_head * d, KVW = llx_config_kv_heads(c) * d, llama = c->arch == LLX_ARCH_LLAMA;
    float *ln1 = cb->m[LLX_OBS_LN1] + (size_t)l * C, *ln2 = cb->m[LLX_OBS_LN2] + (size_t)l * C;
    float *qkv = cb->m[LLX_OBS_QKV] + (size_t)l * (Q + 2 * KVW), *ctx = cb->m[LLX_OBS_CTX] + (size_t)l * Q;
    float *mid = cb->m[LLX_OBS_GELU] + (size_t)l * F;
    const int big = (C > F ? C : F) > Q ? (C > F ? C : F) : Q;
    float *s = malloc((size_t)big * sizeof *s), *wmax = malloc((size_t)2 * big * sizeof *wmax);
    if (!s || !wmax) {
        free(s), free(wmax);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    const llx_matrix in1[1] = {LLX_MAT_QKV}, gpt2_mlp[1] = {LLX_MAT_FC1}, llama_mlp[2] = {LLX_MAT_GATE, LLX_MAT_FC1};
    smooth_norm_input(q, in1, 1, ln1, q->g[0], q->nb[0], C, o->alpha, s, wmax);
    smooth_norm_input(q, llama ? llama_mlp : gpt2_mlp, llama ? 2 : 1, ln2, q->g[1], q->nb[1], C, o->alpha, s, wmax);
    if (o->smooth_v && o->alpha > 0.0f) smooth_through_v(c, q, ctx, qkv, o->alpha, s, wmax);
    if (llama && o->smooth_down && o->alpha > 0.0f) smooth_through_up(q, mid, o->alpha, s, wmax);
    free(s), free(wmax);
    memset(sc, 0, LLX_SC_COUNT * sizeof *sc);
    sc[LLX_SC_LN1] = step(amax(ln1, C));
    sc[LLX_SC_Q] = step(amax(qkv, Q));
    sc[LLX_SC_K] = step(amax(qkv + Q, KVW));
    sc[LLX_SC_V] = step(amax(qkv + Q + KVW, KVW));
    sc[LLX_SC_CTX] = step(amax(ctx, Q));
    sc[LLX_SC_LN2] = step(amax(ln2, C));
    sc[LLX_SC_GELU] = step(amax(mid, F));
    return LLX_OK;
}
