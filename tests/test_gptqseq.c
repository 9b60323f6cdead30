/* tests/test_gptqseq.c - GPTQ's sequential and asymmetric calibration
 * (--gptq-calib seq|asym, src/quant/gptqseq.c): the cross term and the
 * asymmetric target on one matrix (it lowers ||W X - Wq Xq||^2 against
 * GPTQ on the plain Hessian of Xq); on small synthetic GPT-2 and Llama
 * models, that the first matrix sees the quantized model's int4 inputs
 * (the same weights as --gptq-hessian a4) and the later ones other inputs,
 * that the asymmetric target lowers the quantized model's output error
 * against the fp32 model on the calibration text, and that the files do
 * not depend on the thread count; unrotated, rotated (--rotate hadamard)
 * and with the online R4 alone (--rotate r4).  The residual streams the
 * calibration carries from layer to layer (llx_seq_streams) give the
 * Hessians the passes from the embedding give, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "llx/tokenizer.h"
#include "model/llx_file.h"
#include "model/llx_model.h"
#include "engine/engine_impl.h"
#include "quant/fmodel.h"
#include "quant/gptqseq.h"
#include "quant/hessian.h"
#include "quant/linalg.h"
#include "quant/wquant.h"
#include "test.h"
#include "w8a8_fixtures.h"

static float *randm(int n, unsigned seed, float scale)
{
    float *x = malloc(sizeof(float) * (size_t)n);
    if (!x) return NULL;
    unsigned s = seed * 2654435761u + 1u;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = scale * ((float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
    }
    return x;
}

/* sum over rows and tokens of (W x_t - Wq xq_t)^2, Wq = q * s per row */
static double asym_error(const float *w, const int8_t *q, const float *s, int R, int K, const float *x,
                         const float *xq, int T)
{
    double e = 0.0;
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            double a = 0.0, b = 0.0;
            for (int k = 0; k < K; k++) {
                a += (double)w[(size_t)r * K + k] * x[(size_t)t * K + k];
                b += (double)q[(size_t)r * K + k] * s[r] * xq[(size_t)t * K + k];
            }
            e += (a - b) * (a - b);
        }
    return e;
}

/* The cross term is sum_t x_t xq_t^T and H that of xq; GPTQ on the
 * asymmetric target (alpha 1 and GPTAQ's 0.25) has a smaller
 * ||W X - Wq Xq||^2 than GPTQ on W with the same Hessian, Xq the int4 codes
 * of X (per token, asymmetric) */
TEST(gptqseq_asym_target_lowers_output_error, LLX_T_ASAN)
{
    enum { R = 24, K = 48, T = 400 };
    float *w = randm(R * K, 3, 1.0f), *x = randm(T * K, 5, 1.0f), *xq = malloc(sizeof(float) * T * K);
    REQUIRE(w && x && xq);
    for (int t = 0; t < T; t++) { /* an outlier channel, as the int4 inputs' trouble */
        x[t * K + 7] *= 6.0f;
        int8_t q[K];
        float s;
        int z;
        llx_quantize_a4(x + t * K, K, 1.0f, q, &s, &z);
        for (int k = 0; k < K; k++) xq[t * K + k] = s * (float)q[k];
    }
    llx_hess h;
    REQUIRE(llx_hess_init_cross(&h, K, 64) == LLX_OK);
    llx_hess_add_cross(&h, llx_kernels_select("auto"), x, xq, T, K, NULL);
    CHECK_EQ_INT(h.n, T);
    const double *hm = llx_hess_matrix(&h);
    for (int i = 0; i < K; i += 5)
        for (int j = 0; j < K; j += 3) {
            double c = 0.0, hh = 0.0;
            for (int t = 0; t < T; t++) {
                c += (double)x[t * K + i] * xq[t * K + j];
                hh += (double)xq[t * K + i] * xq[t * K + j];
            }
            CHECK_CLOSE(h.c[i * K + j], c, 1e-3, 1e-5);
            CHECK_CLOSE(hm[i * K + j], hh, 1e-3, 1e-5);
        }
    const llx_wq spec = {4, 0, 0, 0};
    const llx_gptq_opts go = {0.01, 1, 128, 1};
    double err[3];
    for (int v = 0; v < 3; v++) { /* plain, asym alpha 1, asym alpha 0.25 */
        float *wv = malloc(sizeof(float) * R * K), s[R];
        double *hc = malloc(sizeof(double) * K * K);
        int8_t *q = malloc((size_t)R * K);
        REQUIRE(wv && hc && q);
        memcpy(wv, w, sizeof(float) * R * K);
        memcpy(hc, hm, sizeof(double) * K * K);
        if (v) REQUIRE(llx_hess_asym_target(wv, R, K, hm, h.c, 0.01, v == 1 ? 1.0 : 0.25, 1) == LLX_OK);
        REQUIRE(llx_wq_gptq(&spec, &go, wv, R, K, hc, q, s) == LLX_OK);
        err[v] = asym_error(w, q, s, R, K, x, xq, T);
        free(wv), free(hc), free(q);
    }
    llx_test_note("||W X - Wq Xq||^2: plain Hessian %.4g, asymmetric %.4g, alpha 0.25 %.4g", err[0], err[1], err[2]);
    CHECK(err[1] < 0.97 * err[0]);
    CHECK(err[2] < err[0]);
    llx_hess_free(&h);
    free(w), free(x), free(xq);
}

