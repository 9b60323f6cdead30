/* tests/test_w8a8.c - the W8A8 integer datapath against an independent
 * fake-quant reference written here (same formulas, float arithmetic, exact
 * double accumulation): the embedding, every int8 output and per-token
 * scale, every fp32 output, at every stage of every layer, then the final
 * LayerNorm and the int8 LM head's logits, all identical, for static and
 * dynamic scales, prefill and decode, on 2 threads.  The long run decodes
 * past the 32-position V chunks and past 128 positions, where 2 threads
 * split decode attention by position. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "test.h"
#include "w8a8_fixtures.h"

typedef struct ref {
    const llx_llx *f;
    llx_config c;
    int dynamic, pos, T;
    const int *ids; /* the pass's tokens (for the embedding) */
    int mismatches, checks;
    float *x, *h, *k8, *v8;   /* residual [T][C], LN out, KV cache [L][ctx][C] */
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

static const int8_t *t8(const ref *r, const char *what, int l, long long rows, long long cols)
{
    char name[64];
    snprintf(name, sizeof name, "h.%d.%s", l, what);
    return llx_llx_tensor(r->f, name, LLX_DT_I8, rows, cols);
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

static void rquant(const ref *r, const float *h, int n, int8_t *q, float *s, float static_inv, float static_s)
{
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

/* y[r] = acc * (s * ws[r]) + b[r], acc summed exactly in double */
static float rlinear(const int8_t *w, const float *ws, const float *b, const int8_t *x, float s, int r, int K)
{
    double acc = 0;
    for (int k = 0; k < K; k++) acc += (double)w[(size_t)r * K + k] * x[k];
    return (float)(int32_t)acc * (s * ws[r]) + (b ? b[r] : 0.0f);
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

static void on_f32(void *ud, int l, llx_obs_point p, const float *x, int T, int width)
{
    ref *r = ud;
    const int C = r->c.n_embd;
    snprintf(r->where, sizeof r->where, "pos %d layer %d", r->pos, l);
    if (p == LLX_OBS_X_IN) {
        if (l == 0) { /* the embedding: wte[token] + wpe[position] */
            const float *wte = llx_llx_tensor(r->f, "wte", LLX_DT_F32, r->c.n_vocab, C);
            const float *wpe = llx_llx_tensor(r->f, "wpe", LLX_DT_F32, r->c.n_ctx, C);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < C; i++)
                    r->x[(size_t)t * C + i] = wte[(size_t)r->ids[t] * C + i] + wpe[(size_t)(r->pos + t) * C + i];
        }
        expect_f32(r, l ? "residual" : "embedding", x, r->x, (size_t)T * C);
        return;
    }
    const llx_matrix m = p == LLX_OBS_PROJ ? LLX_MAT_PROJ : LLX_MAT_FC2;
    const int K = m == LLX_MAT_PROJ ? C : r->c.n_inner;
    const int8_t *w = t8(r, m == LLX_MAT_PROJ ? "proj.w" : "fc2.w", l, C, K);
    const float *ws = t32(r, m == LLX_MAT_PROJ ? "proj.s" : "fc2.s", l, C);
    const float *b = t32(r, m == LLX_MAT_PROJ ? "proj.b" : "fc2.b", l, C);
    float *y = malloc(sizeof(float) * T * C);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++)
            y[(size_t)t * C + i] = m == LLX_MAT_PROJ ? rlinear(w, ws, b, r->ctx8 + (size_t)t * C, r->ctx_s[t], i, K)
                                                     : rlinear(w, ws, b, r->g8 + (size_t)t * K, r->g_s[t], i, K);
    expect_f32(r, m == LLX_MAT_PROJ ? "proj" : "fc2", x, y, (size_t)T * C);
    for (size_t i = 0; i < (size_t)T * C; i++) r->x[i] += x[i];
    free(y);
}

static void check_ln(ref *r, int l, int which, const int8_t *q, const float *s, int T)
{
    const int C = r->c.n_embd;
    const float *g = t32(r, which ? "ln2.g" : "ln1.g", l, C);
    const float *b = t32(r, which ? "ln2.b" : "ln1.b", l, C);
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    const float sstat = sc[which ? LLX_SC_LN2 : LLX_SC_LN1];
    int8_t *want = malloc((size_t)T * C);
    float ws[64];
    for (int t = 0; t < T; t++) {
        /* static: 1/s folded into gamma and beta; dynamic: per-token scale */
        rlayernorm(r->h, r->x + (size_t)t * C, g, b, C, r->c.ln_eps, r->dynamic ? 1.0f : 1.0f / sstat);
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
    const int C = r->c.n_embd, hd = C / r->c.n_head;
    const int8_t *w = t8(r, "qkv.w", l, 3 * C, C);
    const float *ws = t32(r, "qkv.s", l, 3 * C), *b = t32(r, "qkv.b", l, 3 * C);
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    int8_t *want = malloc((size_t)T * 3 * C);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < 3 * C; i++)
            want[(size_t)t * 3 * C + i] =
                rq8(rlinear(w, ws, b, r->in8 + (size_t)t * C, r->in_s[t], i, C) * (1.0f / head_scale(r, l, i / hd, sc)));
    expect_i8(r, "qkv", q, want, (size_t)T * 3 * C);
    memcpy(r->qkv8, q, (size_t)T * 3 * C);
    free(want);
}

static void check_ctx(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int C = r->c.n_embd, H = r->c.n_head, hd = C / H, ctx = r->c.n_ctx;
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    int8_t *kc = (int8_t *)r->k8 + (size_t)l * ctx * C, *vc = (int8_t *)r->v8 + (size_t)l * ctx * C;
    for (int t = 0; t < T; t++) {
        memcpy(kc + (size_t)(r->pos + t) * C, r->qkv8 + (size_t)t * 3 * C + C, (size_t)C);
        memcpy(vc + (size_t)(r->pos + t) * C, r->qkv8 + (size_t)t * 3 * C + 2 * C, (size_t)C);
    }
    float *y = malloc(sizeof(float) * T * C), *p = malloc(sizeof(float) * ctx);
    int8_t *want = malloc((size_t)T * C);
    float ws[64];
    for (int t = 0; t < T; t++) {
        const int last = r->pos + t;
        for (int h = 0; h < H; h++) {
            const float score_scale = head_scale(r, l, h, sc) * head_scale(r, l, H + h, sc) / sqrtf((float)hd);
            float m = -INFINITY, sum = 0.0f;
            for (int j = 0; j <= last; j++) {
                double d = 0;
                for (int k = 0; k < hd; k++)
                    d += (double)r->qkv8[(size_t)t * 3 * C + h * hd + k] * kc[(size_t)j * C + h * hd + k];
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
                for (int j = 0; j <= last; j++) acc += (double)rq8(p[j] * inv * 127.0f) * vc[(size_t)j * C + h * hd + k];
                y[(size_t)t * C + h * hd + k] = (float)(int32_t)acc * (head_scale(r, l, 2 * H + h, sc) / 127.0f);
            }
        }
        rquant(r, y + (size_t)t * C, C, want + (size_t)t * C, &ws[t], 1.0f / sc[LLX_SC_CTX], sc[LLX_SC_CTX]);
    }
    expect_i8(r, "ctx", q, want, (size_t)T * C);
    expect_f32(r, "ctx scale", s, ws, (size_t)T);
    memcpy(r->ctx8, q, (size_t)T * C);
    memcpy(r->ctx_s, s, sizeof(float) * T);
    free(y), free(p), free(want);
}

static void check_gelu(ref *r, int l, const int8_t *q, const float *s, int T)
{
    const int C = r->c.n_embd, F = r->c.n_inner;
    const int8_t *w = t8(r, "fc1.w", l, F, C);
    const float *ws = t32(r, "fc1.s", l, F), *b = t32(r, "fc1.b", l, F);
    const float *sc = t32(r, "act", l, LLX_SC_COUNT);
    float *g = malloc(sizeof(float) * F), ws2[64];
    int8_t *want = malloc((size_t)T * F);
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < F; i++) {
            const float x = rlinear(w, ws, b, r->in8 + (size_t)t * C, r->in_s[t], i, C);
            g[i] = x / (1.0f + rexp(-2.0f * (0.7978845608028654f * (x + 0.044715f * x * x * x))));
        }
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
    case LLX_OBS_CTX: check_ctx(r, l, q, s, T); break;
    case LLX_OBS_GELU: check_gelu(r, l, q, s, T); break;
    default: break;
    }
}

