/* dse/front.c - what the search keeps: the Pareto front of latency against
 * DSP, LUT and BRAM (or the `top` designs by latency or tokens per joule), the
 * pruning tests against it, the paper's designs placed against it, and the
 * end of a search: every reported design re-timed as a whole by
 * llx_sim_run (the composed time must be the same to the cycle) and the
 * best ones re-run on the cycle-stepped engine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dse/search.h"
#include "util/status.h"

/* the front's objectives: latency and, over all devices, DSP, LUT and BRAM */
static int weakly(const llx_dse_point *a, const llx_dse_point *b)
{
    return a->latency_ms <= b->latency_ms && a->total[0] <= b->total[0] && a->total[1] <= b->total[1] &&
           a->total[3] <= b->total[3];
}

static int same(const llx_dse_point *a, const llx_dse_point *b)
{
    return a->latency_ms == b->latency_ms && a->total[0] == b->total[0] && a->total[1] == b->total[1] &&
           a->total[3] == b->total[3];
}

int llx_dse_dominates(const llx_dse_point *a, const llx_dse_point *b) { return weakly(a, b) && !same(a, b); }

/* a setting of one of c's groups is beaten by a timed sibling setting: the
 * sibling candidate (same structure, same resources) is at least as fast */
static int group_beaten(const search *x, const cand *c)
{
    /* only for the front: a beaten design may still be among the `top`, and
     * for tokens per joule siblings may move different ring bytes */
    if (x->o->objective != LLX_DSE_PARETO) return 0;
    if (x->o->max_candidates > 0 && x->o->max_candidates < x->sp.total) return 0; /* the sibling may be unsampled */
    for (int g = 0; g < x->nkern; g++) {
        const gslot *s = &x->gs[c->g[g]];
        if (s->state != 2 && x->best[s->sib] >= 0 && x->best[s->sib] <= s->bound) return 1;
    }
    return 0;
}

int dse_pruned(const search *x, const cand *c)
{
    const llx_dse_result *r = x->r;
    switch (x->o->objective) {
    case LLX_DSE_PARETO:
        for (int i = 0; i < r->n_front; i++) {
            const llx_dse_point *f = &r->front[i];
            if (f->latency_ms <= c->lb_ms && f->total[0] <= c->dsp && f->total[1] <= c->lut && f->total[3] <= c->bram)
                return 1;
        }
        break;
    case LLX_DSE_LATENCY:
        if (r->n_front == x->o->top && c->lb_ms >= r->front[r->n_front - 1].latency_ms) return 1;
        break;
    case LLX_DSE_TPJ:
        if (r->n_front == x->o->top) {
            unsigned char idx[LLX_DSE_MAX_KNOBS];
            llx_sim_config cfg;
            dse_decode(&x->sp, c->id, idx);
            dse_apply(&x->sp, &x->o->base, idx, &cfg);
            llx_sim_pass none;
            memset(&none, 0, sizeof none);
            llx_sim_power pw; /* no HBM or ring energy: a lower bound on the power */
            llx_sim_power_of(&cfg, &x->rs[c->res], &none, c->lb_ms * 1e-3, &pw);
            if (1e3 / c->lb_ms / pw.total_w <= r->front[r->n_front - 1].tokens_per_joule) return 1;
        }
        break;
    }
    return group_beaten(x, c);
}

static int push_point(llx_dse_point **arr, int *n, int *cap, const llx_dse_point *p)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        llx_dse_point *q = realloc(*arr, sizeof *q * (size_t)nc);
        if (!q) return -1;
        *arr = q, *cap = nc;
    }
    (*arr)[(*n)++] = *p;
    return 0;
}

static double score(const search *x, const llx_dse_point *p)
{
    return x->o->objective == LLX_DSE_TPJ ? -p->tokens_per_joule : p->latency_ms;
}

