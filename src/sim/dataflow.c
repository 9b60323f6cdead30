/* sim/dataflow.c - a stage's dataflow network as data, for FIFO sizing
 * (src/dse): its processes and FIFOs, a reference run with every FIFO
 * unbounded (the token-level times the sizer reasons about), and runs of the
 * same network with FIFO depths of the caller's choosing on either engine
 * (the proof that the sizes hold). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

/* a depth no run of this network can fill */
static int unbounded(const sim_fifo *f)
{
    long d = f->pushes + f->init + 1;
    return d > INT_MAX / 2 ? INT_MAX / 2 : (int)d;
}

static int max_port_n(const sim_graph *g, int f)
{
    int n = 1;
    for (int i = 0; i < g->nports; i++)
        if (g->ports[i].fifo == f && g->ports[i].n > n) n = g->ports[i].n;
    return n;
}

/* the network of stage i as the kernel that runs it */
static llx_status build(const llx_sim_config *c, const llx_schedule *s, int i, sim_hw *hw, sim_stage_net *net)
{
    LLX_TRY(sim_check_schedule(c, s));
    if (i < 0 || i >= s->n_stages) return llx_fail(LLX_ERR_ARG, "stage %d out of range", i);
    const llx_stage *st = &s->stages[i];
    int kernel = st->kernel;
    if (kernel == LLX_KERNEL_HOST) {
        if (!c->arch.lm_head_fpga || st->op == LLX_OP_EMBED)
            return llx_fail(LLX_ERR_ARG, "stage %d (%s) runs on the host", i, llx_op_name(st->op));
        kernel = st->op == LLX_OP_LM_HEAD ? LLX_KERNEL_MP : LLX_KERNEL_LNRES;
    }
    LLX_TRY(sim_hw_init(hw, c));
    llx_sim_cat cat;
    llx_status rc = sim_build_stage(hw, s, i, kernel, net, &cat);
    if (rc != LLX_OK) sim_graph_free(&net->g);
    return rc;
}

void llx_sim_dataflow_free(llx_sim_dataflow *d)
{
    for (int f = 0; d->fifos && f < d->nfifos; f++) {
        llx_sim_df_fifo *q = &d->fifos[f];
        free(q->push), free(q->vis), free(q->pop), free(q->lat);
    }
    free(d->procs), free(d->fifos);
    memset(d, 0, sizeof *d);
}

static int alloc_tokens(llx_sim_df_fifo *q)
{
    size_t n = (size_t)(q->tokens ? q->tokens : 1), m = (size_t)(q->init + q->tokens ? q->init + q->tokens : 1);
    q->push = malloc(sizeof *q->push * n), q->vis = malloc(sizeof *q->vis * n);
    q->lat = malloc(sizeof *q->lat * n), q->pop = malloc(sizeof *q->pop * m);
    if (!q->push || !q->vis || !q->lat || !q->pop) return -1;
    for (size_t k = 0; k < m; k++) q->pop[k] = -1;
    return 0;
}

/* replay every evaluated process's traced firings through its ports */
static void replay(const sim_graph *g, const sim_outcome *o, llx_sim_dataflow *d, long *np, long *nq)
{
    for (int p = 0; p < g->nprocs; p++) {
        const sim_proc *pr = &g->procs[p];
        if (pr->replica_of >= 0) continue;
        long k = 0;
        for (int ph = pr->phase0; ph < pr->phase0 + pr->nphases; ph++) {
            const sim_phase *a = &g->phases[ph];
            for (long j = 0; j < a->n && k < o->trace[p].n; j++, k++) {
                long long t = o->trace[p].t[k];
                for (int i = a->port0; i < a->port0 + a->nports; i++) {
                    const sim_port *pt = &g->ports[i];
                    llx_sim_df_fifo *q = &d->fifos[pt->fifo];
                    if (g->fifos[pt->fifo].replica_of >= 0 || !sim_port_on(pt, j, a->n)) continue;
                    for (int m = 0; m < pt->n; m++) {
                        if (pt->dir == SIM_POP) {
                            q->pop[nq[pt->fifo]++] = t;
                            continue;
                        }
                        long n = np[pt->fifo]++;
                        long long v = t + pt->lat;
                        if (n > 0 && q->vis[n - 1] > v) v = q->vis[n - 1];
                        q->push[n] = t, q->lat[n] = pt->lat, q->vis[n] = v;
                    }
                }
            }
        }
    }
}

