/* tests/test_w8a8.c - the quantized datapaths against an independent
 * fake-quant reference written here (same formulas, float arithmetic, exact
 * double accumulation): the embedding, every int8 output and per-token
 * scale, every fp32 output, at every stage of every layer, then the final
 * LayerNorm and the LM head's logits, all identical, for static and
 * dynamic scales, prefill and decode, on 2 threads.  The long run decodes
 * past the 32-position V chunks and past 128 positions, where 2 threads
 * split decode attention by position.  The low-bit schemes add int4
 * weights (per row or per group, fp32 or fp16 scales), int4 per-token
 * activations, the online Hadamard transform (signs, then the
 * Walsh-Hadamard butterflies) and int4 LM heads, checked the same way; with
 * an fp32 KV cache the context (fp32 attention, the fp32 datapath's) is
 * checked within one quantization step of a double-precision attention. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "kernels/hadamard.h"
#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "rotfile_util.h"
#include "serveutil.h"
#include "test.h"
#include "w8a8_fixtures.h"

typedef struct ref {
    const llx_llx *f;
    llx_config c;
    int dynamic, pos, T;
    const int *ids; /* the pass's tokens (for the embedding) */
    int mismatches, checks;
    llx_scheme_info s;        /* the file's scheme */
    int a4;                   /* matrix inputs int4 per token (W4A4) */
    int llama;                /* RMSNorm, rotary step, grouped KV heads, SiLU-gated MLP, no biases */
    int NH, KV, hd, QW, CW;   /* query heads, KV heads, head width, QKV width, context width */
    float *rope;              /* Llama: [position][cos of hd/2 angles, then sin] */
    float *x, *h, *k8, *v8;   /* residual [T][C], LN out, KV cache [L][ctx][C] */
    float *qkvf, *gf;         /* fp32 QKV output (fp32 KV), fp32 GELU output (Hadamard) */
    int8_t *in8, *qkv8, *g8;  /* last observed int8 tensors */
    float *in_s, *g_s;
    int8_t *ctx8;
    float *ctx_s;
    char where[128];
} ref;

static const float *t32(const ref *r, const char *what, int l, long long rows)
{
    char name[64];
    snprintf(name, sizeof name, "h.%d.%s", l, what);
    return llx_llx_tensor(r->f, name, LLX_DT_F32, rows, 0);
}


/* A matrix as the file stores it: int8 rows with fp32 scales, or int4
 * (two per byte, low nibble first, value + 8) with fp32 or fp16 scales per
 * row or per group of input columns. */
typedef struct rmat {
    int bits, K, ng;
    const int8_t *w8;
    const uint8_t *w4;
    const float *s32;
    const uint16_t *s16;
} rmat;

static rmat rmat_of(const ref *r, const char *pre, long long rows, long long K)
{
    char w[64], sc[64];
    snprintf(w, sizeof w, "%s.w", pre);
    snprintf(sc, sizeof sc, "%s.s", pre);
    rmat m = {8, (int)K, 1, NULL, NULL, NULL, NULL};
    m.w8 = llx_llx_tensor(r->f, w, LLX_DT_I8, rows, K);
    if (m.w8) {
        m.s32 = llx_llx_tensor(r->f, sc, LLX_DT_F32, rows, 0);
        return m;
    }
    m.bits = 4;
    m.w4 = llx_llx_tensor(r->f, w, LLX_DT_Q4, rows, K);
    m.ng = r->s.group ? (int)K / r->s.group : 1;
    const long long cols = r->s.group ? m.ng : 0;
    if (r->s.scales_f16) m.s16 = llx_llx_tensor(r->f, sc, LLX_DT_F16, rows, cols);
    else m.s32 = llx_llx_tensor(r->f, sc, LLX_DT_F32, rows, cols);
    return m;
}

static rmat lmat(const ref *r, const char *what, int l, long long rows, long long K)
{
    char pre[64];
    snprintf(pre, sizeof pre, "h.%d.%s", l, what);
    return rmat_of(r, pre, rows, K);
}

/* IEEE half to float (finite values) */
static float rhalf(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e ? ldexpf((float)(m | 1024), e - 25) : ldexpf((float)m, -24);
    return h & 0x8000 ? -v : v;
}

static float rscale(const rmat *m, int r, int g)
{
    const size_t i = (size_t)r * m->ng + g;
    return m->s16 ? rhalf(m->s16[i]) : m->s32[i];
}

static int rw(const rmat *m, int r, int k)
{
    if (m->bits == 8) return m->w8[(size_t)r * m->K + k];
    const size_t i = (size_t)r * m->K + k;
    return ((m->w4[i / 2] >> (i & 1 ? 4 : 0)) & 15) - 8;
}

