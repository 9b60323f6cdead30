/* quant/lowbit.c - quantizing through a transformed fp32 model: with
 * Hadamard rotations or GPTQ, the HF model is loaded whole (fmodel.c),
 * rotated, and written as an fp32 .llx image in memory; the engine runs
 * that image over the calibration text, and an observer collects, in the
 * transformed model's own coordinates, the per-channel maxima every static
 * scale comes from and (GPTQ) the Hessian of every matrix's input, layer
 * by layer within a memory budget.  The weights are then read back from
 * the image, rounded (RTN or GPTQ) and written with everything else. */
#include "quant/lowbit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "quant/fmodel.h"
#include "quant/gptqseq.h"
#include "quant/hessian.h"
#include "quant/scheme.h"
#include "util/status.h"

#define HESS_BUDGET ((size_t)1 << 30) /* bytes of Hessians held at once (default) */

/* the four matrix inputs of a layer, by observation point */
enum { IN_QKV, IN_PROJ, IN_FC1, IN_FC2, IN_COUNT };

typedef struct lb_calib {
    const llx_config *c;
    int down_point;        /* LLX_OBS_GELU, or LLX_OBS_DOWN_IN with the online transform */
    float *max[IN_COUNT];  /* [L][width] max |x| of each input */
    float *qkv_max;        /* [L][QKV width] */
    llx_hess *h;           /* [L][IN_COUNT] for layers [h0, h1), or NULL */
    int h0, h1;
    const llx_kernels *k;
    llx_pool *pool;        /* the Hessians' products (NULL: the observing thread) */
    int cap_layer;         /* the layer whose incoming residual stream goes to cap (-1: none) */
    float *cap;            /* this window's rows of it */
    int capped;            /* rows of cap the last pass filled */
} lb_calib;

static int in_of(const lb_calib *c, llx_obs_point p)
{
    if (p == LLX_OBS_LN1) return IN_QKV;
    if (p == LLX_OBS_CTX) return IN_PROJ;
    if (p == LLX_OBS_LN2) return IN_FC1;
    if ((int)p == c->down_point) return IN_FC2;
    return -1;
}

static int in_width(const llx_config *c, int i)
{
    return i == IN_FC2 ? c->n_inner : i == IN_PROJ ? llx_slot_width(c, LLX_SLOT_CTX) : c->n_embd;
}

static void maxima(float *m, const float *x, int tokens, int width)
{
    for (int t = 0; t < tokens; t++)
        for (int j = 0; j < width; j++) {
            const float a = fabsf(x[(size_t)t * width + j]);
            if (a > m[j]) m[j] = a;
        }
}

static void observe(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    lb_calib *c = ud;
    if (p == LLX_OBS_X_IN) {
        if (layer == c->cap_layer && c->cap && width == c->c->n_embd) {
            memcpy(c->cap, x, (size_t)tokens * width * sizeof *x);
            c->capped = tokens;
        }
        return;
    }
    if (p == LLX_OBS_QKV) {
        maxima(c->qkv_max + (size_t)layer * width, x, tokens, width);
        return;
    }
    const int i = in_of(c, p);
    if (i < 0) return;
    maxima(c->max[i] + (size_t)layer * width, x, tokens, width);
    if (c->h && layer >= c->h0 && layer < c->h1)
        llx_hess_add(&c->h[(layer - c->h0) * IN_COUNT + i], c->k, x, tokens, width, c->pool);
}

static llx_status cancelled(const llx_quant_opts *o)
{
    return o->cancel && *o->cancel ? llx_fail(LLX_ERR_CANCELLED, "interrupted") : LLX_OK;
}


void llx_quant_progress(const llx_quant_opts *o, const char *phase, double f)
{
    if (o->progress) o->progress(o->progress_ud, phase, f);
}

llx_status llx_quant_finish_write(llx_llx_writer *wr, llx_status st, const llx_quant_opts *o, const int *ids,
                                  int total, const char *out)
{
    if (st != LLX_OK) {
        llx_llx_writer_free(wr);
        return st;
    }
    if (o->act_clip_auto) return llx_quant_write_clip_auto(wr, o, ids, total, out);
    llx_quant_progress(o, "write", 0.0);
    llx_llx_writer_set_cancel(wr, o->cancel);
    st = llx_llx_write(wr, out);
    llx_quant_progress(o, "write", 1.0);
    return st;
}

