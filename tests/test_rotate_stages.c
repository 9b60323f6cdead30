/* tests/test_rotate_stages.c - the rotated fp32 Llama equals the original
 * stage by stage, not only in its logits: run both through the engine
 * (the original in FP32, the rotated image on the quantized datapath in
 * fp32) and check, in every layer and for every token, that each observed
 * activation of the rotated model is the documented transform of the
 * original's: the RMSNorm outputs are Q (y / g) (R1, the norm weight g
 * folded into the readers), q and k are unchanged after the rotary step,
 * each KV head's v and each query head's context are R2 times the
 * original (GQA), the attention and MLP outputs written into the residual
 * stream are Q times the original, the MLP product silu(gate) * up is
 * unchanged and the online transform before down_proj gives R4 times it.
 * Q, R2 and R4 are rebuilt here from the seed (quant/rotate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "llx/checkpoint.h"
#include "model/llx_model.h"
#include "quant/fmodel.h"
#include "quant/rotate.h"
#include "test.h"
#include "w8a8_fixtures.h"

enum { NPT = LLX_OBS_DOWN_IN + 1, TOK = 16 };

typedef struct obs {
    int L;
    float *a[NPT]; /* [L][TOK][width], NULL until reported */
    int width[NPT];
} obs;

static void on_f32(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    obs *o = ud;
    if ((int)p < 0 || (int)p >= NPT || tokens != TOK || layer < 0 || layer >= o->L) return;
    if (!o->a[p]) {
        o->a[p] = calloc((size_t)o->L * TOK * width, sizeof(float));
        o->width[p] = width;
    }
    if (o->a[p] && o->width[p] == width) memcpy(o->a[p] + (size_t)layer * TOK * width, x, sizeof(float) * TOK * width);
}

static obs observe(const llx_model *m, llx_precision p, const int *ids)
{
    obs o = {.L = m->cfg.n_layer};
    llx_engine_opts eo = llx_engine_defaults();
    eo.threads = 1;
    eo.precision = p;
    llx_engine *e = NULL;
    float *logits = malloc(sizeof(float) * m->cfg.n_vocab);
    const llx_observer ob = {on_f32, NULL, &o};
    if (llx_engine_create(&e, m, &eo) == LLX_OK) {
        llx_engine_set_observer(e, &ob);
        if (llx_engine_forward(e, ids, TOK, logits, 0) != LLX_OK) llx_test_note("forward: %s", llx_errmsg());
    } else {
        llx_test_note("engine: %s", llx_errmsg());
    }
    llx_engine_free(e);
    free(logits);
    return o;
}

typedef struct cmp {
    double diff, mag;
    long n;
} cmp;

/* want = R applied to each segment of `seg` values of x (R NULL: x itself),
 * x optionally divided by g first; compared with got */
static void compare(cmp *c, const float *got, const float *x, int n, int seg, const llx_rotation *r, const float *g)
{
    double *v = malloc(sizeof(double) * (size_t)seg);
    for (int s0 = 0; s0 + seg <= n; s0 += seg) {
        for (int i = 0; i < seg; i++) v[i] = g ? (double)x[s0 + i] / g[s0 + i] : x[s0 + i];
        if (r) llx_rot_apply_f64(r, v);
        for (int i = 0; i < seg; i++) {
            c->diff = fmax(c->diff, fabs(got[s0 + i] - v[i]));
            c->mag = fmax(c->mag, fabs(v[i]));
            c->n++;
        }
    }
    free(v);
}

