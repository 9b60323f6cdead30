/* quant/quantize.c - HuggingFace GPT-2 or Llama -> .llx W8A8 (SmoothQuant).
 *
 * 1. Calibrate: run the FP32 engine over calibration text and keep, per
 *    layer, the per-channel max |x| of every quantized activation.
 * 2. Smooth (smooth.c): s_j = max|X_j|^a / max|W_:,j|^(1-a) for the inputs
 *    of QKV and the MLP (and optionally PROJ through V, Llama's DOWN through
 *    up); fold 1/s into what produces the input, s into the weight columns.
 * 3. Quantize weights per output row (symmetric int8, [-127, 127]) and set
 *    the static per-tensor activation scales max|x| / 127.
 * 4. Write the .llx file atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/q8.h"
#include "model/llx_file.h"
#include "quant/lowbit.h"
#include "quant/quant_internal.h"
#include "quant/scheme.h"
#include "util/file.h"
#include "util/status.h"

#define CALIB_MAX_BYTES (1u << 30)

static void observe(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    calib *c = ud;
    if (p < 0 || p >= CALIB_POINTS) return; /* calibration needs the five quantized inputs and outputs */
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
    o.gptq_asym_alpha = 0.25f;
    o.rotate_seed = 1;
    o.kv_int8 = 1;
    o.lm_bits = 8;
    o.smooth_down = -1; /* the architecture's default (docs/quantization.md) */
    o.smooth_v = -1;
    return o;
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
    static const char *inputs[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json",
                                   "tokenizer_config.json", "generation_config.json", "model.safetensors.index.json"};
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
    if (o->rotate_file && llx_same_file(o->rotate_file, out))
        return llx_fail(LLX_ERR_ARG, "refusing to overwrite the rotation file '%s'", out);
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
    if (o->rotate < LLX_ROTATE_NONE || o->rotate > LLX_ROTATE_R4)
        return llx_fail(LLX_ERR_ARG, "unknown rotation %d", o->rotate);
    if (o->rotate_file && o->rotate != LLX_ROTATE_HADAMARD)
        return llx_fail(LLX_ERR_ARG, "a rotation file needs rotations (rotate = 1)");
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

static void free_qlayer(qlayer *q)
{
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) free(q->w[m]), free(q->b[m]);
    for (int i = 0; i < 2; i++) free(q->g[i]), free(q->nb[i]);
}

static llx_status read_layer(const llx_hf *hf, const llx_config *c, int l, qlayer *q)
{
    static const llx_vec g[2] = {LLX_VEC_LN1_G, LLX_VEC_LN2_G}, b[2] = {LLX_VEC_LN1_B, LLX_VEC_LN2_B};
    const int bias = llx_hf_has_bias(hf);
    memset(q, 0, sizeof *q);
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        llx_matrix_shape(c, (llx_matrix)m, &q->rows[m], &q->cols[m]);
        if (!q->rows[m]) continue;
        q->w[m] = malloc((size_t)q->rows[m] * q->cols[m] * sizeof(float));
        if (bias) q->b[m] = malloc((size_t)q->rows[m] * sizeof(float));
        if (!q->w[m] || (bias && !q->b[m])) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        LLX_TRY(llx_hf_read_rows(hf, l, (llx_matrix)m, 0, q->rows[m], q->w[m]));
        if (bias) LLX_TRY(llx_hf_read_bias(hf, l, (llx_matrix)m, 0, q->rows[m], q->b[m]));
    }
    for (int i = 0; i < 2; i++) {
        q->g[i] = malloc((size_t)c->n_embd * sizeof(float));
        if (bias) q->nb[i] = malloc((size_t)c->n_embd * sizeof(float));
        if (!q->g[i] || (bias && !q->nb[i])) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        LLX_TRY(llx_hf_read_vec(hf, l, g[i], q->g[i]));
        if (bias) LLX_TRY(llx_hf_read_vec(hf, l, b[i], q->nb[i]));
    }
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
    static const char *ln[2][2] = {{"ln1.g", "ln2.g"}, {"ln1.b", "ln2.b"}};
    const llx_qw_spec spec = llx_quant_layer_spec(o);
    char name[64];
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        if (!q->rows[m]) continue;
        snprintf(name, sizeof name, "h.%d.%s", l, llx_matrix_name((llx_matrix)m));
        LLX_TRY(llx_qw_add(wr, name, q->w[m], q->rows[m], q->cols[m], &spec, NULL));
        if (!q->b[m]) continue; /* Llama: no biases */
        snprintf(name, sizeof name, "h.%d.%s.b", l, llx_matrix_name((llx_matrix)m));
        LLX_TRY(add_copy(wr, name, LLX_DT_F32, q->rows[m], 0, q->b[m], (size_t)q->rows[m] * 4));
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++) {
            const float *v = k ? q->nb[i] : q->g[i];
            if (!v) continue;
            snprintf(name, sizeof name, "h.%d.%s", l, ln[k][i]);
            LLX_TRY(add_copy(wr, name, LLX_DT_F32, cfg->n_embd, 0, v, (size_t)cfg->n_embd * 4));
        }
    snprintf(name, sizeof name, "h.%d.act", l);
    LLX_TRY(add_copy(wr, name, LLX_DT_F32, LLX_SC_COUNT, 0, sc, LLX_SC_COUNT * 4));
    if (!o->kv_int8) return LLX_OK;
    const int n = cfg->n_head + 2 * llx_config_kv_heads(cfg);
    float *steps = malloc((size_t)n * sizeof *steps);
    if (!steps) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_quant_head_steps(cfg, c->m[LLX_OBS_QKV] + (size_t)l * c->width[LLX_OBS_QKV], steps);
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

