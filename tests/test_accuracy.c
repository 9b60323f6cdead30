/* tests/test_accuracy.c - the W8A8 accuracy gate on the shared trained model
 * (valid.txt perplexity against FP32: dynamic within 0.5 %, static within
 * 1 %), and the test that shows smoothing works: a function-preserving
 * outlier variant of the model (a few LayerNorm channels scaled by 64, the
 * matching weight rows divided by 64) keeps its FP32 output, wrecks naive
 * static W8A8 (alpha 0), and is rescued by SmoothQuant (alpha 0.5, within
 * 1.5 %); the low-bit requirements on the shared GPT-2 and tiny Llama. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/engine.h"
#include "llx/quant.h"
#include "model/safetensors.h"
#include "test.h"
#include "w8a8_fixtures.h"

static int *valid_ids(const llx_model *m, int *n)
{
    size_t len;
    char *text = llx_test_read(llx_test_shared("data/tinyshakespeare/valid.txt"), &len);
    int *ids = NULL;
    *n = 0;
    if (text) llx_tokenize(llx_model_tokenizer(m), text, len, &ids, n);
    free(text);
    return ids;
}

/* perplexity of the model at `path` on the first max_tokens of valid.txt */
static double ppl_of(const char *path, int max_tokens, int lm_int8)
{
    llx_model *m;
    if (llx_model_open(&m, path) != LLX_OK) {
        llx_test_note("%s: %s", path, llx_errmsg());
        return -1;
    }
    llx_engine_opts o = llx_engine_defaults();
    o.max_batch = 128;
    o.lm_head_int8 = lm_int8;
    if (llx_model_kind_of(m) == LLX_MODEL_LLX) {
        llx_quant_info qi;
        llx_model_quant_info(m, &qi);
        o.precision = qi.act_mode == 2 ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
    }
    llx_engine *e = NULL;
    int n = 0, *ids = valid_ids(m, &n);
    if (max_tokens && n > max_tokens) n = max_tokens;
    llx_ppl_result r = {0};
    double out = -1;
    if (ids && llx_engine_create(&e, m, &o) == LLX_OK && llx_perplexity(e, ids, n, 128, NULL, NULL, &r) == LLX_OK)
        out = r.ppl;
    else
        llx_test_note("%s: %s", path, llx_errmsg());
    free(ids);
    llx_engine_free(e);
    llx_model_close(m);
    return out;
}

TEST(accuracy_w8a8_shakespeare_valid, LLX_T_LONG)
{
    const char *dir = llx_test_model_dir();
    if (!dir || !llx_test_shared("data/tinyshakespeare/valid.txt")) SKIP("shared model or data not found");
    const char *st = llx_fixture_shakespeare_llx(1), *dy = llx_fixture_shakespeare_llx(2);
    CHECK(st && dy);
    if (!st || !dy) return;
    const double f = ppl_of(dir, 0, 0);
    const double s = ppl_of(st, 0, 1), d = ppl_of(dy, 0, 1);
    const double s32 = ppl_of(st, 0, 0), d32 = ppl_of(dy, 0, 0);
    llx_test_note("valid.txt ppl: fp32 %.4f | w8a8 static %.4f (%+.3f%%) dynamic %.4f (%+.3f%%) | "
                  "with fp32 LM head: static %+.3f%% dynamic %+.3f%%",
                  f, s, 100 * (s / f - 1), d, 100 * (d / f - 1), 100 * (s32 / f - 1), 100 * (d32 / f - 1));
    CHECK(f > 1);
    CHECK_MSG(d > 0 && d <= f * 1.005, "dynamic W8A8 ppl %.4f is more than 0.5%% above fp32 %.4f", d, f);
    CHECK_MSG(s > 0 && s <= f * 1.01, "static W8A8 ppl %.4f is more than 1%% above fp32 %.4f", s, f);
    CHECK(d32 > 0 && d32 <= f * 1.005);
    CHECK(s32 > 0 && s32 <= f * 1.01);
}

/* ---- the outlier variant ---- */

#define OUTLIER 64.0f /* a power of two: scaling is exact, so fp32 output is unchanged */
static const int outlier_channels[] = {3, 77, 200};

/* scale `count` floats of tensor t (inside the writable copy buf) from element `first` */
static void scale_floats(uint8_t *buf, const llx_st_tensor *t, size_t first, size_t stride, size_t count, float mul)
{
    uint8_t *base = buf + (t->data - (const uint8_t *)buf);
    for (size_t i = 0; i < count; i++) {
        float v;
        uint8_t *p = base + (first + i * stride) * 4;
        memcpy(&v, p, 4);
        v *= mul;
        memcpy(p, &v, 4);
    }
}

