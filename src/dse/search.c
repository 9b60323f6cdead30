/* dse/search.c - the hierarchical design-space search (docs/dse.md
 * section 2).
 *
 * Level 1 is the structure every kernel reads (nodes, nodes per device,
 * channels, clock, word width); level 2 the knobs only one kernel group
 * reads (heads in parallel and the MHA write port; LayerNorm lanes and
 * fusion; ring block rows and the MP write port...).  A decode token is the
 * sum of its kernel groups' stages, so a candidate's time is composed from
 * one simulation per group and setting of the knobs that group reads.
 *
 * Every candidate of the space (or of a seeded sample) is checked by the
 * simulator's rules, costed by the resource model against the cap and
 * given an analytic lower bound (bound.c).  In order of that bound, a
 * candidate is dropped when a design already timed beats its bound at no
 * more resources (level 1), or when a sibling setting of one of its groups
 * (same structure and resources) already timed beats that group's bound
 * (level 2: the sibling candidate dominates it).  What survives is timed on
 * the event simulator, a batch of kernel groups at a time on the threads;
 * results do not depend on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dse/search.h"
#include "util/rng.h"
#include "util/status.h"

#define BATCH_JOBS 8 /* kernel groups timed per batch (fixed: batches decide pruning, threads must not) */

static int grow(void **arr, int *cap, int n, size_t size)
{
    if (n < *cap) return 0;
    int nc = *cap ? 2 * *cap : 64;
    void *p = realloc(*arr, (size_t)nc * size);
    if (!p) return -1;
    *arr = p, *cap = nc;
    return 0;
}

static llx_status oom(void) { return llx_fail(LLX_ERR_NOMEM, "out of memory in the design-space search"); }

/* the schedule of a candidate: its nodes, ring blocks and scheme (the
 * weight bits may be a knob) */
static int sched_of(search *x, const llx_sim_config *c, int *slot)
{
    const int nodes = c->arch.nodes, block = c->block_rows, w_bits = c->scheme.w_bits;
    for (int i = 0; i < x->nsc; i++)
        if (x->sc[i].nodes == nodes && x->sc[i].block == block && x->sc[i].w_bits == w_bits) return *slot = i, LLX_OK;
    if (grow((void **)&x->sc, &x->capsc, x->nsc, sizeof *x->sc)) return oom();
    sched_slot *s = &x->sc[x->nsc];
    llx_sched_opts o = {.nodes = nodes, .tokens = 1, .pos = x->context - 1, .block_rows = block};
    llx_sim_scheme_sched(&c->scheme, &o);
    LLX_TRY(llx_schedule_build(&s->s, x->m, &o));
    s->nodes = nodes, s->block = block, s->w_bits = w_bits;
    *slot = x->nsc++;
    return LLX_OK;
}

static llx_status res_of(search *x, const unsigned char *idx, int *slot)
{
    unsigned char ci[LLX_DSE_MAX_KNOBS];
    uint64_t key = dse_res_key(&x->sp, idx, ci);
    if ((*slot = dse_map_get(&x->rmap, key)) >= 0) return LLX_OK;
    if (grow((void **)&x->rs, &x->caprs, x->nrs, sizeof *x->rs)) return oom();
    llx_sim_config c;
    LLX_TRY(dse_apply(&x->sp, &x->o->base, ci, &c));
    LLX_TRY(llx_sim_resources_estimate(&c, x->m, &x->rs[x->nrs]));
    if (dse_map_put(&x->rmap, key, x->nrs)) return oom();
    *slot = x->nrs++;
    return LLX_OK;
}

/* the sibling set of a group setting: its knobs with the ones read only by
 * this group and not by the resource model at their canonical values */