/* fp32 data read from the checkpoint (status st), added under `name`. */
static llx_status add_read(llx_llx_writer *wr, const char *name, long long rows, long long cols, float *data,
                           llx_status st)
{
    if (st != LLX_OK) {
        free(data);
        return st;
    }
    return llx_llx_add(wr, name, LLX_DT_F32, rows, cols, data);
}

static llx_status add_vec(llx_llx_writer *wr, const llx_model *m, const char *name, llx_vec v)
{
    float *d = malloc((size_t)m->cfg.n_embd * 4);
    llx_status st = d ? llx_hf_read_vec(m->hf, -1, v, d) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    return add_read(wr, name, m->cfg.n_embd, 0, d, st);
}

/* The LM head in the scheme's format, and (untied) its fp32 rows for
 * --lm-head fp32. */
static llx_status add_lm_head(llx_llx_writer *wr, const llx_model *m, const llx_quant_opts *o)
{
    const llx_config *c = &m->cfg;
    float *lm = malloc((size_t)c->n_vocab * c->n_embd * 4);
    llx_status st = lm ? llx_hf_read_rows(m->hf, -1, LLX_MAT_LM_HEAD, 0, c->n_vocab, lm)
                       : llx_fail(LLX_ERR_NOMEM, "out of memory");
    const llx_qw_spec spec = llx_quant_lm_spec(o);
    if (st == LLX_OK) st = llx_qw_add(wr, "lm_head", lm, c->n_vocab, c->n_embd, &spec, NULL);
    if (st == LLX_OK && c->untied) return llx_llx_add(wr, "lm_head.f", LLX_DT_F32, c->n_vocab, c->n_embd, lm);
    free(lm);
    return st;
}

llx_status llx_quant_add_tokenizer(llx_llx_writer *wr, const llx_config *c, const char *dir)
{
    if (c->arch == LLX_ARCH_GPT2) {
        LLX_TRY(add_file(wr, dir, "vocab.json", "tokenizer.vocab"));
        return add_file(wr, dir, "merges.txt", "tokenizer.merges");
    }
    LLX_TRY(add_file(wr, dir, "tokenizer.json", "tokenizer.json"));
    static const char *const opt[3][2] = {{"tokenizer_config.json", "tokenizer.config"},
                                          {"generation_config.json", "tokenizer.generation"},
                                          {"config.json", "tokenizer.model_config"}};
    for (int i = 0; i < 3; i++) {
        char *p = llx_path_join(dir, opt[i][0]);
        const int there = p && llx_is_file(p);
        free(p);
        if (there) LLX_TRY(add_file(wr, dir, opt[i][0], opt[i][1]));
    }
    return LLX_OK;
}

