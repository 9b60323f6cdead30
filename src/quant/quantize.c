/* quant/quantize.c - HuggingFace GPT-2 -> .llx W8A8 (SmoothQuant).
 *
 * 1. Calibrate: run the FP32 engine over calibration text and keep, per
 *    layer, the per-channel max |x| of every quantized activation.
 * 2. Smooth: s_j = max|X_j|^a / max|W_:,j|^(1-a) for the inputs of QKV and
 *    FC1 (and optionally PROJ through V); divide the preceding LayerNorm's
 *    gamma and beta by s, multiply the weight columns by s.  a = 0: no
 *    smoothing.
 * 3. Quantize weights per output row (symmetric int8, [-127, 127]) and set
 *    the static per-tensor activation scales max|x| / 127.
 * 4. Write the .llx file atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine_impl.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "kernels/q8.h"
#include "quant/lowbit.h"
#include "quant/scheme.h"
#include "util/file.h"
#include "util/status.h"

#define CALIB_MAX_BYTES (1u << 30)

typedef struct calib {
    int L, C, F;
    float *m[5]; /* per llx_obs_point: [L][width] max |x| */
} calib;

static int point_width(const calib *c, int p)
{
    return p == LLX_OBS_QKV ? 3 * c->C : p == LLX_OBS_GELU ? c->F : c->C;
}

static void observe(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    calib *c = ud;
    if (p < 0 || p >= 5) return; /* calibration needs the five quantized inputs and outputs */
    float *m = c->m[p] + (size_t)layer * width;
    for (int t = 0; t < tokens; t++)
        for (int j = 0; j < width; j++) {
            const float a = fabsf(x[(size_t)t * width + j]);
            if (a > m[j]) m[j] = a;
        }
}

llx_quant_opts llx_quant_defaults(void)
{
    llx_quant_opts o;
    memset(&o, 0, sizeof o);
    o.calib_tokens = 16384;
    o.window = 128;
    o.alpha = 0.5f;
    o.act_mode = LLX_ACT_STATIC;
    o.scheme = LLX_SCHEME_W8A8;
    o.gptq_damp = 0.01f;
    o.gptq_act_order = 1;
    o.rotate_seed = 1;
    o.kv_int8 = 1;
    o.lm_bits = 8;
    return o;
}

static void progress(const llx_quant_opts *o, const char *phase, double f)
{
    if (o->progress) o->progress(o->progress_ud, phase, f);
}

static llx_status cancelled(const llx_quant_opts *o)
{
    if (o->cancel && *o->cancel) return llx_fail(LLX_ERR_CANCELLED, "interrupted");
    return LLX_OK;
}

/* The output's folder must exist (checked now rather than after a long
 * calibration). */
static llx_status check_out_dir(const char *out)
{
    const char *slash = strrchr(out, '/');
    if (!slash) return LLX_OK;
    char *dir = strdup(out);
    if (!dir) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    dir[slash == out ? 1 : slash - out] = 0;
    const int ok = llx_is_dir(dir);
    llx_status st = ok ? LLX_OK : llx_fail(LLX_ERR_IO, "cannot write '%s': folder '%s' does not exist", out, dir);
    free(dir);
    return st;
}

static llx_status check_output(const char *hf_dir, const llx_quant_opts *o, const char *out)
{
    static const char *inputs[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};
    if (!*out) return llx_fail(LLX_ERR_ARG, "the output file name is empty");
    if (llx_is_dir(out)) return llx_fail(LLX_ERR_ARG, "output '%s' is a folder; give a .llx file name", out);
    struct stat st;
    if (stat(out, &st) == 0 && !S_ISREG(st.st_mode))
        return llx_fail(LLX_ERR_ARG, "output '%s' exists and is not a regular file", out);
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        char *p = llx_path_join(hf_dir, inputs[i]);
        const int same = p && llx_same_file(p, out);
        free(p);
        if (same) return llx_fail(LLX_ERR_ARG, "refusing to overwrite the input '%s' with the output", out);
    }
    if (o->calib_path && llx_same_file(o->calib_path, out))
        return llx_fail(LLX_ERR_ARG, "refusing to overwrite the calibration text '%s'", out);
    return check_out_dir(out);
}