llx_status llx_quant_hess_pool(llx_pool **pool, const llx_quant_opts *o)
{
    const int n = o->threads > 0 ? o->threads : llx_cpu_count();
    *pool = NULL;
    return n > 1 ? llx_pool_create(pool, n, 0) : LLX_OK; /* no spinning beside the engine's threads */
}

int llx_quant_window(const llx_model *m, const llx_quant_opts *o)
{
    return o->window < m->cfg.n_ctx ? o->window : m->cfg.n_ctx;
}

llx_status llx_quant_run_calib(const llx_model *m, const llx_quant_opts *o, llx_precision prec, const int *ids,
                               int total, const llx_observer *obs, const char *phase)
{
    llx_engine_opts eo = llx_engine_defaults();
    if (o->threads > 0) eo.threads = o->threads;
    eo.precision = prec;
    const int window = llx_quant_window(m, o);
    eo.max_batch = window;
    llx_engine *e = NULL;
    float *logits = malloc((size_t)m->cfg.n_vocab * sizeof *logits);
    llx_status st = logits ? llx_engine_create(&e, m, &eo) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) llx_engine_set_observer(e, obs);
    for (int done = 0; st == LLX_OK && done < total;) {
        const int w = total - done < window ? total - done : window;
        if ((st = cancelled(o)) != LLX_OK) break;
        llx_engine_reset(e);
        st = llx_engine_forward(e, ids + done, w, logits, 0);
        done += w;
        llx_quant_progress(o, phase, (double)done / total);
    }
    llx_engine_free(e);
    free(logits);
    return st;
}

/* The calibration runs of the fp32 image (the quantized datapath, all
 * fp32) for `layers`.  The run for layers [h0, h1) starts at layer h0
 * from the residual stream the run before it saw entering h0 (x_in; a
 * pass started there reports what a whole pass would from there on, bit
 * for bit: llx_engine_set_layer_begin) and is cut after layer h1 - 1 (no
 * final norm, no LM head); the cut pass still reports the stream entering
 * h1, which goes into x_next.  The engine (with its own copy of the
 * weights) is made for a run when there is none; `layers` frees it before
 * GPTQ. */
typedef struct calib_runs {
    const llx_model *fm;
    const llx_quant_opts *o;
    llx_engine *e;
    float *x_in, *x_next; /* [total][n_embd], when there is more than one run */
    int window;
} calib_runs;

static llx_status runs_open(calib_runs *r, const llx_model *fm, const llx_quant_opts *o, int total, int several)
{
    memset(r, 0, sizeof *r);
    r->fm = fm, r->o = o;
    r->window = llx_quant_window(fm, o);
    if (!several) return LLX_OK;
    const size_t n = (size_t)total * fm->cfg.n_embd * sizeof(float);
    r->x_in = malloc(n), r->x_next = malloc(n);
    return r->x_in && r->x_next ? LLX_OK
                                : llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB of residual streams)", (2 * n) >> 20);
}

static void runs_close(calib_runs *r)
{
    llx_engine_free(r->e);
    free(r->x_in), free(r->x_next);
    memset(r, 0, sizeof *r);
}

