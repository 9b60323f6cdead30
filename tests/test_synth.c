/* tests/test_synth.c - synthetic checkpoints and the pieces under them:
 * config presets, exact F16/BF16 conversion (exhaustive and on chosen
 * values, through real files), F32/F16/BF16 round trips, GPT-2 style weight
 * statistics, a forward pass that stays finite, the generated BPE vocabulary,
 * copied tokenizers, and `looplynx synth`. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "clitest.h"
#include "llx/checkpoint.h"
#include "model/bpe_vocab.h"
#include "model/half.h"
#include "test.h"

TEST(synth_config_presets, LLX_T_ASAN)
{
    static const struct {
        const char *name;
        long long params;
        int L, C, H;
    } want[] = {{"gpt2", 124439808, 12, 768, 12},
                {"gpt2-medium", 354823168, 24, 1024, 16},
                {"gpt2-large", 774030080, 36, 1280, 20},
                {"gpt2-xl", 1557611200, 48, 1600, 25}};
    for (int i = 0; i < 4; i++) {
        llx_config c;
        CHECK(llx_config_preset(want[i].name, &c) == LLX_OK);
        CHECK(llx_config_check(&c) == LLX_OK);
        CHECK_EQ_INT(llx_config_params(&c), want[i].params);
        CHECK_EQ_INT(c.n_layer, want[i].L);
        CHECK_EQ_INT(c.n_embd, want[i].C);
        CHECK_EQ_INT(c.n_head, want[i].H);
        CHECK_EQ_INT(c.n_inner, 4 * want[i].C);
        CHECK_EQ_INT(c.n_vocab, 50257);
        CHECK_EQ_INT(c.n_ctx, 1024);
    }
    llx_config c;
    CHECK(llx_config_preset("gpt3", &c) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "gpt3") != NULL);
}

/* ---- reference conversions written independently of model/half.h ---- */

static double ref_f16_value(uint16_t h)
{
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static double ref_bf16_value(uint16_t h)
{
    const int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
    return s ? -v : v;
}

/* Round x to the nearest value with `bits` mantissa bits, minimum normal
 * exponent emin, overflowing at `over` (round to nearest even: nearbyint). */
static float ref_round(float x, int bits, int emin, double over)
{
    if (isnan(x) || isinf(x)) return x;
    double a = fabs((double)x);
    if (a == 0) return x;
    int e;
    frexp(a, &e);
    e -= 1;
    if (e < emin) e = emin;
    const double ulp = ldexp(1.0, e - bits);
    double q = nearbyint(a / ulp) * ulp;
    if (q >= over) q = INFINITY;
    return (float)(x < 0 ? -q : q);
}

static float ref_f16_round(float x) { return ref_round(x, 10, -14, 65520.0); }
static float ref_bf16_round(float x) { return ref_round(x, 7, -126, ldexp(1.0, 128)); }

static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || llx_f32_to_bits(a) == llx_f32_to_bits(b); }

