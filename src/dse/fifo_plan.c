/* dse/fifo_plan.c - FIFO sizing over several stages (a layer) and its
 * proof in the simulator.
 *
 * A FIFO belongs to a kernel, and every stage that runs on the kernel uses
 * it: its depth is the largest any of the stages needs (stages run one
 * after the other, so each stage's LP is independent).  The proof runs each
 * stage with every FIFO unbounded, with the sized depths and with the
 * design's, then each critical FIFO one entry shallower in the stage that
 * needs its depth, watching its producer: it must fire later than with the
 * sized depths (or the stage deadlocks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/dse.h"
#include "util/status.h"

static llx_status add_stage(llx_fifo_layer_plan *p, int stage, const llx_fifo_graph *g, const llx_fifo_plan *lp,
                            int *cap)
{
    for (int f = 0; f < g->nedges; f++) {
        const llx_fifo_edge *e = &g->edges[f];
        const llx_fifo_size *z = &lp->size[f];
        llx_fifo_class *k = NULL;
        for (int i = 0; i < p->nclasses && !k; i++)
            if (!strcmp(p->cls[i].name, e->name)) k = &p->cls[i];
        if (!k) {
            if (p->nclasses == *cap) {
                int nc = *cap ? 2 * *cap : 32;
                llx_fifo_class *q = realloc(p->cls, sizeof *q * (size_t)nc);
                if (!q) return llx_fail(LLX_ERR_NOMEM, "out of memory sizing FIFOs");
                p->cls = q, *cap = nc;
            }
            k = &p->cls[p->nclasses++];
            memset(k, 0, sizeof *k);
            memcpy(k->name, e->name, sizeof k->name);
            k->width_bits = e->width_bits, k->copies = e->copies, k->design_depth = e->design_depth;
        }
        if (z->depth > k->depth || (z->depth == k->depth && z->critical && !k->critical)) {
            k->depth = z->depth, k->critical = z->critical, k->stage = stage, k->prod = e->prod;
            memcpy(k->prod_name, g->procs[e->prod].name, sizeof k->prod_name);
        }
    }
    return LLX_OK;
}

llx_status llx_fifo_size_stages(const llx_sim_config *c, const llx_schedule *s, const int *stages, int n,
                                llx_fifo_layer_plan *p)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || n > LLX_FIFO_MAX_STAGES) return llx_fail(LLX_ERR_ARG, "size 1 to %d stages at once", LLX_FIFO_MAX_STAGES);
    int cap = 0;
    llx_status st = LLX_OK;
    for (int i = 0; i < n && st == LLX_OK; i++) {
        llx_fifo_graph g;
        llx_fifo_plan lp;
        st = llx_fifo_graph_from_stage(c, s, stages[i], &g);
        if (st != LLX_OK) break;
        st = llx_fifo_size_graph(&g, &lp);
        if (st == LLX_OK) {
            p->stages[p->nstages] = stages[i];
            p->ref_cycles[p->nstages++] = g.cycles;
            st = add_stage(p, stages[i], &g, &lp, &cap);
            llx_fifo_plan_free(&lp);
        }
        llx_fifo_graph_free(&g);
    }
    for (int i = 0; i < p->nclasses && st == LLX_OK; i++) {
        const llx_fifo_class *k = &p->cls[i];
        p->bits += (double)k->depth * k->width_bits * k->copies;
        p->design_bits += (double)k->design_depth * k->width_bits * k->copies;
        p->bram += llx_sim_bram36(k->depth, k->width_bits) * k->copies;
        p->design_bram += llx_sim_bram36(k->design_depth, k->width_bits) * k->copies;
    }
    if (st != LLX_OK) llx_fifo_layer_plan_free(p);
    return st;
}

void llx_fifo_layer_plan_free(llx_fifo_layer_plan *p)
{
    free(p->cls);
    memset(p, 0, sizeof *p);
}

/* ---- proof ---- */

/* the sized depths of a stage's network, by FIFO name (replicas follow) */
static llx_status depths_of(const llx_sim_config *c, const llx_schedule *s, int stage, const llx_fifo_layer_plan *p,
                            int **out, int *n)
{
    llx_sim_dataflow d;
    LLX_TRY(llx_sim_stage_dataflow(c, s, stage, &d));
    int *dep = calloc((size_t)(d.nfifos ? d.nfifos : 1), sizeof *dep);
    llx_status st = dep ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int f = 0; f < d.nfifos && st == LLX_OK; f++) {
        if (d.fifos[f].replica_of >= 0) continue;
        for (int k = 0; k < p->nclasses; k++)
            if (!strcmp(p->cls[k].name, d.fifos[f].name)) dep[f] = p->cls[k].depth;
        if (!dep[f]) st = llx_fail(LLX_ERR_ARG, "FIFO %s of stage %d has no size in the plan", d.fifos[f].name, stage);
    }
    *n = d.nfifos;
    llx_sim_dataflow_free(&d);
    if (st != LLX_OK) free(dep), dep = NULL;
    *out = dep;
    return st;
}

