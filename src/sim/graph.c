/* sim/graph.c - building and checking a stage network (graph.h), the
 * per-port activity count and the deadlock report both engines share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/graph.h"
#include "util/status.h"

void sim_graph_init(sim_graph *g) { memset(g, 0, sizeof *g); }

void sim_graph_free(sim_graph *g)
{
    free(g->procs), free(g->phases), free(g->ports), free(g->fifos);
    memset(g, 0, sizeof *g);
}

/* grow an array of `size`-byte elements to hold one more */
#define GROW_FIRST 16       /* not timing: first allocation of a builder array */
#define TRACE_FIRST 256     /* not timing: first allocation of a trace */
#define REPORT_ITEMS 8      /* not timing: processes listed in a deadlock report */
#define ITEM_LEN 200        /* not timing */

static int grow(void **arr, int *cap, int count, size_t size, int *oom)
{
    if (count < *cap) return 0;
    int nc = *cap ? 2 * *cap : GROW_FIRST;
    void *p = realloc(*arr, (size_t)nc * size);
    if (!p) {
        *oom = 1;
        return -1;
    }
    *arr = p;
    *cap = nc;
    return 0;
}

static void set_name(char *dst, size_t len, const char *name)
{
    snprintf(dst, len, "%s", name ? name : "?");
}

int sim_fifo_add(sim_graph *g, const char *name, int depth, int init, int width_bits)
{
    if (grow((void **)&g->fifos, &g->cap_fifos, g->nfifos, sizeof *g->fifos, &g->oom)) return -1;
    sim_fifo *f = &g->fifos[g->nfifos];
    memset(f, 0, sizeof *f);
    set_name(f->name, sizeof f->name, name);
    f->depth = depth, f->init = init, f->width_bits = width_bits;
    f->prod = f->cons = -1;
    f->replica_of = -1;
    return g->nfifos++;
}

int sim_proc_add(sim_graph *g, const char *name, int node, sim_pkind kind)
{
    if (grow((void **)&g->procs, &g->cap_procs, g->nprocs, sizeof *g->procs, &g->oom)) return -1;
    sim_proc *p = &g->procs[g->nprocs];
    memset(p, 0, sizeof *p);
    set_name(p->name, sizeof p->name, name);
    p->node = node, p->kind = kind;
    p->replica_of = -1;
    for (int k = 0; k < SIM_MAX_AFTER; k++) p->after[k] = -1;
    return g->nprocs++;
}

void sim_proc_rate(sim_graph *g, int p, sim_rate r)
{
    if (p < 0) return;
    g->procs[p].rate = r;
    g->procs[p].has_rate = 1;
}

void sim_proc_after(sim_graph *g, int p, int q)
{
    if (p < 0 || q < 0) return;
    for (int k = 0; k < SIM_MAX_AFTER; k++)
        if (g->procs[p].after[k] < 0) {
            g->procs[p].after[k] = q;
            return;
        }
    g->oom = 2; /* too many gates: reported by finalize */
}

int sim_phase_add(sim_graph *g, int p, long n, int ii, int delay, int rated)
{
    if (p < 0) return -1;
    if (grow((void **)&g->phases, &g->cap_phases, g->nphases, sizeof *g->phases, &g->oom)) return -1;
    sim_phase *ph = &g->phases[g->nphases];
    memset(ph, 0, sizeof *ph);
    ph->proc = p, ph->seq = g->nphases;
    ph->n = n, ph->ii = ii, ph->delay = delay, ph->rated = rated;
    return g->nphases++;
}

void sim_port_add(sim_graph *g, int phase, int fifo, int dir, int n, int lat, sim_pat pat)
{
    if (phase < 0 || fifo < 0) return;
    if (grow((void **)&g->ports, &g->cap_ports, g->nports, sizeof *g->ports, &g->oom)) return;
    g->ports[g->nports] = (sim_port){phase, fifo, dir, n, lat, pat, SIM_ON_PATTERN, g->nports};
    g->nports++;
}

long sim_pat_count(sim_pat p, long n)
{
    if (n <= 0) return 0;
    long w = p.hi >= p.lo ? p.hi - p.lo + 1 : 0;
    /* F(m): j' in [0, m) with j' % period in [lo, hi] */
#define PAT_F(m) ((m) / p.period * w + ((m) % p.period - p.lo < 0 ? 0 : ((m) % p.period - p.lo > w ? w : (m) % p.period - p.lo)))
    long c = w ? PAT_F(n + p.shift) - PAT_F(p.shift) : 0;
#undef PAT_F
    if (p.last) {
        long r = (n - 1 + p.shift) % p.period;
        if (!(r >= p.lo && r <= p.hi)) c++;
    }
    return c;
}