TEST(synth_half_conversions_exact, LLX_T_ASAN)
{
    int bad16 = 0, badbf = 0, badrt = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = llx_f16_to_f32((uint16_t)h), g = llx_bf16_to_f32((uint16_t)h);
        bad16 += !same_float(f, (float)ref_f16_value((uint16_t)h));
        badbf += !same_float(g, (float)ref_bf16_value((uint16_t)h));
        if (!isnan(f)) badrt += llx_f32_to_f16(f) != h;
        if (!isnan(g)) badrt += llx_f32_to_bf16(g) != h;
        if (isnan(f)) badrt += !isnan(llx_f16_to_f32(llx_f32_to_f16(f)));
        if (isnan(g)) badrt += !isnan(llx_bf16_to_f32(llx_f32_to_bf16(g)));
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badbf, 0);
    CHECK_EQ_INT(badrt, 0);
    /* narrowing: ties to even, subnormals, overflow */
    static const struct {
        double x;
        uint16_t f16;
    } f16[] = {{65504, 0x7bff},           {65519.99, 0x7bff},         {65520, 0x7c00},
               {-65520, 0xfc00},          {0x1p-24, 0x0001},          {0x1p-25, 0x0000},
               {0x1.8p-25, 0x0001},       {0x3p-25, 0x0002},          {0x1p-14, 0x0400},
               {0x1p-14 - 0x1p-25, 0x0400}, {0x1p-14 - 0x3p-25, 0x03fe}, {-0.0, 0x8000},
               {1e-10, 0x0000},           {1 + 0x1p-11, 0x3c00},      {1 + 0x3p-11, 0x3c02},
               {-2.5, 0xc100},            {INFINITY, 0x7c00},         {-INFINITY, 0xfc00}};
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
        CHECK_MSG(llx_f32_to_f16((float)f16[i].x) == f16[i].f16, "f16(%a) = 0x%04x, want 0x%04x", f16[i].x,
                  llx_f32_to_f16((float)f16[i].x), f16[i].f16);
    static const struct {
        double x;
        uint16_t bf;
    } bf[] = {{1 + 0x1p-8, 0x3f80}, {1 + 0x3p-8, 0x3f82}, {3.4028234663852886e38, 0x7f80},
              {0x1p-133, 0x0001},   {0x1p-134, 0x0000},   {-0.0, 0x8000}, {-1.5, 0xbfc0}};
    for (size_t i = 0; i < sizeof bf / sizeof bf[0]; i++)
        CHECK_MSG(llx_f32_to_bf16((float)bf[i].x) == bf[i].bf, "bf16(%a) = 0x%04x, want 0x%04x", bf[i].x,
                  llx_f32_to_bf16((float)bf[i].x), bf[i].bf);
    CHECK(llx_f32_to_bf16(NAN) != 0x7f80 && (llx_f32_to_bf16(NAN) & 0x7f80) == 0x7f80);
    CHECK((llx_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (llx_f32_to_f16(NAN) & 0x3ff));
    /* narrowing matches the reference on many random floats */
    uint32_t s = 12345;
    int badn = 0;
    for (int i = 0; i < 200000; i++) {
        s = s * 1664525u + 1013904223u;
        const float x = llx_bits_to_f32(s);
        badn += !same_float(llx_f16_to_f32(llx_f32_to_f16(x)), ref_f16_round(x));
        badn += !same_float(llx_bf16_to_f32(llx_f32_to_bf16(x)), ref_bf16_round(x));
    }
    CHECK_EQ_INT(badn, 0);
}

TEST(synth_roundtrip_dtypes, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *d32 = ckpt_make("rt-f32", &c, "F32", 42), *d16 = ckpt_make("rt-f16", &c, "F16", 42),
               *dbf = ckpt_make("rt-bf16", &c, "bf16", 42);
    llx_hf *m32 = NULL, *m16 = NULL, *mbf = NULL;
    CHECK(d32 && llx_hf_open(&m32, d32) == LLX_OK);
    CHECK(d16 && llx_hf_open(&m16, d16) == LLX_OK);
    CHECK(dbf && llx_hf_open(&mbf, dbf) == LLX_OK);
    if (!m32 || !m16 || !mbf) goto out;
    CHECK(strcmp(llx_hf_dtype(m16), "F16") == 0 && strcmp(llx_hf_dtype(mbf), "BF16") == 0);
    CHECK_EQ_INT(llx_hf_data_bytes(m32), llx_config_params(&c) * 4);
    CHECK_EQ_INT(llx_hf_data_bytes(m16), llx_config_params(&c) * 2);
    const size_t n = ckpt_read_all(m32, NULL);
    float *a = malloc(n * 4), *b = malloc(n * 4), *g = malloc(n * 4);
    ckpt_read_all(m32, a);
    ckpt_read_all(m16, b);
    ckpt_read_all(mbf, g);
    int bad16 = 0, badbf = 0, changed = 0;
    for (size_t i = 0; i < n; i++) {
        bad16 += !same_float(b[i], ref_f16_round(a[i]));
        badbf += !same_float(g[i], ref_bf16_round(a[i]));
        changed += b[i] != a[i];
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badbf, 0);
    CHECK(changed > (int)(n / 2)); /* the F16 file really holds rounded values */
    /* the F16 file's raw bits, decoded independently, are what read_rows returns */
    ckpt_img img;
    CHECK(ckpt_img_load(d16, &img));
    const uint8_t *raw = ckpt_img_raw(&img, "h.1.mlp.c_fc.weight", NULL);
    float *fc1 = malloc(64 * 32 * 4);
    CHECK(llx_hf_read_rows(m16, 1, LLX_MAT_FC1, 0, 64, fc1) == LLX_OK);
    int badraw = 0;
    for (int r = 0; r < 64; r++)
        for (int k = 0; k < 32; k++)
            badraw += fc1[r * 32 + k] != (float)ref_f16_value(ckpt_u16_at(raw, (size_t)k * 64 + (size_t)r));
    CHECK_EQ_INT(badraw, 0);
    free(fc1);
    ckpt_img_free(&img);
    free(a);
    free(b);
    free(g);
out:
    llx_hf_close(m32);
    llx_hf_close(m16);
    llx_hf_close(mbf);
}