/* The static scale of q head, k head or v head i (q heads, then k, then v):
 * the file's per-head scales, or (version 1 files) the tensor's. */
static float head_scale(const ref *r, int l, int i, const float *sc)
{
    const int H = r->c.n_head;
    char name[64];
    snprintf(name, sizeof name, "h.%d.kv", l);
    llx_llx_desc d;
    for (int k = 0; k < llx_llx_count(r->f); k++)
        if (llx_llx_entry(r->f, k, &d) == LLX_OK && !strcmp(d.name, name)) return ((const float *)d.data)[i];
    return sc[i < H ? LLX_SC_Q : i < 2 * H ? LLX_SC_K : LLX_SC_V];
}

/* the reference's own float formulas (docs/quantization.md, vecops.h) */
static float rexp(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float n = rintf(x * 1.44269504088896341f);
    const float r = fmaf(n, -1.428606765330187e-06f, fmaf(n, -0.693145751953125f, x));
    static const float c[8] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                               1.6666665459e-1f, 5.0000001201e-1f, 1.0f, 1.0f};
    float p = c[0];
    for (int i = 1; i < 8; i++) p = fmaf(p, r, c[i]);
    return ldexpf(p, (int)n);
}

static int8_t rq8(float v)
{
    float r = rintf(v);
    return (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
}

/* sums in 8 lanes (lane i % 8 below C & ~7), lanes combined pairwise, then the tail */
static float rsum8(const float *v, int n)
{
    float lane[8] = {0};
    const int n8 = n & ~7;
    for (int i = 0; i < n8; i++) lane[i % 8] += v[i];
    float s = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
    for (int i = n8; i < n; i++) s += v[i];
    return s;
}

static void rlayernorm(float *out, const float *x, const float *g, const float *b, int C, float eps, float mul)
{
    const float mean = rsum8(x, C) / (float)C;
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * (x[i] - mean);
    const float rstd = 1.0f / sqrtf(rsum8(out, C) / (float)C + eps);
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * rstd * (g[i] * mul) + b[i] * mul;
}

/* Llama: x * rstd * g, rstd from the mean of squares (no mean, no bias) */
static void rrmsnorm(float *out, const float *x, const float *g, int C, float eps, float mul)
{
    for (int i = 0; i < C; i++) out[i] = x[i] * x[i];
    const float rstd = 1.0f / sqrtf(rsum8(out, C) / (float)C + eps);
    for (int i = 0; i < C; i++) out[i] = x[i] * rstd * (g[i] * mul);
}

static void rnorm(const ref *r, float *out, const float *x, const float *g, const float *b, float mul)
{
    if (r->llama) rrmsnorm(out, x, g, r->c.n_embd, r->c.ln_eps, mul);
    else rlayernorm(out, x, g, b, r->c.n_embd, r->c.ln_eps, mul);
}

/* The rotary table as HF computes it in float (llama3 bands blended), and
 * the turn of one head: (a, b) -> (a c - b s, b c + a s) */
static float *rrope_table(const llx_config *c, int positions)
{
    const int d = c->head_dim, half = d / 2;
    float *t = malloc(sizeof(float) * (size_t)positions * d), *inv = malloc(sizeof(float) * half);
    for (int i = 0; i < half; i++) {
        float f = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)d);
        const float old = (float)c->rope_orig_ctx, wl = 6.28318530717958647692f / f;
        if (c->rope_llama3 && wl > old / c->rope_low_freq) f = f / c->rope_factor;
        else if (c->rope_llama3 && !(wl < old / c->rope_high_freq)) {
            const float sm = (old / wl - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
            f = (1.0f - sm) * f / c->rope_factor + sm * f;
        }
        inv[i] = f;
    }
    for (int p = 0; p < positions; p++)
        for (int i = 0; i < half; i++) {
            t[(size_t)p * d + i] = (float)cos((double)((float)p * inv[i]));
            t[(size_t)p * d + half + i] = (float)sin((double)((float)p * inv[i]));
        }
    free(inv);
    return t;
}

static void rrope(const ref *r, float *x, int pos)
{
    const int half = r->hd / 2;
    const float *cs = r->rope + (size_t)pos * r->hd;
    for (int i = 0; i < half; i++) {
        const float a = x[i], b = x[i + half];
        x[i] = a * cs[i] - b * cs[half + i];
        x[i + half] = b * cs[i] + a * cs[half + i];
    }
}

static float rlinear(const rmat *m, const float *b, const int8_t *x, float s, int r);

/* QKV of token t in fp32 (Llama: q and k heads turned) */
static void rqkv(const ref *r, int l, int t, float *y)
{
    const rmat w = lmat(r, "qkv", l, r->QW, r->c.n_embd);
    const float *b = r->llama ? NULL : t32(r, "qkv.b", l, r->QW);
    for (int i = 0; i < r->QW; i++) y[i] = rlinear(&w, b, r->in8 + (size_t)t * r->c.n_embd, r->in_s[t], i);
    for (int h = 0; r->llama && h < r->NH + r->KV; h++) rrope(r, y + h * r->hd, r->pos + t);
}