static llx_status run(const llx_sim_config *c, const llx_schedule *s, int stage, const int *depths, int mode, int watch,
                      llx_sim_stage_run *r)
{
    return llx_sim_stage_run_depths(c, s, stage, depths, mode, watch, r);
}

static llx_status check_one(const llx_sim_config *c, const llx_schedule *s, const llx_fifo_layer_plan *p, int k,
                            int mode, int *depths, llx_fifo_check *ck)
{
    const llx_fifo_class *cl = &p->cls[k];
    llx_sim_dataflow d;
    LLX_TRY(llx_sim_stage_dataflow(c, s, cl->stage, &d));
    int f = -1;
    for (int i = 0; i < d.nfifos && f < 0; i++)
        if (d.fifos[i].replica_of < 0 && !strcmp(d.fifos[i].name, cl->name)) f = i;
    llx_sim_dataflow_free(&d);
    if (f < 0) return llx_fail(LLX_ERR_INTERNAL, "FIFO %s is not in stage %d", cl->name, cl->stage);
    memset(ck, 0, sizeof *ck);
    ck->cls = k, ck->stage = cl->stage;
    llx_sim_stage_run a, b;
    LLX_TRY(run(c, s, cl->stage, depths, mode, cl->prod, &a));
    depths[f]--;
    llx_status st = run(c, s, cl->stage, depths, mode, cl->prod, &b);
    depths[f]++;
    if (st == LLX_OK) {
        ck->sized = a.cycles, ck->cycles = b.cycles, ck->deadlock = b.deadlock.found;
        if (b.deadlock.found) snprintf(ck->what, sizeof ck->what, "%s", b.deadlock.what);
        for (long j = 0; j < a.nfire && j < b.nfire; j++)
            if (b.fire[j] > a.fire[j]) ck->late++, ck->late_cycles += b.fire[j] - a.fire[j];
        llx_sim_stage_run_free(&b);
    }
    llx_sim_stage_run_free(&a);
    return st;
}

static llx_status prove_stage(const llx_sim_config *c, const llx_schedule *s, const llx_fifo_layer_plan *p, int i,
                              int mode, llx_fifo_proof *out)
{
    const int stage = p->stages[i];
    int *depths, n;
    LLX_TRY(depths_of(c, s, stage, p, &depths, &n));
    int *zero = calloc((size_t)(n ? n : 1), sizeof *zero);
    llx_sim_stage_run r;
    llx_status st = zero ? run(c, s, stage, zero, mode, -1, &r) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) out->unbounded[i] = r.cycles, llx_sim_stage_run_free(&r);
    if (st == LLX_OK && (st = run(c, s, stage, depths, mode, -1, &r)) == LLX_OK)
        out->sized[i] = r.deadlock.found ? -1 : r.cycles, llx_sim_stage_run_free(&r);
    if (st == LLX_OK && (st = run(c, s, stage, NULL, mode, -1, &r)) == LLX_OK)
        out->design[i] = r.cycles, llx_sim_stage_run_free(&r);
    if (st == LLX_OK && out->sized[i] < 0)
        st = llx_fail(LLX_ERR_INTERNAL, "stage %d deadlocks with the sized FIFOs", stage);
    if (st == LLX_OK) {
        double dev = (double)(out->sized[i] - out->unbounded[i]) / (double)out->unbounded[i];
        if (dev > out->worst) out->worst = dev;
    }
    for (int k = 0; k < p->nclasses && st == LLX_OK; k++) {
        if (!p->cls[k].critical || p->cls[k].stage != stage) continue;
        st = check_one(c, s, p, k, mode, depths, &out->checks[out->nchecks]);
        if (st == LLX_OK) out->nchecks++;
    }
    free(depths), free(zero);
    return st;
}

llx_status llx_fifo_prove(const llx_sim_config *c, const llx_schedule *s, const llx_fifo_layer_plan *p, int cycle_mode,
                          llx_fifo_proof *out)
{
    memset(out, 0, sizeof *out);
    out->checks = calloc((size_t)(p->nclasses ? p->nclasses : 1), sizeof *out->checks);
    if (!out->checks) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    out->nstages = p->nstages;
    llx_status st = LLX_OK;
    for (int i = 0; i < p->nstages && st == LLX_OK; i++) st = prove_stage(c, s, p, i, cycle_mode, out);
    if (st != LLX_OK) llx_fifo_proof_free(out);
    return st;
}

void llx_fifo_proof_free(llx_fifo_proof *p)
{
    free(p->checks);
    memset(p, 0, sizeof *p);
}