/* Patch ln_f.weight of a 16-bit checkpoint with chosen bit patterns and read
 * them back through the loader.  The finite ones come back exactly; a
 * checkpoint holding one of the others (Inf, NaN) is refused, naming the
 * tensor and the element. */
static void chosen_values(const char *dtype, const uint16_t *bits, const uint32_t *want, int n)
{
    llx_config c = ckpt_tiny_config();
    char name[32];
    snprintf(name, sizeof name, "chosen-%s", dtype);
    const char *dir = ckpt_make(name, &c, dtype, 1);
    ckpt_img img;
    REQUIRE(dir && ckpt_img_load(dir, &img));
    size_t len;
    uint8_t *p = (uint8_t *)ckpt_img_raw(&img, "ln_f.weight", &len);
    CHECK_EQ_INT(len, 64);
    uint16_t saved[32];
    memcpy(saved, p, sizeof saved);
    int finite = 0, nonfinite = 0;
    for (int pass = 0; pass < 2; pass++) {
        memcpy(p, saved, sizeof saved);
        int first_bad = -1;
        for (int i = 0; i < n; i++) {
            const int inf_nan = (want[i] & 0x7f800000u) == 0x7f800000u;
            if (inf_nan && first_bad < 0) first_bad = i;
            if (inf_nan == pass) p[2 * i] = (uint8_t)bits[i], p[2 * i + 1] = (uint8_t)(bits[i] >> 8);
        }
        CHECK(ckpt_img_save(dir, &img));
        llx_hf *m = NULL;
        CHECK(llx_hf_open(&m, dir) == LLX_OK);
        if (!m) break;
        float v[32];
        const llx_status st = llx_hf_read_vec(m, -1, LLX_VEC_LNF_G, v);
        if (pass == 0) {
            CHECK(st == LLX_OK);
            for (int i = 0; i < n; i++) {
                if ((want[i] & 0x7f800000u) == 0x7f800000u) continue;
                CHECK_MSG(llx_f32_to_bits(v[i]) == want[i], "%s 0x%04x -> 0x%08x, want 0x%08x", dtype, bits[i],
                          llx_f32_to_bits(v[i]), want[i]);
                finite++;
            }
        } else if (first_bad >= 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "tensor 'ln_f.weight' holds %s at element %d",
                     (want[first_bad] & 0x7fffffu) ? "NaN" : "Inf", first_bad);
            CHECK_MSG(st == LLX_ERR_FORMAT && strstr(llx_errmsg(), msg), "%s: wanted '%s', got: %s", dtype, msg,
                      llx_errmsg());
            nonfinite++;
        }
        llx_hf_close(m);
    }
    CHECK(finite > 0 && nonfinite == 1);
    ckpt_img_free(&img);
}

TEST(synth_chosen_values_exact, LLX_T_ASAN)
{
    static const uint16_t h[] = {0x0001, 0x03ff, 0x0400, 0x0200, 0x7bff, 0x7c00, 0xfc00,
                                 0x8000, 0x7e00, 0x3c00, 0x8001, 0x7d01, 0x3555};
    static const uint32_t hw[] = {0x33800000, 0x387fc000, 0x38800000, 0x38000000, 0x477fe000, 0x7f800000, 0xff800000,
                                  0x80000000, 0x7fc00000, 0x3f800000, 0xb3800000, 0x7fa02000, 0x3eaaa000};
    chosen_values("F16", h, hw, 13);
    static const uint16_t b[] = {0x0001, 0x007f, 0x0080, 0x7f7f, 0x7f80, 0xff80, 0x8000, 0x7fc1, 0x3f80, 0xbeab};
    uint32_t bw[10];
    for (int i = 0; i < 10; i++) bw[i] = (uint32_t)b[i] << 16;
    chosen_values("BF16", b, bw, 10);
}

static void stats(const float *v, size_t n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += v[i], q += (double)v[i] * v[i];
    *mean = s / (double)n;
    *sd = sqrt(q / (double)n - *mean * *mean);
}

