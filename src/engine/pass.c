/* engine/pass.c - the scheduler state machine every node runs: walk the
 * stages of a pass, execute this node's slice of each through the
 * precision's node_ops, and all-gather over the ring after every stage that
 * asks for it.  Matrix stages run in blocks of rows so that each finished
 * block is on its way around the ring while the next is computed. */
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
    else llx_pool_run(nd->pool, rows_member, &j);
}

typedef struct paced_job {
    row_fn fn;
    void *ctx;
    int cut[LLX_PACE_MAX + 1];
    double took[LLX_PACE_MAX];
} paced_job;

static void paced_member(void *arg, int ith, int nth)
{
    paced_job *j = arg;
    const double t0 = llx_now_s();
    if (j->cut[ith] < j->cut[ith + 1]) j->fn(j->ctx, j->cut[ith], j->cut[ith + 1], ith);
    j->took[ith] = llx_now_s() - t0;
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
    llx_pool_run(nd->pool, paced_member, &j);
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

/* Element range of the gathered vector node `n` contributes in stage i. */
static llx_range gather_range(const llx_schedule *s, int i, int n)
{
    const llx_stage *st = &s->stages[i];
    llx_range r = llx_schedule_slice(s, i, n);
    if (st->split == LLX_SPLIT_HEADS) {
        r.begin *= st->head_dim;
        r.end *= st->head_dim;
    }
    return r;
}

/* Rows per ring block.  Explicit (--block-rows): as given.  Automatic: about
 * 1 MiB of weights per block, so each block still streams its rows at full
 * speed while the previous one travels (measured in docs/performance.md). */
static int block_rows(const node *nd, const llx_stage *st, llx_range own)
{
    if (!nd->ring) return own.end - own.begin; /* nothing to overlap with */
    if (nd->opt->block_rows > 0) return nd->opt->block_rows;
    const int elem = nd->ops == &llx_fp32_ops ? 4 : 1;
    const int rows = (int)(((size_t)1 << 20) / ((size_t)st->cols * elem)) & ~15; /* whole 16-row panels */
    return rows < 64 ? 64 : rows;
}

static llx_status run_mp(node *nd, const llx_schedule *s, int i)
{
    const llx_stage *st = &s->stages[i];
    const llx_range own = llx_schedule_slice(s, i, nd->id);
    void *dst;
    int ld;
    nd->ops->mp_target(nd, st, &dst, &ld);
    const int tokens = st->tokens;
    if (nd->ring) llx_ring_gather_begin(nd->ring, dst, ld, tokens, st->gather_bytes, st->gather, own);
    const int step = block_rows(nd, st, own);
    for (int r = own.begin; r < own.end; r += step) {
        const int e = r + step < own.end ? r + step : own.end;
        nd->ops->mp_rows(nd, st, r, e);
        if (nd->ring) LLX_TRY(llx_ring_gather_post(nd->ring, r, e));
    }
    if (nd->ring) LLX_TRY(llx_ring_gather_end(nd->ring));
    if (nd->ops->mp_done) nd->ops->mp_done(nd, st);
    return LLX_OK;
}

static llx_status run_attn(node *nd, const llx_schedule *s, int i)
{
    const llx_stage *st = &s->stages[i];
    const llx_range heads = llx_schedule_slice(s, i, nd->id);
    void *dst;
    int ld;
    nd->ops->attn_target(nd, st, &dst, &ld);
    if (nd->ring) {
        llx_ring_gather_begin(nd->ring, dst, ld, st->tokens, st->gather_bytes, st->gather, gather_range(s, i, nd->id));
        /* head by head: a finished head travels while the next is computed */
        for (int h = heads.begin; h < heads.end; h++) {
            nd->ops->attn(nd, st, h, h + 1);
            LLX_TRY(llx_ring_gather_post(nd->ring, h * st->head_dim, (h + 1) * st->head_dim));
        }
        LLX_TRY(llx_ring_gather_end(nd->ring));
    } else {
        nd->ops->attn(nd, st, heads.begin, heads.end);
    }
    if (nd->ops->attn_done) nd->ops->attn_done(nd, st);
    return LLX_OK;
}

static llx_status run_embed(node *nd, const llx_schedule *s, int i, const int *tokens)
{
    const llx_stage *st = &s->stages[i];
    if (nd->id == 0) LLX_TRY(nd->ops->embed(nd, tokens, st->tokens, st->pos));
    if (!nd->ring) return LLX_OK;
    void *dst;
    int ld;
    /* the residual stream is the LN&Res target of the embedding */
    nd->ops->mp_target(nd, st, &dst, &ld);
    llx_ring_gather_begin(nd->ring, dst, ld, st->tokens, 4, st->gather, gather_range(s, i, nd->id));
    if (nd->id == 0) LLX_TRY(llx_ring_gather_post(nd->ring, 0, st->gather));
    return llx_ring_gather_end(nd->ring);
}

llx_status llx_node_pass(node *nd, const llx_schedule *s, const int *tokens)
{
    nd->pass_tokens = s->opt.tokens;
    for (int i = 0; i < s->n_stages; i++) {
        const llx_stage *st = &s->stages[i];
        switch (st->op) {
        case LLX_OP_EMBED: LLX_TRY(run_embed(nd, s, i, tokens)); break;
        case LLX_OP_LN1:
        case LLX_OP_RES_LN2:
        case LLX_OP_RES:
        case LLX_OP_LN_F: nd->ops->lnres(nd, st); break;
        case LLX_OP_QKV:
        case LLX_OP_PROJ:
        case LLX_OP_FC1:
        case LLX_OP_FC2:
        case LLX_OP_LM_HEAD: LLX_TRY(run_mp(nd, s, i)); break;
        case LLX_OP_ATTN: LLX_TRY(run_attn(nd, s, i)); break;
        }
    }
    return LLX_OK;
}
