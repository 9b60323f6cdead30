/* sim/cycle.c - the cycle-stepped engine: runs a stage network (graph.h)
 * one clock at a time.  Every FIFO keeps its occupancy and the tokens in
 * flight towards its consumer; every rate limiter is a credit counter that
 * gains `num` each cycle; in each cycle every process checks its next
 * firing against the state at the start of the cycle, then all firings are
 * applied at once.  Replica processes are simulated like any other (one DMA
 * per slice, one lane per head).  It shares no timing code with fast.c: a
 * test checks that the two agree.  A cycle in which nothing fires, nothing
 * is in flight and no process waits only for time or credit is a deadlock. */
#include <stdlib.h>
#include <string.h>

#include "sim/graph.h"
#include "util/status.h"

#define FLIGHT_FIRST 16 /* not timing: first allocation of a FIFO's in-flight ring */

typedef struct cfifo {
    long pushed, popped, visible;
    cyc *flight; /* ring of visibility cycles of tokens in flight */
    long fhead, fcount, fcap;
    cyc last_vis;
} cfifo;

typedef struct cproc {
    int ph;
    long j;
    cyc next_ok; /* earliest cycle allowed by ii/delay once started */
    cyc credit;
    int started;
} cproc;

typedef struct cyc_state {
    const sim_graph *g;
    cfifo *f;
    cproc *p;
    cyc *done;
    int *fire;
} cyc_state;

static int gates_done(const cyc_state *s, int p, cyc t, int need_time)
{
    const sim_proc *pr = &s->g->procs[p];
    for (int k = 0; k < SIM_MAX_AFTER; k++) {
        int q = pr->after[k];
        if (q < 0) continue;
        if (s->done[q] < 0) return 0;
        if (need_time && s->done[q] + (s->p[p].j == 0 ? s->g->phases[s->p[p].ph].delay : 0) > t) return 0;
    }
    return 1;
}

/* may process p fire at cycle t?  `timeless` ignores ii/delay/credit (used
 * to tell a deadlock from a process that is only waiting for time) */
static int can_fire(const cyc_state *s, int p, cyc t, int timeless)
{
    const sim_graph *g = s->g;
    const sim_proc *pr = &g->procs[p];
    const cproc *c = &s->p[p];
    const sim_phase *ph = &g->phases[c->ph];
    if (!c->started) {
        if (!gates_done(s, p, t, !timeless)) return 0;
        if (!timeless && t < ph->delay) return 0;
    } else if (!timeless && t < c->next_ok) {
        return 0;
    }
    for (int i = ph->port0; i < ph->port0 + ph->nports; i++) {
        const sim_port *pt = &g->ports[i];
        if (!sim_port_on(pt, c->j, ph->n)) continue;
        const sim_fifo *fi = &g->fifos[pt->fifo];
        const cfifo *f = &s->f[pt->fifo];
        if (pt->dir == SIM_POP) {
            long avail = fi->init + (timeless ? f->pushed : f->visible) - f->popped;
            if (avail < pt->n) return 0;
        } else if (fi->init + f->pushed + pt->n - f->popped > sim_push_cap(fi, pt->lat)) {
            return 0;
        }
    }
    if (!timeless && ph->rated && c->credit < pr->rate.cost) return 0;
    return 1;
}

static int push_flight(cfifo *f, cyc v)
{
    if (f->fcount == f->fcap) {
        long nc = f->fcap ? 2 * f->fcap : FLIGHT_FIRST;
        cyc *q = malloc(sizeof *q * (size_t)nc);
        if (!q) return -1;
        for (long i = 0; i < f->fcount; i++) q[i] = f->flight[(f->fhead + i) % f->fcap];
        free(f->flight);
        f->flight = q, f->fhead = 0, f->fcap = nc;
    }
    f->flight[(f->fhead + f->fcount++) % f->fcap] = v;
    return 0;
}

static int apply(cyc_state *s, int p, cyc t)
{
    const sim_graph *g = s->g;
    cproc *c = &s->p[p];
    const sim_phase *ph = &g->phases[c->ph];
    for (int i = ph->port0; i < ph->port0 + ph->nports; i++) {
        const sim_port *pt = &g->ports[i];
        if (!sim_port_on(pt, c->j, ph->n)) continue;
        cfifo *f = &s->f[pt->fifo];
        if (pt->dir == SIM_POP) continue; /* pops applied after all pushes of this cycle */
        for (int k = 0; k < pt->n; k++) {
            cyc v = t + pt->lat;
            if (v < f->last_vis) v = f->last_vis;
            f->last_vis = v;
            if (push_flight(f, v)) return -1;
        }
        f->pushed += pt->n;
    }
    return 0;
}