TEST(synth_weight_statistics, LLX_T_ASAN)
{
    llx_config c = {.n_vocab = 1000, .n_ctx = 64, .n_embd = 128, .n_layer = 4, .n_head = 4, .n_inner = 512,
                    .ln_eps = 1e-5f};
    const char *dir = ckpt_make("stats", &c, "F32", 7);
    llx_hf *m = NULL;
    CHECK(dir && llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    float *buf = malloc(1000 * 128 * sizeof(float));
    double mean, sd;
    const double res = 0.02 / sqrt(8.0);
    CHECK(llx_hf_read_wte(m, 0, 1000, buf) == LLX_OK);
    stats(buf, 128000, &mean, &sd);
    CHECK_CLOSE(mean, 0.0, 5e-4, 0);
    CHECK_CLOSE(sd, 0.02, 0, 0.02);
    CHECK(llx_hf_read_rows(m, 3, LLX_MAT_QKV, 0, 384, buf) == LLX_OK);
    stats(buf, 384 * 128, &mean, &sd);
    CHECK_CLOSE(sd, 0.02, 0, 0.03);
    CHECK(llx_hf_read_rows(m, 1, LLX_MAT_PROJ, 0, 128, buf) == LLX_OK);
    stats(buf, 128 * 128, &mean, &sd);
    CHECK_CLOSE(sd, res, 0, 0.04);
    CHECK(llx_hf_read_rows(m, 2, LLX_MAT_FC2, 0, 128, buf) == LLX_OK);
    stats(buf, 128 * 512, &mean, &sd);
    CHECK_CLOSE(sd, res, 0, 0.03);
    /* tails of a normal: about 0.27% beyond 3 sd, some beyond 4 sd is rare */
    int beyond3 = 0;
    for (int i = 0; i < 128 * 512; i++) beyond3 += fabs(buf[i]) > 3 * res;
    CHECK(beyond3 > 100 && beyond3 < 260);
    int bad = 0;
    for (int l = 0; l < 4; l++) {
        CHECK(llx_hf_read_vec(m, l, LLX_VEC_LN1_G, buf) == LLX_OK);
        CHECK(llx_hf_read_vec(m, l, LLX_VEC_LN2_B, buf + 128) == LLX_OK);
        CHECK(llx_hf_read_bias(m, l, LLX_MAT_FC1, 0, 512, buf + 256) == LLX_OK);
        for (int i = 0; i < 128; i++) bad += buf[i] != 1.0f || buf[128 + i] != 0.0f;
        for (int i = 0; i < 512; i++) bad += buf[256 + i] != 0.0f;
    }
    CHECK_EQ_INT(bad, 0);
    free(buf);
    llx_hf_close(m);
    /* deterministic in the seed */
    const char *again = ckpt_make("stats-again", &c, "F32", 7), *other = ckpt_make("stats-other", &c, "F32", 8);
    char p1[1024], p2[1024], p3[1024];
    snprintf(p1, sizeof p1, "%s/model.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model.safetensors", again);
    snprintf(p3, sizeof p3, "%s/model.safetensors", other);
    size_t n1, n2, n3;
    char *a = llx_test_read(p1, &n1), *b = llx_test_read(p2, &n2), *o = llx_test_read(p3, &n3);
    CHECK(a && b && o && n1 == n2 && n1 == n3);
    if (a && b && o && n1 == n2 && n1 == n3) {
        CHECK(memcmp(a, b, n1) == 0);
        CHECK(memcmp(a, o, n1) != 0);
    }
    free(a);
    free(b);
    free(o);
}

/* ---- a plain forward pass: random weights must give finite, varied logits ---- */

static void layernorm(float *x, const float *g, const float *b, int n, float eps)
{
    double mu = 0, var = 0;
    for (int i = 0; i < n; i++) mu += x[i];
    mu /= n;
    for (int i = 0; i < n; i++) var += (x[i] - mu) * (x[i] - mu);
    const double r = 1.0 / sqrt(var / n + eps);
    for (int i = 0; i < n; i++) x[i] = (float)((x[i] - mu) * r) * g[i] + b[i];
}

static void matvec(const llx_hf *m, int l, llx_matrix mat, int rows, int cols, const float *x, float *y)
{
    float *w = malloc((size_t)rows * (size_t)cols * sizeof(float)), *b = malloc((size_t)rows * sizeof(float));
    llx_hf_read_rows(m, l, mat, 0, rows, w);
    llx_hf_read_bias(m, l, mat, 0, rows, b);
    for (int r = 0; r < rows; r++) {
        double s = b[r];
        for (int k = 0; k < cols; k++) s += (double)w[(size_t)r * (size_t)cols + (size_t)k] * x[k];
        y[r] = (float)s;
    }
    free(w);
    free(b);
}

TEST(synth_forward_finite, LLX_T_ASAN)
{
    llx_config c = {.n_vocab = 300, .n_ctx = 16, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_inner = 256,
                    .ln_eps = 1e-5f};
    const char *dir = ckpt_make("forward", &c, "BF16", 2);
    llx_hf *m = NULL;
    CHECK(dir && llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    enum { T = 4, C = 64, F = 256, NH = 4, D = 16 };
    static const int toks[T] = {17, 256, 3, 299};
    static float x[T][C], h[C], qkv[T][3 * C], att[C], tmp[F], g[C], bb[C];
    for (int t = 0; t < T; t++) {
        llx_hf_read_wte(m, toks[t], toks[t] + 1, x[t]);
        llx_hf_read_wpe(m, t, t + 1, h);
        for (int i = 0; i < C; i++) x[t][i] += h[i];
    }
    for (int l = 0; l < 3; l++) {
        llx_hf_read_vec(m, l, LLX_VEC_LN1_G, g);
        llx_hf_read_vec(m, l, LLX_VEC_LN1_B, bb);
        for (int t = 0; t < T; t++) {
            memcpy(h, x[t], sizeof h);
            layernorm(h, g, bb, C, c.ln_eps);
            matvec(m, l, LLX_MAT_QKV, 3 * C, C, h, qkv[t]);
        }
        for (int t = 0; t < T; t++) {
            for (int hd = 0; hd < NH; hd++) {
                double p[T], mx = -1e30, z = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int i = 0; i < D; i++) d += (double)qkv[t][hd * D + i] * qkv[s][C + hd * D + i];
                    p[s] = d / sqrt((double)D);
                    if (p[s] > mx) mx = p[s];
                }
                for (int s = 0; s <= t; s++) z += p[s] = exp(p[s] - mx);
                for (int i = 0; i < D; i++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++) a += p[s] / z * qkv[s][2 * C + hd * D + i];
                    att[hd * D + i] = (float)a;
                }
            }
            matvec(m, l, LLX_MAT_PROJ, C, C, att, h);
            for (int i = 0; i < C; i++) x[t][i] += h[i];
        }
        llx_hf_read_vec(m, l, LLX_VEC_LN2_G, g);
        llx_hf_read_vec(m, l, LLX_VEC_LN2_B, bb);
        for (int t = 0; t < T; t++) {
            memcpy(h, x[t], sizeof h);
            layernorm(h, g, bb, C, c.ln_eps);
            matvec(m, l, LLX_MAT_FC1, F, C, h, tmp);
            for (int i = 0; i < F; i++) {
                const float u = tmp[i];
                tmp[i] = 0.5f * u * (1.0f + tanhf(0.7978845608f * (u + 0.044715f * u * u * u)));
            }
            matvec(m, l, LLX_MAT_FC2, C, F, tmp, h);
            for (int i = 0; i < C; i++) x[t][i] += h[i];
        }
    }
    llx_hf_read_vec(m, -1, LLX_VEC_LNF_G, g);
    llx_hf_read_vec(m, -1, LLX_VEC_LNF_B, bb);
    static float logits[T][300];
    int finite = 1;
    for (int t = 0; t < T; t++) {
        memcpy(h, x[t], sizeof h);
        layernorm(h, g, bb, C, c.ln_eps);
        matvec(m, 0, LLX_MAT_LM_HEAD, 300, C, h, logits[t]);
        for (int v = 0; v < 300; v++) finite &= isfinite(logits[t][v]);
    }
    CHECK(finite);
    double mean, sd, sd0;
    stats(logits[T - 1], 300, &mean, &sd);
    stats(logits[0], 300, &mean, &sd0);
    /* LN output ~ unit variance, wte std 0.02: logits sd ~ 0.02 * sqrt(64) = 0.16 */
    CHECK(sd > 0.05 && sd < 0.5);
    CHECK(sd0 > 0.05 && sd0 < 0.5);
    CHECK(memcmp(logits[0], logits[T - 1], sizeof logits[0]) != 0);
    llx_hf_close(m);
}