static const llx_st_tensor *need(const llx_st *st, const char *name)
{
    const llx_st_tensor *t = llx_st_find(st, name);
    if (!t || t->dtype != LLX_ST_F32) llx_test_note("outlier variant: tensor %s missing or not F32", name);
    return t && t->dtype == LLX_ST_F32 ? t : NULL;
}

static int copy_file(const char *from, const char *to)
{
    size_t len;
    char *buf = llx_test_read(from, &len);
    FILE *f = buf ? fopen(to, "wb") : NULL;
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f) ok &= fclose(f) == 0;
    free(buf);
    return ok;
}

/* A copy of the HF folder src in the run's tmpdir (folder `name`, the
 * files listed and model.safetensors) with edit applied to the weights. */
static const char *outlier_copy(char *dir, size_t cap, const char *src, const char *name, const char *const *files,
                                int nfiles, int (*edit)(uint8_t *buf, const llx_st *st))
{
    snprintf(dir, cap, "%s", llx_test_tmpfile(name));
    char a[1024], b[1024];
    snprintf(a, sizeof a, "mkdir -p '%s'", dir);
    if (system(a) != 0) return NULL;
    for (int i = 0; i < nfiles; i++) {
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        if (!copy_file(a, b)) return NULL;
    }
    snprintf(a, sizeof a, "%s/model.safetensors", src);
    size_t len;
    uint8_t *buf = (uint8_t *)llx_test_read(a, &len);
    llx_st st;
    if (!buf || llx_st_parse(&st, buf, len, "model.safetensors") != LLX_OK) return free(buf), NULL;
    int ok = edit(buf, &st);
    llx_st_close(&st);
    snprintf(b, sizeof b, "%s/model.safetensors", dir);
    FILE *f = ok ? fopen(b, "wb") : NULL;
    ok = f && fwrite(buf, 1, len, f) == len;
    if (f) ok &= fclose(f) == 0;
    free(buf);
    return ok ? dir : NULL;
}

static int gpt2_outliers(uint8_t *buf, const llx_st *st)
{
    const int L = 6, C = 256, F = 1024;
    int ok = 1;
    for (int l = 0; l < L && ok; l++)
        for (int which = 0; which < 2 && ok; which++) {
            char n[4][96];
            snprintf(n[0], 96, "h.%d.%s.weight", l, which ? "ln_2" : "ln_1");
            snprintf(n[1], 96, "h.%d.%s.bias", l, which ? "ln_2" : "ln_1");
            snprintf(n[2], 96, "h.%d.%s.weight", l, which ? "mlp.c_fc" : "attn.c_attn");
            const llx_st_tensor *g = need(st, n[0]), *be = need(st, n[1]), *w = need(st, n[2]);
            ok = g && be && w;
            const size_t out = which ? (size_t)F : 3 * (size_t)C; /* Conv1D [in, out]: row j = input channel j */
            for (size_t c = 0; ok && c < sizeof outlier_channels / sizeof *outlier_channels; c++) {
                const size_t j = (size_t)outlier_channels[c];
                scale_floats(buf, g, j, 1, 1, OUTLIER);
                scale_floats(buf, be, j, 1, 1, OUTLIER);
                scale_floats(buf, w, j * out, 1, out, 1.0f / OUTLIER);
            }
        }
    return ok;
}

static const char *make_outlier_model(const char *src)
{
    static char dir[512];
    static const char *const files[] = {"config.json", "vocab.json", "merges.txt"};
    return outlier_copy(dir, sizeof dir, src, "shakespeare-outliers", files, 3, gpt2_outliers);
}

static const char *quantize(const char *dir, const char *name, float alpha)
{
    static char paths[4][512];
    static int k;
    char *p = paths[k++ & 3];
    snprintf(p, 512, "%s", llx_test_tmpfile(name));
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = llx_test_shared("data/tinyshakespeare/train.txt");
    o.alpha = alpha;
    o.act_mode = 1;
    if (llx_quantize(dir, &o, p) != LLX_OK) {
        llx_test_note("quantize %s: %s", name, llx_errmsg());
        return NULL;
    }
    return p;
}