static int apply_pops_and_advance(cyc_state *s, int p, cyc t, sim_outcome *o)
{
    const sim_graph *g = s->g;
    const sim_proc *pr = &g->procs[p];
    cproc *c = &s->p[p];
    const sim_phase *ph = &g->phases[c->ph];
    for (int i = ph->port0; i < ph->port0 + ph->nports; i++) {
        const sim_port *pt = &g->ports[i];
        if (pt->dir == SIM_POP && sim_port_on(pt, c->j, ph->n)) s->f[pt->fifo].popped += pt->n;
    }
    if (ph->rated) c->credit -= pr->rate.cost;
    if (pr->trace && sim_trace_add(&o->trace[p], t)) return -1;
    c->started = 1;
    c->next_ok = t + ph->ii;
    if (++c->j == ph->n) {
        c->j = 0;
        if (c->ph + 1 == pr->phase0 + pr->nphases) {
            s->done[p] = t + ph->ii;
        } else {
            c->ph++;
            c->next_ok += g->phases[c->ph].delay;
        }
    }
    return 0;
}

/* nothing fired in this cycle: is anything still going to happen? */
static int pending(const cyc_state *s, cyc t)
{
    const sim_graph *g = s->g;
    for (int i = 0; i < g->nfifos; i++)
        if (s->f[i].fcount > 0) return 1;
    for (int p = 0; p < g->nprocs; p++) {
        if (s->done[p] >= 0) continue;
        if (can_fire(s, p, t, 1)) return 1; /* waits only for ii, delay, a gate's last cycle or credit */
    }
    return 0;
}

static void deadlock_report(const cyc_state *s, cyc last_fire, sim_outcome *o)
{
    const sim_graph *g = s->g;
    long *pushed = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *pushed);
    long *popped = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *popped);
    int *ph = malloc(sizeof *ph * (size_t)(g->nprocs ? g->nprocs : 1));
    long *jj = malloc(sizeof *jj * (size_t)(g->nprocs ? g->nprocs : 1));
    o->deadlock = 1;
    o->deadlock_cycle = last_fire + 1;
    if (pushed && popped && ph && jj) {
        for (int i = 0; i < g->nfifos; i++) pushed[i] = s->f[i].pushed, popped[i] = s->f[i].popped;
        for (int p = 0; p < g->nprocs; p++) ph[p] = s->p[p].ph, jj[p] = s->p[p].j;
        sim_deadlock_text(g, pushed, popped, ph, jj, s->done, o->deadlock_cycle, o->why, sizeof o->why);
    }
    free(pushed), free(popped), free(ph), free(jj);
}

static void cleanup(cyc_state *s)
{
    for (int i = 0; s->f && i < s->g->nfifos; i++) free(s->f[i].flight);
    free(s->f), free(s->p), free(s->fire);
}

llx_status sim_run_cycle(const sim_graph *g, sim_outcome *o)
{
    if (!g->finalized) return llx_fail(LLX_ERR_INTERNAL, "simulator network not finalized");
    LLX_TRY(sim_outcome_alloc(o, g));
    cyc_state s = {g, NULL, NULL, o->done, NULL};
    s.f = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *s.f);
    s.p = calloc((size_t)(g->nprocs ? g->nprocs : 1), sizeof *s.p);
    s.fire = malloc(sizeof *s.fire * (size_t)(g->nprocs ? g->nprocs : 1));
    int oom = !s.f || !s.p || !s.fire;
    for (int p = 0; !oom && p < g->nprocs; p++) s.p[p].ph = g->procs[p].phase0;
    for (int i = 0; !oom && g->want_occ && i < g->nfifos; i++) o->max_occ[i] = g->fifos[i].init;
    int left = g->nprocs;
    cyc last_fire = -1;
    for (cyc t = 0; !oom && left > 0; t++) {
        for (int i = 0; i < g->nfifos; i++) {
            cfifo *f = &s.f[i];
            if (f->fcount == 0 || f->flight[f->fhead] > t) continue;
            while (f->fcount > 0 && f->flight[f->fhead] <= t) {
                f->visible++;
                f->fhead = (f->fhead + 1) % f->fcap;
                f->fcount--;
            }
            long occ = g->fifos[i].init + f->visible - f->popped;
            if (g->want_occ && occ > o->max_occ[i]) o->max_occ[i] = (int)occ;
        }
        int nfire = 0;
        for (int p = 0; p < g->nprocs; p++) {
            if (s.done[p] >= 0) continue;
            const sim_proc *pr = &g->procs[p];
            if (pr->has_rate) {
                s.p[p].credit += pr->rate.num;
                if (s.p[p].credit > pr->rate.cap) s.p[p].credit = pr->rate.cap;
            }
            if (can_fire(&s, p, t, 0)) s.fire[nfire++] = p;
        }
        for (int k = 0; k < nfire && !oom; k++) oom = apply(&s, s.fire[k], t) != 0;
        for (int k = 0; k < nfire && !oom; k++) {
            oom = apply_pops_and_advance(&s, s.fire[k], t, o) != 0;
            if (s.done[s.fire[k]] >= 0) left--;
        }
        if (nfire) {
            last_fire = t;
        } else if (!pending(&s, t)) {
            deadlock_report(&s, last_fire, o);
            break;
        }
    }
    if (oom) {
        cleanup(&s);
        sim_outcome_free(o);
        return llx_fail(LLX_ERR_NOMEM, "out of memory in the cycle-stepped simulator");
    }
    for (int p = 0; p < g->nprocs; p++)
        if (o->done[p] > o->end) o->end = o->done[p];
    cleanup(&s);
    return LLX_OK;
}