/* ---- the generated vocabulary ---- */

static void ref_byte_tokens(char tok[256][4])
{
    int bs[256], cs[256], n = 0, extra = 0;
    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) bs[n] = b, cs[n++] = b;
    for (int b = 0; b < 256; b++) {
        int in = 0;
        for (int i = 0; i < n && !in; i++) in = bs[i] == b;
        if (!in) bs[n] = b, cs[n++] = 256 + extra++;
    }
    for (int i = 0; i < 256; i++) {
        int cp = cs[i];
        if (cp < 0x80) tok[i][0] = (char)cp, tok[i][1] = 0;
        else tok[i][0] = (char)(0xc0 | (cp >> 6)), tok[i][1] = (char)(0x80 | (cp & 0x3f)), tok[i][2] = 0;
    }
}

static void check_vocab(int n_vocab, const char *vocab, size_t vlen, const char *merges)
{
    json_error_t err;
    json_t *v = json_loadb(vocab, vlen, JSON_REJECT_DUPLICATES, &err);
    CHECK_MSG(v != NULL, "vocab.json: %s", err.text);
    if (!v) return;
    CHECK_EQ_INT(json_object_size(v), n_vocab);
    const char **by_id = calloc((size_t)n_vocab, sizeof *by_id);
    const char *k;
    json_t *id;
    int bad_id = 0;
    json_object_foreach(v, k, id)
    {
        json_int_t i = json_integer_value(id);
        if (!json_is_integer(id) || i < 0 || i >= n_vocab || by_id[i]) bad_id++;
        else by_id[i] = k;
    }
    CHECK_EQ_INT(bad_id, 0);
    char bytes[256][4];
    ref_byte_tokens(bytes);
    int bad_byte = 0;
    for (int i = 0; i < 256; i++) bad_byte += !by_id[i] || strcmp(by_id[i], bytes[i]) != 0;
    CHECK_EQ_INT(bad_byte, 0);
    if (n_vocab >= 257) CHECK(by_id[n_vocab - 1] && strcmp(by_id[n_vocab - 1], "<|endoftext|>") == 0);
    CHECK(strncmp(merges, "#version: 0.2\n", 14) == 0);
    int rank = 0, bad_merge = 0;
    for (const char *p = strchr(merges, '\n') + 1; *p; rank++) {
        const char *nl = strchr(p, '\n'), *sp = memchr(p, ' ', (size_t)(nl - p));
        if (!nl || !sp || memchr(sp + 1, ' ', (size_t)(nl - sp - 1))) {
            bad_merge++;
            break;
        }
        char a[256], b[256], cat[512];
        snprintf(a, sizeof a, "%.*s", (int)(sp - p), p);
        snprintf(b, sizeof b, "%.*s", (int)(nl - sp - 1), sp + 1);
        snprintf(cat, sizeof cat, "%s%s", a, b);
        json_t *ia = json_object_get(v, a), *ib = json_object_get(v, b), *ic = json_object_get(v, cat);
        /* both parts exist before the merge, and the merge makes token 256 + rank */
        if (!ia || !ib || !ic || json_integer_value(ic) != 256 + rank || json_integer_value(ia) >= 256 + rank ||
            json_integer_value(ib) >= 256 + rank)
            bad_merge++;
        p = nl + 1;
    }
    CHECK_EQ_INT(bad_merge, 0);
    CHECK_EQ_INT(rank, n_vocab - 256 - (n_vocab >= 257));
    if (n_vocab >= 2000) {
        static const char *const words[] = {"\xc4\xa0the", "\xc4\xa0\x61nd", "\xc4\xa0of", "\xc4\xa0water", "ing"};
        for (int i = 0; i < 5; i++) CHECK_MSG(json_object_get(v, words[i]) != NULL, "no token '%s'", words[i]);
    }
    free(by_id);
    json_decref(v);
}

