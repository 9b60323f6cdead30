/* quant/actclip.c - --act-clip auto: the W4A4 file is written into memory
 * once, and each clip ratio of a small grid is tried on it (only the
 * scheme record changes) by running the engine over the calibration
 * tokens; the ratio of least mean negative log-likelihood (ties: the
 * larger ratio) is recorded and the image written to the output. */
#include <stdlib.h>

#include "quant/lowbit.h"
#include "util/file.h"
#include "util/status.h"

/* the candidates, largest first (docs/quantization.md) */
static const float grid[] = {1.0f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f};
#define GRID_N ((int)(sizeof grid / sizeof *grid))

/* The calibration NLL of the image with clip ratio c. */
static llx_status nll_at(void *img, size_t size, const llx_quant_opts *o, const int *ids, int total, float c,
                         double *nll)
{
    LLX_TRY(llx_llx_image_set_act_clip(img, size, c));
    llx_model *m = NULL;
    LLX_TRY(llx_model_open_image(&m, img, size, "the quantized model"));
    llx_engine_opts eo = llx_engine_defaults();
    if (o->threads > 0) eo.threads = o->threads;
    eo.precision = o->act_mode == LLX_ACT_DYNAMIC ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
    const int ctx = llx_quant_window(m, o), win = total < ctx ? total : ctx;
    eo.max_batch = win;
    eo.max_ctx = win;
    llx_engine *e = NULL;
    llx_ppl_result r;
    llx_status st = llx_engine_create(&e, m, &eo);
    if (st == LLX_OK) st = llx_perplexity(e, ids, total, win, NULL, NULL, &r);
    if (st == LLX_OK) *nll = r.nll;
    llx_engine_free(e);
    llx_model_close(m);
    return st;
}

static llx_status choose(void *img, size_t size, const llx_quant_opts *o, const int *ids, int total)
{
    float best = grid[0];
    double best_nll = 0.0;
    for (int i = 0; i < GRID_N; i++) {
        if (o->cancel && *o->cancel) return llx_fail(LLX_ERR_CANCELLED, "interrupted");
        double nll = 0.0;
        LLX_TRY(nll_at(img, size, o, ids, total, grid[i], &nll));
        if (o->clip_report) o->clip_report(o->progress_ud, grid[i], nll);
        if (i == 0 || nll < best_nll) best = grid[i], best_nll = nll;
        llx_quant_progress(o, "act-clip", (double)(i + 1) / GRID_N);
    }
    return llx_llx_image_set_act_clip(img, size, best);
}

llx_status llx_quant_write_clip_auto(llx_llx_writer *wr, const llx_quant_opts *o, const int *ids, int total,
                                     const char *out)
{
    if (total < 2) {
        llx_llx_writer_free(wr);
        return llx_fail(LLX_ERR_ARG, "--act-clip auto needs at least 2 calibration tokens");
    }
    void *img = NULL;
    size_t size = 0;
    llx_status st = llx_llx_write_mem(wr, &img, &size);
    if (st == LLX_OK) st = choose(img, size, o, ids, total);
    if (st == LLX_OK) {
        llx_quant_progress(o, "write", 0.0);
        st = llx_write_file_atomic(out, img, size);
        llx_quant_progress(o, "write", 1.0);
    }
    free(img);
    return st;
}
