/* sim/fast.c - the fast engine: token-level max-plus evaluation of a stage
 * network (graph.h).  Each firing's cycle is the largest of its lower bounds:
 * the previous firing + ii, the visibility of the last token it pops, the pop
 * that frees room for what it pushes (+1), and the cycle its rate limiter has
 * the credit.  Processes advance from a worklist until every one has
 * completed; when none can advance the network is deadlocked.  Replica
 * processes and FIFOs are not evaluated (they fire like their originals). */
#include <stdlib.h>
#include <string.h>

#include "sim/graph.h"
#include "util/status.h"

typedef struct fifo_st {
    cyc *vis, *popt; /* per pushed token: visibility; per popped token: pop cycle */
    long pushed, popped;
    int init;         /* initial tokens */
    int prod, cons;   /* the processes at its ends */
} fifo_st;

/* a port as the fast engine needs it (ports on replica FIFOs left out) */
typedef struct fport {
    const sim_port *pt;
    fifo_st *f;
    long cap;  /* room for a push */
    int fifo, dir, n, lat, kind;
} fport;

typedef struct proc_st {
    int ph;         /* absolute index of the next firing's phase */
    long j;         /* firing index within that phase */
    cyc t_prev;     /* last firing */
    int ii_prev;
    cyc rate_t;     /* last rated firing, -1 before the first */
    cyc credit;     /* credit left after it */
    int started, queued;
    int waiting;    /* stopped for a token or a pop of another process */
} proc_st;

typedef struct fast {
    const sim_graph *g;
    fifo_st *f;
    fport *fp;
    int *fp0, *nfp; /* per phase: its ports in fp */
    proc_st *p;
    cyc *done;
    int *queue, qhead, qlen;
    cyc *arena; /* every FIFO's token times */
    int **dependents, *ndep; /* processes gated on each process */
    sim_trace *trace;
    cyc last_fire;
} fast;

static void enqueue(fast *x, int p)
{
    x->p[p].queued = 1;
    x->p[p].waiting = 0;
    int slot = x->qhead + x->qlen++;
    x->queue[slot >= x->g->nprocs ? slot - x->g->nprocs : slot] = p;
}

/* wake process p if it stopped waiting for something another process did */
static inline void wake(fast *x, int p)
{
    if (p >= 0 && x->p[p].waiting) enqueue(x, p);
}

static cyc max_c(cyc a, cyc b) { return a > b ? a : b; }

/* Earliest cycle of process p's next firing, or -1 when it must wait for a
 * token or a pop another process has not made yet. */
static cyc next_time(const fast *x, int p)
{
    const sim_graph *g = x->g;
    const sim_proc *pr = &g->procs[p];
    const proc_st *s = &x->p[p];
    const sim_phase *ph = &g->phases[s->ph];
    cyc t;
    if (!s->started) {
        t = 0;
        for (int k = 0; k < SIM_MAX_AFTER; k++) {
            int q = pr->after[k];
            if (q < 0) continue;
            if (x->done[q] < 0) return -1;
            t = max_c(t, x->done[q]);
        }
    } else {
        t = s->t_prev + s->ii_prev;
    }
    if (s->j == 0) t += ph->delay;
    const fport *fp = x->fp + x->fp0[s->ph];
    for (int i = 0; i < x->nfp[s->ph]; i++) {
        const fport *q = &fp[i];
        if (q->kind != SIM_ON_EVERY && !sim_port_on(q->pt, s->j, ph->n)) continue;
        const fifo_st *f = q->f;
        if (q->dir == SIM_POP) {
            long k = f->popped + q->n - 1 - f->init; /* last needed token, among pushed ones */
            if (k < 0) continue;
            if (k >= f->pushed) return -1;
            t = max_c(t, f->vis[k]);
        } else {
            long m = f->init + f->pushed + q->n - q->cap; /* pops needed first */
            if (m <= 0) continue;
            if (f->popped < m) return -1;
            t = max_c(t, f->popt[m - 1] + 1);
        }
    }
    if (ph->rated) {
        const sim_rate *r = &pr->rate;
        cyc need = r->cost - s->credit;
        cyc wait = need <= 0 ? 1 : (need + r->num - 1) / r->num;
        if (wait < 1) wait = 1;
        t = max_c(t, s->rate_t + wait);
    }
    return t;
}

