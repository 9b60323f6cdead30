/* sim/driver.c - walks schedules stage by stage: builds each stage's
 * network (the kernel's timing rule), runs it on the fast or the
 * cycle-stepped engine, splits its time into categories and accumulates
 * passes into a workload (llx_sim_run: prefill, decode, resources, power).
 * Stages with the same shape time the same, so the fast mode remembers them
 * within a run (every layer of a pass, every pass's matrix stages). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "sim/power.h"
#include "util/status.h"

_Static_assert(sizeof(((llx_sim_deadlock *)0)->what) == SIM_WHY_LEN, "deadlock report sizes differ");

/* What one stage took. */
typedef struct stage_time {
    double cycles, cat[LLX_SIM_CAT_COUNT];
    double hbm_bytes[LLX_SIM_MAX_CHANNELS], link_bytes;
    int deadlock;
    double dl_cycle;
    char why[SIM_WHY_LEN];
} stage_time;

/* ---- memo of stage shapes ---- */

typedef struct stage_key {
    int kernel, work, rows, cols, heads, kv_heads, head_dim, tokens, ctx, act, aux, residual, norm, gather,
        gather_bytes, units, block, quant, bits;
} stage_key;

#define MEMO_SLOTS 64 /* not timing: stage shapes remembered */

typedef struct memo {
    stage_key key[MEMO_SLOTS];
    stage_time val[MEMO_SLOTS];
    int n, next;
} memo;

static stage_key key_of(const llx_schedule *s, const llx_stage *st, int kernel)
{
    stage_key k;
    memset(&k, 0, sizeof k);
    k.kernel = kernel, k.work = st->work, k.rows = st->rows, k.cols = st->cols, k.heads = st->heads;
    k.kv_heads = st->kv_heads, k.head_dim = st->head_dim, k.tokens = st->tokens;
    k.ctx = kernel == LLX_KERNEL_MHA ? st->pos : 0, k.act = st->act, k.aux = st->aux != LLX_SLOT_NONE;
    k.residual = st->residual, k.norm = st->norm, k.gather = st->gather;
    k.gather_bytes = st->gather_bytes, k.units = st->units, k.block = st->block;
    k.quant = st->quant, k.bits = st->work == LLX_WORK_MATMUL ? sim_weight_bits(s, st) : 0;
    return k;
}

static const stage_time *memo_get(const memo *m, const stage_key *k)
{
    for (int i = 0; m && i < m->n; i++)
        if (!memcmp(&m->key[i], k, sizeof *k)) return &m->val[i];
    return NULL;
}

static void memo_put(memo *m, const stage_key *k, const stage_time *v)
{
    if (!m || v->deadlock) return;
    int i = m->n < MEMO_SLOTS ? m->n++ : m->next++ % MEMO_SLOTS;
    m->key[i] = *k;
    m->val[i] = *v;
}

/* ---- breakdown ---- */

/* cycles in (lo, hi] during which process p (traced) was busy */
static double busy_in(const sim_graph *g, int p, const sim_trace *tr, cyc lo, cyc hi)
{
    const sim_proc *pr = &g->procs[p];
    double busy = 0;
    long k = 0;
    for (int ph = pr->phase0; ph < pr->phase0 + pr->nphases; ph++)
        for (long j = 0; j < g->phases[ph].n && k < tr->n; j++, k++) {
            cyc a = tr->t[k], b = tr->t[k] + g->phases[ph].ii; /* busy in [a, b) = cycles a+1..b shifted */
            if (a < lo) a = lo;
            if (b > hi) b = hi;
            if (b > a) busy += (double)(b - a);
        }
    return busy;
}