static llx_status sibling(search *x, const unsigned char *ci, int kernel, int *best)
{
    const dse_space *sp = &x->sp;
    uint64_t key = 0;
    for (int k = 0; k < sp->nk; k++) {
        int own = sp->kernels[k] == LLX_SIM_KERNEL_BIT(kernel) && !sp->res[k];
        key = key << 4 | (unsigned)(own ? sp->canon[k] : ci[k]);
    }
    int g = 0;
    while (x->kern[g] != kernel) g++;
    if ((*best = dse_map_get(&x->sibmap[g], key)) >= 0) return LLX_OK;
    if (grow((void **)&x->best, &x->capbest, x->nbest, sizeof *x->best)) return oom();
    x->best[x->nbest] = -1;
    if (dse_map_put(&x->sibmap[g], key, x->nbest)) return oom();
    *best = x->nbest++;
    return LLX_OK;
}

static llx_status group_of(search *x, const unsigned char *idx, int g, int *slot)
{
    unsigned char ci[LLX_DSE_MAX_KNOBS];
    const int kernel = x->kern[g];
    uint64_t key = dse_group_key(&x->sp, idx, kernel, ci);
    if ((*slot = dse_map_get(&x->gmap[g], key)) >= 0) return LLX_OK;
    if (grow((void **)&x->gs, &x->capgs, x->ngs, sizeof *x->gs)) return oom();
    gslot *s = &x->gs[x->ngs];
    memset(s, 0, sizeof *s);
    memcpy(s->idx, ci, sizeof s->idx);
    s->kernel = kernel;
    llx_sim_config c;
    LLX_TRY(dse_apply(&x->sp, &x->o->base, ci, &c));
    int sc;
    LLX_TRY(sched_of(x, &c, &sc));
    s = &x->gs[x->ngs];
    s->sched = sc;
    s->bound = dse_bound_cycles(&c, &x->sc[sc].s, kernel);
    LLX_TRY(sibling(x, ci, kernel, &x->gs[x->ngs].sib));
    if (dse_map_put(&x->gmap[g], key, x->ngs)) return oom();
    *slot = x->ngs++;
    return LLX_OK;
}

static uint64_t splitmix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

llx_status dse_candidate(search *x, long id, int *kept)
{
    llx_dse_result *r = x->r;
    unsigned char idx[LLX_DSE_MAX_KNOBS];
    *kept = 0;
    dse_decode(&x->sp, id, idx);
    if (dse_duplicate(&x->sp, idx)) return LLX_OK;
    r->considered++;
    llx_sim_config c;
    if (dse_apply(&x->sp, &x->o->base, idx, &c) != LLX_OK || llx_sim_check(&c, x->m) != LLX_OK) {
        r->invalid++;
        return LLX_OK;
    }
    cand k;
    memset(&k, 0, sizeof k);
    LLX_TRY(res_of(x, idx, &k.res));
    const llx_sim_resources *rs = &x->rs[k.res];
    const double cap = x->o->cap;
    if (rs->dsp_frac > cap || rs->lut_frac > cap || rs->ff_frac > cap || rs->bram_frac > cap || rs->uram_frac > cap) {
        r->over_budget++;
        return LLX_OK;
    }
    double lb = 0;
    for (int g = 0; g < x->nkern; g++) {
        LLX_TRY(group_of(x, idx, g, &k.g[g]));
        lb += x->gs[k.g[g]].bound;
    }
    k.id = id;
    k.lb_ms = lb / (c.arch.clock_mhz * 1e3);
    k.dsp = rs->all_total.dsp, k.lut = rs->all_total.lut, k.bram = rs->all_total.bram;
    k.tie = splitmix(x->o->seed ^ splitmix((uint64_t)id));
    if (x->nc == x->capc) {
        long nc = x->capc ? 2 * x->capc : 4096;
        cand *p = realloc(x->c, sizeof *p * (size_t)nc);
        if (!p) return oom();
        x->c = p, x->capc = nc;
    }
    x->c[x->nc++] = k;
    *kept = 1;
    return LLX_OK;
}

int dse_deadlocks(const search *x, const cand *c)
{
    for (int g = 0; g < x->nkern; g++)
        if (x->gs[c->g[g]].deadlock) return 1;
    return 0;
}