/* int4 per token, asymmetric: 16 levels over [min, max] widened to 0 and
 * narrowed by the file's clip ratio c to [c min, c max] (values outside
 * take the end codes); the products use q = code - zero point
 * (docs/quantization.md) */
static void rquant4(const float *h, int n, float clip, int8_t *q, float *s)
{
    float lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < n; i++) lo = h[i] < lo ? h[i] : lo, hi = h[i] > hi ? h[i] : hi;
    if (clip != 0.0f) lo = lo * clip, hi = hi * clip; /* 0: a file without clipping */
    const float inv = hi - lo > 0.0f ? 15.0f / (hi - lo) : 0.0f, z = rintf(-lo * inv);
    for (int i = 0; i < n; i++) {
        const float c = rintf(h[i] * inv) + z;
        q[i] = (int8_t)((c < 0.0f ? 0.0f : c > 15.0f ? 15.0f : c) - z);
    }
    *s = (hi - lo) / 15.0f;
}

static void rquant(const ref *r, const float *h, int n, int8_t *q, float *s, float static_inv, float static_s)
{
    if (r->a4) {
        rquant4(h, n, r->s.act_clip, q, s);
        return;
    }
    if (!r->dynamic) {
        for (int i = 0; i < n; i++) q[i] = rq8(h[i] * static_inv);
        *s = static_s;
        return;
    }
    float amax = 0.0f;
    for (int i = 0; i < n; i++) amax = fabsf(h[i]) > amax ? fabsf(h[i]) : amax;
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < n; i++) q[i] = rq8(h[i] * inv);
    *s = amax / 127.0f;
}

/* y[r] = sum over groups g, in order, of acc_g * (s * ws[r][g]), plus
 * b[r]; each acc_g summed exactly in double (one group: int8 rows) */
static float rlinear(const rmat *m, const float *b, const int8_t *x, float s, int r)
{
    const int G = m->K / m->ng;
    float y = 0.0f;
    for (int g = 0; g < m->ng; g++) {
        double acc = 0;
        for (int k = g * G; k < (g + 1) * G; k++) acc += (double)rw(m, r, k) * x[k];
        const float p = (float)(int32_t)acc * (s * rscale(m, r, g));
        y = g ? y + p : p;
    }
    return y + (b ? b[r] : 0.0f);
}

static void expect_i8(ref *r, const char *what, const int8_t *got, const int8_t *want, size_t n)
{
    r->checks++;
    if (memcmp(got, want, n) != 0) {
        r->mismatches++;
        size_t i = 0;
        while (got[i] == want[i]) i++;
        llx_test_note("%s %s: int8 differs at %zu (%d vs %d)", r->where, what, i, got[i], want[i]);
    }
}

static void expect_f32(ref *r, const char *what, const float *got, const float *want, size_t n)
{
    r->checks++;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            r->mismatches++;
            llx_test_note("%s %s: fp32 differs at %zu (%.9g vs %.9g)", r->where, what, i, got[i], want[i]);
            return;
        }
}

static void check_qkv_f32(ref *r, int l, const float *x, int T);
static void check_gelu_f32(ref *r, int l, const float *x, int T);

static void on_f32(void *ud, int l, llx_obs_point p, const float *x, int T, int width)
{
    ref *r = ud;
    const int C = r->c.n_embd;
    snprintf(r->where, sizeof r->where, "pos %d layer %d", r->pos, l);
    if (p == LLX_OBS_X_IN) {
        if (l == 0) { /* the embedding: wte[token] + wpe[position] (Llama: wte[token]) */
            const float *wte = llx_llx_tensor(r->f, "wte", LLX_DT_F32, r->c.n_vocab, C);
            const float *wpe = r->llama ? NULL : llx_llx_tensor(r->f, "wpe", LLX_DT_F32, r->c.n_ctx, C);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < C; i++)
                    r->x[(size_t)t * C + i] =
                        wpe ? wte[(size_t)r->ids[t] * C + i] + wpe[(size_t)(r->pos + t) * C + i] : wte[(size_t)r->ids[t] * C + i];
        }
        expect_f32(r, l ? "residual" : "embedding", x, r->x, (size_t)T * C);
        return;
    }
    if (p == LLX_OBS_QKV) { /* fp32 KV: the QKV output stays fp32 */
        check_qkv_f32(r, l, x, T);
        return;
    }
    if (p == LLX_OBS_GELU) { /* before the online Hadamard transform */
        check_gelu_f32(r, l, x, T);
        return;
    }
    const llx_matrix m = p == LLX_OBS_PROJ ? LLX_MAT_PROJ : LLX_MAT_FC2;
    const int K = m == LLX_MAT_PROJ ? r->CW : r->c.n_inner;
    const rmat w = lmat(r, m == LLX_MAT_PROJ ? "proj" : "fc2", l, C, K);
    const float *b = r->llama ? NULL : t32(r, m == LLX_MAT_PROJ ? "proj.b" : "fc2.b", l, C);
    float *y = malloc(sizeof(float) * T * C);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++)
            y[(size_t)t * C + i] = m == LLX_MAT_PROJ ? rlinear(&w, b, r->ctx8 + (size_t)t * K, r->ctx_s[t], i)
                                                     : rlinear(&w, b, r->g8 + (size_t)t * K, r->g_s[t], i);
    expect_f32(r, m == LLX_MAT_PROJ ? "proj" : "fc2", x, y, (size_t)T * C);
    for (size_t i = 0; i < (size_t)T * C; i++) r->x[i] += x[i];
    free(y);
}