TEST(accuracy_smoothquant_rescues_outliers, LLX_T_LONG)
{
    const char *dir = llx_test_model_dir();
    if (!dir || !llx_test_shared("data/tinyshakespeare/valid.txt")) SKIP("shared model or data not found");
    const char *out = make_outlier_model(dir);
    CHECK(out != NULL);
    if (!out) return;
    const int N = 16384;
    const double f = ppl_of(dir, N, 0), fo = ppl_of(out, N, 0);
    const char *naive = quantize(out, "outliers-alpha0.llx", 0.0f), *smooth = quantize(out, "outliers-alpha05.llx", 0.5f);
    const char *plain = quantize(dir, "plain-alpha0.llx", 0.0f);
    CHECK(naive && smooth && plain);
    if (!naive || !smooth || !plain) return;
    const double n0 = ppl_of(naive, N, 1), s5 = ppl_of(smooth, N, 1), p0 = ppl_of(plain, N, 1);
    llx_test_note("first %d valid tokens: fp32 %.4f, outlier variant fp32 %.4f | static W8A8: original alpha 0 %.4f "
                  "(%+.2f%%), outliers alpha 0 %.4f (%+.2f%%), outliers alpha 0.5 %.4f (%+.3f%%)",
                  N, f, fo, p0, 100 * (p0 / f - 1), n0, 100 * (n0 / f - 1), s5, 100 * (s5 / f - 1));
    CHECK_MSG(fo > 0 && fabs(fo - f) <= 1e-6 * f, "the outlier variant changed fp32 ppl: %.6f vs %.6f", fo, f);
    CHECK_MSG(n0 > f * 1.10, "naive static W8A8 on outliers should degrade badly (got %.4f vs fp32 %.4f)", n0, f);
    CHECK_MSG(s5 > 0 && s5 <= f * 1.015, "SmoothQuant static W8A8 on outliers %.4f is more than 1.5%% above %.4f", s5, f);
}

/* The model in dir quantized by a low-bit scheme (calibrated on 2048
 * train.txt tokens; no smoothing). */
static const char *lowbit_llx(const char *dir, const char *name, llx_scheme sc, int group, int gptq, int rotate,
                              int kv_int8)
{
    const char *path = llx_test_tmpfile(name);
    if (llx_test_exists(path)) return path;
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = llx_test_shared("data/tinyshakespeare/train.txt");
    o.calib_tokens = 2048;
    o.scheme = sc, o.group = group, o.gptq = gptq, o.rotate = rotate, o.kv_int8 = kv_int8;
    o.alpha = 0.0f;
    if (llx_quantize(dir, &o, path) != LLX_OK) {
        llx_test_note("quantize %s: %s", name, llx_errmsg());
        return NULL;
    }
    return path;
}

/* The low-bit requirements (docs/quantization.md) on the first 8192 valid
 * tokens: W4A8 GPTQ (groups of 64) within 5 % of FP32 and better than RTN;
 * an int8 KV cache costs at most 0.5 % against fp32 attention; rotation
 * lowers W4A4's perplexity.  The shared model has no large activation
 * outliers, so rotation has little to fix there; on the outlier variant
 * (same fp32 function, LayerNorm channels x64) W4A4 with rotation must
 * show at most half of the increase without it. */