static llx_status run_calib(calib_runs *r, const llx_quant_opts *o, const int *ids, int total, lb_calib *cb, int h0,
                            int h1)
{
    const int L = cb->c->n_layer, C = cb->c->n_embd;
    if (!r->e) LLX_TRY(llx_gptq_seq_ref_engine(&r->e, r->fm, r->o)); /* the fp32 image's windows, from position 0 */
    const llx_observer obs = {observe, NULL, cb};
    llx_engine_set_observer(r->e, &obs);
    cb->cap_layer = h1 < L && r->x_next ? h1 : -1;
    llx_status st = llx_engine_set_layer_end(r->e, h1); /* h1 < L: the cut pass still reports the stream entering h1 */
    for (int done = 0; st == LLX_OK && done < total;) {
        const int n = total - done < r->window ? total - done : r->window;
        if ((st = cancelled(o)) != LLX_OK) break;
        llx_engine_reset(r->e);
        st = llx_engine_set_layer_begin(r->e, h0, h0 ? r->x_in + (size_t)done * C : NULL);
        cb->cap = cb->cap_layer >= 0 ? r->x_next + (size_t)done * C : NULL;
        cb->capped = 0;
        if (st == LLX_OK) st = llx_engine_forward(r->e, ids + done, n, NULL, 0);
        if (st == LLX_OK && cb->cap && cb->capped != n)
            st = llx_fail(LLX_ERR_INTERNAL, "calibration: the stream entering layer %d was not observed", h1);
        done += n;
        llx_quant_progress(o, "calibrate", (double)done / total);
    }
    llx_engine_set_observer(r->e, NULL);
    cb->cap = NULL;
    if (st == LLX_OK && cb->cap_layer >= 0) { /* the next run starts at h1 */
        float *t = r->x_in;
        r->x_in = r->x_next, r->x_next = t;
    }
    return st;
}

static float step_of(const float *m, int n)
{
    float a = 0.0f;
    for (int i = 0; i < n; i++) a = m[i] > a ? m[i] : a;
    return a > 0.0f ? a / 127.0f : 1.0f;
}

static llx_status copy_tensor(llx_llx_writer *wr, const llx_model *fm, const char *name, llx_dtype dt, long long r,
                              long long c)
{
    const void *p = llx_llx_tensor(fm->qf, name, dt, r, c);
    if (!p) return LLX_ERR_FORMAT;
    const size_t n = (size_t)r * (size_t)(c ? c : 1) * (dt == LLX_DT_F32 ? 4 : 1);
    void *d = malloc(n ? n : 1);
    if (!d) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    memcpy(d, p, n);
    return llx_llx_add(wr, name, dt, r, c, d);
}

/* A matrix of the image, rounded (GPTQ with h, else RTN) into the output;
 * with h's cross term, GPTQ rounds the asymmetric target (hessian.h). */