static int cmp_phase(const void *a, const void *b)
{
    const sim_phase *x = a, *y = b;
    if (x->proc != y->proc) return x->proc < y->proc ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_port(const void *a, const void *b)
{
    const sim_port *x = a, *y = b;
    if (x->phase != y->phase) return x->phase < y->phase ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static llx_status check_ends(const sim_graph *g)
{
    for (int f = 0; f < g->nfifos; f++) {
        const sim_fifo *q = &g->fifos[f];
        if (q->prod < 0 || q->cons < 0)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: FIFO %s has no %s", q->name,
                            q->prod < 0 ? "producer" : "consumer");
        if (q->depth < 1 || q->init < 0 || q->init > q->depth)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: FIFO %s has depth %d and %d initial tokens",
                            q->name, q->depth, q->init);
        if (q->pushes + q->init < q->pops)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: FIFO %s pops %ld tokens but gets %ld", q->name,
                            q->pops, q->pushes + q->init);
    }
    for (int p = 0; p < g->nprocs; p++) {
        const sim_proc *pr = &g->procs[p];
        if (pr->has_rate && (pr->rate.num < 1 || pr->rate.cost < 1 || pr->rate.cap < pr->rate.cost))
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: process %s has a bad rate", pr->name);
        if (pr->replica_of >= p)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: %s copies a later process", pr->name);
    }
    return LLX_OK;
}

llx_status sim_graph_finalize(sim_graph *g)
{
    if (g->oom == 1) return llx_fail(LLX_ERR_NOMEM, "out of memory building a simulator network");
    if (g->oom == 2) return llx_fail(LLX_ERR_INTERNAL, "simulator network: too many gates on a process");
    /* phases grouped per process in the order they were added; ports per phase */
    int *map = malloc(sizeof *map * (size_t)(g->nphases ? g->nphases : 1));
    if (!map) return llx_fail(LLX_ERR_NOMEM, "out of memory building a simulator network");
    if (g->nphases) qsort(g->phases, (size_t)g->nphases, sizeof *g->phases, cmp_phase);
    for (int i = 0; i < g->nphases; i++) map[g->phases[i].seq] = i;
    for (int i = 0; i < g->nports; i++) g->ports[i].phase = map[g->ports[i].phase];
    free(map);
    if (g->nports) qsort(g->ports, (size_t)g->nports, sizeof *g->ports, cmp_port);
    for (int p = 0; p < g->nprocs; p++) g->procs[p].phase0 = -1, g->procs[p].nphases = 0;
    for (int i = 0; i < g->nphases; i++) {
        sim_phase *ph = &g->phases[i];
        sim_proc *pr = &g->procs[ph->proc];
        if (pr->phase0 < 0) pr->phase0 = i;
        pr->nphases++;
        ph->port0 = -1, ph->nports = 0;
        if (ph->n < 1 || ph->ii < 1 || ph->delay < 0)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: phase of %s has n=%ld ii=%d", pr->name, ph->n, ph->ii);
    }
    for (int i = 0; i < g->nports; i++) {
        sim_port *pt = &g->ports[i];
        sim_phase *ph = &g->phases[pt->phase];
        if (ph->port0 < 0) ph->port0 = i;
        ph->nports++;
        sim_fifo *f = &g->fifos[pt->fifo];
        int *end = pt->dir == SIM_PUSH ? &f->prod : &f->cons;
        if (*end >= 0 && *end != ph->proc)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: FIFO %s has two %s", f->name,
                            pt->dir == SIM_PUSH ? "producers" : "consumers");
        *end = ph->proc;
        if (pt->n < 1 || pt->pat.period < 1 || (pt->dir == SIM_PUSH && pt->lat < 1) || pt->n > f->depth)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: bad port on FIFO %s", f->name);
        long c = sim_pat_count(pt->pat, ph->n) * pt->n;
        const sim_pat *q = &pt->pat;
        if (q->period == 1 && q->lo == 0 && q->hi == 0) pt->kind = SIM_ON_EVERY;
        else if (q->period >= ph->n && q->shift == 0 && q->lo == 0 && q->hi == 0 && !q->last) pt->kind = SIM_ON_FIRST;
        else if (q->period >= ph->n + q->shift && q->lo > q->hi && q->last) pt->kind = SIM_ON_LAST;
        else pt->kind = SIM_ON_PATTERN;
        if (pt->dir == SIM_PUSH) f->pushes += c;
        else f->pops += c;
    }
    for (int p = 0; p < g->nprocs; p++)
        if (g->procs[p].nphases == 0)
            return llx_fail(LLX_ERR_INTERNAL, "simulator network: process %s has no phases", g->procs[p].name);
    g->finalized = 1;
    return check_ends(g);
}