static void check_ln(ref *r, int l, int which, const int8_t *q, const float *s, int T)
{
    const int C = r->c.n_embd;
    const float *g = t32(r, which ? "ln2.g" : "ln1.g", l, C);
    const float *b = r->llama ? NULL : t32(r, which ? "ln2.b" : "ln1.b", l, C);
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    const float sstat = sc[which ? LLX_SC_LN2 : LLX_SC_LN1];
    int8_t *want = malloc((size_t)T * C);
    float ws[64];
    for (int t = 0; t < T; t++) {
        /* static: 1/s folded into gamma and beta; dynamic: per-token scale */
        rnorm(r, r->h, r->x + (size_t)t * C, g, b, r->dynamic || r->a4 ? 1.0f : 1.0f / sstat);
        rquant(r, r->h, C, want + (size_t)t * C, &ws[t], 1.0f, sstat);
    }
    expect_i8(r, which ? "ln2" : "ln1", q, want, (size_t)T * C);
    expect_f32(r, which ? "ln2 scale" : "ln1 scale", s, ws, (size_t)T);
    memcpy(r->in8, q, (size_t)T * C);
    memcpy(r->in_s, s, sizeof(float) * T);
    free(want);
}

static void check_qkv(ref *r, int l, const int8_t *q, int T)
{
    const int QW = r->QW, hd = r->hd;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    int8_t *want = malloc((size_t)T * QW);
    float *y = malloc(sizeof(float) * QW);
    for (int t = 0; t < T; t++) {
        rqkv(r, l, t, y);
        for (int i = 0; i < QW; i++) want[(size_t)t * QW + i] = rq8(y[i] * (1.0f / head_scale(r, l, i / hd, sc)));
    }
    expect_i8(r, "qkv", q, want, (size_t)T * QW);
    memcpy(r->qkv8, q, (size_t)T * QW);
    free(want), free(y);
}

/* query head h reads KV head h / (NH / KV) (grouped-query attention) */
static void check_ctx(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int H = r->NH, hd = r->hd, ctx = r->c.n_ctx, QW = r->QW, CW = r->CW, KW = r->KV * hd, G = r->NH / r->KV;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    int8_t *kc = (int8_t *)r->k8 + (size_t)l * ctx * KW, *vc = (int8_t *)r->v8 + (size_t)l * ctx * KW;
    for (int t = 0; t < T; t++) {
        memcpy(kc + (size_t)(r->pos + t) * KW, r->qkv8 + (size_t)t * QW + CW, (size_t)KW);
        memcpy(vc + (size_t)(r->pos + t) * KW, r->qkv8 + (size_t)t * QW + CW + KW, (size_t)KW);
    }
    float *y = malloc(sizeof(float) * T * CW), *p = malloc(sizeof(float) * ctx);
    int8_t *want = malloc((size_t)T * CW);
    float ws[64];
    for (int t = 0; t < T; t++) {
        const int last = r->pos + t;
        for (int h = 0; h < H; h++) {
            const int g = h / G;
            const float score_scale = head_scale(r, l, h, sc) * head_scale(r, l, H + g, sc) / sqrtf((float)hd);
            float m = -INFINITY, sum = 0.0f;
            for (int j = 0; j <= last; j++) {
                double d = 0;
                for (int k = 0; k < hd; k++)
                    d += (double)r->qkv8[(size_t)t * QW + h * hd + k] * kc[(size_t)j * KW + g * hd + k];
                p[j] = (float)(int32_t)d * score_scale;
                m = p[j] > m ? p[j] : m;
            }
            float lane[8] = {0};
            const int n = last + 1, n8 = n & ~7;
            for (int j = 0; j < n; j++) {
                p[j] = rexp(p[j] - m);
                if (j < n8) lane[j % 8] += p[j];
            }
            sum = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
            for (int j = n8; j < n; j++) sum += p[j];
            const float inv = 1.0f / sum;
            for (int k = 0; k < hd; k++) {
                double acc = 0;
                for (int j = 0; j <= last; j++) acc += (double)rq8(p[j] * inv * 127.0f) * vc[(size_t)j * KW + g * hd + k];
                y[(size_t)t * CW + h * hd + k] = (float)(int32_t)acc * (head_scale(r, l, H + r->KV + g, sc) / 127.0f);
            }
        }
        rquant(r, y + (size_t)t * CW, CW, want + (size_t)t * CW, &ws[t], 1.0f / sc[LLX_SC_CTX], sc[LLX_SC_CTX]);
    }
    expect_i8(r, "ctx", q, want, (size_t)T * CW);
    expect_f32(r, "ctx scale", s, ws, (size_t)T);
    memcpy(r->ctx8, q, (size_t)T * CW);
    memcpy(r->ctx_s, s, sizeof(float) * T);
    free(y), free(p), free(want);
}