static void split(const sim_hw *hw, const sim_graph *g, const sim_outcome *o, llx_sim_cat kernel, stage_time *r)
{
    cyc stage_in = 0, local = 0, wend = 0;
    int last_w = -1, routers = 0;
    for (int p = 0; p < g->nprocs; p++) {
        cyc d = o->done[p];
        switch (g->procs[p].kind) {
        case SIM_PK_STAGEIN: stage_in = d > stage_in ? d : stage_in; break;
        case SIM_PK_COMPUTE: local = d > local ? d : local; break;
        case SIM_PK_ROUTER: wend = d > wend ? d : wend, routers = 1; break;
        case SIM_PK_WRITE:
            if (d >= wend) wend = d, last_w = p;
            break;
        case SIM_PK_TAIL: break;
        }
    }
    if (local < stage_in) local = stage_in;
    double exposed = wend > local ? (double)(wend - local) : 0;
    double wb = last_w >= 0 && exposed > 0 ? busy_in(g, last_w, &o->trace[last_w], local, wend) : 0;
    if (wb > exposed || !routers) wb = exposed; /* without a ring the write port is all that is left */
    double tail = (double)o->end - (double)(wend > local ? wend : local);
    r->cat[LLX_SIM_CAT_STAGE_IN] = (double)stage_in;
    r->cat[kernel] = (double)(local - stage_in) + (tail > 0 ? tail : 0);
    r->cat[LLX_SIM_CAT_WRITEBACK] = wb;
    r->cat[LLX_SIM_CAT_RING] = exposed - wb;
    r->cat[LLX_SIM_CAT_SCHED] = hw->sched;
    r->cycles = (double)o->end + hw->sched;
}

llx_status sim_build_stage(const sim_hw *hw, const llx_schedule *s, int i, int kernel, sim_stage_net *net,
                           llx_sim_cat *cat)
{
    typedef llx_status (*rule_fn)(const sim_hw *, const llx_schedule *, int, sim_stage_net *);
    static const rule_fn rule[LLX_WORK_COUNT] = {
        [LLX_WORK_NORM] = sim_net_ln, [LLX_WORK_MATMUL] = sim_net_mp, [LLX_WORK_ROPE] = sim_net_rope,
        [LLX_WORK_ATTN] = sim_net_mha, [LLX_WORK_HADAMARD] = sim_net_had};
    const llx_stage *st = &s->stages[i];
    memset(net, 0, sizeof *net);
    sim_graph_init(&net->g);
    *cat = kernel == LLX_KERNEL_MHA ? LLX_SIM_CAT_MHA : kernel == LLX_KERNEL_LNRES ? LLX_SIM_CAT_LNRES : LLX_SIM_CAT_MP;
    if ((unsigned)st->work >= LLX_WORK_COUNT || !rule[st->work])
        return llx_fail(LLX_ERR_INTERNAL, "stage %d (%s): no timing rule for its work", i, llx_op_name(st->op));
    llx_status rc = rule[st->work](hw, s, i, net);
    return rc == LLX_OK ? sim_graph_finalize(&net->g) : rc;
}

/* build, run and split stage i */
static llx_status run_stage(const sim_hw *hw, const llx_schedule *s, int i, int kernel, stage_time *r,
                            llx_sim_fifo_stat *fifos, int max_fifos, int *nfifos)
{
    memset(r, 0, sizeof *r);
    sim_stage_net net;
    llx_sim_cat cat;
    llx_status rc = sim_build_stage(hw, s, i, kernel, &net, &cat);
    net.g.want_occ = fifos != NULL;
    sim_outcome o;
    memset(&o, 0, sizeof o);
    if (rc == LLX_OK) rc = hw->cfg->arch.cycle_mode ? sim_run_cycle(&net.g, &o) : sim_run_fast(&net.g, &o);
    if (rc == LLX_OK) {
        memcpy(r->hbm_bytes, net.hbm_bytes, sizeof r->hbm_bytes);
        r->link_bytes = net.link_bytes;
        if (o.deadlock) {
            r->deadlock = 1;
            r->dl_cycle = (double)o.deadlock_cycle;
            memcpy(r->why, o.why, sizeof r->why);
        } else {
            split(hw, &net.g, &o, cat, r);
        }
        if (nfifos) *nfifos = net.g.nfifos;
        for (int f = 0; fifos && f < net.g.nfifos && f < max_fifos; f++) {
            const sim_fifo *q = &net.g.fifos[f];
            int rep = q->replica_of >= 0 && !hw->cfg->arch.cycle_mode ? q->replica_of : f;
            memcpy(fifos[f].name, q->name, sizeof fifos[f].name);
            fifos[f].depth = q->depth, fifos[f].width_bits = q->width_bits, fifos[f].max_occ = o.max_occ[rep];
        }
    }
    sim_outcome_free(&o);
    sim_graph_free(&net.g);
    return rc;
}