llx_status dse_offer(search *x, const llx_dse_point *p)
{
    llx_dse_result *r = x->r;
    if (push_point(&r->all, &r->n_all, &x->capall, p))
        return llx_fail(LLX_ERR_NOMEM, "out of memory in the design-space search");
    if (x->o->objective == LLX_DSE_PARETO) {
        for (int i = 0; i < r->n_front; i++)
            if (weakly(&r->front[i], p)) return LLX_OK;
        int n = 0;
        for (int i = 0; i < r->n_front; i++)
            if (!weakly(p, &r->front[i])) r->front[n++] = r->front[i];
        r->n_front = n;
        if (push_point(&r->front, &r->n_front, &x->capfront, p))
            return llx_fail(LLX_ERR_NOMEM, "out of memory in the design-space search");
        return LLX_OK;
    }
    /* the top designs, best first; an equal score keeps the earlier one first,
     * and a design equal to a kept one in every objective is not kept twice */
    for (int i = 0; i < r->n_front; i++) {
        const llx_dse_point *f = &r->front[i];
        if (same(f, p) && f->tokens_per_joule == p->tokens_per_joule)
            return LLX_OK;
    }
    int at = r->n_front;
    while (at > 0 && score(x, &r->front[at - 1]) > score(x, p)) at--;
    if (at >= x->o->top) return LLX_OK;
    if (r->n_front < x->o->top && push_point(&r->front, &r->n_front, &x->capfront, p))
        return llx_fail(LLX_ERR_NOMEM, "out of memory in the design-space search");
    memmove(&r->front[at + 1], &r->front[at], sizeof *r->front * (size_t)(r->n_front - 1 - at));
    r->front[at] = *p;
    return LLX_OK;
}

/* ---- the paper's designs ---- */

static llx_status paper_point(search *x, int nodes, int *ok, llx_dse_point *p)
{
    *ok = 0;
    llx_sim_config c = x->o->base;
    c.arch.nodes = nodes;
    if (c.arch.nodes_per_fpga > nodes) c.arch.nodes_per_fpga = nodes;
    unsigned char idx[LLX_DSE_MAX_KNOBS];
    for (int k = 0; k < x->sp.nk; k++) {
        double v = llx_sim_param_get(&c, x->sp.param[k]);
        int found = -1;
        for (int i = 0; i < x->sp.knob[k].n; i++)
            if (x->sp.knob[k].v[i] == v) found = i;
        if (found < 0) return LLX_OK; /* outside the space */
        idx[k] = (unsigned char)found;
    }
    if (llx_sim_check(&c, x->m) != LLX_OK) return LLX_OK;
    cand k;
    memset(&k, 0, sizeof k);
    k.id = dse_encode(&x->sp, idx);
    int kept = 0;
    long n0 = x->nc;
    llx_dse_result *r = x->r, saved = *r; /* the bookkeeping of one candidate, not counted again */
    llx_status st = dse_candidate(x, k.id, &kept);
    r->considered = saved.considered, r->invalid = saved.invalid, r->over_budget = saved.over_budget;
    LLX_TRY(st);
    if (!kept) return LLX_OK; /* over the cap */
    k = x->c[n0];
    x->nc = n0;
    for (int g = 0; g < x->nkern; g++)
        if (dse_queue(x, k.g[g])) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    LLX_TRY(dse_time_jobs(x));
    if (dse_deadlocks(x, &k)) return LLX_OK; /* the paper's design deadlocks with these settings */
    dse_compose(x, &k, p);
    p->paper_nodes = nodes;
    *ok = 1;
    return LLX_OK;
}

static void place_paper(const search *x, llx_dse_point *p)
{
    const llx_dse_result *r = x->r;
    p->behind = -1;
    for (int i = 0; i < r->n_front; i++) {
        const llx_dse_point *f = &r->front[i];
        int same_point = same(f, p);
        int better = x->o->objective == LLX_DSE_PARETO ? weakly(f, p) : score(x, f) <= score(x, p);
        if (same_point) {
            p->behind = -1;
            return;
        }
        if (better && p->behind < 0) p->behind = i;
    }
}

/* ---- re-timing and validation on the pool ---- */

typedef struct verify_ctx {
    search *x;
    llx_dse_point **pts;
    int n, cycle, workload;
    llx_status st[64];
    char err[64][256];
} verify_ctx;