static llx_status add_matrix(llx_llx_writer *wr, const llx_model *fm, const char *pre, int rows, int cols,
                             const llx_qw_spec *spec, llx_hess *h, double asym_alpha)
{
    char name[64];
    snprintf(name, sizeof name, "%s.w", pre);
    const float *src = llx_llx_tensor(fm->qf, name, LLX_DT_F32, rows, cols);
    if (!src) return LLX_ERR_FORMAT;
    float *w = malloc((size_t)rows * cols * sizeof *w);
    double *hc = h ? malloc((size_t)cols * cols * sizeof *hc) : NULL;
    if (!w || (h && !hc)) {
        free(w), free(hc);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    memcpy(w, src, (size_t)rows * cols * sizeof *w);
    const double *hm = h ? llx_hess_matrix(h) : NULL;
    if (h) memcpy(hc, hm, (size_t)cols * cols * sizeof *hc); /* GPTQ overwrites it */
    llx_status st = LLX_OK;
    if (h && h->c)
        st = llx_hess_asym_target(w, rows, cols, hm, h->c, spec->gptq.damp, asym_alpha, spec->gptq.threads);
    if (st == LLX_OK) st = llx_qw_add(wr, pre, w, rows, cols, spec, hc);
    free(w), free(hc);
    return st;
}

/* the input a layer matrix multiplies: FC1 (Llama: up) and GATE share theirs */
static int input_of(llx_matrix m)
{
    return m == LLX_MAT_QKV ? IN_QKV : m == LLX_MAT_PROJ ? IN_PROJ : m == LLX_MAT_FC2 ? IN_FC2 : IN_FC1;
}

static llx_status write_layer(llx_llx_writer *wr, const llx_model *fm, const llx_quant_opts *o, const lb_calib *cb,
                              int l)
{
    static const char *const norms[4] = {"ln1.g", "ln2.g", "ln1.b", "ln2.b"};
    const llx_config *c = cb->c;
    const int gpt2 = c->arch == LLX_ARCH_GPT2; /* Llama: no biases, RMSNorm weights only */
    const llx_qw_spec spec = llx_quant_layer_spec(o);
    char name[64];
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        if (!rows) continue;
        /* GPTQ with the Hessians of this pass, else to nearest */
        llx_hess *h = cb->h ? &cb->h[(l - cb->h0) * IN_COUNT + input_of((llx_matrix)m)] : NULL;
        snprintf(name, sizeof name, "h.%d.%s", l, llx_matrix_name((llx_matrix)m));
        LLX_TRY(add_matrix(wr, fm, name, rows, cols, &spec, h, 0.0));
        if (!gpt2) continue;
        snprintf(name, sizeof name, "h.%d.%s.b", l, llx_matrix_name((llx_matrix)m));
        LLX_TRY(copy_tensor(wr, fm, name, LLX_DT_F32, rows, 0));
    }
    for (int i = 0; i < (gpt2 ? 4 : 2); i++) {
        snprintf(name, sizeof name, "h.%d.%s", l, norms[i]);
        LLX_TRY(copy_tensor(wr, fm, name, LLX_DT_F32, c->n_embd, 0));
    }
    const int C = c->n_embd, qw = llx_slot_width(c, LLX_SLOT_QKV), d = llx_config_head_dim(c);
    const int NH = c->n_head, KV = llx_config_kv_heads(c);
    const float *qm = cb->qkv_max + (size_t)l * qw;
    float *sc = calloc(LLX_SC_COUNT, sizeof *sc);
    if (!sc) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    sc[LLX_SC_LN1] = step_of(cb->max[IN_QKV] + (size_t)l * C, C);
    sc[LLX_SC_Q] = step_of(qm, NH * d);
    sc[LLX_SC_K] = step_of(qm + NH * d, KV * d);
    sc[LLX_SC_V] = step_of(qm + (NH + KV) * d, KV * d);
    const int cw = in_width(c, IN_PROJ);
    sc[LLX_SC_CTX] = step_of(cb->max[IN_PROJ] + (size_t)l * cw, cw);
    sc[LLX_SC_LN2] = step_of(cb->max[IN_FC1] + (size_t)l * C, C);
    sc[LLX_SC_GELU] = step_of(cb->max[IN_FC2] + (size_t)l * c->n_inner, c->n_inner);
    snprintf(name, sizeof name, "h.%d.act", l);
    LLX_TRY(llx_llx_add(wr, name, LLX_DT_F32, LLX_SC_COUNT, 0, sc));
    if (!o->kv_int8) return LLX_OK;
    float *steps = malloc((size_t)(NH + 2 * KV) * sizeof *steps);
    if (!steps) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_quant_head_steps(c, qm, steps);
    snprintf(name, sizeof name, "h.%d.kv", l);
    return llx_llx_add(wr, name, LLX_DT_F32, NH + 2 * KV, 0, steps);
}

/* c: the HF model's config (fm's is untied = 0) */
static llx_status write_globals(llx_llx_writer *wr, const llx_model *fm, const llx_config *c, const llx_quant_opts *o,
                                const char *dir)
{
    const llx_qw_spec lm = llx_quant_lm_spec(o);
    const int gpt2 = c->arch == LLX_ARCH_GPT2;
    LLX_TRY(copy_tensor(wr, fm, "wte", LLX_DT_F32, c->n_vocab, c->n_embd));
    if (gpt2) LLX_TRY(copy_tensor(wr, fm, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd));
    LLX_TRY(copy_tensor(wr, fm, "ln_f.g", LLX_DT_F32, c->n_embd, 0));
    if (gpt2) LLX_TRY(copy_tensor(wr, fm, "ln_f.b", LLX_DT_F32, c->n_embd, 0));
    LLX_TRY(add_matrix(wr, fm, "lm_head", c->n_vocab, c->n_embd, &lm, NULL, 0.0));
    /* untied (Llama): the image's LM head, final norm folded in when rotated, for --lm-head fp32 */
    if (c->untied) {
        const void *p = llx_llx_tensor(fm->qf, "lm_head.w", LLX_DT_F32, c->n_vocab, c->n_embd);
        if (!p) return LLX_ERR_FORMAT;
        const size_t n = (size_t)c->n_vocab * c->n_embd * sizeof(float);
        void *d = malloc(n);
        if (!d) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        memcpy(d, p, n);
        LLX_TRY(llx_llx_add(wr, "lm_head.f", LLX_DT_F32, c->n_vocab, c->n_embd, d));
    }
    if (llx_llx_qinfo(fm->qf)->s.lm_bias) LLX_TRY(copy_tensor(wr, fm, "lm_head.b", LLX_DT_F32, c->n_vocab, 0));
    if (llx_llx_qinfo(fm->qf)->s.had_down) LLX_TRY(copy_tensor(wr, fm, "down.signs", LLX_DT_I8, c->n_inner, 0));
    return llx_quant_add_tokenizer(wr, c, dir);
}