static llx_status check_opts(const llx_quant_opts *o)
{
    if (!o->calib_path) return llx_fail(LLX_ERR_ARG, "quantize needs calibration text (--calib FILE)");
    if (!(o->alpha >= 0.0f && o->alpha <= 1.0f))
        return llx_fail(LLX_ERR_ARG, "alpha must be in [0, 1] (got %g)", (double)o->alpha);
    if (o->act_mode != LLX_ACT_STATIC && o->act_mode != LLX_ACT_DYNAMIC)
        return llx_fail(LLX_ERR_ARG, "unknown activation mode %d", o->act_mode);
    if (o->calib_tokens < 1) return llx_fail(LLX_ERR_ARG, "calibration needs at least 1 token");
    if (o->window < 2) return llx_fail(LLX_ERR_ARG, "calibration window must be at least 2 tokens");
    return LLX_OK;
}

/* The calibration text's first o->calib_tokens tokens. */
static llx_status calib_ids(const llx_model *m, const llx_quant_opts *o, int **ids, int *total)
{
    char *text;
    size_t len;
    LLX_TRY(llx_read_file(o->calib_path, CALIB_MAX_BYTES, &text, &len));
    int n = 0;
    llx_status st = llx_tokenize(llx_model_tokenizer(m), text, len, ids, &n);
    free(text);
    if (st != LLX_OK) return st;
    if (n < 2) {
        free(*ids);
        *ids = NULL;
        return llx_fail(LLX_ERR_ARG, "calibration text '%s' has fewer than 2 tokens", o->calib_path);
    }
    *total = o->calib_tokens < n ? o->calib_tokens : n;
    return LLX_OK;
}

static llx_status calibrate(const llx_model *m, const llx_quant_opts *o, const int *ids, int total, calib *c)
{
    const llx_observer obs = {observe, NULL, c};
    return llx_quant_run_calib(m, o, LLX_PREC_FP32, ids, total, &obs, "calibrate");
}

/* s_j for weights w (R x K) whose inputs have channel maxima xmax (K). */
static void smooth_factors(const float *xmax, const float *w, int R, int K, float alpha, float *s)
{
    for (int j = 0; j < K; j++) s[j] = 0.0f;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++) {
            const float a = fabsf(w[(size_t)r * K + j]);
            if (a > s[j]) s[j] = a;
        }
    for (int j = 0; j < K; j++) {
        if (alpha <= 0.0f) {
            s[j] = 1.0f;
            continue;
        }
        const float x = xmax[j] > 1e-5f ? xmax[j] : 1e-5f, wm = s[j] > 1e-5f ? s[j] : 1e-5f;
        float v = powf(x, alpha) / powf(wm, 1.0f - alpha);
        s[j] = v < 1e-4f ? 1e-4f : v > 1e4f ? 1e4f : v;
    }
}

static void scale_cols(float *w, int R, int K, const float *s)
{
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++) w[(size_t)r * K + j] *= s[j];
}