static void add_stage(llx_sim_pass *acc, const stage_time *r)
{
    acc->cycles += r->cycles;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) acc->cat[k] += r->cat[k];
    for (int c = 0; c < LLX_SIM_MAX_CHANNELS; c++) acc->hbm_bytes[c] += r->hbm_bytes[c];
    acc->link_bytes += r->link_bytes;
}

/* time stage i into acc; returns LLX_OK also on a deadlock (acc->deadlock) */
static llx_status time_stage(const sim_hw *hw, const llx_schedule *s, int i, unsigned kernels, llx_sim_pass *acc,
                             memo *m)
{
    const llx_sim_config *c = hw->cfg;
    const llx_stage *st = &s->stages[i];
    int kernel = st->kernel;
    if (kernel == LLX_KERNEL_HOST) {
        if (kernels & LLX_SIM_KERNEL_BIT(LLX_KERNEL_HOST)) acc->host_s += sim_host_stage_s(c, st);
        if (!c->arch.lm_head_fpga || st->op == LLX_OP_EMBED) return LLX_OK;
        kernel = st->op == LLX_OP_LM_HEAD ? LLX_KERNEL_MP : LLX_KERNEL_LNRES;
    }
    if (!(kernels & LLX_SIM_KERNEL_BIT(kernel))) return LLX_OK;
    stage_key k = key_of(s, st, kernel);
    const stage_time *hit = c->arch.cycle_mode ? NULL : memo_get(m, &k);
    stage_time r;
    if (hit) {
        r = *hit;
    } else {
        LLX_TRY(run_stage(hw, s, i, kernel, &r, NULL, 0, NULL));
        if (!c->arch.cycle_mode) memo_put(m, &k, &r);
    }
    if (r.deadlock) {
        acc->deadlock.found = 1;
        acc->deadlock.stage = i;
        acc->deadlock.cycle = r.dl_cycle;
        memcpy(acc->deadlock.what, r.why, sizeof acc->deadlock.what);
        return LLX_OK;
    }
    add_stage(acc, &r);
    return LLX_OK;
}

llx_status sim_check_schedule(const llx_sim_config *c, const llx_schedule *s)
{
    LLX_TRY(llx_sim_check(c, &s->cfg));
    if (s->opt.nodes != c->arch.nodes)
        return llx_fail(LLX_ERR_ARG, "schedule is planned for %d nodes but the simulator has %d", s->opt.nodes,
                        c->arch.nodes);
    if ((s->opt.w_bits == 4 || s->opt.lm_bits == 4) && c->arch.out_fifo < 2) /* not timing: bits */
        return llx_fail(LLX_ERR_ARG, "out_fifo %d cannot take a pass's two results: int4 weights need at least 2",
                        c->arch.out_fifo);
    return LLX_OK;
}

llx_status llx_sim_time_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_pass *out)
{
    memset(out, 0, sizeof *out);
    LLX_TRY(sim_check_schedule(c, s));
    if (stage < 0 || stage >= s->n_stages) return llx_fail(LLX_ERR_ARG, "stage %d out of range", stage);
    sim_hw hw;
    LLX_TRY(sim_hw_init(&hw, c));
    return time_stage(&hw, s, stage, LLX_SIM_ALL_KERNELS, out, NULL);
}

int llx_sim_stage_fifos(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_fifo_stat *out, int max)
{
    if (sim_check_schedule(c, s) != LLX_OK) return -1;
    if (stage < 0 || stage >= s->n_stages) {
        llx_fail(LLX_ERR_ARG, "stage %d out of range", stage);
        return -1;
    }
    int kernel = s->stages[stage].kernel;
    if (kernel == LLX_KERNEL_HOST) {
        llx_fail(LLX_ERR_ARG, "stage %d runs on the host", stage);
        return -1;
    }
    sim_hw hw;
    if (sim_hw_init(&hw, c) != LLX_OK) return -1;
    stage_time r;
    int n = 0;
    if (run_stage(&hw, s, stage, kernel, &r, out, max, &n) != LLX_OK) return -1;
    return n;
}

