/* engine/engine_mpi.c - the MPI backend: this process is node `rank` of the
 * ring; rank 0 is also the host (tokenizer, embedding, sampling, output).
 * Rank 0 tells the others what to run with a broadcast command; the ring
 * traffic itself goes through the MPI link like any other link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "util/status.h"

enum { CMD_PASS = 1, CMD_QUIT = 2 };

static double timeout(const llx_engine *e) { return e->opt.ring_timeout_s > 0 ? e->opt.ring_timeout_s : 60.0; }

typedef struct mpi_cmd {
    int op, tokens, pos, all_logits, logits, mixed, rows; /* rows: block-table rows that follow */
} mpi_cmd;

/* After a pass command: the pass's token table, [tokens] positions,
 * [tokens] slots, [rows] slot ids and their [rows][bps] block rows. */
static int *pack_map(const engine_kv *k, int n, int *rows, size_t *ints)
{
    int *slot_seen = calloc((size_t)k->slots, sizeof *slot_seen), r = 0;
    int *buf = slot_seen ? malloc(((size_t)2 * n + (size_t)k->slots * (1 + k->bps)) * sizeof *buf) : NULL;
    if (!buf) {
        free(slot_seen);
        return NULL;
    }
    memcpy(buf, k->tok_pos, (size_t)n * sizeof *buf);
    memcpy(buf + n, k->tok_slot, (size_t)n * sizeof *buf);
    int *ids = buf + 2 * n;
    for (int t = 0; t < n; t++)
        if (!slot_seen[k->tok_slot[t]]) slot_seen[k->tok_slot[t]] = 1, ids[r++] = k->tok_slot[t];
    for (int i = 0; i < r; i++) memcpy(ids + r + (size_t)i * k->bps, k->table + (size_t)ids[i] * k->bps, (size_t)k->bps * sizeof *buf);
    free(slot_seen);
    *rows = r;
    *ints = (size_t)2 * n + (size_t)r * (1 + k->bps);
    return buf;
}

llx_status llx_engine_mpi_recv_map(llx_engine *e, int n, int rows)
{
    engine_kv *k = &e->kv;
    const size_t ints = (size_t)2 * n + (size_t)rows * (1 + k->bps);
    if (n > e->opt.max_batch || rows > k->slots) return llx_fail(LLX_ERR_INTERNAL, "pass table out of range");
    int *buf = malloc(ints * sizeof *buf);
    if (!buf) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = llx_mpi_bcast(buf, ints * sizeof *buf, timeout(e));
    if (st == LLX_OK) {
        memcpy(k->tok_pos, buf, (size_t)n * sizeof *buf);
        memcpy(k->tok_slot, buf + n, (size_t)n * sizeof *buf);
        const int *ids = buf + 2 * n;
        for (int i = 0; i < rows; i++)
            if (ids[i] >= 0 && ids[i] < k->slots)
                memcpy(k->table + (size_t)ids[i] * k->bps, ids + rows + (size_t)i * k->bps, (size_t)k->bps * sizeof *buf);
    }
    free(buf);
    return st;
}

llx_status llx_mpi_world(int *rank, int *size) { return llx_mpi_init(rank, size); }

int llx_mpi_built(void) { return llx_mpi_available(); }



llx_status llx_engine_mpi_create(llx_engine *e)
{
    int rank, size;
    LLX_TRY(llx_mpi_init(&rank, &size));
    if (e->opt.nodes != size)
        return llx_fail(LLX_ERR_ARG, "--nodes %d does not match the MPI world size %d", e->opt.nodes, size);
    LLX_TRY(llx_engine_local_nodes(e, rank, 1));
    if (size > 1) LLX_TRY(llx_mpi_link_create(&e->mpi_link));
    llx_status st = llx_node_setup(e, &e->nd[0], e->mpi_link);
    if (st != LLX_OK) {
        char buf[600];
        snprintf(buf, sizeof buf, "rank %d: %s", rank, llx_errmsg());
        llx_errmsg_set(buf);
        return st;
    }
    llx_model_release_pages(e->model);
    e->weight_bytes = e->ops->weight_bytes(&e->nd[0]);
    if (size > 1) LLX_TRY(llx_mpi_sum(&e->weight_bytes, timeout(e)));
    return LLX_OK;
}

llx_status llx_engine_mpi_pass(llx_engine *e, const llx_schedule *s, const int *tokens)
{
    mpi_cmd c = {CMD_PASS, s->opt.tokens, s->opt.pos, s->opt.all_logits, s->opt.logits, s->opt.mixed, 0};
    if (e->opt.nodes > 1) {
        size_t ints;
        int *buf = pack_map(&e->kv, c.tokens, &c.rows, &ints);
        if (!buf) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        llx_status st = llx_mpi_bcast(&c, sizeof c, timeout(e));
        if (st == LLX_OK) st = llx_mpi_bcast(buf, ints * sizeof *buf, timeout(e));
        free(buf);
        LLX_TRY(st);
    }
    return llx_engine_run_local(e, 1, s, tokens);
}

llx_status llx_engine_serve(llx_engine *e)
{
    if (e->opt.backend != LLX_BACKEND_MPI || !e->nd || e->nd[0].id == 0) return LLX_OK;
    for (;;) {
        mpi_cmd c;
        /* the host may be idle for as long as it likes between passes */
        LLX_TRY(llx_mpi_bcast(&c, sizeof c, 0));
        if (c.op == CMD_QUIT) return LLX_OK;
        LLX_TRY(llx_engine_mpi_recv_map(e, c.tokens, c.rows));
        llx_sched_opts so = llx_engine_sched_opts(e, c.tokens, c.pos, c.all_logits);
        so.logits = c.logits;
        so.mixed = c.mixed;
        const llx_schedule *s;
        LLX_TRY(llx_engine_schedule(e, &so, &s));
        llx_status st = llx_engine_run_local(e, 1, s, NULL);
        if (st != LLX_OK) {
            char buf[600];
            snprintf(buf, sizeof buf, "rank %d: %s", e->nd[0].id, llx_errmsg());
            llx_errmsg_set(buf);
            return st;
        }
    }
}

void llx_engine_mpi_free(llx_engine *e)
{
    if (e->nd && e->nd[0].id == 0 && e->opt.nodes > 1 && !e->broken) {
        mpi_cmd c = {CMD_QUIT, 0, 0, 0, 0, 0, 0};
        llx_mpi_bcast(&c, sizeof c, timeout(e));
    }
    if (e->nd) llx_engine_run_local(e, 2, NULL, NULL);
    free(e->nd);
    e->nd = NULL;
    llx_mpi_link_free(e->mpi_link);
    e->mpi_link = NULL;
}