static void free_hess(lb_calib *cb, int n)
{
    for (int i = 0; cb->h && i < n; i++) llx_hess_free(&cb->h[i]);
    free(cb->h);
    cb->h = NULL;
}

/* Layers per Hessian pass: as many as the budget holds (at least one); a
 * Hessian is its K x K doubles (hessian.h: the scratch is 64 x K floats a
 * thread). */
static int layers_per_pass(const llx_config *c, size_t budget)
{
    size_t per = 0;
    for (int i = 0; i < IN_COUNT; i++) per += (size_t)in_width(c, i) * in_width(c, i) * 8;
    const size_t n = (budget ? budget : HESS_BUDGET) / (per ? per : 1);
    return n < 1 ? 1 : n > (size_t)c->n_layer ? c->n_layer : (int)n;
}

/* --gptq-hessian a4: the Hessians of the int4 codes, at the run's clip
 * ratio (1 with --act-clip auto, whose ratio is chosen after rounding) */
static llx_status hess_alloc(lb_calib *cb, const llx_quant_opts *o, int h0, int h1)
{
    cb->h0 = h0, cb->h1 = h1;
    const int n = (h1 - h0) * IN_COUNT;
    cb->h = calloc((size_t)n, sizeof *cb->h);
    if (!cb->h) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const float clip = o->act_clip > 0.0f && !o->act_clip_auto ? o->act_clip : 1.0f;
    for (int i = 0; i < n; i++) {
        LLX_TRY(llx_hess_init(&cb->h[i], in_width(cb->c, i % IN_COUNT), o->window));
        cb->h[i].a4_clip = o->gptq_hess_a4 ? clip : 0.0f;
    }
    return LLX_OK;
}

/* Every layer into wr: maxima from the first pass, Hessians pass by pass. */
static llx_status layers(llx_llx_writer *wr, const llx_model *fm, const llx_quant_opts *o, lb_calib *cb, const int *ids,
                         int total)
{
    const int L = fm->cfg.n_layer, per = o->gptq ? layers_per_pass(&fm->cfg, o->gptq_hess_bytes) : L;
    calib_runs runs;
    llx_status st = runs_open(&runs, fm, o, total, per < L);
    for (int h0 = 0; st == LLX_OK && h0 < L; h0 += per) {
        const int h1 = h0 + per < L ? h0 + per : L;
        if (o->gptq) st = hess_alloc(cb, o, h0, h1);
        if (st == LLX_OK) st = run_calib(&runs, o, ids, total, cb, h0, h1);
        llx_engine_free(runs.e); /* GPTQ runs without the engine's copy of the weights */
        runs.e = NULL;
        for (int l = h0; st == LLX_OK && l < h1; l++) {
            st = cancelled(o);
            if (st == LLX_OK) st = write_layer(wr, fm, o, cb, l);
            llx_quant_progress(o, o->gptq ? "gptq" : "quantize", (double)(l + 1) / L);
        }
        free_hess(cb, (h1 - h0) * IN_COUNT);
    }
    runs_close(&runs);
    return st;
}

/* Matrix input j's matrices (layer j / IN_COUNT) rounded by GPTQ with h
 * (with a cross term: on the asymmetric target) into wr. */