int dse_queue(search *x, int slot)
{
    if (x->gs[slot].state) return 0;
    if (grow((void **)&x->jobs, &x->capjobs, x->njobs, sizeof *x->jobs)) return -1;
    x->gs[slot].state = 1;
    x->jobs[x->njobs++] = slot;
    return 0;
}

/* ---- timing kernel groups on the pool ---- */

typedef struct job_ctx {
    search *x;
    llx_status st[64];
    char err[64][256];
} job_ctx;

static void run_jobs(void *ctx, int ith, int nth)
{
    job_ctx *j = ctx;
    search *x = j->x;
    for (int i = ith; i < x->njobs; i += nth) {
        gslot *s = &x->gs[x->jobs[i]];
        llx_sim_config c;
        llx_sim_pass p;
        llx_status st = dse_apply(&x->sp, &x->o->base, s->idx, &c);
        if (st == LLX_OK)
            st = llx_sim_time_kernels(&c, &x->sc[s->sched].s, LLX_SIM_KERNEL_BIT(s->kernel), &p);
        if (st == LLX_OK && p.deadlock.found) { /* an infeasible design, not an error */
            s->deadlock = 1;
            continue;
        }
        if (st != LLX_OK && j->st[ith] == LLX_OK) {
            j->st[ith] = st;
            snprintf(j->err[ith], sizeof j->err[ith], "%s", llx_errmsg());
            continue;
        }
        if (st != LLX_OK) continue;
        double hbm = 0;
        for (int ch = 0; ch < LLX_SIM_MAX_CHANNELS; ch++) hbm += p.hbm_bytes[ch];
        s->cycles = p.cycles, s->hbm = hbm, s->link = p.link_bytes;
    }
}

llx_status dse_time_jobs(search *x)
{
    if (!x->njobs) return LLX_OK;
    job_ctx *j = calloc(1, sizeof *j);
    if (!j) return oom();
    j->x = x;
    llx_pool_run(x->pool, run_jobs, j);
    llx_status st = LLX_OK;
    for (int t = 0; t < llx_pool_size(x->pool) && st == LLX_OK; t++)
        if (j->st[t] != LLX_OK) st = llx_fail(j->st[t], "%s", j->err[t]);
    for (int i = 0; i < x->njobs && st == LLX_OK; i++) {
        gslot *s = &x->gs[x->jobs[i]];
        s->state = 2;
        x->r->sim_runs++;
        if (s->deadlock) continue;
        if (s->bound > s->cycles + 1e-6)
            st = llx_fail(LLX_ERR_INTERNAL, "the analytic bound of a %s group (%.0f cycles) exceeds its simulation (%.0f)",
                          llx_kernel_name((llx_kernel)s->kernel), s->bound, s->cycles);
        if (x->best[s->sib] < 0 || s->cycles < x->best[s->sib]) x->best[s->sib] = s->cycles;
    }
    free(j);
    x->njobs = 0;
    return st;
}

void dse_compose(search *x, const cand *c, llx_dse_point *p)
{
    unsigned char idx[LLX_DSE_MAX_KNOBS];
    dse_decode(&x->sp, c->id, idx);
    llx_sim_config cfg;
    dse_apply(&x->sp, &x->o->base, idx, &cfg);
    memset(p, 0, sizeof *p);
    for (int k = 0; k < x->sp.nk; k++) p->knob[k] = x->sp.knob[k].v[idx[k]];
    llx_sim_pass pass;
    memset(&pass, 0, sizeof pass);
    for (int g = 0; g < x->nkern; g++) {
        const gslot *s = &x->gs[c->g[g]];
        pass.cycles += s->cycles, pass.hbm_bytes[0] += s->hbm, pass.link_bytes += s->link;
    }
    const llx_sim_resources *rs = &x->rs[c->res];
    p->latency_ms = pass.cycles / (cfg.arch.clock_mhz * 1e3);
    p->tokens_per_s = 1e3 / p->latency_ms;
    llx_sim_power pw;
    llx_sim_power_of(&cfg, rs, &pass, p->latency_ms * 1e-3, &pw);
    p->power_w = pw.total_w;
    p->tokens_per_joule = p->tokens_per_s / pw.total_w;
    const double fr[LLX_DSE_RES] = {rs->dsp_frac, rs->lut_frac, rs->ff_frac, rs->bram_frac, rs->uram_frac};
    const llx_sim_component *t = &rs->all_total;
    const double tot[LLX_DSE_RES] = {t->dsp, t->lut, t->ff, t->bram, t->uram};
    memcpy(p->frac, fr, sizeof fr), memcpy(p->total, tot, sizeof tot);
    p->devices = rs->devices;
    p->behind = -1;
}