TEST(synth_vocab_generated_valid, LLX_T_ASAN)
{
    static const int sizes[] = {256, 257, 258, 1000, 5000, 50257};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *vocab, *merges;
        size_t vlen, mlen;
        CHECK(llx_bpe_vocab_generate(sizes[i], &vocab, &vlen, &merges, &mlen) == LLX_OK);
        if (!vocab) continue;
        CHECK_EQ_INT(strlen(merges), mlen);
        check_vocab(sizes[i], vocab, vlen, merges);
        free(vocab);
        free(merges);
    }
    char *vocab, *merges;
    size_t vlen, mlen;
    CHECK(llx_bpe_vocab_generate(255, &vocab, &vlen, &merges, &mlen) == LLX_ERR_ARG);
    /* the folder gets exactly these files */
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("vocab-files", &c, "F32", 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    char *fv = llx_test_read(path, &vlen);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    char *fm = llx_test_read(path, &mlen);
    CHECK(fv && fm);
    if (fv && fm) check_vocab(300, fv, vlen, fm);
    free(fv);
    free(fm);
    json_t *cfg = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    cfg = json_load_file(path, 0, NULL);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(cfg, "eos_token_id")), 299);
    CHECK(strcmp(json_string_value(json_object_get(cfg, "model_type")), "gpt2") == 0);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0)), "GPT2LMHeadModel") == 0);
    CHECK(strcmp(json_string_value(json_object_get(cfg, "activation_function")), "gelu_new") == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cfg, "n_inner")), 64);
    json_decref(cfg);
}