/* ---- whole models ---- */

/* The asymmetric target as plain loops (the specification of
 * llx_hess_asym_target, which solves rows side by side in blocks): a row
 * at a time, L from llx_cholesky of the damped H. */
static int plain_asym_target(float *w, int R, int K, const double *h, const double *c, double damp, double alpha)
{
    double *a = malloc(sizeof(double) * (size_t)K * K), *b = malloc(sizeof(double) * (size_t)K);
    memcpy(a, h, sizeof(double) * (size_t)K * K);
    double mean = 0.0;
    for (int j = 0; j < K; j++) {
        if (a[j * K + j] == 0.0) a[j * K + j] = 1.0;
        mean += a[j * K + j];
    }
    mean /= K;
    for (int j = 0; j < K; j++) a[j * K + j] += damp * mean;
    const int ok = llx_cholesky(a, K) == 1;
    for (int r = 0; ok && r < R; r++) {
        float *wr = w + (size_t)r * K;
        for (int j = 0; j < K; j++) b[j] = 0.0;
        for (int i = 0; i < K; i++) {
            const double wi = alpha * wr[i];
            if (wi != 0.0)
                for (int j = 0; j < K; j++) b[j] += wi * (c[i * K + j] - h[i * K + j]);
        }
        for (int i = 0; i < K; i++) {
            double t = b[i];
            for (int j = 0; j < i; j++) t -= a[i * K + j] * b[j];
            b[i] = t / a[i * K + i];
        }
        for (int i = K - 1; i >= 0; i--) {
            double t = b[i];
            for (int j = i + 1; j < K; j++) t -= a[j * K + i] * b[j];
            b[i] = t / a[i * K + i];
        }
        for (int j = 0; j < K; j++) wr[j] = (float)(wr[j] + b[j]);
    }
    free(a), free(b);
    return ok;
}

/* The blocked target gives the plain loops' bits: rows across the block of
 * 32 and its remainder, widths across the column tile, zero weights (the
 * skipped terms) and a dead column; on one thread, and with the blocks
 * dealt to 2 or 3 threads (four blocks for R = 100). */
