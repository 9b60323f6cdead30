/* engine/node.c - what every backend does with the nodes of this process:
 * set a node up on its own thread (pool, ring, weights), tear it down, and
 * run setup, a pass or teardown on every local node (on a team of threads
 * when there are several).  engine.c (threads backend) and engine_mpi.c
 * (MPI backend) both build on these; neither calls the other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "util/status.h"

llx_sched_opts llx_engine_sched_opts(const llx_engine *e, int n, int pos, int all_logits)
{
    llx_sched_opts so = e->sched;
    so.tokens = n;
    so.pos = pos;
    so.all_logits = all_logits;
    return so;
}

static void set_node_error(node *nd, llx_status st)
{
    nd->status = st;
    if (st != LLX_OK) {
        snprintf(nd->errmsg, sizeof nd->errmsg, "%s", llx_errmsg());
        if (nd->ring) llx_ring_fail(nd->ring);
    }
}

/* Everything a node sets up on its own thread. */
llx_status llx_node_setup(llx_engine *e, node *nd, llx_link *link)
{
    /* MPI ranks may share a host: only the local thread count is known, so
     * spin only with the threads backend when every thread has a core */
    const int local = e->opt.backend == LLX_BACKEND_MPI ? e->opt.threads : e->opt.threads * e->opt.nodes;
    const int spin = local <= llx_cpu_count() && e->opt.backend != LLX_BACKEND_MPI;
    LLX_TRY(llx_pool_create(&nd->pool, e->opt.threads, spin));
    /* ring waits never spin: a spinning core slows its neighbour's weight
     * stream on this machine's cores (docs/performance.md) */
    if (link) LLX_TRY(llx_ring_create(&nd->ring, link, e->opt.ring_timeout_s, 0));
    return nd->ops->load(nd);
}

void llx_node_teardown(node *nd)
{
    if (nd->ops && nd->impl) nd->ops->unload(nd);
    llx_ring_free(nd->ring);
    nd->ring = NULL;
    llx_pool_free(nd->pool);
    nd->pool = NULL;
}

typedef struct team_job {
    llx_engine *e;
    int what; /* 0 setup, 1 pass, 2 teardown */
    const llx_schedule *s;
    const int *tokens;
} team_job;

static void team_member(void *arg, int ith, int nth)
{
    team_job *j = arg;
    llx_engine *e = j->e;
    node *nd = &e->nd[ith];
    switch (j->what) {
    case 0:
        set_node_error(nd, llx_node_setup(e, nd, e->fab ? llx_inproc_link(e->fab, ith) : NULL));
        break;
    case 1: set_node_error(nd, llx_node_pass(nd, j->s, j->tokens)); break;
    default: llx_node_teardown(nd); break;
    }
}

/* First failure among the nodes, with its message in this thread. */
static llx_status collect(llx_engine *e)
{
    for (int i = 0; i < e->n_local; i++) {
        if (e->nd[i].status != LLX_OK && e->nd[i].status != LLX_ERR_RING) {
            llx_errmsg_set(e->nd[i].errmsg);
            return e->nd[i].status;
        }
    }
    for (int i = 0; i < e->n_local; i++) {
        if (e->nd[i].status != LLX_OK) {
            llx_errmsg_set(e->nd[i].errmsg);
            return e->nd[i].status;
        }
    }
    return LLX_OK;
}

llx_status llx_engine_run_local(llx_engine *e, int what, const llx_schedule *s, const int *tokens)
{
    team_job j = {e, what, s, tokens};
    if (e->team) llx_pool_run(e->team, team_member, &j);
    else team_member(&j, 0, 1);
    return what == 2 ? LLX_OK : collect(e);
}

static void init_nodes(llx_engine *e, int first, int count)
{
    const llx_config *c = llx_model_config(e->model);
    for (int i = 0; i < count; i++) {
        node *nd = &e->nd[i];
        nd->id = first + i;
        nd->model = e->model;
        nd->cfg = c;
        nd->opt = &e->opt;
        nd->k = e->k;
        nd->ops = e->ops;
        nd->nodes = e->opt.nodes;
        nd->max_batch = e->opt.max_batch;
        nd->max_ctx = e->opt.max_ctx;
        nd->kv_cap = e->kv.blocks * LLX_KV_BLOCK;
        nd->map = &e->kv.map;
        nd->part = &e->part;
        nd->head0 = e->part.heads[nd->id].begin;
        nd->heads = e->part.heads[nd->id].end - nd->head0;
        nd->kv0 = e->part.kv_heads[nd->id].begin;
        nd->kv_heads = e->part.kv_heads[nd->id].end - nd->kv0;
    }
}

llx_status llx_engine_local_nodes(llx_engine *e, int first, int count)
{
    e->n_local = count;
    e->nd = calloc((size_t)count, sizeof *e->nd);
    if (!e->nd) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    init_nodes(e, first, count);
    return LLX_OK;
}