static int fire(fast *x, int p, cyc t)
{
    const sim_graph *g = x->g;
    const sim_proc *pr = &g->procs[p];
    proc_st *s = &x->p[p];
    const sim_phase *ph = &g->phases[s->ph];
    const fport *fp = x->fp + x->fp0[s->ph];
    for (int i = 0; i < x->nfp[s->ph]; i++) {
        const fport *q = &fp[i];
        if (q->kind != SIM_ON_EVERY && !sim_port_on(q->pt, s->j, ph->n)) continue;
        fifo_st *f = q->f;
        if (q->dir == SIM_POP) {
            if (q->n == 1) f->popt[f->popped++] = t;
            else
                for (int k = 0; k < q->n; k++) f->popt[f->popped++] = t;
            wake(x, f->prod);
        } else {
            for (int k = 0; k < q->n; k++) {
                cyc v = t + q->lat;
                if (f->pushed > 0 && f->vis[f->pushed - 1] > v) v = f->vis[f->pushed - 1];
                f->vis[f->pushed++] = v;
            }
            wake(x, f->cons);
        }
    }
    if (ph->rated) {
        const sim_rate *r = &pr->rate;
        cyc c = s->credit + (t - s->rate_t) * r->num;
        if (c > r->cap) c = r->cap;
        s->credit = c - r->cost;
        s->rate_t = t;
    }
    if (pr->trace && sim_trace_add(&x->trace[p], t)) return -1;
    s->t_prev = t;
    s->ii_prev = ph->ii;
    s->started = 1;
    if (t > x->last_fire) x->last_fire = t;
    if (++s->j == ph->n) {
        s->j = 0;
        if (++s->ph == pr->phase0 + pr->nphases) {
            s->ph--; /* stay on a valid phase for reports */
            x->done[p] = t + ph->ii;
            for (int k = 0; k < x->ndep[p]; k++) wake(x, x->dependents[p][k]);
        }
    }
    return 0;
}

static int setup(fast *x, const sim_graph *g, sim_outcome *o)
{
    memset(x, 0, sizeof *x);
    x->g = g;
    x->done = o->done;
    x->trace = o->trace;
    x->last_fire = -1;
    size_t np = (size_t)(g->nprocs ? g->nprocs : 1), nf = (size_t)(g->nfifos ? g->nfifos : 1);
    x->f = calloc(nf, sizeof *x->f);
    x->p = calloc(np, sizeof *x->p);
    x->queue = calloc(np, sizeof *x->queue);
    x->ndep = calloc(np, sizeof *x->ndep);
    x->dependents = calloc(np, sizeof *x->dependents);
    x->fp = malloc(sizeof *x->fp * (size_t)(g->nports ? g->nports : 1));
    x->fp0 = malloc(sizeof *x->fp0 * (size_t)(g->nphases ? g->nphases : 1));
    x->nfp = calloc((size_t)(g->nphases ? g->nphases : 1), sizeof *x->nfp);
    if (!x->f || !x->p || !x->queue || !x->ndep || !x->dependents || !x->fp || !x->fp0 || !x->nfp) return -1;
    int nfp = 0;
    for (int ph = 0; ph < g->nphases; ph++) {
        x->fp0[ph] = nfp;
        for (int i = g->phases[ph].port0; i < g->phases[ph].port0 + g->phases[ph].nports; i++) {
            const sim_port *pt = &g->ports[i];
            const sim_fifo *fi = &g->fifos[pt->fifo];
            if (fi->replica_of >= 0) continue;
            x->fp[nfp++] = (fport){pt, &x->f[pt->fifo], sim_push_cap(fi, pt->lat), pt->fifo, pt->dir, pt->n, pt->lat,
                                   pt->kind};
            x->nfp[ph]++;
        }
    }
    for (int i = 0; i < g->nfifos; i++)
        x->f[i].init = g->fifos[i].init, x->f[i].prod = g->fifos[i].prod, x->f[i].cons = g->fifos[i].cons;
    size_t cells = 0;
    for (int i = 0; i < g->nfifos; i++)
        if (g->fifos[i].replica_of < 0) cells += (size_t)g->fifos[i].pushes + (size_t)g->fifos[i].pops;
    x->arena = malloc(sizeof(cyc) * (cells ? cells : 1));
    if (!x->arena) return -1;
    cyc *cur = x->arena;
    for (int i = 0; i < g->nfifos; i++) {
        const sim_fifo *fi = &g->fifos[i];
        if (fi->replica_of >= 0) continue;
        x->f[i].vis = cur, cur += fi->pushes;
        x->f[i].popt = cur, cur += fi->pops;
    }
    for (int p = 0; p < g->nprocs; p++) {
        x->p[p].ph = g->procs[p].phase0;
        x->p[p].rate_t = -1;
        for (int k = 0; k < SIM_MAX_AFTER; k++)
            if (g->procs[p].after[k] >= 0) x->ndep[g->procs[p].after[k]]++;
    }
    for (int p = 0; p < g->nprocs; p++) {
        if (x->ndep[p]) {
            x->dependents[p] = malloc(sizeof(int) * (size_t)x->ndep[p]);
            if (!x->dependents[p]) return -1;
        }
        x->ndep[p] = 0;
    }
    for (int p = 0; p < g->nprocs; p++)
        for (int k = 0; k < SIM_MAX_AFTER; k++) {
            int q = g->procs[p].after[k];
            if (q >= 0) x->dependents[q][x->ndep[q]++] = p;
        }
    return 0;
}