static llx_status seq_gptq(llx_llx_writer *wr, const llx_model *fm, const llx_quant_opts *o, const llx_config *c, int j,
                           llx_hess *h)
{
    const llx_qw_spec spec = llx_quant_layer_spec(o);
    char name[64];
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        if (!rows || input_of((llx_matrix)m) != j % IN_COUNT) continue;
        snprintf(name, sizeof name, "h.%d.%s", j / IN_COUNT, llx_matrix_name((llx_matrix)m));
        LLX_TRY(add_matrix(wr, fm, name, rows, cols, &spec, h, o->gptq_asym_alpha));
    }
    return LLX_OK;
}

/* --gptq-calib seq|asym: after the maxima's pass over the fp32 image, the
 * matrix inputs in order (layer by layer; QKV, PROJ, FC1 with GATE, FC2):
 * image k holds the inputs before k rounded as they will be stored
 * (GPTQ), the rest to nearest; the engine runs it and input k's Hessian
 * (asym: and the cross term with the fp32 image's input) rounds input k's
 * matrices into image k + 1.  The last image is the output, written to
 * `out` here.  Every image borrows its tensors: the model rounded to
 * nearest is made once (rtn), the GPTQ matrices collect in gq and stand
 * in for their rtn namesakes.  An image is needed only while its own
 * input is observed, so every image is written into the same buffer. */
static llx_status seq_layers(const llx_model *fm, const llx_config *c, const llx_qinfo *qi, const llx_quant_opts *o,
                             lb_calib *cb, const int *ids, int total, const char *dir, const char *out)
{
    const int n = c->n_layer * IN_COUNT, asym = o->gptq_calib == LLX_GPTQ_CALIB_ASYM;
    const int point[IN_COUNT] = {LLX_OBS_LN1, LLX_OBS_CTX, LLX_OBS_LN2, cb->down_point};
    calib_runs runs;
    llx_status st = runs_open(&runs, fm, o, total, 0);
    if (st == LLX_OK) st = run_calib(&runs, o, ids, total, cb, 0, c->n_layer); /* the maxima */
    void *img = NULL;
    size_t img_cap = 0;
    llx_hess h = {0};
    llx_engine *ref = NULL; /* asym: the fp32 model's engine, the same for every input: the one that ran */
    if (st == LLX_OK && asym) ref = runs.e, runs.e = NULL;
    runs_close(&runs);
    llx_seq_streams ss = {0};
    llx_llx_writer *rtn = NULL, *gq = NULL, *wr = NULL;
    if (st == LLX_OK) st = llx_llx_writer_create(&rtn, c, qi);
    for (int l = 0; st == LLX_OK && l < c->n_layer; l++) st = write_layer(rtn, fm, o, cb, l);
    if (st == LLX_OK) st = write_globals(rtn, fm, c, o, dir);
    if (st == LLX_OK) st = llx_llx_writer_create(&gq, c, qi);
    for (int k = 0; st == LLX_OK && k <= n; k++) {
        st = cancelled(o);
        if (st == LLX_OK && k > 0) st = seq_gptq(gq, fm, o, c, k - 1, &h);
        llx_hess_free(&h);
        if (st == LLX_OK) st = llx_llx_writer_create(&wr, c, qi);
        if (st == LLX_OK) st = llx_llx_add_refs_over(wr, rtn, gq);
        if (st != LLX_OK || k == n) break;
        size_t size = 0;
        llx_model *qm = NULL;
        st = llx_llx_write_mem_reuse(wr, &img, &size, &img_cap);
        wr = NULL; /* freed by the write */
        if (st == LLX_OK) st = llx_model_open_image(&qm, img, size, "the partly quantized model");
        const int K = in_width(c, k % IN_COUNT);
        if (st == LLX_OK) st = asym ? llx_hess_init_cross(&h, K, o->window) : llx_hess_init(&h, K, o->window);
        if (st == LLX_OK)
            st = llx_gptq_seq_observe(qm, ref, o, ids, total, k / IN_COUNT, point[k % IN_COUNT], &h, &ss);
        llx_model_close(qm); /* the next image goes into its buffer */
        llx_quant_progress(o, "gptq", (double)(k + 1) / n);
    }
    llx_hess_free(&h);
    llx_engine_free(ref);
    llx_seq_streams_free(&ss);
    free(img);
    /* the output borrows from rtn and gq: written while they are here */
    st = llx_quant_finish_write(wr, st, o, ids, total, out);
    llx_llx_writer_free(gq);
    llx_llx_writer_free(rtn);
    return st;
}