TEST(gptqseq_asym_target_matches_plain_loops, LLX_T_ASAN | LLX_T_TSAN)
{
    static const int shapes[][2] = {{5, 37}, {33, 70}, {64, 130}, {3, 515}, {100, 45}};
    for (int t = 0; t < 5; t++) {
        const int R = shapes[t][0], K = shapes[t][1], T = K + 20;
        float *x = randm(T * K, 100 + (unsigned)t, 1.0f), *xq = randm(T * K, 200 + (unsigned)t, 0.1f);
        for (int i = 0; i < T * K; i++) xq[i] += x[i];
        for (int i = 0; i < T; i++) x[i * K + 3] = xq[i * K + 3] = 0.0f; /* column 3 never reached */
        double *h = calloc((size_t)K * K, sizeof *h), *c = calloc((size_t)K * K, sizeof *c);
        for (int n = 0; n < T; n++)
            for (int i = 0; i < K; i++)
                for (int j = 0; j < K; j++) {
                    h[i * K + j] += (double)xq[n * K + i] * xq[n * K + j];
                    c[i * K + j] += (double)x[n * K + i] * xq[n * K + j];
                }
        float *w = randm(R * K, 300 + (unsigned)t, 0.05f), *w2 = malloc(sizeof(float) * (size_t)R * K);
        for (int i = 0; i < R * K; i += 7) w[i] = 0.0f;
        for (const double *al = (const double[]){0.25, 1.0}, *e = al + 2; al < e; al++) {
            memcpy(w2, w, sizeof(float) * (size_t)R * K);
            REQUIRE(plain_asym_target(w2, R, K, h, c, 0.01, *al));
            float *w1 = malloc(sizeof(float) * (size_t)R * K);
            for (int th = 1; th <= 3; th++) {
                memcpy(w1, w, sizeof(float) * (size_t)R * K);
                REQUIRE(llx_hess_asym_target(w1, R, K, h, c, 0.01, *al, th) == LLX_OK);
                CHECK_MSG(memcmp(w1, w2, sizeof(float) * (size_t)R * K) == 0, "R %d K %d alpha %g, %d threads", R, K,
                          *al, th);
            }
            CHECK(memcmp(w1, w, sizeof(float) * (size_t)R * K) != 0); /* it moved the weights */
            free(w1);
        }
        free(x), free(xq), free(h), free(c), free(w), free(w2);
    }
}

static const char *gpt2_model(void)
{
    static char dir[512];
    const llx_config c = {.n_vocab = 500, .n_ctx = 64, .n_embd = 96, .n_layer = 3, .n_head = 4, .n_inner = 384,
                          .ln_eps = 1e-5f};
    return llx_fixture_synth(dir, sizeof dir, "gptqseq-gpt2", &c, 11, "F32");
}

/* the input of (layer, point) in each window of a whole pass */
typedef struct watch {
    int layer, point, tokens;
    float *x;
} watch;

static void watch32(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    watch *w = ud;
    if (layer != w->layer || (int)p != w->point) return;
    memcpy(w->x, x, sizeof *x * (size_t)tokens * width);
    w->tokens = tokens;
}

/* The last layer's Hessian and cross term as the sequential calibration
 * takes them from the streams it carries (taken entering layer 1, then
 * layer 2), against whole passes from the embedding, on the fp32 image of
 * the synthetic GPT-2 (as the quantizer runs it; the image is also the
 * "quantized" model here, so both terms hold the same inputs). */
