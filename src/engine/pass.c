/* engine/pass.c - the scheduler state machine every node runs: walk the
 * stages of a pass, execute this node's slice of each through the
 * precision's executor for the stage's work, and all-gather over the ring
 * after every stage that asks for it.  Split stages run in the partition's
 * blocks so that each finished block is on its way around the ring while
 * the next is computed.  Nothing here depends on which op a stage is. */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "util/status.h"
#include "util/timer.h"

void llx_logits_reserve(float **buf, int *rows, int tokens, int vocab)
{
    if (tokens <= *rows) return;
    float *p = llx_alloc((size_t)tokens * (size_t)vocab * sizeof(float));
    if (!p) return;
    free(*buf);
    *buf = p;
    *rows = tokens;
}

float *llx_logits_dst(node *nd, float **buf, int *rows, int tokens, int *rows_out)
{
    if (nd->logits_out && tokens <= nd->logits_out_rows && !nd->obs) {
        nd->logits_direct = 1;
        *rows_out = nd->logits_out_rows;
        return nd->logits_out;
    }
    llx_logits_reserve(buf, rows, tokens, nd->cfg->n_vocab);
    *rows_out = *rows;
    return *buf;
}

typedef struct rows_job {
    row_fn fn;
    void *ctx;
    int n, align;
} rows_job;

static void rows_member(void *arg, int ith, int nth)
{
    const rows_job *j = arg;
    int b, e;
    llx_split_work(j->n, ith, nth, j->align, &b, &e);
    if (b < e) j->fn(j->ctx, b, e, ith);
}

void llx_node_parallel_rows(node *nd, int n, int align, row_fn fn, void *ctx)
{
    rows_job j = {fn, ctx, n, align};
    if (llx_pool_size(nd->pool) == 1 || n <= align) fn(ctx, 0, n, 0);
    else llx_pool_run_shares(nd->pool, rows_member, &j);
}

typedef struct paced_job {
    row_fn fn;
    void *ctx;
    int cut[LLX_PACE_MAX + 1];
    double t0;
    double took[LLX_PACE_MAX];
} paced_job;

/* took: from the run's start, so a member that starts late (or whose
 * share member 0 ran after its own, llx_pool_run_shares) counts as slow */
static void paced_member(void *arg, int ith, int nth)
{
    paced_job *j = arg;
    if (j->cut[ith] < j->cut[ith + 1]) j->fn(j->ctx, j->cut[ith], j->cut[ith + 1], ith);
    j->took[ith] = llx_now_s() - j->t0;
}

void llx_node_parallel_paced(node *nd, float *pace, int n, int align, row_fn fn, void *ctx)
{
    const int nth = llx_pool_size(nd->pool);
    if (nth == 1 || nth > LLX_PACE_MAX || n <= align) {
        llx_node_parallel_rows(nd, n, align, fn, ctx);
        return;
    }
    if (align < 1) align = 1;
    float sum = 0.0f;
    for (int i = 0; i < nth; i++) {
        if (!(pace[i] > 0.0f)) pace[i] = 1.0f;
        sum += pace[i];
    }
    paced_job j = {.fn = fn, .ctx = ctx};
    const long units = (n + align - 1) / align;
    float run = 0.0f;
    for (int i = 0; i < nth; i++) {
        long u = (long)((double)units * run / sum + 0.5);
        j.cut[i] = u * align < n ? (int)(u * align) : n;
        run += pace[i];
    }
    j.cut[nth] = n;
    j.t0 = llx_now_s();
    llx_pool_run_shares(nd->pool, paced_member, &j);
    /* each member's rows per second, relative to the mean, smoothed */
    double speed[LLX_PACE_MAX], mean = 0.0;
    for (int i = 0; i < nth; i++) {
        const int rows = j.cut[i + 1] - j.cut[i];
        if (rows < align || !(j.took[i] > 1e-7)) return; /* too little to measure */
        speed[i] = rows / j.took[i];
        mean += speed[i] / nth;
    }
    float norm = 0.0f;
    for (int i = 0; i < nth; i++) {
        float rel = (float)(speed[i] / mean);
        rel = rel < 0.25f ? 0.25f : rel > 4.0f ? 4.0f : rel;
        pace[i] = 0.9f * pace[i] * ((float)nth / sum) + 0.1f * rel;
        norm += pace[i];
    }
    for (int i = 0; i < nth; i++) pace[i] *= (float)nth / norm;
}

llx_status llx_node_exec(const llx_exec_fn *table, const char *datapath, node *nd, const llx_stage *st, int u0,
                         int u1)
{
    const llx_exec_fn fn = (unsigned)st->work < LLX_WORK_COUNT ? table[st->work] : NULL;
    if (!fn) return llx_fail(LLX_ERR_UNSUPPORTED, "the %s datapath has no %s stage", datapath, llx_op_name(st->op));
    return fn(nd, st, u0, u1);
}