typedef struct progress {
    llx_sim_progress_fn fn;
    void *ctx;
    int pass, passes;
} progress;

static llx_status time_schedule(const llx_sim_config *c, const llx_schedule *s, unsigned kernels, llx_sim_pass *out,
                                memo *m, const progress *pg)
{
    memset(out, 0, sizeof *out);
    LLX_TRY(sim_check_schedule(c, s));
    sim_hw hw;
    LLX_TRY(sim_hw_init(&hw, c));
    for (int i = 0; i < s->n_stages && !out->deadlock.found; i++) {
        LLX_TRY(time_stage(&hw, s, i, kernels, out, m));
        if (pg && pg->fn) pg->fn(pg->ctx, pg->pass, pg->passes, i + 1, s->n_stages);
    }
    return LLX_OK;
}

llx_status llx_sim_time_schedule(const llx_sim_config *c, const llx_schedule *s, llx_sim_pass *out)
{
    memo *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = time_schedule(c, s, LLX_SIM_ALL_KERNELS, out, m, NULL);
    free(m);
    return st;
}

llx_status llx_sim_time_kernels(const llx_sim_config *c, const llx_schedule *s, unsigned kernels, llx_sim_pass *out)
{
    memo *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = time_schedule(c, s, kernels, out, m, NULL);
    free(m);
    return st;
}

static llx_status time_pass(const llx_sim_config *c, const llx_config *mdl, int tokens, int pos, llx_sim_pass *out,
                            memo *m, const progress *pg)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = tokens, .pos = pos, .block_rows = c->block_rows};
    llx_sim_scheme_sched(&c->scheme, &o);
    llx_schedule s;
    LLX_TRY(llx_schedule_build(&s, mdl, &o));
    llx_status st = time_schedule(c, &s, LLX_SIM_ALL_KERNELS, out, m, pg);
    llx_schedule_free(&s);
    return st;
}

static void accumulate(llx_sim_pass *sum, const llx_sim_pass *p)
{
    sum->cycles += p->cycles;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) sum->cat[k] += p->cat[k];
    sum->host_s += p->host_s;
    for (int k = 0; k < LLX_SIM_MAX_CHANNELS; k++) sum->hbm_bytes[k] += p->hbm_bytes[k];
    sum->link_bytes += p->link_bytes;
    if (p->deadlock.found && !sum->deadlock.found) sum->deadlock = p->deadlock;
}

llx_status llx_sim_eval_decode(const llx_sim_config *c, const llx_config *mdl, int context, double *ms)
{
    *ms = -1;
    if (context < 1 || context > mdl->n_ctx)
        return llx_fail(LLX_ERR_ARG, "context %d outside [1, %d]", context, mdl->n_ctx);
    llx_sim_config fast = *c;
    fast.arch.cycle_mode = 0;
    memo *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_sim_pass p;
    llx_status st = time_pass(&fast, mdl, 1, context - 1, &p, m, NULL);
    free(m);
    if (st == LLX_OK && !p.deadlock.found) *ms = p.cycles / (c->arch.clock_mhz * 1e6) * 1e3;
    return st;
}

static llx_status run_passes(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w,
                             llx_sim_result *r, llx_sim_pass *pre, llx_sim_pass *dec, memo *mm, progress *pg)
{
    llx_sim_pass one;
    if (w->context > 0) {
        pg->passes = 1;
        LLX_TRY(time_pass(c, m, 1, w->context - 1, dec, mm, pg));
        r->decode_passes = 1;
        return LLX_OK;
    }
    int npre = c->arch.prefill_batched ? 1 : w->prompt;
    pg->passes = npre + w->gen;
    for (int p = 0; p < npre && !pre->deadlock.found; p++, pg->pass++) {
        if (c->arch.prefill_batched) LLX_TRY(time_pass(c, m, w->prompt, 0, pre, mm, pg));
        else {
            LLX_TRY(time_pass(c, m, 1, p, &one, mm, pg));
            accumulate(pre, &one);
        }
    }
    r->prefill_passes = npre;
    for (int g = 0; g < w->gen && !pre->deadlock.found && !dec->deadlock.found; g++, pg->pass++) {
        LLX_TRY(time_pass(c, m, 1, w->prompt + g, &one, mm, pg));
        accumulate(dec, &one);
    }
    r->decode_passes = w->gen;
    return LLX_OK;
}