static int same_file_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = llx_test_read(a, &na), *y = llx_test_read(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

TEST(synth_vocab_from, LLX_T_ASAN)
{
    const char *src = llx_test_model_dir();
    if (!src) SKIP("shared shakespeare-gpt2 model not found");
    llx_config c = ckpt_tiny_config();
    c.n_vocab = 50257;
    const char *dir = llx_test_tmpfile("vocab-from");
    CHECK(llx_synth_write(dir, &c, 3, "F16", src) == LLX_OK);
    char a[1024], b[1024];
    static const char *const names[2] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", src, names[i]);
        snprintf(b, sizeof b, "%s/%s", dir, names[i]);
        CHECK(same_file_bytes(a, b));
    }
    snprintf(a, sizeof a, "%s/config.json", dir);
    json_t *cfg = json_load_file(a, 0, NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(cfg, "eos_token_id")), 50256);
    json_decref(cfg);
    llx_hf *m = NULL;
    CHECK(llx_hf_open(&m, dir) == LLX_OK);
    llx_hf_close(m);
    /* re-synthesising into the same folder from itself keeps the files */
    CHECK(llx_synth_write(dir, &c, 4, "F32", dir) == LLX_OK);
    snprintf(a, sizeof a, "%s/vocab.json", src);
    snprintf(b, sizeof b, "%s/vocab.json", dir);
    CHECK(same_file_bytes(a, b));
}

static int count_named(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

static int count_tmp_files(const char *dir) { return count_named(dir, ".tmp."); }

TEST(synth_bad_args, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = llx_test_tmpfile("bad-synth/nested/deeper");
    CHECK(llx_synth_write(dir, &c, 1, "F8", NULL) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "'F8'") != NULL);
    c.n_vocab = 100;
    CHECK(llx_synth_write(dir, &c, 1, "F32", NULL) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "vocab_size >= 256") != NULL);
    c = ckpt_tiny_config();
    c.n_head = 5;
    CHECK(llx_synth_write(dir, &c, 1, "F32", NULL) == LLX_ERR_FORMAT);
    CHECK(strstr(llx_errmsg(), "not a multiple of n_head") != NULL);
    c = ckpt_tiny_config();
    CHECK(llx_synth_write(NULL, &c, 1, "F32", NULL) == LLX_ERR_ARG);
    CHECK(llx_synth_write(dir, &c, 1, "F32", llx_test_tmpfile("no-vocab-here")) == LLX_ERR_IO);
    CHECK(strstr(llx_errmsg(), "vocab.json") != NULL);
    /* a copied vocabulary must fit vocab_size */
    const char *src = llx_test_model_dir();
    if (src) {
        CHECK(llx_synth_write(dir, &c, 1, "F32", src) == LLX_ERR_FORMAT);
        CHECK(strstr(llx_errmsg(), "token ids must be integers in [0, vocab_size 300)") != NULL);
    }
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    /* the failures left nothing behind: not the folder, not a temporary one */
    CHECK(!llx_test_exists(dir));
    CHECK_EQ_INT(llx_test_count_entries(llx_test_tmpfile("bad-synth/nested")), 0);
    /* in an existing folder, the checkpoint's files are replaced and other files survive */
    char extra[1024];
    snprintf(extra, sizeof extra, "mkdir -p '%s'", dir);
    CHECK(system(extra) == 0);
    snprintf(extra, sizeof extra, "%s/README", dir);
    FILE *f = fopen(extra, "w");
    if (f) fclose(f);
    CHECK(llx_synth_write(dir, &c, 1, "F32", NULL) == LLX_OK);
    CHECK(access(extra, F_OK) == 0);
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    /* output path is a file */
    CHECK(llx_synth_write(extra, &c, 1, "F32", NULL) == LLX_ERR_IO);
}

/* synth -o never destroys a checkpoint: an existing non-empty folder is
 * refused (untouched) unless --force; a synth that fails leaves nothing. */