TEST(accuracy_lowbit_shakespeare_valid, LLX_T_LONG)
{
    const char *dir = llx_test_model_dir();
    if (!dir || !llx_test_shared("data/tinyshakespeare/train.txt")) SKIP("shared model or data not found");
    const char *out = make_outlier_model(dir);
    REQUIRE(out);
    enum { N = 8192 };
    const char *rtn = lowbit_llx(dir, "lb-w4a8-rtn.llx", LLX_SCHEME_W4A8, 64, 0, 0, 1);
    const char *rtn32 = lowbit_llx(dir, "lb-w4a8-rtn-kv32.llx", LLX_SCHEME_W4A8, 64, 0, 0, 0);
    const char *gq = lowbit_llx(dir, "lb-w4a8-gptq.llx", LLX_SCHEME_W4A8, 64, 1, 0, 1);
    const char *a4 = lowbit_llx(dir, "lb-w4a4.llx", LLX_SCHEME_W4A4, 0, 0, 0, 1);
    const char *a4r = lowbit_llx(dir, "lb-w4a4-rot.llx", LLX_SCHEME_W4A4, 0, 0, 1, 1);
    const char *o4 = lowbit_llx(out, "lb-out-w4a4.llx", LLX_SCHEME_W4A4, 0, 0, 0, 1);
    const char *o4r = lowbit_llx(out, "lb-out-w4a4-rot.llx", LLX_SCHEME_W4A4, 0, 0, 1, 1);
    REQUIRE(rtn && rtn32 && gq && a4 && a4r && o4 && o4r);
    const double f = ppl_of(dir, N, 0), r = ppl_of(rtn, N, 1), r32 = ppl_of(rtn32, N, 1), g = ppl_of(gq, N, 1);
    const double w4 = ppl_of(a4, N, 1), w4r = ppl_of(a4r, N, 1), v4 = ppl_of(o4, N, 1), v4r = ppl_of(o4r, N, 1);
    llx_test_note("first %d valid tokens: fp32 %.4f | w4a8 g64: RTN %.4f (%+.2f%%), fp32 KV %.4f, GPTQ %.4f (%+.2f%%) "
                  "| w4a4: %.4f (%+.2f%%), rotated %.4f (%+.2f%%) | outlier variant w4a4: %.4f (%+.2f%%), rotated "
                  "%.4f (%+.2f%%)",
                  N, f, r, 100 * (r / f - 1), r32, g, 100 * (g / f - 1), w4, 100 * (w4 / f - 1), w4r,
                  100 * (w4r / f - 1), v4, 100 * (v4 / f - 1), v4r, 100 * (v4r / f - 1));
    CHECK(f > 0 && r > 0 && r32 > 0 && g > 0 && w4 > 0 && w4r > 0 && v4 > 0 && v4r > 0);
    CHECK_MSG(g <= f * 1.05, "W4A8 GPTQ ppl %.4f is more than 5%% above fp32 %.4f", g, f);
    CHECK_MSG(g < r, "W4A8 GPTQ ppl %.4f is not below RTN %.4f", g, r);
    CHECK_MSG(r <= r32 * 1.005, "int8 KV ppl %.4f is more than 0.5%% above fp32 KV %.4f", r, r32);
    CHECK_MSG(w4r < w4, "W4A4 rotated ppl %.4f is not below W4A4 %.4f", w4r, w4);
    CHECK_MSG(v4r - f <= 0.5 * (v4 - f), "outlier variant: W4A4 rotated ppl %.4f, more than half the increase of %.4f",
              v4r, v4);
}

/* ---- the shared tiny Llama (tinyllama-shakespeare) ---- */

/* The low-bit requirements on the tiny Llama: the first 2048 valid.txt ids
 * in windows of 128 (half its golden protocol, for time), each model calibrated on 2048
 * train.txt tokens without smoothing: W4A8 GPTQ (groups of 64) within 5 %
 * of FP32 and below RTN; int8 KV at most 0.5 % above fp32 attention; and,
 * on a function-preserving outlier variant (RMSNorm channels x64, the
 * matching q/k/v, gate and up columns /64: the same FP32 function), W4A4
 * with the Hadamard rotations at most half the perplexity increase of W4A4
 * without.  (On the model itself rotation does not help: it has no
 * outliers; docs/quantization.md.) */
#define N_LLAMA 2048

/* the folder (a copy: llx_test_shared's buffer is reused by the next call) */
static const char *tiny_llama(void)
{
    static char dir[512];
    if (!llx_test_shared("models/tinyllama-shakespeare/config.json")) return NULL;
    snprintf(dir, sizeof dir, "%s", llx_test_shared("models/tinyllama-shakespeare"));
    return dir;
}

/* BF16 tensors: scaling by a power of two is exact */
static int scale_bf16(uint8_t *buf, const llx_st *st, const char *name, size_t first, size_t stride, size_t count,
                      float mul)
{
    const llx_st_tensor *t = llx_st_find(st, name);
    if (!t || t->dtype != LLX_ST_BF16) {
        llx_test_note("outlier variant: tensor %s missing or not BF16", name);
        return 0;
    }
    uint8_t *base = buf + (t->data - (const uint8_t *)buf);
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = base + (first + i * stride) * 2;
        uint16_t h;
        memcpy(&h, p, 2);
        uint32_t bits = (uint32_t)h << 16;
        float v;
        memcpy(&v, &bits, 4);
        v *= mul;
        memcpy(&bits, &v, 4);
        h = (uint16_t)(bits >> 16);
        memcpy(p, &h, 2);
    }
    return 1;
}

