/* engine/bench_batch.c - continuous-batching decode speed (llx/bench.h):
 * P sequences decoded together through the sequence API, per-step timing. */
#include <stdlib.h>
#include <string.h>

#include "llx/bench.h"
#include "util/status.h"
#include "util/timer.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q)
{
    int i = (int)(q * (n - 1) + 0.5);
    return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

typedef struct bb_state {
    int *seq, *prompts, *next;
    llx_seq_tokens *items;
    float *logits;
    double *step_s;
} bb_state;

static void bb_free(llx_engine *e, bb_state *b, int parallel)
{
    for (int i = 0; b->seq && i < parallel; i++)
        if (b->seq[i] >= 0) llx_seq_close(e, b->seq[i]);
    free(b->seq), free(b->prompts), free(b->next), free(b->items), free(b->logits), free(b->step_s);
}

/* Argmax (lowest id on ties) of each item's logits into next[]. */
static void pick(const bb_state *b, int parallel, int V)
{
    for (int i = 0; i < parallel; i++) {
        const float *l = b->logits + (size_t)i * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > l[best]) best = v;
        b->next[i] = best;
    }
}

llx_status llx_bench_batch(llx_engine *e, int parallel, int prompt, int gen, llx_batch_bench *out)
{
    memset(out, 0, sizeof *out);
    out->parallel = parallel;
    const int V = llx_engine_config(e)->n_vocab;
    if (parallel < 1 || prompt < 1 || gen < 1) return llx_fail(LLX_ERR_ARG, "parallel, prompt and gen must be >= 1");
    if (parallel > llx_engine_max_seqs(e))
        return llx_fail(LLX_ERR_ARG, "%d parallel sequences: this engine holds %d", parallel, llx_engine_max_seqs(e));
    bb_state b = {0};
    b.seq = malloc((size_t)parallel * sizeof *b.seq);
    b.prompts = malloc((size_t)parallel * prompt * sizeof *b.prompts);
    b.next = calloc((size_t)parallel, sizeof *b.next);
    b.items = calloc((size_t)parallel, sizeof *b.items);
    b.logits = malloc((size_t)parallel * V * sizeof *b.logits);
    b.step_s = malloc((size_t)gen * sizeof *b.step_s);
    llx_status st = LLX_OK;
    if (!b.seq || !b.prompts || !b.next || !b.items || !b.logits || !b.step_s)
        st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int i = 0; b.seq && i < parallel; i++) b.seq[i] = -1;
    for (int i = 0; st == LLX_OK && i < parallel; i++) {
        st = llx_seq_open(e, prompt + gen, &b.seq[i]);
        for (int t = 0; t < prompt; t++) b.prompts[(size_t)i * prompt + t] = (int)((7919u * (unsigned)t + 104729u * (unsigned)i + 13u) % (unsigned)V);
        b.items[i] = (llx_seq_tokens){b.seq[i], b.prompts + (size_t)i * prompt, prompt};
    }
    double t0 = llx_now_s();
    if (st == LLX_OK) st = llx_engine_step(e, b.items, parallel, b.logits);
    out->prefill_s = llx_now_s() - t0;
    for (int s = 0; st == LLX_OK && s < gen; s++) {
        pick(&b, parallel, V);
        for (int i = 0; i < parallel; i++) b.items[i] = (llx_seq_tokens){b.seq[i], &b.next[i], 1};
        t0 = llx_now_s();
        st = llx_engine_step(e, b.items, parallel, b.logits);
        b.step_s[s] = llx_now_s() - t0;
        out->decode_s += b.step_s[s];
    }
    if (st == LLX_OK) {
        qsort(b.step_s, (size_t)gen, sizeof *b.step_s, cmp_double);
        out->p50_ms = percentile(b.step_s, gen, 0.50) * 1e3;
        out->p99_ms = percentile(b.step_s, gen, 0.99) * 1e3;
        out->decode_tok_s = out->decode_s > 0 ? (double)parallel * gen / out->decode_s : 0;
    }
    bb_free(e, &b, parallel);
    return st;
}