llx_status sim_outcome_alloc(sim_outcome *o, const sim_graph *g)
{
    memset(o, 0, sizeof *o);
    size_t np = (size_t)(g->nprocs ? g->nprocs : 1), nf = (size_t)(g->nfifos ? g->nfifos : 1);
    o->done = malloc(sizeof *o->done * np);
    o->trace = calloc(np, sizeof *o->trace);
    o->max_occ = calloc(nf, sizeof *o->max_occ);
    if (!o->done || !o->trace || !o->max_occ) {
        sim_outcome_free(o);
        return llx_fail(LLX_ERR_NOMEM, "out of memory running a simulator network");
    }
    o->nprocs = g->nprocs;
    for (int p = 0; p < g->nprocs; p++) o->done[p] = -1;
    return LLX_OK;
}

void sim_outcome_free(sim_outcome *o)
{
    for (int i = 0; o->trace && i < o->nprocs; i++) free(o->trace[i].t);
    free(o->done), free(o->trace), free(o->max_occ);
    memset(o, 0, sizeof *o);
}

int sim_trace_add(sim_trace *tr, cyc t)
{
    if (tr->n == tr->cap) {
        long nc = tr->cap ? 2 * tr->cap : TRACE_FIRST;
        cyc *q = realloc(tr->t, sizeof *q * (size_t)nc);
        if (!q) return -1;
        tr->t = q, tr->cap = nc;
    }
    tr->t[tr->n++] = t;
    return 0;
}

/* append `s` to buf (bounded) */
static void cat(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < len) snprintf(buf + n, len - n, "%s", s);
}

void sim_deadlock_text(const sim_graph *g, const long *pushed, const long *popped, const int *next_phase,
                       const long *next_j, const cyc *done, cyc cycle, char *buf, size_t len)
{
    char item[ITEM_LEN];
    snprintf(buf, len, "deadlock at cycle %lld:", cycle);
    int listed = 0;
    for (int p = 0; p < g->nprocs; p++) {
        const sim_proc *pr = &g->procs[p];
        if (done[p] >= 0 || pr->replica_of >= 0) continue;
        item[0] = 0;
        for (int k = 0; k < SIM_MAX_AFTER && !item[0]; k++)
            if (pr->after[k] >= 0 && done[pr->after[k]] < 0)
                snprintf(item, sizeof item, " %s waits for %s to finish;", pr->name, g->procs[pr->after[k]].name);
        const sim_phase *ph = &g->phases[next_phase[p]];
        for (int i = ph->port0; i < ph->port0 + ph->nports && !item[0]; i++) {
            const sim_port *pt = &g->ports[i];
            const sim_fifo *f = &g->fifos[pt->fifo];
            if (f->replica_of >= 0 || !sim_port_on(pt, next_j[p], ph->n)) continue;
            long occ = f->init + pushed[pt->fifo] - popped[pt->fifo];
            if (pt->dir == SIM_POP && occ < pt->n)
                snprintf(item, sizeof item, " %s waits on %s (empty);", pr->name, f->name);
            else if (pt->dir == SIM_PUSH && occ + pt->n > sim_push_cap(f, pt->lat))
                snprintf(item, sizeof item, " %s blocked by %s (full, %ld/%ld);", pr->name, f->name, occ,
                         sim_push_cap(f, pt->lat));
        }
        if (!item[0]) snprintf(item, sizeof item, " %s stalled;", pr->name);
        if (listed++ < REPORT_ITEMS) cat(buf, len, item);
    }
    if (listed > REPORT_ITEMS) {
        snprintf(item, sizeof item, " and %d more", listed - REPORT_ITEMS);
        cat(buf, len, item);
    }
}