TEST(gptqseq_streams_same_hessians, LLX_T_ASAN)
{
    const char *dir = gpt2_model();
    llx_model *hf = NULL, *fm = NULL;
    REQUIRE(dir && llx_model_open(&hf, dir) == LLX_OK);
    llx_fmodel fmod;
    void *img = NULL;
    size_t size = 0;
    REQUIRE(llx_fmodel_load(&fmod, hf) == LLX_OK);
    REQUIRE(llx_fmodel_image(&fmod, dir, &img, &size) == LLX_OK);
    REQUIRE(llx_model_open_image(&fm, img, size, "fp32 image") == LLX_OK);
    const llx_config *c = llx_model_config(fm);
    REQUIRE(c->n_layer == 3);
    llx_quant_opts o = llx_quant_defaults();
    o.window = 8;
    o.threads = 2;
    enum { T = 20 }; /* windows of 8, 8 and 4 tokens */
    int ids[T];
    for (int i = 0; i < T; i++) ids[i] = (i * 29 + 3) % c->n_vocab;
    const int K = c->n_embd;
    const size_t n = (size_t)K * K * sizeof(double);
    llx_engine *ref = NULL;
    REQUIRE(llx_gptq_seq_ref_engine(&ref, fm, &o) == LLX_OK);
    llx_seq_streams ss = {0};
    llx_hess hs = {0}, hb = {0}, hw = {0};
    REQUIRE(llx_hess_init_cross(&hs, K, o.window) == LLX_OK && llx_hess_init_cross(&hb, K, o.window) == LLX_OK);
    REQUIRE(llx_hess_init_cross(&hw, K, o.window) == LLX_OK);
    CHECK(llx_gptq_seq_observe(fm, ref, &o, ids, T, 0, LLX_OBS_LN2, &hs, &ss) == LLX_OK && ss.layer == 0);
    CHECK(llx_gptq_seq_observe(fm, ref, &o, ids, T, 1, LLX_OBS_LN1, &hs, &ss) == LLX_OK && ss.layer == 1);
    CHECK(llx_gptq_seq_observe(fm, ref, &o, ids, T, 2, LLX_OBS_LN1, &hs, &ss) == LLX_OK && ss.layer == 2);
    CHECK(llx_gptq_seq_observe(fm, ref, &o, ids, T, 2, LLX_OBS_LN2, &hb, &ss) == LLX_OK && ss.layer == 2);
    /* whole passes, window by window as the calibration adds them */
    llx_engine_opts eo = llx_engine_defaults();
    eo.threads = 1;
    eo.precision = LLX_PREC_W8A8_STATIC;
    eo.max_batch = o.window;
    llx_engine *e = NULL;
    REQUIRE(llx_engine_create(&e, fm, &eo) == LLX_OK);
    watch w = {2, LLX_OBS_LN2, 0, malloc(sizeof(float) * (size_t)o.window * K)};
    const llx_observer ob = {watch32, NULL, &w};
    llx_engine_set_observer(e, &ob);
    const llx_kernels *k = llx_kernels_select("auto");
    for (int done = 0; done < T; done += o.window) {
        const int m = T - done < o.window ? T - done : o.window;
        llx_engine_reset(e);
        w.tokens = 0;
        CHECK(llx_engine_forward(e, ids + done, m, NULL, 0) == LLX_OK && w.tokens == m);
        llx_hess_add_cross(&hw, k, w.x, w.x, m, K, NULL);
    }
    double mag = 0.0;
    const double *hbm = llx_hess_matrix(&hb);
    for (int i = 0; i < K; i++) mag += hbm[(size_t)i * K + i];
    CHECK(hb.n == T && hw.n == T && mag > 0.0);
    CHECK(!memcmp(hbm, llx_hess_matrix(&hw), n) && !memcmp(hb.c, hw.c, n));
    /* the streams only step forward, one layer at a time */
    const llx_status back = llx_gptq_seq_observe(fm, ref, &o, ids, T, 1, LLX_OBS_LN1, &hs, &ss);
    CHECK(back == LLX_ERR_INTERNAL && strstr(llx_errmsg(), "layer 1 after the streams of layer 2"));
    llx_hess_free(&hs), llx_hess_free(&hb), llx_hess_free(&hw);
    llx_seq_streams_free(&ss);
    llx_engine_free(e);
    llx_engine_free(ref);
    llx_model_close(fm);
    llx_model_close(hf);
    free(img), free(w.x);
}

static llx_quant_opts opts(int calib, int rotate, int threads)
{
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = llx_fixture_calib_text();
    o.calib_tokens = 768;
    o.window = 32;
    o.threads = threads;
    o.scheme = LLX_SCHEME_W4A4;
    o.gptq = 1;
    o.alpha = 0;
    o.rotate = rotate;
    o.gptq_calib = calib;
    return o;
}

static char *quantize(const char *dir, const llx_quant_opts *o, const char *name, size_t *len)
{
    const char *out = llx_test_tmpfile(name);
    if (llx_quantize(dir, o, out) != LLX_OK) {
        llx_test_note("quantize %s: %s", name, llx_errmsg());
        return NULL;
    }
    return llx_test_read(out, len);
}

/* The bytes of tensor `name` of .llx image img (NULL if absent). */
static const void *tensor(const char *img, size_t n, const char *name, llx_dtype dt, long long r, long long c,
                          llx_llx **f)
{
    if (llx_llx_open_mem(f, img, n, "test") != LLX_OK) return NULL;
    return llx_llx_tensor(*f, name, dt, r, c);
}

static int same_tensor(const char *a, size_t na, const char *b, size_t nb, const char *name, int rows, int cols)
{
    llx_llx *fa = NULL, *fb = NULL;
    const void *ta = tensor(a, na, name, LLX_DT_Q4, rows, cols, &fa), *tb = tensor(b, nb, name, LLX_DT_Q4, rows, cols, &fb);
    const int same = ta && tb && !memcmp(ta, tb, (size_t)rows * cols / 2);
    if (!ta || !tb) llx_test_note("%s missing", name);
    llx_llx_close(fa), llx_llx_close(fb);
    return same;
}

/* Relative squared error of the quantized model's logits against the
 * fp32 model's over the first windows of the calibration text. */