static float amax(const float *x, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float step(float maxabs) { return maxabs > 0.0f ? maxabs / 127.0f : 1.0f; }

typedef struct qlayer {
    float *w[4], *b[4], *ln[4]; /* fp32 working copies */
    int rows[4], cols[4];
} qlayer;

static void free_qlayer(qlayer *q)
{
    for (int i = 0; i < 4; i++) free(q->w[i]), free(q->b[i]), free(q->ln[i]);
}

static llx_status read_layer(const llx_hf *hf, const llx_config *c, int l, qlayer *q)
{
    static const llx_vec v[4] = {LLX_VEC_LN1_G, LLX_VEC_LN1_B, LLX_VEC_LN2_G, LLX_VEC_LN2_B};
    memset(q, 0, sizeof *q);
    for (int m = 0; m < 4; m++) {
        llx_matrix_shape(c, (llx_matrix)m, &q->rows[m], &q->cols[m]);
        q->w[m] = malloc((size_t)q->rows[m] * q->cols[m] * sizeof(float));
        q->b[m] = malloc((size_t)q->rows[m] * sizeof(float));
        q->ln[m] = malloc((size_t)c->n_embd * sizeof(float));
        if (!q->w[m] || !q->b[m] || !q->ln[m]) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        LLX_TRY(llx_hf_read_rows(hf, l, (llx_matrix)m, 0, q->rows[m], q->w[m]));
        LLX_TRY(llx_hf_read_bias(hf, l, (llx_matrix)m, 0, q->rows[m], q->b[m]));
        LLX_TRY(llx_hf_read_vec(hf, l, v[m], q->ln[m]));
    }
    return LLX_OK;
}

/* Smooth layer l in place and fill its static scales. */
static llx_status smooth_layer(const calib *c, const llx_quant_opts *o, int l, qlayer *q, float *sc)
{
    const int C = c->C, F = c->F;
    float *ln1 = c->m[LLX_OBS_LN1] + (size_t)l * C, *ln2 = c->m[LLX_OBS_LN2] + (size_t)l * C;
    float *qkv = c->m[LLX_OBS_QKV] + (size_t)l * 3 * C, *ctx = c->m[LLX_OBS_CTX] + (size_t)l * C;
    const float *gelu = c->m[LLX_OBS_GELU] + (size_t)l * F;
    float *s = malloc((size_t)C * sizeof *s);
    if (!s) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    /* QKV input: fold 1/s into LN1 */
    smooth_factors(ln1, q->w[LLX_MAT_QKV], 3 * C, C, o->alpha, s);
    scale_cols(q->w[LLX_MAT_QKV], 3 * C, C, s);
    for (int j = 0; j < C; j++) q->ln[0][j] /= s[j], q->ln[1][j] /= s[j], ln1[j] /= s[j];
    /* FC1 input: fold 1/s into LN2 */
    smooth_factors(ln2, q->w[LLX_MAT_FC1], F, C, o->alpha, s);
    scale_cols(q->w[LLX_MAT_FC1], F, C, s);
    for (int j = 0; j < C; j++) q->ln[2][j] /= s[j], q->ln[3][j] /= s[j], ln2[j] /= s[j];
    /* PROJ input through V: context channel j is a linear mix of V row j */
    if (o->smooth_v && o->alpha > 0.0f) {
        smooth_factors(ctx, q->w[LLX_MAT_PROJ], C, C, o->alpha, s);
        scale_cols(q->w[LLX_MAT_PROJ], C, C, s);
        for (int j = 0; j < C; j++) {
            float *vr = q->w[LLX_MAT_QKV] + (size_t)(2 * C + j) * C;
            for (int k = 0; k < C; k++) vr[k] /= s[j];
            q->b[LLX_MAT_QKV][2 * C + j] /= s[j];
            qkv[2 * C + j] /= s[j];
            ctx[j] /= s[j];
        }
    }
    free(s);
    memset(sc, 0, LLX_SC_COUNT * sizeof *sc);
    sc[LLX_SC_LN1] = step(amax(ln1, C));
    sc[LLX_SC_Q] = step(amax(qkv, C));
    sc[LLX_SC_K] = step(amax(qkv + C, C));
    sc[LLX_SC_V] = step(amax(qkv + 2 * C, C));
    sc[LLX_SC_CTX] = step(amax(ctx, C));
    sc[LLX_SC_LN2] = step(amax(ln2, C));
    sc[LLX_SC_GELU] = step(amax(gelu, F));
    return LLX_OK;
}

static llx_status add_copy(llx_llx_writer *wr, const char *name, llx_dtype dt, long long r, long long c,
                           const void *src, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    memcpy(p, src, bytes);
    return llx_llx_add(wr, name, dt, r, c, p);
}

static llx_status write_layer(llx_llx_writer *wr, const llx_config *cfg, const llx_quant_opts *o, const calib *c, int l,
                              qlayer *q, const float *sc)
{
    static const char *mat[4] = {"qkv", "proj", "fc1", "fc2"};
    static const char *ln[4] = {"ln1.g", "ln1.b", "ln2.g", "ln2.b"};
    const llx_qw_spec spec = llx_quant_layer_spec(o);
    char name[64];
    for (int m = 0; m < 4; m++) {
        snprintf(name, sizeof name, "h.%d.%s", l, mat[m]);
        LLX_TRY(llx_qw_add(wr, name, q->w[m], q->rows[m], q->cols[m], &spec, NULL));
        snprintf(name, sizeof name, "h.%d.%s.b", l, mat[m]);
        LLX_TRY(add_copy(wr, name, LLX_DT_F32, q->rows[m], 0, q->b[m], (size_t)q->rows[m] * 4));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "h.%d.%s", l, ln[i]);
        LLX_TRY(add_copy(wr, name, LLX_DT_F32, cfg->n_embd, 0, q->ln[i], (size_t)cfg->n_embd * 4));
    }
    snprintf(name, sizeof name, "h.%d.act", l);
    LLX_TRY(add_copy(wr, name, LLX_DT_F32, LLX_SC_COUNT, 0, sc, LLX_SC_COUNT * 4));
    if (!o->kv_int8) return LLX_OK;
    const int n = cfg->n_head + 2 * llx_config_kv_heads(cfg);
    float *steps = malloc((size_t)n * sizeof *steps);
    if (!steps) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_quant_head_steps(cfg, c->m[LLX_OBS_QKV] + (size_t)l * 3 * c->C, steps);
    snprintf(name, sizeof name, "h.%d.kv", l);
    return llx_llx_add(wr, name, LLX_DT_F32, n, 0, steps);
}