static llx_status check_workload(const llx_config *m, const llx_sim_workload *w)
{
    if (w->context > 0) {
        if (w->context > m->n_ctx)
            return llx_fail(LLX_ERR_ARG, "context %d exceeds the model's %d positions", w->context, m->n_ctx);
        return LLX_OK;
    }
    if (w->prompt < 1 || w->gen < 1) return llx_fail(LLX_ERR_ARG, "prompt and gen must be at least 1");
    if ((long)w->prompt + w->gen > m->n_ctx)
        return llx_fail(LLX_ERR_ARG, "prompt %d + gen %d exceed the model's %d positions", w->prompt, w->gen, m->n_ctx);
    return LLX_OK;
}

static void finish(const llx_sim_config *c, const llx_sim_workload *w, const llx_sim_pass *pre,
                   const llx_sim_pass *dec, llx_sim_result *r)
{
    const double f = c->arch.clock_mhz * 1e6;
    const double np = r->decode_passes;
    if (w->context <= 0) {
        r->prefill_ms = pre->cycles / f * 1e3;
        r->prefill_ms_per_token = r->prefill_ms / w->prompt;
    }
    r->decode_ms_per_token = dec->cycles / np / f * 1e3;
    r->tokens_per_s = r->decode_ms_per_token > 0 ? 1e3 / r->decode_ms_per_token : 0;
    r->host_ms_per_token = dec->host_s / np * 1e3;
    r->e2e_ms_per_token = r->decode_ms_per_token + r->host_ms_per_token;
    r->total_ms = r->prefill_ms + dec->cycles / f * 1e3;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) r->breakdown_ms[k] = dec->cat[k] / np / f * 1e3;
    r->ring_exposed_ms = r->breakdown_ms[LLX_SIM_CAT_RING];
    const double bpc = llx_sim_hbm_bytes_per_cycle(c);
    r->hbm_gbps_per_channel = bpc * f / 1e9;
    const double dec_s = r->decode_ms_per_token * 1e-3;
    r->channels = c->arch.channels < LLX_SIM_MAX_CHANNELS ? c->arch.channels : LLX_SIM_MAX_CHANNELS;
    for (int k = 0; k < r->channels && dec_s > 0; k++)
        r->hbm_util[k] = dec->hbm_bytes[k] / np / c->arch.nodes / (dec_s * bpc * f);
}

llx_status llx_sim_run_progress(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w,
                                llx_sim_result *r, llx_sim_progress_fn fn, void *ctx)
{
    memset(r, 0, sizeof *r);
    LLX_TRY(llx_sim_check(c, m));
    LLX_TRY(check_workload(m, w));
    llx_sim_pass pre, dec;
    memset(&pre, 0, sizeof pre), memset(&dec, 0, sizeof dec);
    memo *mm = calloc(1, sizeof *mm);
    if (!mm) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    progress pg = {fn, ctx, 0, 1};
    llx_status st = run_passes(c, m, w, r, &pre, &dec, mm, &pg);
    free(mm);
    LLX_TRY(st);
    const llx_sim_deadlock *dl = pre.deadlock.found ? &pre.deadlock : &dec.deadlock;
    if (dl->found) {
        r->deadlock = *dl;
        return LLX_OK;
    }
    finish(c, w, &pre, &dec, r);
    LLX_TRY(llx_sim_resources_estimate(c, m, &r->res));
    sim_power pw;
    sim_power_estimate(c, &r->res, dec.hbm_bytes, dec.link_bytes, r->decode_passes * r->decode_ms_per_token * 1e-3,
                       &pw);
    r->power_static_w = pw.static_w;
    r->power_logic_w = pw.logic_w;
    r->power_hbm_w = pw.hbm_w;
    r->power_link_w = pw.link_w;
    r->power_w = pw.total_w;
    r->tokens_per_joule = r->power_w > 0 ? r->tokens_per_s / r->power_w : 0;
    return LLX_OK;
}

llx_status llx_sim_run(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w, llx_sim_result *r)
{
    return llx_sim_run_progress(c, m, w, r, NULL, NULL);
}