/* FC1 and GELU of token t, fp32; Llama: silu(gate) * up, silu(x) = x / (1 + exp(-x)) */
static void rgelu(const ref *r, int l, int t, float *g)
{
    const int C = r->c.n_embd, F = r->c.n_inner;
    const rmat w = lmat(r, "fc1", l, F, C);
    const float *b = r->llama ? NULL : t32(r, "fc1.b", l, F);
    const rmat wg = r->llama ? lmat(r, "gate", l, F, C) : w;
    for (int i = 0; i < F; i++) {
        const float x = rlinear(&w, b, r->in8 + (size_t)t * C, r->in_s[t], i);
        if (r->llama) {
            const float a = rlinear(&wg, NULL, r->in8 + (size_t)t * C, r->in_s[t], i);
            g[i] = x * (a / (1.0f + rexp(-a)));
            continue;
        }
        g[i] = x / (1.0f + rexp(-2.0f * (0.7978845608028654f * (x + 0.044715f * x * x * x))));
    }
}

/* with the online Hadamard transform: the fp32 GELU output */
static void check_gelu_f32(ref *r, int l, const float *x, int T)
{
    const int F = r->c.n_inner;
    for (int t = 0; t < T; t++) rgelu(r, l, t, r->gf + (size_t)t * F);
    expect_f32(r, "gelu (fp32)", x, r->gf, (size_t)T * F);
}

/* the transform: signs, then for F = m * p (p a power of two, m 1 or a
 * Paley order) the butterflies of every stage h = 1, 2, 4, ... < p ((a, b)
 * -> (a + b, a - b)) within each of the m blocks of p, then each column j
 * mixed by H_m (signed sum over the m blocks in order), then 1/sqrt(F) */
static void rhadamard(const ref *r, float *x)
{
    const int F = r->c.n_inner;
    const int8_t *d = llx_llx_tensor(r->f, "down.signs", LLX_DT_I8, F, 0);
    for (int i = 0; i < F; i++) x[i] = d[i] < 0 ? -x[i] : x[i];
    static int8_t hm[128 * 128];
    int m = F;
    while (m % 2 == 0) m /= 2;
    while (!llx_hadamard_small(m, hm)) m *= 2; /* the smallest Paley order (or 1) times the odd part */
    const int p = F / m;
    for (int h = 1; h < p; h *= 2)
        for (int j = 0; j < F; j++)
            if (!(j % p & h)) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b, x[j + h] = a - b;
            }
    if (m > 1) {
        float col[128];
        for (int j = 0; j < p; j++) {
            for (int i = 0; i < m; i++) col[i] = x[i * p + j];
            for (int i = 0; i < m; i++) {
                float acc = hm[i * m] > 0 ? col[0] : -col[0];
                for (int k = 1; k < m; k++) acc = hm[i * m + k] > 0 ? acc + col[k] : acc - col[k];
                x[i * p + j] = acc;
            }
        }
    }
    const float scale = (float)(1.0 / sqrt((double)F));
    for (int i = 0; i < F; i++) x[i] *= scale;
}

static void check_down_in(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int F = r->c.n_inner;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    int8_t *want = malloc((size_t)T * F);
    float ws[64];
    for (int t = 0; t < T; t++) {
        rhadamard(r, r->gf + (size_t)t * F);
        rquant(r, r->gf + (size_t)t * F, F, want + (size_t)t * F, &ws[t], 1.0f / sc[LLX_SC_GELU], sc[LLX_SC_GELU]);
    }
    expect_i8(r, "down input", q, want, (size_t)T * F);
    expect_f32(r, "down input scale", s, ws, (size_t)T);
    memcpy(r->g8, q, (size_t)T * F);
    memcpy(r->g_s, s, sizeof(float) * T);
    free(want);
}

