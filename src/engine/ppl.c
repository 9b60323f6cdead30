/* engine/ppl.c - perplexity over non-overlapping windows (the golden NLL
 * rule): every window starts at position 0 with an empty cache and predicts
 * its tokens 1 .. w-1 from the logits of positions 0 .. w-2. */
#include <math.h>
#include <stdlib.h>

#include "llx/engine.h"
#include "util/status.h"

/* -log softmax(logits)[target]: exponentials of (logit - max) in float
 * (relative error ~1e-7 each), summed in double. */
static double nll_of(const float *logits, int V, int target)
{
    float m = logits[0];
    for (int i = 1; i < V; i++) m = logits[i] > m ? logits[i] : m;
    double s = 0.0;
    for (int i = 0; i < V; i++) s += (double)expf(logits[i] - m);
    return (double)m + log(s) - (double)logits[target];
}

llx_status llx_perplexity(llx_engine *e, const int *ids, int n, int ctx, llx_progress_cb cb, void *ud,
                          llx_ppl_result *out)
{
    const int V = llx_engine_config(e)->n_vocab;
    out->nll = out->ppl = 0;
    out->predictions = 0;
    out->windows = 0;
    if (ctx < 2) return llx_fail(LLX_ERR_ARG, "--ctx must be at least 2 (got %d)", ctx);
    if (ctx > llx_engine_max_ctx(e))
        return llx_fail(LLX_ERR_ARG, "--ctx %d exceeds the model context of %d", ctx, llx_engine_max_ctx(e));
    const int windows = n / ctx;
    if (windows < 1) return llx_fail(LLX_ERR_ARG, "the text has %d tokens, fewer than one window of %d", n, ctx);
    float *logits = malloc((size_t)ctx * V * sizeof *logits);
    if (!logits) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    double sum = 0.0;
    llx_status st = LLX_OK;
    for (int w = 0; w < windows && st == LLX_OK; w++) {
        const int *win = ids + (size_t)w * ctx;
        llx_engine_reset(e);
        st = llx_engine_forward(e, win, ctx, logits, 1);
        for (int j = 0; st == LLX_OK && j + 1 < ctx; j++) sum += nll_of(logits + (size_t)j * V, V, win[j + 1]);
        if (cb) cb(ud, "ppl", (double)(w + 1) / windows);
    }
    free(logits);
    if (st != LLX_OK) return st;
    out->windows = windows;
    out->predictions = (long)windows * (ctx - 1);
    out->nll = sum / (double)out->predictions;
    out->ppl = exp(out->nll);
    return LLX_OK;
}
