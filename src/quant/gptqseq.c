/* quant/gptqseq.c - sequential and asymmetric GPTQ calibration
 * (--gptq-calib seq|asym, lowbit.c drives it): the Hessian of one matrix
 * input of one layer, taken from the partly quantized model.  The engine
 * runs that model's image (every matrix before this one already rounded
 * as it will be stored, its activations quantized as the engine always
 * quantizes them) over the calibration windows, each pass cut after the
 * watched input's stage (llx_engine_set_stop_after) and started at the watched
 * layer or the one before from the residual stream a previous pass left
 * there (llx_engine_set_layer_begin), and an observer keeps the
 * watched input exactly as the matrix multiplies it: the int8/int4 codes
 * times their per-token (or static) scale.  For the asymmetric objective
 * the fp32 transformed model runs the same window beside it and the cross
 * term sum_t x_t xq_t^T of its input is accumulated too (hessian.h). */
#include "quant/gptqseq.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "quant/lowbit.h"
#include "util/status.h"

typedef struct seq_watch {
    int layer, point, width;
    float *x;      /* [window][width] the watched input of this window */
    int tokens;    /* rows of x filled by the last pass, 0 = not reported */
    int bad_width; /* reported with another width */
    float *cap;    /* NULL, or where this window's residual stream entering `layer` goes */
    int capped;    /* rows of cap filled by the last pass */
} seq_watch;

static int watched(seq_watch *w, int layer, llx_obs_point p, int tokens, int width)
{
    if (layer != w->layer || (int)p != w->point) return 0;
    if (width != w->width) {
        w->bad_width = 1;
        return 0;
    }
    w->tokens = tokens;
    return 1;
}

/* the quantized model: what the matrix multiplies, codes times scales */
static void seen8(void *ud, int layer, llx_obs_point p, const int8_t *q, const float *s, int tokens, int width)
{
    seq_watch *w = ud;
    if (!watched(w, layer, p, tokens, width)) return;
    for (int t = 0; t < tokens; t++)
        for (int i = 0; i < width; i++) w->x[(size_t)t * width + i] = s[t] * (float)q[(size_t)t * width + i];
}

/* an fp32 output: the reference model's inputs (and a quantized model's
 * fp32 matrix inputs, where a scheme keeps one in fp32) */
static void seen32(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width)
{
    seq_watch *w = ud;
    if (w->cap && p == LLX_OBS_X_IN && layer == w->layer) {
        memcpy(w->cap, x, (size_t)tokens * width * sizeof *x);
        w->capped = tokens;
    }
    if (watched(w, layer, p, tokens, width)) memcpy(w->x, x, (size_t)tokens * width * sizeof *x);
}

static llx_status make_engine(llx_engine **e, const llx_model *m, const llx_quant_opts *o, llx_precision prec)
{
    llx_engine_opts eo = llx_engine_defaults();
    if (o->threads > 0) eo.threads = o->threads;
    eo.precision = prec;
    eo.max_batch = llx_quant_window(m, o);
    eo.max_ctx = eo.max_batch; /* each window runs from position 0: no KV cache past it */
    return llx_engine_create(e, m, &eo);
}

llx_status llx_gptq_seq_ref_engine(llx_engine **out, const llx_model *fm, const llx_quant_opts *o)
{
    return make_engine(out, fm, o, LLX_PREC_W8A8_STATIC);
}

void llx_seq_streams_free(llx_seq_streams *s)
{
    free(s->q), free(s->f), free(s->nq), free(s->nf);
    memset(s, 0, sizeof *s);
}

/* One window (tokens [done, done + n)) through engine e from layer
 * `from` (its incoming stream in x), cut after the watched layer (no
 * logits); the watched input, and the stream entering the watched layer
 * when it is taken (into cap), must have been reported. */
static llx_status pass(llx_engine *e, seq_watch *w, const int *ids, int done, int n, int from, const float *x,
                       float *cap, int C)
{
    w->tokens = 0;
    w->capped = 0;
    w->cap = cap ? cap + (size_t)done * C : NULL;
    llx_engine_reset(e);
    LLX_TRY(llx_engine_set_layer_begin(e, from, from ? x + (size_t)done * C : NULL));
    LLX_TRY(llx_engine_forward(e, ids + done, n, NULL, 0));
    if (w->bad_width || w->tokens != n || (cap && w->capped != n))
        return llx_fail(LLX_ERR_INTERNAL, "sequential GPTQ: layer %d's input %d was not observed as expected", w->layer,
                        w->point);
    return LLX_OK;
}