static llx_status add_file(llx_llx_writer *wr, const char *dir, const char *file, const char *name)
{
    char *p = llx_path_join(dir, file), *buf = NULL;
    size_t len = 0;
    llx_status st = p ? llx_read_file(p, 256u << 20, &buf, &len) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    free(p);
    if (st != LLX_OK) return st;
    return llx_llx_add(wr, name, LLX_DT_U8, (long long)len, 0, buf);
}

static llx_status write_globals(llx_llx_writer *wr, const llx_model *m, const llx_quant_opts *o, const char *dir)
{
    const llx_config *c = &m->cfg;
    const size_t V = (size_t)c->n_vocab, C = (size_t)c->n_embd, P = (size_t)c->n_ctx;
    float *wte = malloc(V * C * 4), *wpe = malloc(P * C * 4), *g = malloc(C * 4), *b = malloc(C * 4);
    llx_status st = wte && wpe && g && b ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) st = llx_hf_read_wte(m->hf, 0, c->n_vocab, wte);
    if (st == LLX_OK) st = llx_hf_read_wpe(m->hf, 0, c->n_ctx, wpe);
    if (st == LLX_OK) st = llx_hf_read_vec(m->hf, -1, LLX_VEC_LNF_G, g);
    if (st == LLX_OK) st = llx_hf_read_vec(m->hf, -1, LLX_VEC_LNF_B, b);
    float *lm = st == LLX_OK ? malloc(V * C * 4) : NULL;
    if (st == LLX_OK && !lm) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) st = llx_hf_read_rows(m->hf, -1, LLX_MAT_LM_HEAD, 0, c->n_vocab, lm);
    if (st != LLX_OK) {
        free(wte), free(wpe), free(g), free(b), free(lm);
        return st;
    }
    LLX_TRY(llx_llx_add(wr, "wte", LLX_DT_F32, c->n_vocab, c->n_embd, wte));
    LLX_TRY(llx_llx_add(wr, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd, wpe));
    LLX_TRY(llx_llx_add(wr, "ln_f.g", LLX_DT_F32, c->n_embd, 0, g));
    LLX_TRY(llx_llx_add(wr, "ln_f.b", LLX_DT_F32, c->n_embd, 0, b));
    const llx_qw_spec spec = llx_quant_lm_spec(o);
    st = llx_qw_add(wr, "lm_head", lm, c->n_vocab, c->n_embd, &spec, NULL);
    free(lm);
    LLX_TRY(st);
    LLX_TRY(add_file(wr, dir, "vocab.json", "tokenizer.vocab"));
    return add_file(wr, dir, "merges.txt", "tokenizer.merges");
}