static double logit_error(const char *dir, const char *qpath)
{
    llx_model *m = NULL, *q = NULL;
    if (llx_model_open(&m, dir) != LLX_OK || llx_model_open(&q, qpath) != LLX_OK) {
        llx_model_close(m);
        return -1.0;
    }
    size_t len = 0;
    char *text = llx_test_read(llx_fixture_calib_text(), &len);
    int *ids = NULL, n = 0;
    double num = 0.0, den = 0.0;
    if (text && llx_tokenize(llx_model_tokenizer(m), text, len, &ids, &n) == LLX_OK)
        for (int w0 = 0; w0 + 32 <= n && w0 < 512; w0 += 32) {
            float *a = llx_test_all_logits(m, LLX_PREC_FP32, ids + w0, 32);
            float *b = llx_test_all_logits(q, LLX_PREC_W8A8_STATIC, ids + w0, 32);
            for (size_t i = 0; a && b && i < (size_t)32 * m->cfg.n_vocab; i++)
                num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), den += (double)a[i] * a[i];
            free(a), free(b);
        }
    free(text), free(ids);
    llx_model_close(m), llx_model_close(q);
    return den > 0.0 ? num / den : -1.0;
}

/* seq_below_fp: also require seq's error below the one-pass fp32 Hessian's */
static void check_model_of(const char *dir, int rotate, const char *tag, int seq_below_fp)
{
    REQUIRE(dir);
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, dir) == LLX_OK);
    int qr, qc, fr, fc;
    llx_matrix_shape(&m->cfg, LLX_MAT_QKV, &qr, &qc);
    llx_matrix_shape(&m->cfg, LLX_MAT_FC2, &fr, &fc);
    const int L = m->cfg.n_layer;
    llx_model_close(m);
    char name[4][96];
    size_t n[4] = {0};
    char *img[4];
    static const char *const what[4] = {"fp-a4", "seq", "asym", "fp"};
    for (int v = 0; v < 4; v++) {
        llx_quant_opts o = opts(v == 1 ? LLX_GPTQ_CALIB_SEQ : v == 2 ? LLX_GPTQ_CALIB_ASYM : LLX_GPTQ_CALIB_FP, rotate, 1);
        o.gptq_hess_a4 = v == 0;
        snprintf(name[v], sizeof name[v], "gptqseq-%s-%s.llx", tag, what[v]);
        img[v] = quantize(dir, &o, name[v], &n[v]);
        REQUIRE(img[v]);
    }
    char qkv0[32], last[32];
    snprintf(qkv0, sizeof qkv0, "h.0.%s.w", llx_matrix_name(LLX_MAT_QKV));
    snprintf(last, sizeof last, "h.%d.%s.w", L - 1, llx_matrix_name(LLX_MAT_FC2));
    /* the first matrix's inputs: the int4 codes of the fp32 model's, as --gptq-hessian a4 */
    CHECK_MSG(same_tensor(img[0], n[0], img[1], n[1], qkv0, qr, qc), "%s: seq's first matrix is not a4's", tag);
    CHECK_MSG(!same_tensor(img[0], n[0], img[1], n[1], last, fr, fc), "%s: seq's last matrix is a4's", tag);
    CHECK_MSG(!same_tensor(img[1], n[1], img[2], n[2], qkv0, qr, qc), "%s: asym changed nothing", tag);
    double e[4];
    for (int v = 0; v < 4; v++) e[v] = logit_error(dir, llx_test_tmpfile(name[v]));
    llx_test_note("%s: logit error vs fp32: fp32 Hessian %.4g, a4 %.4g, seq %.4g, asym %.4g", tag, e[3], e[0], e[1],
                  e[2]);
    CHECK(e[3] > 0.0 && e[2] > 0.0);
    CHECK_MSG(e[2] < e[3], "%s: asym %.4g not below the fp32 Hessian's %.4g", tag, e[2], e[3]);
    if (seq_below_fp) CHECK_MSG(e[1] < e[3], "%s: seq %.4g not below the fp32 Hessian's %.4g", tag, e[1], e[3]);
    CHECK_MSG(e[2] < e[1], "%s: asym %.4g not below seq's %.4g", tag, e[2], e[1]);
    /* the same files with two threads */
    for (int v = 1; v < 3; v++) {
        llx_quant_opts o = opts(v == 1 ? LLX_GPTQ_CALIB_SEQ : LLX_GPTQ_CALIB_ASYM, rotate, 2);
        char nm[96];
        snprintf(nm, sizeof nm, "gptqseq-%s-%s-t2.llx", tag, what[v]);
        size_t n2 = 0;
        char *b = quantize(dir, &o, nm, &n2);
        CHECK_MSG(b && n2 == n[v] && !memcmp(b, img[v], n2), "%s %s: two threads wrote another file", tag, what[v]);
        free(b);
    }
    for (int v = 0; v < 4; v++) free(img[v]);
}