TEST(synth_bad_existing_folder, LLX_T_ASAN)
{
    const char *dir = llx_test_tmpfile("keep-me");
    llx_proc_result r;
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "1", "--embd", "32", "--heads", "2", "--vocab", "260",
            "--ctx", "16", "--seed", "5", "-o", dir, NULL);
    REQUIRE(r.status == 0);
    llx_proc_free(&r);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n0;
    char *before = llx_test_read(path, &n0);
    REQUIRE(before);
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "1", "--embd", "32", "--heads", "2", "--vocab", "260",
            "--ctx", "16", "--seed", "6", "-o", dir, NULL);
    CHECK(llx_cli_failed(&r, 1, "exists and is not empty; use --force"));
    llx_proc_free(&r);
    CHECK_MSG(llx_test_same_bytes(path, before, n0), "the refused synth changed the checkpoint");
    CHECK_EQ_INT(llx_test_count_entries(dir), 4);
    /* --force replaces the checkpoint and keeps other files */
    char note[1024];
    snprintf(note, sizeof note, "%s/NOTES", dir);
    CHECK(llx_test_write(note, "mine", 4));
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "1", "--embd", "32", "--heads", "2", "--vocab", "260",
            "--ctx", "16", "--seed", "6", "-o", dir, "--force", NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    llx_proc_free(&r);
    CHECK(!llx_test_same_bytes(path, before, n0) && llx_test_same_bytes(note, "mine", 4));
    CHECK_EQ_INT(llx_test_count_entries(dir), 5);
    free(before);
    /* a synth that fails after starting to write (a vocabulary too small for
     * --vocab) leaves neither the folder nor a temporary one */
    const char *parent = llx_test_tmpfile("fail-parent"), *out = llx_test_tmpfile("fail-parent/out");
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "1", "--embd", "32", "--heads", "2", "--vocab", "300",
            "--ctx", "16", "--vocab-from", dir, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 1, "260 entries but vocab_size is 300"));
    llx_proc_free(&r);
    CHECK(!llx_test_exists(out));
    CHECK_EQ_INT(llx_test_count_entries(parent), 0);
    /* into the existing folder with --force: it fails and the old files stay */
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    size_t nv;
    char *vocab = llx_test_read(path, &nv);
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "1", "--embd", "32", "--heads", "2", "--vocab", "300",
            "--ctx", "16", "--vocab-from", dir, "-o", dir, "--force", NULL);
    CHECK(llx_cli_failed(&r, 1, "260 entries but vocab_size is 300"));
    llx_proc_free(&r);
    CHECK(vocab && llx_test_same_bytes(path, vocab, nv));
    CHECK_EQ_INT(llx_test_count_entries(dir), 5);
    CHECK_EQ_INT(count_named(llx_test_tmpdir(), ".synth-"), 0);
    free(vocab);
}

TEST(synth_cli, LLX_T_ASAN)
{
    const char *dir = llx_test_tmpfile("cli-synth");
    llx_proc_result r;
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "2", "--embd", "32", "--heads", "2", "--vocab", "260",
            "--ctx", "16", "--dtype", "f16", "--seed", "99", "-o", dir, NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "wrote") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", dir, "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    CHECK(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_layer")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_inner")), 128); /* 4 * --embd */
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "vocab_size")), 260);
    CHECK(j && strcmp(json_string_value(json_object_get(j, "storage_dtype")), "F16") == 0);
    json_decref(j);
    llx_proc_free(&r);
    /* a config file as the base */
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    llx_cli(&r, "synth", "--config", cfg, "--inner", "40", "-o", llx_test_tmpfile("cli-synth-2"), NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "n_inner 40") != NULL);
    llx_proc_free(&r);
    /* a broken config file is a runtime error naming the file */
    char broken[1024];
    snprintf(broken, sizeof broken, "%s/broken.json", dir);
    FILE *f = fopen(broken, "w");
    if (f) fputs("{\"n_embd\": ", f), fclose(f);
    llx_cli(&r, "synth", "--config", broken, "-o", llx_test_tmpfile("cli-synth-3"), NULL);
    CHECK_EQ_INT(r.status, 1);
    CHECK(strstr(r.err, "broken.json: invalid JSON") != NULL);
    llx_proc_free(&r);
    /* usage errors: exit 2, one line */
    static const char *const bad[][6] = {
        {"synth", "--config", "gpt2", NULL},
        {"synth", "-o", "x", NULL},
        {"synth", "--config", "gpt9", "-o", "x", NULL},
        {"synth", "--config", "gpt2", "-o", "x", "--dtype"},
        {"synth", "--config", "gpt2", "--heads", "7", "-o", },
        {"synth", "--bogus", NULL},
    };
    for (int i = 0; i < 6; i++) {
        const char *const *a = bad[i];
        if (i == 3) llx_cli(&r, a[0], a[1], a[2], a[3], a[4], "f64", NULL);
        else if (i == 4) llx_cli(&r, a[0], a[1], a[2], a[3], a[4], a[5], "x", NULL);
        else llx_cli(&r, a[0], a[1], a[2], a[3], a[4], NULL);
        CHECK_MSG(r.status == 2, "case %d: status %d", i, r.status);
        CHECK(strncmp(r.err, "looplynx: error: ", 17) == 0);
        CHECK(r.err_len > 0 && strchr(r.err, '\n') == r.err + r.err_len - 1);
        llx_proc_free(&r);
    }
    llx_cli(&r, "synth", "--help", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "usage: looplynx synth") != NULL);
    llx_proc_free(&r);
}