static void teardown(fast *x)
{
    free(x->arena);
    for (int p = 0; x->dependents && p < x->g->nprocs; p++) free(x->dependents[p]);
    free(x->f), free(x->p), free(x->queue), free(x->ndep), free(x->dependents), free(x->fp), free(x->fp0), free(x->nfp);
}

/* most tokens waiting at once: init + tokens visible by a cycle minus pops
 * of earlier cycles, maximised over the cycles tokens become visible */
static int max_occupancy(const sim_fifo *fi, const fifo_st *f)
{
    long best = fi->init, k = 0;
    for (long i = 0; i < f->pushed; i++) {
        if (i + 1 < f->pushed && f->vis[i + 1] == f->vis[i]) continue; /* count all tokens of that cycle */
        while (k < f->popped && f->popt[k] < f->vis[i]) k++;
        long occ = fi->init + i + 1 - k;
        if (occ > best) best = occ;
    }
    return (int)best;
}

llx_status sim_run_fast(const sim_graph *g, sim_outcome *o)
{
    if (!g->finalized) return llx_fail(LLX_ERR_INTERNAL, "simulator network not finalized");
    LLX_TRY(sim_outcome_alloc(o, g));
    fast x;
    if (setup(&x, g, o)) {
        teardown(&x);
        sim_outcome_free(o);
        return llx_fail(LLX_ERR_NOMEM, "out of memory in the fast simulator");
    }
    for (int p = 0; p < g->nprocs; p++)
        if (g->procs[p].replica_of < 0) enqueue(&x, p);
    int oom = 0;
    while (x.qlen > 0 && !oom) {
        int p = x.queue[x.qhead];
        if (++x.qhead == g->nprocs) x.qhead = 0;
        x.qlen--;
        x.p[p].queued = 0;
        while (x.done[p] < 0) {
            cyc t = next_time(&x, p);
            if (t < 0) {
                x.p[p].waiting = 1;
                break;
            }
            if (fire(&x, p, t)) {
                oom = 1;
                break;
            }
        }
    }
    llx_status st = LLX_OK;
    if (oom) {
        st = llx_fail(LLX_ERR_NOMEM, "out of memory in the fast simulator");
    } else {
        for (int p = 0; p < g->nprocs; p++) {
            int r = g->procs[p].replica_of;
            if (r >= 0) o->done[p] = o->done[r]; /* a replica ends no later than its original */
            if (o->done[p] < 0) o->deadlock = 1;
            else if (o->done[p] > o->end) o->end = o->done[p];
        }
        for (int i = 0; g->want_occ && i < g->nfifos; i++)
            o->max_occ[i] = g->fifos[i].replica_of >= 0 ? 0 : max_occupancy(&g->fifos[i], &x.f[i]);
        if (o->deadlock) {
            long *pushed = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *pushed);
            long *popped = calloc((size_t)(g->nfifos ? g->nfifos : 1), sizeof *popped);
            int *ph = malloc(sizeof *ph * (size_t)(g->nprocs ? g->nprocs : 1));
            long *jj = malloc(sizeof *jj * (size_t)(g->nprocs ? g->nprocs : 1));
            if (pushed && popped && ph && jj) {
                for (int i = 0; i < g->nfifos; i++) pushed[i] = x.f[i].pushed, popped[i] = x.f[i].popped;
                for (int p = 0; p < g->nprocs; p++) ph[p] = x.p[p].ph, jj[p] = x.p[p].j;
                o->deadlock_cycle = x.last_fire + 1;
                sim_deadlock_text(g, pushed, popped, ph, jj, o->done, o->deadlock_cycle, o->why, sizeof o->why);
            } else {
                st = llx_fail(LLX_ERR_NOMEM, "out of memory in the fast simulator");
            }
            free(pushed), free(popped), free(ph), free(jj);
        }
    }
    teardown(&x);
    if (st != LLX_OK) sim_outcome_free(o);
    return st;
}