static llx_status quantize_image(const llx_model *m, const llx_model *fm, const llx_quant_opts *o, const int *ids,
                                 int total, const char *dir, const char *out)
{
    const llx_config *c = &m->cfg;
    lb_calib cb = {.c = c, .k = llx_kernels_select("auto")};
    cb.down_point = llx_llx_qinfo(fm->qf)->s.had_down ? LLX_OBS_DOWN_IN : LLX_OBS_GELU;
    llx_status st = o->gptq ? llx_quant_hess_pool(&cb.pool, o) : LLX_OK;
    for (int i = 0; i < IN_COUNT && st == LLX_OK; i++)
        if (!(cb.max[i] = calloc((size_t)c->n_layer * in_width(c, i), sizeof(float))))
            st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    cb.qkv_max = calloc((size_t)c->n_layer * llx_slot_width(c, LLX_SLOT_QKV), sizeof(float));
    if (st == LLX_OK && !cb.qkv_max) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_qinfo qi = {.act_mode = o->act_mode, .alpha = 0.0f, .calib_tokens = total, .s = llx_quant_scheme(o)};
    qi.s.lm_bias = llx_llx_qinfo(fm->qf)->s.lm_bias;
    qi.s.rotate_hash = llx_llx_qinfo(fm->qf)->s.rotate_hash;
    llx_llx_writer *wr = NULL;
    if (st == LLX_OK && o->gptq && o->gptq_calib != LLX_GPTQ_CALIB_FP) {
        st = seq_layers(fm, c, &qi, o, &cb, ids, total, dir, out);
    } else {
        if (st == LLX_OK) st = llx_llx_writer_create(&wr, c, &qi);
        if (st == LLX_OK) st = layers(wr, fm, o, &cb, ids, total);
        if (st == LLX_OK) st = write_globals(wr, fm, c, o, dir);
        st = llx_quant_finish_write(wr, st, o, ids, total, out);
    }
    for (int i = 0; i < IN_COUNT; i++) free(cb.max[i]);
    free(cb.qkv_max);
    llx_pool_free(cb.pool);
    return st;
}

llx_status llx_quantize_lowbit(const llx_model *m, const llx_quant_opts *o, const int *ids, int total,
                               const char *dir, const char *out)
{
    if (o->alpha > 0.0f)
        return llx_fail(LLX_ERR_ARG, "smoothing is not combined with --rotate or --method gptq: give --alpha 0");
    llx_rotfile rf = {0};
    if (o->rotate == LLX_ROTATE_HADAMARD && o->rotate_file) LLX_TRY(llx_rotfile_load(&rf, o->rotate_file, &m->cfg));
    llx_fmodel fmod;
    llx_status st = llx_fmodel_load(&fmod, m);
    const uint64_t seed = (uint64_t)(unsigned)o->rotate_seed;
    if (st == LLX_OK && o->rotate == LLX_ROTATE_HADAMARD)
        st = llx_fmodel_rotate(&fmod, seed, o->rotate_file ? &rf : NULL);
    else if (st == LLX_OK && o->rotate == LLX_ROTATE_R4) st = llx_fmodel_rotate_down(&fmod, seed);
    llx_rotfile_free(&rf);
    void *img = NULL;
    size_t size = 0;
    if (st == LLX_OK) st = llx_fmodel_image(&fmod, dir, &img, &size);
    else llx_fmodel_free(&fmod);
    llx_model *fm = NULL;
    if (st == LLX_OK) st = llx_model_open_image(&fm, img, size, "the transformed fp32 model");
    if (st == LLX_OK) st = quantize_image(m, fm, o, ids, total, dir, out);
    llx_model_close(fm);
    free(img);
    return st;
}