/* The streams entering `layer` about to be taken (NULL: not taken now). */
static llx_status stream_bufs(llx_seq_streams *ss, int layer, int take_f, size_t n, float **cq, float **cf)
{
    *cq = *cf = NULL;
    if (layer != ss->layer + 1) return LLX_OK;
    if (!ss->nq) ss->nq = malloc(n * sizeof *ss->nq);
    if (take_f && !ss->nf) ss->nf = malloc(n * sizeof *ss->nf);
    if (!ss->nq || (take_f && !ss->nf)) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    *cq = ss->nq, *cf = take_f ? ss->nf : NULL;
    return LLX_OK;
}

llx_status llx_gptq_seq_observe(const llx_model *qm, llx_engine *ref, const llx_quant_opts *o, const int *ids,
                                int total, int layer, int point, llx_hess *h, llx_seq_streams *ss)
{
    const int window = llx_quant_window(qm, o), K = h->K, C = qm->cfg.n_embd, from = ss->layer;
    if (layer != from && layer != from + 1)
        return llx_fail(LLX_ERR_INTERNAL, "sequential GPTQ: layer %d after the streams of layer %d", layer, from);
    seq_watch wq = {.layer = layer, .point = point, .width = K}, wf = wq;
    float *cq, *cf;
    LLX_TRY(stream_bufs(ss, layer, ref != NULL, (size_t)total * C, &cq, &cf));
    const llx_observer oq = {seen32, seen8, &wq}, of = {seen32, NULL, &wf};
    const llx_precision prec = o->act_mode == LLX_ACT_DYNAMIC ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
    const llx_kernels *k = llx_kernels_select("auto");
    llx_engine *eq = NULL;
    llx_pool *pool = NULL;
    wq.x = malloc((size_t)window * K * sizeof *wq.x);
    wf.x = ref ? malloc((size_t)window * K * sizeof *wf.x) : NULL;
    llx_status st = wq.x && (!ref || wf.x) ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) st = llx_quant_hess_pool(&pool, o);
    if (st == LLX_OK) st = make_engine(&eq, qm, o, prec);
    if (st == LLX_OK) llx_engine_set_observer(eq, &oq);
    if (st == LLX_OK && ref) llx_engine_set_observer(ref, &of);
    /* the stages after the watched input cannot change what it sees */
    if (st == LLX_OK) st = llx_engine_set_layer_end(eq, layer + 1);
    if (st == LLX_OK) st = llx_engine_set_stop_after(eq, layer, point);
    if (st == LLX_OK && ref) st = llx_engine_set_layer_end(ref, layer + 1);
    if (st == LLX_OK && ref) st = llx_engine_set_stop_after(ref, layer, point);
    for (int done = 0; st == LLX_OK && done < total;) {
        const int n = total - done < window ? total - done : window;
        if (o->cancel && *o->cancel) st = llx_fail(LLX_ERR_CANCELLED, "interrupted");
        if (st == LLX_OK) st = pass(eq, &wq, ids, done, n, from, ss->q, cq, C);
        if (st == LLX_OK && ref) st = pass(ref, &wf, ids, done, n, from, ss->f, cf, C);
        if (st == LLX_OK && ref) llx_hess_add_cross(h, k, wf.x, wq.x, n, K, pool);
        else if (st == LLX_OK) llx_hess_add(h, k, wq.x, n, K, pool);
        done += n;
    }
    llx_engine_free(eq);
    llx_pool_free(pool);
    if (ref) llx_engine_set_observer(ref, NULL); /* of and wf end here; the caller keeps ref */
    if (ref && llx_engine_set_layer_begin(ref, 0, NULL) != LLX_OK) st = st == LLX_OK ? LLX_ERR_INTERNAL : st;
    if (ref) llx_engine_set_stop_after(ref, 0, -1); /* whole passes again (cannot fail) */
    free(wq.x), free(wf.x);
    if (st == LLX_OK && cq) { /* the streams entering `layer` are held from now on */
        float *t = ss->q;
        ss->q = ss->nq, ss->nq = t;
        t = ss->f, ss->f = ss->nf, ss->nf = t;
        ss->layer = layer;
    }
    return st;
}