static llx_status write_globals(llx_llx_writer *wr, const llx_model *m, const llx_quant_opts *o, const char *dir)
{
    const llx_config *c = &m->cfg;
    const size_t V = (size_t)c->n_vocab, C = (size_t)c->n_embd, P = (size_t)c->n_ctx;
    float *wte = malloc(V * C * 4);
    LLX_TRY(add_read(wr, "wte", c->n_vocab, c->n_embd, wte,
                     wte ? llx_hf_read_wte(m->hf, 0, c->n_vocab, wte) : llx_fail(LLX_ERR_NOMEM, "out of memory")));
    if (c->arch == LLX_ARCH_GPT2) {
        float *wpe = malloc(P * C * 4);
        LLX_TRY(add_read(wr, "wpe", c->n_ctx, c->n_embd, wpe,
                         wpe ? llx_hf_read_wpe(m->hf, 0, c->n_ctx, wpe) : llx_fail(LLX_ERR_NOMEM, "out of memory")));
    }
    LLX_TRY(add_vec(wr, m, "ln_f.g", LLX_VEC_LNF_G));
    if (c->arch == LLX_ARCH_GPT2) LLX_TRY(add_vec(wr, m, "ln_f.b", LLX_VEC_LNF_B));
    LLX_TRY(add_lm_head(wr, m, o));
    return llx_quant_add_tokenizer(wr, c, dir);
}

static llx_status build(const llx_model *m, const llx_quant_opts *o, calib *c, const int *ids, int seen,
                        const char *dir, const char *out)
{
    const llx_config *cfg = &m->cfg;
    llx_qinfo qi = {.act_mode = o->act_mode, .alpha = o->alpha, .calib_tokens = seen, .smooth_v = o->smooth_v,
                    .smooth_down = o->smooth_down, .s = llx_quant_scheme(o)};
    llx_llx_writer *wr;
    LLX_TRY(llx_llx_writer_create(&wr, cfg, &qi));
    llx_status st = LLX_OK;
    for (int l = 0; st == LLX_OK && l < cfg->n_layer; l++) {
        qlayer q;
        if ((st = cancelled(o)) != LLX_OK) break;
        float sc[LLX_SC_COUNT];
        st = read_layer(m->hf, cfg, l, &q);
        if (st == LLX_OK) st = llx_smooth_layer(cfg, c, o, l, &q, sc);
        if (st == LLX_OK) st = write_layer(wr, cfg, o, c, l, &q, sc);
        free_qlayer(&q);
        llx_quant_progress(o, "quantize", (double)(l + 1) / cfg->n_layer);
    }
    if (st == LLX_OK) st = write_globals(wr, m, o, dir);
    return llx_quant_finish_write(wr, st, o, ids, seen, out);
}

llx_status llx_quantize(const char *hf_dir, const llx_quant_opts *opts, const char *out_path)
{
    LLX_TRY(check_opts(opts));
    LLX_TRY(check_output(hf_dir, opts, out_path));
    llx_model *m;
    LLX_TRY(llx_model_open(&m, hf_dir));
    if (m->kind != LLX_MODEL_HF) {
        llx_model_close(m);
        return llx_fail(LLX_ERR_ARG, "quantize needs a HuggingFace model folder, not '%s'", hf_dir);
    }
    llx_quant_opts ov = *opts; /* the architecture's defaults (docs/quantization.md) */
    const llx_quant_opts *o = &ov;
    const int llama = m->cfg.arch == LLX_ARCH_LLAMA;
    if (ov.smooth_v < 0) ov.smooth_v = 0;
    if (ov.smooth_down < 0) ov.smooth_down = llama ? LLX_LLAMA_SMOOTH_DOWN : 0;
    if (!llama) ov.smooth_down = 0;
    calib c = {.L = m->cfg.n_layer};
    static const llx_slot slots[CALIB_POINTS] = {LLX_SLOT_H, LLX_SLOT_QKV, LLX_SLOT_CTX, LLX_SLOT_H, LLX_SLOT_MID};
    int *ids = NULL, total = 0;
    llx_status st = llx_quant_check_scheme(o, &m->cfg);
    if (st == LLX_OK) st = calib_ids(m, o, &ids, &total);
    if (st == LLX_OK && (o->gptq || o->rotate)) {
        st = llx_quantize_lowbit(m, o, ids, total, hf_dir, out_path);
        free(ids);
        llx_model_close(m);
        return st;
    }
    for (int p = 0; p < CALIB_POINTS && st == LLX_OK; p++) {
        c.width[p] = llx_slot_width(&m->cfg, slots[p]);
        c.m[p] = calloc((size_t)c.L * c.width[p], sizeof(float));
        if (!c.m[p]) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    if (st == LLX_OK) st = calibrate(m, o, ids, total, &c);
    if (st == LLX_OK) st = build(m, o, &c, ids, total, hf_dir, out_path);
    for (int p = 0; p < CALIB_POINTS; p++) free(c.m[p]);
    free(ids);
    llx_model_close(m);
    return st;
}