/* fp32 KV: the QKV output in fp32, and the cache */
static void check_qkv_f32(ref *r, int l, const float *x, int T)
{
    const int ctx = r->c.n_ctx, QW = r->QW, CW = r->CW, KW = r->KV * r->hd;
    for (int t = 0; t < T; t++) rqkv(r, l, t, r->qkvf + (size_t)t * QW);
    expect_f32(r, "qkv (fp32)", x, r->qkvf, (size_t)T * QW);
    float *kc = r->k8 + (size_t)l * ctx * KW, *vc = r->v8 + (size_t)l * ctx * KW;
    for (int t = 0; t < T; t++) {
        memcpy(kc + (size_t)(r->pos + t) * KW, r->qkvf + (size_t)t * QW + CW, sizeof(float) * KW);
        memcpy(vc + (size_t)(r->pos + t) * KW, r->qkvf + (size_t)t * QW + CW + KW, sizeof(float) * KW);
    }
}

/* fp32 KV: attention in double; each context value the engine quantized
 * must lie within one step of it (the fp32 kernels' summation order is
 * theirs), and the engine's codes go on */
static void check_ctx_f32(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int H = r->NH, hd = r->hd, ctx = r->c.n_ctx, QW = r->QW, CW = r->CW, KW = r->KV * hd, G = r->NH / r->KV;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    const float *kc = r->k8 + (size_t)l * ctx * KW, *vc = r->v8 + (size_t)l * ctx * KW;
    double *p = malloc(sizeof(double) * ctx);
    int bad = 0;
    for (int t = 0; t < T; t++) {
        const int n = r->pos + t + 1;
        const float step = r->a4 || r->dynamic ? s[t] : sc[LLX_SC_CTX];
        for (int h = 0; h < H; h++) {
            double m = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int k = 0; k < hd; k++) d += (double)r->qkvf[(size_t)t * QW + h * hd + k] * kc[(size_t)j * KW + h / G * hd + k];
                p[j] = d / sqrt((double)hd);
                m = p[j] > m ? p[j] : m;
            }
            for (int j = 0; j < n; j++) sum += p[j] = exp(p[j] - m);
            for (int k = 0; k < hd; k++) {
                double y = 0;
                for (int j = 0; j < n; j++) y += p[j] / sum * vc[(size_t)j * KW + h / G * hd + k];
                if (!r->a4 && !r->dynamic) y = fmax(-127.0 * step, fmin(127.0 * step, y)); /* static: clamped */
                const double got = (double)q[(size_t)t * CW + h * hd + k] * step;
                bad += fabs(got - y) > 1.01 * step + 1e-6;
            }
        }
    }
    r->checks++;
    if (bad) {
        r->mismatches++;
        llx_test_note("%s ctx (fp32 KV): %d values more than one step from the double-precision attention", r->where, bad);
    }
    memcpy(r->ctx8, q, (size_t)T * CW);
    memcpy(r->ctx_s, s, sizeof(float) * T);
    free(p);
}

static void check_gelu(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int F = r->c.n_inner;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    float *g = malloc(sizeof(float) * F), ws2[64];
    int8_t *want = malloc((size_t)T * F);
    for (int t = 0; t < T; t++) {
        rgelu(r, l, t, g);
        rquant(r, g, F, want + (size_t)t * F, &ws2[t], 1.0f / sc[LLX_SC_GELU], sc[LLX_SC_GELU]);
    }
    expect_i8(r, "gelu", q, want, (size_t)T * F);
    expect_f32(r, "gelu scale", s, ws2, (size_t)T);
    memcpy(r->g8, q, (size_t)T * F);
    memcpy(r->g_s, s, sizeof(float) * T);
    free(g), free(want);
}

static void on_i8(void *ud, int l, llx_obs_point p, const int8_t *q, const float *s, int T, int width)
{
    ref *r = ud;
    snprintf(r->where, sizeof r->where, "pos %d layer %d", r->pos, l);
    switch (p) {
    case LLX_OBS_LN1: check_ln(r, l, 0, q, s, T); break;
    case LLX_OBS_LN2: check_ln(r, l, 1, q, s, T); break;
    case LLX_OBS_QKV: check_qkv(r, l, q, T); break;
    case LLX_OBS_CTX: r->s.kv_int8 ? check_ctx(r, l, q, s, T) : check_ctx_f32(r, l, q, s, T); break;
    case LLX_OBS_GELU: check_gelu(r, l, q, s, T); break;
    case LLX_OBS_DOWN_IN: check_down_in(r, l, q, s, T); break;
    default: break;
    }
}

/* The last token's logits: final LayerNorm, per-token int8, the LM head
 * (int8 or int4, rows or groups scaled; a bias when the final norm's was
 * folded into it). */