/* One stage on this node: its own units in ring blocks (rows: the
 * partition's block; heads: one head), each block posted to the ring as
 * soon as it is computed, so it travels while the next is computed.
 * Without a ring (or for a stage nothing is gathered after) the units run
 * in one call. */
static llx_status run_stage(node *nd, const llx_schedule *s, int i)
{
    const llx_stage *st = &s->stages[i];
    const llx_range own = llx_schedule_slice(s, i, nd->id);
    const int ring = nd->ring && st->gather > 0;
    if (nd->ops->before) nd->ops->before(nd, st);
    if (ring) {
        void *dst;
        int ld;
        nd->ops->target(nd, st, &dst, &ld);
        llx_ring_gather_begin(nd->ring, dst, ld, st->tokens, st->gather_bytes, st->gather,
                              llx_schedule_gather_range(s, i, nd->id));
    }
    const int step = ring ? st->block : own.end - own.begin;
    for (int u = own.begin; u < own.end; u += step) {
        const int e = u + step < own.end ? u + step : own.end;
        LLX_TRY(nd->ops->run(nd, st, u, e));
        if (ring) LLX_TRY(llx_ring_gather_post(nd->ring, u * st->unit_elems, e * st->unit_elems));
    }
    if (ring) LLX_TRY(llx_ring_gather_end(nd->ring));
    if (nd->ops->done) nd->ops->done(nd, st);
    return LLX_OK;
}

/* Past the last layer's attention only the tokens whose logits are wanted
 * matter (every token's K and V reach the cache in the attention stage),
 * so in the last layer the attention's queries, every matrix stage but
 * the one writing q, k, v, the norms that add a branch into the residual
 * stream (the first norm feeds q, k, v) and the Hadamard transform, and
 * then the final norm, start at nd->wanted0.  Each row's values are its
 * own (no element depends on another token's row), so the wanted logits
 * keep their bits.  The LM head reads the wanted rows by itself.  Not with
 * an observer, which sees every row. */
int llx_stage_row0(const node *nd, const llx_stage *st)
{
    if (!nd->wanted0 || (nd->obs && (nd->obs->fn || nd->obs->fn8))) return 0;
    if (st->layer < 0) return st->work == LLX_WORK_NORM ? nd->wanted0 : 0; /* the final norm */
    if (st->layer != nd->cfg->n_layer - 1) return 0;
    switch (st->work) {
    case LLX_WORK_ATTN: return nd->wanted0; /* the queries; every token's K and V are appended */
    case LLX_WORK_MATMUL: return st->out == LLX_SLOT_QKV ? 0 : nd->wanted0;
    case LLX_WORK_NORM: return st->in != LLX_SLOT_NONE ? nd->wanted0 : 0;
    case LLX_WORK_HADAMARD: return nd->wanted0;
    default: return 0; /* the embedding; the rotary step turns every token's k */
    }
}

/* Whether a pass runs stage st: from layer_begin (0: the embedding) up
 * to layer_end (0: every layer, the final norm and the LM head). */
static int stage_runs(const node *nd, const llx_stage *st)
{
    if (st->layer < 0) return st->work == LLX_WORK_EMBED ? !nd->layer_begin : !nd->layer_end;
    return st->layer >= nd->layer_begin && (!nd->layer_end || st->layer < nd->layer_end);
}

int llx_node_last_stage(const node *nd, const llx_schedule *s)
{
    if (!nd->stop) return s->n_stages - 1;
    int last = -1;
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i].layer == nd->stop_layer && llx_obs_point_at(nd->cfg, &s->stages[i]) == nd->stop_point)
            last = i;
    return last;
}

llx_status llx_node_pass(node *nd, const llx_schedule *s, const int *tokens)
{
    const int n = llx_node_last_stage(nd, s); /* >= 0: llx_engine_run_pass checked it */
    nd->pass_tokens = s->opt.tokens;
    const llx_stage *last = &s->stages[s->n_stages - 1];
    /* the LM head's rows; a cut or stopped pass has no LM head, so every row counts */
    nd->wanted0 = last->out == LLX_SLOT_LOGITS && !nd->layer_end && !nd->stop ? s->opt.tokens - last->tokens : 0;
    nd->tokens = tokens;
    if (nd->layer_begin) nd->ops->stream_in(nd, nd->x_in, s->opt.tokens); /* checked when set */
    for (int i = 0; i <= n; i++) {
        const llx_stage *st = &s->stages[i];
        if (stage_runs(nd, st)) LLX_TRY(run_stage(nd, s, i));
        else if (nd->layer_end && st->layer == nd->layer_end && llx_obs_point_before(st->op) >= 0 && nd->ops->before)
            nd->ops->before(nd, st); /* a cut pass reports the stream entering the layer it stops before */
    }
    return LLX_OK;
}