static llx_status build(const llx_model *m, const llx_quant_opts *o, calib *c, int seen, const char *dir,
                        const char *out)
{
    const llx_config *cfg = &m->cfg;
    llx_qinfo qi = {.act_mode = o->act_mode, .alpha = o->alpha, .calib_tokens = seen, .smooth_v = o->smooth_v,
                    .s = llx_quant_scheme(o)};
    llx_llx_writer *wr;
    LLX_TRY(llx_llx_writer_create(&wr, cfg, &qi));
    llx_status st = LLX_OK;
    for (int l = 0; st == LLX_OK && l < cfg->n_layer; l++) {
        qlayer q;
        if ((st = cancelled(o)) != LLX_OK) break;
        float sc[LLX_SC_COUNT];
        st = read_layer(m->hf, cfg, l, &q);
        if (st == LLX_OK) st = smooth_layer(c, o, l, &q, sc);
        if (st == LLX_OK) st = write_layer(wr, cfg, o, c, l, &q, sc);
        free_qlayer(&q);
        progress(o, "quantize", (double)(l + 1) / cfg->n_layer);
    }
    if (st == LLX_OK) st = write_globals(wr, m, o, dir);
    if (st != LLX_OK) {
        llx_llx_writer_free(wr);
        return st;
    }
    progress(o, "write", 0.0);
    llx_llx_writer_set_cancel(wr, o->cancel);
    st = llx_llx_write(wr, out);
    progress(o, "write", 1.0);
    return st;
}

llx_status llx_quantize(const char *hf_dir, const llx_quant_opts *o, const char *out_path)
{
    LLX_TRY(check_opts(o));
    LLX_TRY(check_output(hf_dir, o, out_path));
    llx_model *m;
    LLX_TRY(llx_model_open(&m, hf_dir));
    if (m->kind != LLX_MODEL_HF) {
        llx_model_close(m);
        return llx_fail(LLX_ERR_ARG, "quantize needs a HuggingFace model folder, not '%s'", hf_dir);
    }
    calib c = {m->cfg.n_layer, m->cfg.n_embd, m->cfg.n_inner, {0}};
    int *ids = NULL, total = 0;
    llx_status st = llx_quant_check_scheme(o, &m->cfg);
    if (st == LLX_OK) st = calib_ids(m, o, &ids, &total);
    if (st == LLX_OK && (o->gptq || o->rotate)) {
        st = llx_quantize_lowbit(m, o, ids, total, hf_dir, out_path);
        free(ids);
        llx_model_close(m);
        return st;
    }
    for (int p = 0; p < 5 && st == LLX_OK; p++) {
        c.m[p] = calloc((size_t)c.L * point_width(&c, p), sizeof(float));
        if (!c.m[p]) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    if (st == LLX_OK) st = calibrate(m, o, ids, total, &c);
    if (st == LLX_OK) st = build(m, o, &c, total, hf_dir, out_path);
    for (int p = 0; p < 5; p++) free(c.m[p]);
    free(ids);
    llx_model_close(m);
    return st;
}