static llx_status describe(const sim_graph *g, const int *design, const sim_outcome *o, llx_sim_dataflow *d)
{
    d->nprocs = g->nprocs, d->nfifos = g->nfifos;
    d->procs = calloc((size_t)(g->nprocs ? g->nprocs : 1), sizeof *d->procs);
    d->fifos = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *d->fifos);
    long *np = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *np);
    long *nq = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *nq);
    int oom = !d->procs || !d->fifos || !np || !nq;
    for (int p = 0; !oom && p < g->nprocs; p++) {
        const sim_proc *pr = &g->procs[p];
        llx_sim_df_proc *q = &d->procs[p];
        memcpy(q->name, pr->name, sizeof q->name);
        q->node = pr->node, q->replica_of = pr->replica_of;
        q->after[0] = pr->after[0], q->after[1] = pr->after[1];
        int r = pr->replica_of >= 0 ? pr->replica_of : p;
        q->start = o->trace[r].n > 0 ? o->trace[r].t[0] : -1;
        q->done = o->done[p];
    }
    for (int f = 0; !oom && f < g->nfifos; f++) {
        const sim_fifo *x = &g->fifos[f];
        llx_sim_df_fifo *q = &d->fifos[f];
        memcpy(q->name, x->name, sizeof q->name);
        q->prod = x->prod, q->cons = x->cons, q->depth = design[f], q->width_bits = x->width_bits;
        q->init = x->init, q->reserve = x->reserve, q->min_depth = max_port_n(g, f);
        q->replica_of = x->replica_of, q->tokens = x->pushes, q->pops = x->pops;
        if (x->replica_of < 0) oom = alloc_tokens(q) != 0;
    }
    if (!oom) replay(g, o, d, np, nq);
    free(np), free(nq);
    if (oom) {
        llx_sim_dataflow_free(d);
        return llx_fail(LLX_ERR_NOMEM, "out of memory describing a stage network");
    }
    return LLX_OK;
}

llx_status llx_sim_stage_dataflow(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_dataflow *out)
{
    memset(out, 0, sizeof *out);
    sim_hw hw;
    sim_stage_net net;
    LLX_TRY(build(c, s, stage, &hw, &net));
    sim_graph *g = &net.g;
    int *design = malloc(sizeof *design * (size_t)(g->nfifos ? g->nfifos : 1));
    if (!design) {
        sim_graph_free(g);
        return llx_fail(LLX_ERR_NOMEM, "out of memory describing a stage network");
    }
    for (int f = 0; f < g->nfifos; f++) design[f] = g->fifos[f].depth, g->fifos[f].depth = unbounded(&g->fifos[f]);
    for (int p = 0; p < g->nprocs; p++) g->procs[p].trace = 1;
    sim_outcome o;
    llx_status rc = sim_run_fast(g, &o);
    if (rc == LLX_OK) {
        if (o.deadlock)
            rc = llx_fail(LLX_ERR_ARG, "stage %d deadlocks even with unbounded FIFOs: %s", stage, o.why);
        else
            rc = describe(g, design, &o, out);
        out->cycles = o.end;
        sim_outcome_free(&o);
    }
    free(design);
    sim_graph_free(g);
    return rc;
}

static llx_status set_depths(sim_graph *g, const int *depths)
{
    for (int f = 0; f < g->nfifos; f++) {
        sim_fifo *x = &g->fifos[f];
        if (x->replica_of >= 0) continue;
        int d = depths ? depths[f] : x->depth;
        if (d == 0) d = unbounded(x);
        int need = max_port_n(g, f);
        if (d < need || d < x->init)
            return llx_fail(LLX_ERR_ARG, "FIFO %s: depth %d is below what one firing moves (%d) or holds at the start (%d)",
                            x->name, d, need, x->init);
        x->depth = d;
    }
    for (int f = 0; f < g->nfifos; f++) {
        int r = g->fifos[f].replica_of;
        if (r >= 0) g->fifos[f].depth = g->fifos[r].depth;
    }
    return LLX_OK;
}

static llx_status watched(const sim_outcome *o, int watch, llx_sim_stage_run *out)
{
    const sim_trace *tr = &o->trace[watch];
    out->fire = malloc(sizeof *out->fire * (size_t)(tr->n ? tr->n : 1));
    if (!out->fire) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (long k = 0; k < tr->n; k++) out->fire[k] = tr->t[k];
    out->nfire = tr->n;
    return LLX_OK;
}

llx_status llx_sim_stage_run_depths(const llx_sim_config *c, const llx_schedule *s, int stage, const int *depths,
                                    int cycle_mode, int watch, llx_sim_stage_run *out)
{
    memset(out, 0, sizeof *out);
    out->cycles = -1;
    sim_hw hw;
    sim_stage_net net;
    LLX_TRY(build(c, s, stage, &hw, &net));
    llx_status rc = set_depths(&net.g, depths);
    if (rc == LLX_OK && watch >= net.g.nprocs) rc = llx_fail(LLX_ERR_ARG, "process %d out of range", watch);
    if (rc == LLX_OK && watch >= 0) {
        if (!cycle_mode && net.g.procs[watch].replica_of >= 0)
            rc = llx_fail(LLX_ERR_ARG, "process %s is a replica (the fast engine runs its original)",
                          net.g.procs[watch].name);
        net.g.procs[watch].trace = 1;
    }
    sim_outcome o;
    if (rc == LLX_OK) rc = cycle_mode ? sim_run_cycle(&net.g, &o) : sim_run_fast(&net.g, &o);
    if (rc == LLX_OK) {
        if (o.deadlock) {
            llx_sim_deadlock *dl = &out->deadlock;
            dl->found = 1, dl->stage = stage, dl->cycle = (double)o.deadlock_cycle;
            memcpy(dl->what, o.why, sizeof dl->what);
        } else {
            out->cycles = o.end;
        }
        if (watch >= 0) rc = watched(&o, watch, out);
        sim_outcome_free(&o);
    }
    sim_graph_free(&net.g);
    return rc;
}

void llx_sim_stage_run_free(llx_sim_stage_run *r)
{
    free(r->fire);
    memset(r, 0, sizeof *r);
}