static void check_stages(const char *dir, uint64_t seed, double tol)
{
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, dir) == LLX_OK);
    const llx_config *c = &m->cfg;
    REQUIRE(c->arch == LLX_ARCH_LLAMA);
    const int C = c->n_embd, F = c->n_inner, d = llx_config_head_dim(c), NH = c->n_head, KV = llx_config_kv_heads(c);
    llx_fmodel fm;
    REQUIRE(llx_fmodel_load(&fm, m) == LLX_OK);
    REQUIRE(llx_fmodel_rotate(&fm, seed, NULL) == LLX_OK);
    void *img = NULL;
    size_t size = 0;
    REQUIRE(llx_fmodel_image(&fm, dir, &img, &size) == LLX_OK);
    llx_model *r = NULL;
    REQUIRE(llx_model_open_mem(&r, img, size, "rotated") == LLX_OK);
    llx_rotation q, r2, r4;
    REQUIRE(llx_rot_init(&q, C, seed, 0) == LLX_OK && llx_rot_init(&r2, d, seed + 1, 0) == LLX_OK &&
            llx_rot_init(&r4, F, seed + 2, 0) == LLX_OK);
    int ids[TOK];
    for (int i = 0; i < TOK; i++) ids[i] = (i * 7919 + 13) % c->n_vocab;
    obs a = observe(m, LLX_PREC_FP32, ids), b = observe(r, LLX_PREC_W8A8_STATIC, ids);
    float *g = malloc(sizeof(float) * 2 * C);
    const char *names[NPT] = {"ln1", "qkv", "ctx", "ln2", "mlp", "x_in", "proj", "down", "down_in"};
    cmp res[NPT];
    memset(res, 0, sizeof res);
    for (int l = 0; l < c->n_layer; l++) {
        CHECK(llx_hf_read_vec(m->hf, l, LLX_VEC_LN1_G, g) == LLX_OK);
        CHECK(llx_hf_read_vec(m->hf, l, LLX_VEC_LN2_G, g + C) == LLX_OK);
        for (int t = 0; t < TOK; t++) {
#define AT(o, p) ((o).a[p] + ((size_t)l * TOK + t) * (o).width[p])
#define HAVE(p) (a.a[p] && b.a[p])
            if (HAVE(LLX_OBS_LN1)) compare(&res[LLX_OBS_LN1], AT(b, LLX_OBS_LN1), AT(a, LLX_OBS_LN1), C, C, &q, g);
            if (HAVE(LLX_OBS_LN2)) compare(&res[LLX_OBS_LN2], AT(b, LLX_OBS_LN2), AT(a, LLX_OBS_LN2), C, C, &q, g + C);
            if (HAVE(LLX_OBS_QKV)) {
                const float *x = AT(a, LLX_OBS_QKV), *y = AT(b, LLX_OBS_QKV);
                compare(&res[LLX_OBS_QKV], y, x, (NH + KV) * d, (NH + KV) * d, NULL, NULL); /* q, k */
                compare(&res[LLX_OBS_QKV], y + (NH + KV) * d, x + (NH + KV) * d, KV * d, d, &r2, NULL);
            }
            if (HAVE(LLX_OBS_CTX)) compare(&res[LLX_OBS_CTX], AT(b, LLX_OBS_CTX), AT(a, LLX_OBS_CTX), NH * d, d, &r2, NULL);
            if (HAVE(LLX_OBS_PROJ)) compare(&res[LLX_OBS_PROJ], AT(b, LLX_OBS_PROJ), AT(a, LLX_OBS_PROJ), C, C, &q, NULL);
            if (HAVE(LLX_OBS_FC2)) compare(&res[LLX_OBS_FC2], AT(b, LLX_OBS_FC2), AT(a, LLX_OBS_FC2), C, C, &q, NULL);
            if (HAVE(LLX_OBS_GELU)) compare(&res[LLX_OBS_GELU], AT(b, LLX_OBS_GELU), AT(a, LLX_OBS_GELU), F, F, NULL, NULL);
            if (a.a[LLX_OBS_GELU] && b.a[LLX_OBS_DOWN_IN])
                compare(&res[LLX_OBS_DOWN_IN], AT(b, LLX_OBS_DOWN_IN), AT(a, LLX_OBS_GELU), F, F, &r4, NULL);
#undef AT
#undef HAVE
        }
    }
    static const int must[] = {LLX_OBS_LN1, LLX_OBS_QKV, LLX_OBS_CTX, LLX_OBS_LN2, LLX_OBS_GELU, LLX_OBS_PROJ,
                               LLX_OBS_FC2, LLX_OBS_DOWN_IN};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++) {
        const cmp *x = &res[must[i]];
        llx_test_note("%s: %ld values, max |want| %.3g, max difference %.3g", names[must[i]], x->n, x->mag, x->diff);
        CHECK_MSG(x->n > 0, "%s: not observed in both models", names[must[i]]);
        CHECK_MSG(x->diff <= tol * x->mag, "%s: differs by %.3g of %.3g", names[must[i]], x->diff, x->mag);
    }
    for (int p = 0; p < NPT; p++) free(a.a[p]), free(b.a[p]);
    free(g);
    llx_rot_free(&q), llx_rot_free(&r2), llx_rot_free(&r4);
    llx_model_close(r);
    free(img);
    llx_model_close(m);
}

/* the synthetic Paley-width Llama: GQA 6/2, llama3 rope, R4 of 192 = 12 * 16 */
TEST(lowbit_rotation_stages_llama, LLX_T_ASAN)
{
    const char *dir = llx_fixture_llama_paley();
    REQUIRE(dir);
    check_stages(dir, 7, 1e-4);
}

/* the shared tiny Llama: tied embeddings, GQA 8/2, llama3 rope, R4 of 640 = 20 * 32 */
TEST(lowbit_rotation_stages_tinyllama, LLX_T_LONG)
{
    if (!llx_test_shared("models/tinyllama-shakespeare/config.json")) SKIP("shared tinyllama-shakespeare not found");
    check_stages(llx_test_shared("models/tinyllama-shakespeare"), 1, 1e-4);
}
