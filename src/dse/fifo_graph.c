/* dse/fifo_graph.c - the FIFO sizer's graph of one simulator stage: the
 * stage's processes and FIFOs (llx_sim_stage_dataflow) with the token times
 * of its unbounded reference run.  Replica processes fire like their
 * originals and replica FIFOs carry the same tokens, so each replica FIFO is
 * folded into its original as one more copy (the sizes hold for all). */
#include <stdlib.h>
#include <string.h>

#include "llx/dse.h"
#include "util/status.h"

typedef struct owned {
    llx_sim_dataflow df;
} owned;

static int original_proc(const llx_sim_dataflow *d, int p)
{
    while (p >= 0 && d->procs[p].replica_of >= 0) p = d->procs[p].replica_of;
    return p;
}

llx_status llx_fifo_graph_from_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_fifo_graph *g)
{
    memset(g, 0, sizeof *g);
    owned *o = calloc(1, sizeof *o);
    if (!o) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = llx_sim_stage_dataflow(c, s, stage, &o->df);
    if (st != LLX_OK) {
        free(o);
        return st;
    }
    const llx_sim_dataflow *d = &o->df;
    g->own = o;
    g->cycles = d->cycles;
    g->sim_fifos = d->nfifos;
    g->nprocs = d->nprocs;
    g->procs = calloc((size_t)(d->nprocs ? d->nprocs : 1), sizeof *g->procs);
    g->edges = calloc((size_t)(d->nfifos ? d->nfifos : 1), sizeof *g->edges);
    if (!g->procs || !g->edges) {
        llx_fifo_graph_free(g);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (int p = 0; p < d->nprocs; p++) {
        llx_fifo_proc *q = &g->procs[p];
        memcpy(q->name, d->procs[p].name, sizeof q->name);
        q->start = d->procs[p].start, q->done = d->procs[p].done;
        for (int k = 0; k < 2; k++) q->after[k] = original_proc(d, d->procs[p].after[k]);
    }
    int *slot = malloc(sizeof *slot * (size_t)(d->nfifos ? d->nfifos : 1));
    if (!slot) {
        llx_fifo_graph_free(g);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (int f = 0; f < d->nfifos; f++) {
        const llx_sim_df_fifo *x = &d->fifos[f];
        slot[f] = -1;
        if (x->replica_of >= 0) continue;
        llx_fifo_edge *e = &g->edges[g->nedges];
        slot[f] = g->nedges++;
        memcpy(e->name, x->name, sizeof e->name);
        e->prod = original_proc(d, x->prod), e->cons = original_proc(d, x->cons);
        e->width_bits = x->width_bits, e->init = x->init, e->reserve = x->reserve;
        e->min_depth = x->min_depth, e->design_depth = x->depth, e->copies = 1;
        e->tokens = x->tokens, e->pops = x->pops, e->sim_fifo = f;
        e->push = x->push, e->lat = x->lat, e->vis = x->vis, e->pop = x->pop;
    }
    for (int f = 0; f < d->nfifos; f++) { /* a replica is one more copy of its original */
        int r = d->fifos[f].replica_of;
        while (r >= 0 && d->fifos[r].replica_of >= 0) r = d->fifos[r].replica_of;
        if (r >= 0 && slot[r] >= 0) g->edges[slot[r]].copies++;
    }
    free(slot);
    return LLX_OK;
}

void llx_fifo_graph_free(llx_fifo_graph *g)
{
    owned *o = g->own;
    if (o) {
        llx_sim_dataflow_free(&o->df);
        free(o);
    }
    free(g->procs), free(g->edges);
    memset(g, 0, sizeof *g);
}