/* ---- the whole search ---- */

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->lb_ms != y->lb_ms) return x->lb_ms < y->lb_ms ? -1 : 1;
    return (x->tie > y->tie) - (x->tie < y->tie);
}

/* every id, or a seeded sample of max_candidates (selection sampling) */
static llx_status enumerate(search *x)
{
    const long total = x->sp.total, want = x->o->max_candidates;
    llx_rng rng;
    llx_rng_seed(&rng, x->o->seed);
    long need = want > 0 && want < total ? want : total;
    for (long id = 0; id < total && need > 0; id++) {
        if (need < total - id && llx_rng_double(&rng) * (double)(total - id) >= (double)need) continue;
        int kept;
        LLX_TRY(dse_candidate(x, id, &kept));
        need--;
        if (x->o->progress && (id & 0xffff) == 0) x->o->progress(x->o->progress_ctx, 0.1 * id / total, "enumerating");
    }
    return LLX_OK;
}

static llx_status kernels_present(search *x)
{
    llx_sim_config c;
    unsigned char idx[LLX_DSE_MAX_KNOBS];
    for (int k = 0; k < x->sp.nk; k++) idx[k] = (unsigned char)x->sp.canon[k];
    LLX_TRY(dse_apply(&x->sp, &x->o->base, idx, &c));
    int sc;
    LLX_TRY(sched_of(x, &c, &sc));
    const llx_schedule *s = &x->sc[sc].s;
    for (int i = 0; i < s->n_stages; i++) {
        int k = s->stages[i].kernel;
        if (k == LLX_KERNEL_HOST) {
            if (!c.arch.lm_head_fpga || s->stages[i].op == LLX_OP_EMBED) continue;
            k = s->stages[i].op == LLX_OP_LM_HEAD ? LLX_KERNEL_MP : LLX_KERNEL_LNRES;
        }
        int seen = 0;
        for (int g = 0; g < x->nkern; g++) seen |= x->kern[g] == k;
        if (!seen && x->nkern < DSE_GROUPS) x->kern[x->nkern++] = k;
    }
    return LLX_OK;
}

/* Take candidates in bound order until a batch of kernel groups is queued,
 * time them, then compose and offer the batch's survivors. */
static llx_status sweep(search *x)
{
    const int per_batch = BATCH_JOBS;
    unsigned char *need = calloc((size_t)(x->nc ? x->nc : 1), 1);
    if (!need) return oom();
    llx_status st = LLX_OK;
    for (long b = 0; b < x->nc && st == LLX_OK;) {
        long e = b;
        for (; e < x->nc && x->njobs < per_batch; e++) {
            const cand *c = &x->c[e];
            if (dse_pruned(x, c)) {
                x->r->pruned++;
                continue;
            }
            need[e] = 1;
            for (int g = 0; g < x->nkern; g++)
                if (dse_queue(x, c->g[g])) {
                    free(need);
                    return oom();
                }
        }
        st = dse_time_jobs(x);
        for (long i = b; i < e && st == LLX_OK; i++) {
            if (!need[i]) continue;
            if (dse_deadlocks(x, &x->c[i])) {
                x->r->deadlocked++;
                continue;
            }
            llx_dse_point p;
            dse_compose(x, &x->c[i], &p);
            x->r->evaluated++;
            st = dse_offer(x, &p);
        }
        b = e;
        if (x->o->progress) {
            char what[160];
            snprintf(what, sizeof what, "%ld timed, %ld pruned, %ld simulator runs", x->r->evaluated, x->r->pruned,
                     x->r->sim_runs);
            x->o->progress(x->o->progress_ctx, 0.1 + 0.8 * (double)b / (double)x->nc, what);
        }
    }
    free(need);
    return st;
}