static void check_logits(ref *r, const float *logits, int T)
{
    const int C = r->c.n_embd, V = r->c.n_vocab;
    const float *g = llx_llx_tensor(r->f, "ln_f.g", LLX_DT_F32, C, 0);
    const float *b = r->llama ? NULL : llx_llx_tensor(r->f, "ln_f.b", LLX_DT_F32, C, 0);
    const rmat w = rmat_of(r, "lm_head", V, C);
    const float *lb = r->s.lm_bias ? llx_llx_tensor(r->f, "lm_head.b", LLX_DT_F32, V, 0) : NULL;
    float *want = malloc(sizeof(float) * V), s;
    int8_t *h8 = malloc((size_t)C);
    rnorm(r, r->h, r->x + (size_t)(T - 1) * C, g, b, 1.0f);
    const int dyn = r->dynamic, a4 = r->a4;
    r->dynamic = 1, r->a4 = 0; /* the LM head's input is always int8 per token */
    rquant(r, r->h, C, h8, &s, 0, 0);
    r->dynamic = dyn, r->a4 = a4;
    for (int v = 0; v < V; v++) want[v] = rlinear(&w, lb, h8, s, v);
    snprintf(r->where, sizeof r->where, "pos %d", r->pos);
    expect_f32(r, "logits", logits, want, (size_t)V);
    free(want), free(h8);
}

/* Prefill `prefill` tokens, then decode one at a time up to `total`
 * positions, checking every stage and the logits of every pass. */
static void run_reference_check(const char *llx_path, const char *precision, int prefill, int total)
{
    llx_model *m;
    REQUIRE(llx_model_open(&m, llx_path) == LLX_OK);
    llx_llx *f;
    CHECK(llx_llx_open(&f, llx_path) == LLX_OK);
    ref r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.c = *llx_model_config(m);
    r.dynamic = !strcmp(precision, "dynamic");
    r.s = llx_llx_qinfo(f)->s;
    r.a4 = r.s.scheme == LLX_SCHEME_W4A4;
    r.llama = r.c.arch == LLX_ARCH_LLAMA;
    r.NH = r.c.n_head, r.KV = llx_config_kv_heads(&r.c), r.hd = llx_config_head_dim(&r.c);
    r.QW = (r.NH + 2 * r.KV) * r.hd, r.CW = r.NH * r.hd;
    r.rope = r.llama ? rrope_table(&r.c, r.c.n_ctx) : NULL;
    const int T = prefill; /* the largest pass */
    REQUIRE(T <= 64 && total <= r.c.n_ctx);
    const int C = r.c.n_embd, F = r.c.n_inner, L = r.c.n_layer;
    r.x = malloc(sizeof(float) * T * C);
    r.h = malloc(sizeof(float) * C);
    r.k8 = malloc(sizeof(float) * L * r.c.n_ctx * r.QW); /* int8 or fp32 */
    r.v8 = malloc(sizeof(float) * L * r.c.n_ctx * r.QW);
    r.qkvf = malloc(sizeof(float) * T * r.QW), r.gf = malloc(sizeof(float) * T * F);
    r.in8 = malloc((size_t)T * C), r.qkv8 = malloc((size_t)T * r.QW), r.g8 = malloc((size_t)T * F);
    r.ctx8 = malloc((size_t)T * r.CW);
    r.in_s = malloc(sizeof(float) * T), r.g_s = malloc(sizeof(float) * T), r.ctx_s = malloc(sizeof(float) * T);
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 2;
    o.precision = r.dynamic ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
    llx_engine *e = NULL;
    CHECK(llx_engine_create(&e, m, &o) == LLX_OK);
    const llx_observer obs = {on_f32, on_i8, &r};
    llx_engine_set_observer(e, &obs);
    float *logits = malloc(sizeof(float) * r.c.n_vocab);
    int *ids = malloc(sizeof(int) * (size_t)total);
    for (int i = 0; i < total; i++) ids[i] = (i * 131 + 7) % r.c.n_vocab;
    r.ids = ids;
    CHECK(e && llx_engine_forward(e, ids, prefill, logits, 0) == LLX_OK);
    check_logits(&r, logits, prefill);
    for (r.pos = prefill; e && r.pos < total; r.pos++) {
        r.ids = ids + r.pos;
        CHECK(llx_engine_forward(e, &ids[r.pos], 1, logits, 0) == LLX_OK);
        check_logits(&r, logits, 1);
    }
    CHECK(r.checks > (10 * L + 1) * (total - prefill));
    CHECK_EQ_INT(r.mismatches, 0);
    llx_test_note("%s %s: %d outputs (every stage and the logits, %d positions) checked against the fake-quant "
                  "reference, %d differ", llx_scheme_name(r.s.scheme), precision, r.checks, total, r.mismatches);
    llx_engine_free(e);
    llx_llx_close(f);
    llx_model_close(m);
    free(r.x), free(r.h), free(r.k8), free(r.v8), free(r.in8), free(r.qkv8), free(r.g8), free(r.ctx8);
    free(r.in_s), free(r.g_s), free(r.ctx_s), free(logits), free(ids), free(r.qkvf), free(r.gf), free(r.rope);
}