static void check_model(const char *dir, int rotate, const char *tag)
{
    check_model_of(dir, rotate, tag, 1);
}

TEST(gptqseq_gpt2)
{
    check_model(gpt2_model(), 0, "gpt2");
}

TEST(gptqseq_gpt2_rotated)
{
    check_model(gpt2_model(), 1, "gpt2-rot");
}

TEST(gptqseq_llama_rotated, LLX_T_ASAN)
{
    check_model(llx_fixture_llama_paley(), 1, "llama-rot");
}

TEST(gptqseq_llama)
{
    check_model(llx_fixture_llama_paley(), 0, "llama");
}

/* --rotate r4: the online Hadamard before the down projection alone */
TEST(gptqseq_gpt2_r4)
{
    check_model(gpt2_model(), LLX_ROTATE_R4, "gpt2-r4");
}

/* here seq does not lower the error (0.00620 against 0.00604 with the
 * one-pass Hessian); asym does (0.00400), and the rest holds */
TEST(gptqseq_llama_r4, LLX_T_ASAN)
{
    check_model_of(llx_fixture_llama_paley(), LLX_ROTATE_R4, "llama-r4", 0);
}

/* --gptq-calib fp with Hessians for fewer layers than the model has: the
 * calibration runs in parts, each from the residual stream the last one
 * stopped at (llx_engine_set_layer_begin) and cut after the next part's
 * first layer; the file is the one a single run writes, to the byte.
 * The progress reports prove how many runs there were. */
typedef struct runs_seen {
    int done; /* "calibrate" runs that reached the end of the text */
} runs_seen;

static void count_runs(void *ud, const char *phase, double frac)
{
    runs_seen *r = ud;
    if (!strcmp(phase, "calibrate") && frac >= 1.0) r->done++;
}

static void check_parts(const char *dir, const char *tag)
{
    REQUIRE(dir);
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, dir) == LLX_OK);
    const llx_config *c = &m->cfg;
    const int L = c->n_layer, ctx = llx_slot_width(c, LLX_SLOT_CTX);
    /* one layer's Hessians: three inputs of n_embd (QKV, FC1; Llama: gate/up), CTX, FC2's n_inner */
    const size_t layer = ((size_t)2 * c->n_embd * c->n_embd + (size_t)ctx * ctx + (size_t)c->n_inner * c->n_inner) * 8;
    llx_model_close(m);
    REQUIRE(L >= 2);
    static const size_t per[3] = {0, 1, 2}; /* layers a run holds (0: the default, all of them) */
    char *img[3];
    size_t n[3];
    for (int v = 0; v < 3; v++) {
        llx_quant_opts o = opts(LLX_GPTQ_CALIB_FP, 0, 2);
        o.scheme = LLX_SCHEME_W4A8;
        o.group = 32;
        o.gptq_hess_bytes = per[v] * layer;
        runs_seen r = {0};
        o.progress = count_runs, o.progress_ud = &r;
        char nm[96];
        snprintf(nm, sizeof nm, "gptq-parts-%s-%d.llx", tag, v);
        img[v] = quantize(dir, &o, nm, &n[v]);
        REQUIRE(img[v]);
        const int want = v == 0 ? 1 : (L + (int)per[v] - 1) / (int)per[v];
        CHECK_MSG(r.done == want, "%s, %zu layers a run: %d runs, not %d", tag, per[v], r.done, want);
    }
    for (int v = 1; v < 3; v++)
        CHECK_MSG(n[v] == n[0] && !memcmp(img[v], img[0], n[0]), "%s: runs of %zu layers wrote another file", tag,
                  per[v]);
    for (int v = 0; v < 3; v++) free(img[v]);
}

TEST(gptq_hessian_runs_in_parts_same_file, LLX_T_ASAN)
{
    check_parts(gpt2_model(), "gpt2");
    check_parts(llx_fixture_llama_paley(), "llama");
}
