/* dse/bound.c - analytic lower bounds on the cycles of a kernel group, the
 * search's first filter (docs/dse.md section 2).
 *
 * Per stage, from the schedule and the configuration only:
 *   MP    the busiest slice's weight (and int4 scale) words at the HBM channel's word rate
 *         (and one word per MAC per token), or the write port writing the
 *         gathered vector at its width, whichever is longer; then FC1's
 *         activation pass; then the hand-over;
 *   MHA   the stage-in of q (the node's query heads) and k, v (the KV
 *         heads it holds), then each lane's K channel streaming one
 *         word per key of every item at the channel's rate; or the write
 *         port; then the hand-over;
 *   LN    the passes over the vector at the lanes' width (fused) or one
 *         element per cycle with the accumulator's II (unfused).
 * Every term is work a process of the stage's network must do one unit at
 * a time, so the simulated stage cannot be shorter; the search checks this
 * against every kernel group it simulates.  Stages of other operations
 * (models to come) get no bound, 0, which is still a lower bound. */
#include "dse/space.h"

static double cdiv_d(double a, double b) { return b > 0 ? (double)(long long)((a + b - 1) / b) : 0; }
static int or_word(int v, int word) { return v > 0 ? v : word; }

static double write_cycles(const llx_schedule *s, int i, int n, double unit_elems, int wb)
{
    const llx_stage *st = &s->stages[i];
    int ring = st->gather > 0 && s->opt.nodes > 1;
    llx_range r = llx_schedule_slice(s, i, n);
    double elems = ring ? (double)st->gather * st->tokens : (double)(r.end - r.begin) * unit_elems * st->tokens;
    return elems / wb;
}

static double mp_stage(const llx_sim_config *c, const llx_schedule *s, int i)
{
    const llx_sim_arch *a = &c->arch;
    const llx_stage *st = &s->stages[i];
    double rate = llx_sim_hbm_bytes_per_cycle(c) / a->word_bytes; /* words per cycle */
    if (rate > 1) rate = 1;
    double worst = 0;
    for (int n = 0; n < s->opt.nodes; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        if (r.end <= r.begin) continue;
        /* int4 weights: passes of two rows, each its weight words and the
         * pair's scale words (docs/simulator.md section 1.3) */
        const int bits = st->matrix == LLX_MAT_LM_HEAD ? s->opt.lm_bits : s->opt.w_bits, k = bits == 4 ? 2 : 1;
        const double per_row = s->opt.w_group > 0 ? cdiv_d(st->cols, s->opt.w_group) : 1;
        const double sb = s->opt.w_scale_bytes > 0 ? s->opt.w_scale_bytes : 4;
        const double sw = k > 1 ? cdiv_d(k * per_row * sb, a->word_bytes) : 0;
        double words = cdiv_d(cdiv_d(r.end - r.begin, a->channels), k) * (cdiv_d(st->cols, a->word_bytes) + sw);
        double stream = words / rate > words * st->tokens ? words / rate : words * st->tokens;
        double wb = write_cycles(s, i, n, 1, a->mp_wb_elems);
        double t = stream > wb ? stream : wb;
        if (t > worst) worst = t;
    }
    if (st->op == LLX_OP_FC1) /* GELU: its own pass over the gathered vector */
        worst += a->sched_cycles + cdiv_d((double)st->gather * st->tokens, or_word(a->act_elems, a->word_bytes));
    return worst + a->sched_cycles;
}

static double mha_stage(const llx_sim_config *c, const llx_schedule *s, int i)
{
    const llx_sim_arch *a = &c->arch;
    const llx_stage *st = &s->stages[i];
    double rate = llx_sim_hbm_bytes_per_cycle(c) / a->word_bytes;
    if (rate > 1) rate = 1;
    const double hd = st->head_dim, T = st->tokens, kw = cdiv_d(hd, a->word_bytes);
    double worst = 0;
    for (int n = 0; n < s->opt.nodes; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        double heads = r.end - r.begin;
        if (heads <= 0) continue;
        double groups = cdiv_d(heads, a->heads_parallel), keys = 0;
        for (int t = 0; t < st->tokens; t++) keys += groups * (st->pos + t + 1);
        /* k and v come in for the KV heads the node holds (fewer with GQA) */
        const double kvh = s->part.kv_heads[n].end - s->part.kv_heads[n].begin;
        double stagein = cdiv_d(heads * hd * T, a->mha_q_elems) +
                         cdiv_d(2 * kvh * hd * T, or_word(a->kv_in_elems, a->word_bytes)) +
                         2 * kw * cdiv_d(kvh, a->heads_parallel) * T;
        double compute = stagein + keys / rate;
        double wb = write_cycles(s, i, n, hd, a->mha_wb_elems);
        double t = compute > wb ? compute : wb;
        if (t > worst) worst = t;
    }
    return worst + a->sched_cycles;
}

static double ln_stage(const llx_sim_config *c, const llx_stage *st)
{
    const llx_sim_arch *a = &c->arch;
    const double d = st->cols;
    const int norms = st->op != LLX_OP_RES; /* LN1, RES_LN2 and LN_F normalise; RES only adds */
    double per = 0;
    if (a->lnres_fusion) {
        double ii = a->ln_acc_ii;
        if (st->residual && cdiv_d(a->ln_lanes, a->ln_rd_elems) > ii) ii = cdiv_d(a->ln_lanes, a->ln_rd_elems);
        per = cdiv_d(d, a->ln_lanes) * ii;
        if (norms) per += cdiv_d(d, a->ln_lanes) * cdiv_d(a->ln_lanes, a->ln_wb_elems);
    } else {
        if (st->residual) per += d;
        if (norms) per += d * a->lat_fadd + d;
    }
    return per * st->tokens + a->sched_cycles;
}

double dse_bound_cycles(const llx_sim_config *c, const llx_schedule *s, int kernel)
{
    double sum = 0;
    for (int i = 0; i < s->n_stages; i++) {
        const llx_stage *st = &s->stages[i];
        int k = st->kernel;
        if (k == LLX_KERNEL_HOST) {
            if (!c->arch.lm_head_fpga || st->op == LLX_OP_EMBED) continue;
            k = st->op == LLX_OP_LM_HEAD ? LLX_KERNEL_MP : LLX_KERNEL_LNRES;
        }
        if (k != kernel) continue;
        switch (st->op) { /* the stages whose timing rule the bounds follow; others count 0 */
        case LLX_OP_QKV:
        case LLX_OP_PROJ:
        case LLX_OP_FC1:
        case LLX_OP_FC2:
        case LLX_OP_LM_HEAD: sum += k == LLX_KERNEL_MP ? mp_stage(c, s, i) : 0; break;
        case LLX_OP_ATTN: sum += k == LLX_KERNEL_MHA ? mha_stage(c, s, i) : 0; break;
        case LLX_OP_LN1:
        case LLX_OP_RES_LN2:
        case LLX_OP_RES:
        case LLX_OP_LN_F: sum += k == LLX_KERNEL_LNRES ? ln_stage(c, st) : 0; break;
        default: break;
        }
    }
    return sum;
}