/* The last token's logits: final LayerNorm, per-token int8, int8 LM head
 * (rows scaled, no bias). */
static void check_logits(ref *r, const float *logits, int T)
{
    const int C = r->c.n_embd, V = r->c.n_vocab;
    const float *g = llx_llx_tensor(r->f, "ln_f.g", LLX_DT_F32, C, 0), *b = llx_llx_tensor(r->f, "ln_f.b", LLX_DT_F32, C, 0);
    const int8_t *w = llx_llx_tensor(r->f, "lm_head.w", LLX_DT_I8, V, C);
    const float *ws = llx_llx_tensor(r->f, "lm_head.s", LLX_DT_F32, V, 0);
    float *want = malloc(sizeof(float) * V), s;
    int8_t *h8 = malloc((size_t)C);
    rlayernorm(r->h, r->x + (size_t)(T - 1) * C, g, b, C, r->c.ln_eps, 1.0f);
    const int dyn = r->dynamic;
    r->dynamic = 1; /* the LM head's input is always quantized per token */
    rquant(r, r->h, C, h8, &s, 0, 0);
    r->dynamic = dyn;
    for (int v = 0; v < V; v++) want[v] = rlinear(w, ws, NULL, h8, s, v, C);
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
    const int T = prefill; /* the largest pass */
    REQUIRE(T <= 64 && total <= r.c.n_ctx);
    const int C = r.c.n_embd, F = r.c.n_inner, L = r.c.n_layer;
    r.x = malloc(sizeof(float) * T * C);
    r.h = malloc(sizeof(float) * C);
    r.k8 = malloc((size_t)L * r.c.n_ctx * C);
    r.v8 = malloc((size_t)L * r.c.n_ctx * C);
    r.in8 = malloc((size_t)T * C), r.qkv8 = malloc((size_t)T * 3 * C), r.g8 = malloc((size_t)T * F);
    r.ctx8 = malloc((size_t)T * C);
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
    llx_test_note("%s: %d outputs (every stage and the logits, %d positions) identical to the fake-quant reference",
                  precision, r.checks, total);
    llx_engine_free(e);
    llx_llx_close(f);
    llx_model_close(m);
    free(r.x), free(r.h), free(r.k8), free(r.v8), free(r.in8), free(r.qkv8), free(r.g8), free(r.ctx8);
    free(r.in_s), free(r.g_s), free(r.ctx_s), free(logits), free(ids);
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