static llx_status verify_one(verify_ctx *v, llx_dse_point *p)
{
    search *x = v->x;
    llx_sim_config c;
    LLX_TRY(llx_dse_point_config(x->o, p, &c));
    c.arch.cycle_mode = v->cycle;
    llx_sim_workload w = {0, 0, x->context};
    if (v->workload) w = x->o->work;
    llx_sim_result r;
    LLX_TRY(llx_sim_run(&c, x->m, &w, &r));
    if (r.deadlock.found) return llx_fail(LLX_ERR_INTERNAL, "a reported design deadlocks: %s", r.deadlock.what);
    if (v->workload) {
        p->workload_ms = r.total_ms;
        return LLX_OK;
    }
    if (v->cycle) {
        p->cycle_ms = r.decode_ms_per_token;
        return LLX_OK;
    }
    if (fabs(r.decode_ms_per_token - p->latency_ms) > 1e-9 * p->latency_ms)
        return llx_fail(LLX_ERR_INTERNAL,
                        "a design's composed latency %.9g ms differs from its simulation %.9g ms: a kernel reads a "
                        "parameter the search believes it does not (src/dse/space.c)",
                        p->latency_ms, r.decode_ms_per_token);
    const llx_sim_resources *s = &r.res;
    const double fr[LLX_DSE_RES] = {s->dsp_frac, s->lut_frac, s->ff_frac, s->bram_frac, s->uram_frac};
    const double tot[LLX_DSE_RES] = {s->all_total.dsp, s->all_total.lut, s->all_total.ff, s->all_total.bram,
                                     s->all_total.uram};
    for (int k = 0; k < LLX_DSE_RES; k++)
        if (fr[k] != p->frac[k] || tot[k] != p->total[k])
            return llx_fail(LLX_ERR_INTERNAL, "a design's cached resources differ from the resource model's");
    p->tokens_per_s = r.tokens_per_s, p->tokens_per_joule = r.tokens_per_joule, p->power_w = r.power_w;
    return LLX_OK;
}

static void verify_jobs(void *ctx, int ith, int nth)
{
    verify_ctx *v = ctx;
    for (int i = ith; i < v->n; i += nth) {
        llx_status st = verify_one(v, v->pts[i]);
        if (st != LLX_OK && v->st[ith] == LLX_OK) {
            v->st[ith] = st;
            snprintf(v->err[ith], sizeof v->err[ith], "%s", llx_errmsg());
        }
    }
}

static llx_status verify(search *x, llx_dse_point **pts, int n, int cycle, int workload)
{
    verify_ctx *v = calloc(1, sizeof *v);
    if (!v) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    v->x = x, v->pts = pts, v->n = n, v->cycle = cycle, v->workload = workload;
    llx_pool_run(x->pool, verify_jobs, v);
    llx_status st = LLX_OK;
    for (int t = 0; t < llx_pool_size(x->pool) && st == LLX_OK; t++)
        if (v->st[t] != LLX_OK) st = llx_fail(v->st[t], "%s", v->err[t]);
    free(v);
    return st;
}

static int cmp_latency(const void *a, const void *b)
{
    const llx_dse_point *x = a, *y = b;
    if (x->latency_ms != y->latency_ms) return x->latency_ms < y->latency_ms ? -1 : 1;
    return (x->total[0] > y->total[0]) - (x->total[0] < y->total[0]);
}

static void progress(const search *x, double frac, const char *what)
{
    if (x->o->progress) x->o->progress(x->o->progress_ctx, frac, what);
}

llx_status dse_finish(search *x)
{
    llx_dse_result *r = x->r;
    if (x->o->objective == LLX_DSE_PARETO && r->n_front) qsort(r->front, (size_t)r->n_front, sizeof *r->front, cmp_latency);
    static const int published[] = {1, 2, 4}; /* paper Table II */
    for (int i = 0; i < 3; i++) {
        if (published[i] < x->o->nodes_lo || published[i] > x->o->nodes_hi) continue;
        int ok;
        LLX_TRY(paper_point(x, published[i], &ok, &r->paper[r->n_paper]));
        if (ok) place_paper(x, &r->paper[r->n_paper++]);
    }
    int n = r->n_front + r->n_paper;
    llx_dse_point **pts = malloc(sizeof *pts * (size_t)(n ? n : 1));
    if (!pts) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_front; i++) pts[i] = &r->front[i];
    for (int i = 0; i < r->n_paper; i++) pts[r->n_front + i] = &r->paper[i];
    progress(x, 0.9, "re-timing the reported designs");
    llx_status st = verify(x, pts, n, 0, 0);
    int nv = x->o->validate < r->n_front ? x->o->validate : r->n_front;
    if (st == LLX_OK && nv > 0) {
        progress(x, 0.93, "validating on the cycle-stepped engine");
        st = verify(x, pts, nv, 1, 0);
        for (int i = 0; i < nv && st == LLX_OK; i++) {
            double d = fabs(r->front[i].cycle_ms - r->front[i].latency_ms) / r->front[i].latency_ms;
            if (d > r->max_cycle_dev) r->max_cycle_dev = d;
        }
        r->validated = nv;
    }
    if (st == LLX_OK && nv > 0 && x->o->work.context <= 0) {
        progress(x, 0.97, "timing the whole workload");
        st = verify(x, pts, nv, 0, 1);
    }
    free(pts);
    progress(x, 1.0, "done");
    return st;
}