static void release(search *x)
{
    for (int i = 0; i < x->nsc; i++) llx_schedule_free(&x->sc[i].s);
    for (int g = 0; g < DSE_GROUPS; g++) dse_map_free(&x->gmap[g]), dse_map_free(&x->sibmap[g]);
    dse_map_free(&x->rmap);
    free(x->sc), free(x->gs), free(x->best), free(x->rs), free(x->c), free(x->jobs);
    llx_pool_free(x->pool);
}

static llx_status check_opts(const llx_dse_opts *o, const llx_config *m)
{
    if (!(o->cap > 0 && o->cap <= 1)) return llx_fail(LLX_ERR_ARG, "the utilisation cap must be in (0, 1]");
    if (o->threads < 1 || o->threads > 64) return llx_fail(LLX_ERR_ARG, "threads must be 1 to 64");
    if (o->top < 1 || o->validate < 0) return llx_fail(LLX_ERR_ARG, "top must be >= 1 and validate >= 0");
    const llx_sim_workload *w = &o->work;
    int ctx = w->context > 0 ? w->context : w->prompt + (w->gen + 1) / 2;
    if (w->context <= 0 && (w->prompt < 1 || w->gen < 1))
        return llx_fail(LLX_ERR_ARG, "the workload needs a context or a prompt and a generation length");
    if (ctx > m->n_ctx || (w->context <= 0 && w->prompt + w->gen > m->n_ctx))
        return llx_fail(LLX_ERR_ARG, "the workload exceeds the model's %d positions", m->n_ctx);
    return llx_sim_check(&o->base, m);
}

llx_status llx_dse_run(const llx_dse_opts *o, const llx_config *m, llx_dse_result *r)
{
    memset(r, 0, sizeof *r);
    LLX_TRY(check_opts(o, m));
    search *x = calloc(1, sizeof *x);
    if (!x) return oom();
    x->o = o, x->m = m, x->r = r;
    x->context = o->work.context > 0 ? o->work.context : o->work.prompt + (o->work.gen + 1) / 2;
    r->nknobs = o->nknobs;
    memcpy(r->knobs, o->knobs, sizeof r->knobs);
    llx_status st = dse_space_init(&x->sp, o);
    if (st == LLX_OK) st = llx_pool_create(&x->pool, o->threads, 0);
    if (st == LLX_OK) st = kernels_present(x);
    if (st == LLX_OK) st = enumerate(x);
    if (st == LLX_OK) {
        if (x->nc) qsort(x->c, (size_t)x->nc, sizeof *x->c, cmp_cand);
        st = sweep(x);
    }
    if (st == LLX_OK) st = dse_finish(x);
    release(x);
    free(x);
    if (st != LLX_OK) llx_dse_result_free(r);
    return st;
}

void llx_dse_result_free(llx_dse_result *r)
{
    free(r->front), free(r->all);
    r->front = r->all = NULL;
    r->n_front = r->n_all = 0;
}

llx_status llx_dse_point_config(const llx_dse_opts *o, const llx_dse_point *p, llx_sim_config *c)
{
    *c = o->base;
    for (int k = 0; k < o->nknobs; k++) LLX_TRY(llx_sim_param_set(c, llx_sim_param_find(o->knobs[k].name), p->knob[k]));
    return LLX_OK;
}
