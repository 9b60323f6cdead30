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

typedef struct mpi_cmd {
    int op, tokens, pos, all_logits;
} mpi_cmd;

llx_status llx_mpi_world(int *rank, int *size) { return llx_mpi_init(rank, size); }

int llx_mpi_built(void) { return llx_mpi_available(); }

static double timeout(const llx_engine *e) { return e->opt.ring_timeout_s > 0 ? e->opt.ring_timeout_s : 60.0; }

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
    mpi_cmd c = {CMD_PASS, s->opt.tokens, s->opt.pos, s->opt.all_logits};
    if (e->opt.nodes > 1) LLX_TRY(llx_mpi_bcast(&c, sizeof c, timeout(e)));
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
        llx_sched_opts so = {.nodes = e->opt.nodes, .tokens = c.tokens, .pos = c.pos, .all_logits = c.all_logits,
                             .block_rows = e->opt.block_rows, .precision = e->opt.precision};
        llx_schedule s;
        LLX_TRY(llx_schedule_build_part(&s, llx_model_config(e->model), &e->part, &so));
        llx_status st = llx_engine_run_local(e, 1, &s, NULL);
        llx_schedule_free(&s);
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
        mpi_cmd c = {CMD_QUIT, 0, 0, 0};
        llx_mpi_bcast(&c, sizeof c, timeout(e));
    }
    if (e->nd) llx_engine_run_local(e, 2, NULL, NULL);
    free(e->nd);
    e->nd = NULL;
    llx_mpi_link_free(e->mpi_link);
    e->mpi_link = NULL;
}