TEST(w8a8_matches_fake_quant_reference_static, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *p = llx_fixture_awkward_llx(LLX_ACT_STATIC);
    REQUIRE(p);
    run_reference_check(p, "static", 8, 12);
}

TEST(w8a8_matches_fake_quant_reference_dynamic, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *p = llx_fixture_awkward_llx(LLX_ACT_DYNAMIC);
    REQUIRE(p);
    run_reference_check(p, "dynamic", 8, 12);
}

/* 40 prompt tokens, then decode to 150 positions: five 32-position V
 * chunks, and past 128 positions, where 2 threads split the cache. */
TEST(w8a8_matches_fake_quant_reference_long, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *s = llx_fixture_long_llx(LLX_ACT_STATIC), *d = llx_fixture_long_llx(LLX_ACT_DYNAMIC);
    REQUIRE(s && d);
    run_reference_check(s, "static", 40, 150);
    run_reference_check(d, "dynamic", 40, 150);
}

/* every low-bit variant (serveutil.c): w4a8 per row; w4a8 GPTQ groups of
 * 32, fp16 scales, fp32 KV; w4a4 rotated (online Hadamard) with an int4 LM
 * head; w4a4 GPTQ groups of 32 rotated, fp32 KV; w4a4 GPTQ (asymmetric
 * calibration) with the online R4 alone; static and dynamic */
TEST(lowbit_matches_fake_quant_reference, LLX_T_ASAN)
{
    for (int v = 0; v < LLX_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_serve_model_small_lowbit(v, &what);
        REQUIRE(p);
        llx_test_note("%s", what);
        run_reference_check(p, "static", 8, 12);
        run_reference_check(p, "dynamic", 8, 12);
    }
}

/* Llama's low-bit files (w8a8_fixtures.h): RMSNorm, the rotary step, 6
 * query heads on 2 KV heads, silu(gate) * up, the online Hadamard of 192 =
 * 12 * 16 (Paley 12 times a butterfly of 16); static and dynamic */
TEST(lowbit_llama_matches_fake_quant_reference, LLX_T_ASAN)
{
    for (int v = 0; v < LLX_LLAMA_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_fixture_llama_lowbit(v, &what);
        REQUIRE(p);
        llx_test_note("%s", what);
        run_reference_check(p, "static", 8, 12);
        run_reference_check(p, "dynamic", 8, 12);
    }
}

/* W4A4 rotated by a rotation file's random orthogonal R1 and R2
 * (rotfile_util.h) instead of the Hadamard ones, online R4 kept: the
 * small GPT-2 and the Paley Llama; static and dynamic */
TEST(lowbit_rotfile_matches_fake_quant_reference, LLX_T_ASAN)
{
    for (int llama = 0; llama <= 1; llama++) {
        const char *p = llx_fixture_rotfile_lowbit(llama, NULL);
        REQUIRE(p);
        llx_test_note("%s w4a4 rtn, R1/R2 from a rotation file, lm4, clip 0.875", llama ? "llama" : "gpt2");
        run_reference_check(p, "static", 8, 12);
        run_reference_check(p, "dynamic", 8, 12);
    }
}

/* RTN with the online R4 alone (--rotate r4: the norms stay, no R1/R2),
 * W4A4 and W4A8, on the small GPT-2 and the Paley Llama (the GPTQ r4 files
 * are low-bit variant 4 above); static and dynamic */
TEST(lowbit_r4_matches_fake_quant_reference, LLX_T_ASAN)
{
    for (int llama = 0; llama <= 1; llama++)
        for (int v = 0; v < 2; v++) {
            const char *what = "", *p = llx_fixture_r4_lowbit(llama, v, &what);
            REQUIRE(p);
            llx_test_note("%s", what);
            run_reference_check(p, "static", 8, 12);
            run_reference_check(p, "dynamic", 8, 12);
        }
}

/* Llama W8A8 (V smoothing over grouped heads, down_proj smoothing) */
TEST(w8a8_llama_matches_fake_quant_reference, LLX_T_ASAN)
{
    const char *s = llx_fixture_llama_llx(LLX_ACT_STATIC), *d = llx_fixture_llama_llx(LLX_ACT_DYNAMIC);
    REQUIRE(s && d);
    run_reference_check(s, "static", 8, 12);
    run_reference_check(d, "dynamic", 8, 12);
}