/* channel j of a norm x64; column j of each matrix it feeds ([out, in]) /64 */
static int outlier_layer(uint8_t *buf, const llx_st *st, int l)
{
    static const char *const feeds[2][3] = {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                                            {"mlp.gate_proj", "mlp.up_proj", NULL}};
    static const char *const norms[2] = {"input_layernorm", "post_attention_layernorm"};
    const size_t C = 256;
    int ok = 1;
    char n[128];
    for (int w = 0; w < 2; w++)
        for (size_t c = 0; c < sizeof outlier_channels / sizeof *outlier_channels; c++) {
            const size_t j = (size_t)outlier_channels[c];
            snprintf(n, sizeof n, "model.layers.%d.%s.weight", l, norms[w]);
            ok &= scale_bf16(buf, st, n, j, 1, 1, OUTLIER);
            for (int k = 0; k < 3 && feeds[w][k]; k++) {
                snprintf(n, sizeof n, "model.layers.%d.%s.weight", l, feeds[w][k]);
                const llx_st_tensor *t = llx_st_find(st, n);
                ok &= t && scale_bf16(buf, st, n, j, C, (size_t)t->shape[0], 1.0f / OUTLIER);
            }
        }
    return ok;
}

static int llama_outliers(uint8_t *buf, const llx_st *st)
{
    int ok = 1;
    for (int l = 0; l < 4 && ok; l++) ok = outlier_layer(buf, st, l);
    return ok;
}

static const char *make_outlier_llama(const char *src)
{
    static char dir[512];
    static const char *const files[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "generation_config.json"};
    return outlier_copy(dir, sizeof dir, src, "tinyllama-outliers", files, 4, llama_outliers);
}

TEST(accuracy_lowbit_tinyllama_valid, LLX_T_LONG)
{
    const char *dir = tiny_llama();
    if (!dir || !llx_test_shared("data/tinyshakespeare/train.txt")) SKIP("shared tinyllama or data not found");
    const char *out = make_outlier_llama(dir);
    REQUIRE(out);
    const char *rtn = lowbit_llx(dir, "ll-w4a8-rtn.llx", LLX_SCHEME_W4A8, 64, 0, 0, 1);
    const char *rtn32 = lowbit_llx(dir, "ll-w4a8-rtn-kv32.llx", LLX_SCHEME_W4A8, 64, 0, 0, 0);
    const char *gq = lowbit_llx(dir, "ll-w4a8-gptq.llx", LLX_SCHEME_W4A8, 64, 1, 0, 1);
    const char *o4 = lowbit_llx(out, "ll-out-w4a4.llx", LLX_SCHEME_W4A4, 0, 0, 0, 1);
    const char *o4r = lowbit_llx(out, "ll-out-w4a4-rot.llx", LLX_SCHEME_W4A4, 0, 0, 1, 1);
    REQUIRE(rtn && rtn32 && gq && o4 && o4r);
    enum { N = N_LLAMA, NO = 256 }; /* the fp32 variant is compared on fewer ids: the fp32 LM head is slow */
    const double f = ppl_of(dir, N, 0), f0 = ppl_of(dir, NO, 0), fo = ppl_of(out, NO, 0), r = ppl_of(rtn, N, 1);
    const double r32 = ppl_of(rtn32, N, 1), g = ppl_of(gq, N, 1), v4 = ppl_of(o4, N, 1), v4r = ppl_of(o4r, N, 1);
    llx_test_note("first %d valid ids: fp32 %.4f | w4a8 g64: RTN %.4f (%+.2f%%), fp32 KV %.4f, GPTQ %.4f (%+.2f%%) | "
                  "outlier variant (fp32 on %d ids %.4f, original %.4f) w4a4: %.4f (%+.2f%%), rotated %.4f (%+.2f%%)",
                  N, f, r, 100 * (r / f - 1), r32, g, 100 * (g / f - 1), NO, fo, f0, v4, 100 * (v4 / f - 1), v4r,
                  100 * (v4r / f - 1));
    CHECK(f > 0 && f0 > 0 && r > 0 && r32 > 0 && g > 0 && v4 > 0 && v4r > 0);
    CHECK_MSG(fabs(fo - f0) <= 1e-4 * f0, "the outlier variant changed fp32 ppl: %.6f vs %.6f", fo, f0);
    CHECK_MSG(g <= f * 1.05, "W4A8 GPTQ ppl %.4f is more than 5%% above fp32 %.4f", g, f);
    CHECK_MSG(g < r, "W4A8 GPTQ ppl %.4f is not below RTN %.4f", g, r);
    CHECK_MSG(r <= r32 * 1.005, "int8 KV ppl %.4f is more than 0.5%% above fp32 KV %.4f", r, r32);
    CHECK_MSG(v4 > f * 1.10, "outlier variant: W4A4 without rotation %.4f should degrade (fp32 %.4f)", v4, f);
    CHECK_MSG(v4r - f <= 0.5 * (v4 - f), "outlier variant: W4A4 rotated ppl %.4f, more than half the increase of %.4f",
              v4r, v4);
}
