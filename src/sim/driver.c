/* sim/driver.c - walks schedules stage by stage and accumulates what the
 * modelled hardware takes: one pass (llx_sim_time_schedule) or a whole
 * workload (llx_sim_run: prefill passes, decode passes, resources, power).
 * The model's structure comes only from llx_schedule_build. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "sim/power.h"
#include "util/status.h"

static void add_stage(llx_sim_pass *acc, const sim_stage *st, llx_sim_cat kernel)
{
    acc->cycles += (double)st->end;
    acc->cat[LLX_SIM_CAT_STAGE_IN] += (double)st->stage_in;
    acc->cat[LLX_SIM_CAT_RING] += (double)st->ring;
    acc->cat[kernel] += (double)(st->end - st->stage_in - st->ring);
    for (int c = 0; c < LLX_SIM_MAX_CHANNELS; c++) acc->hbm_bytes[c] += st->hbm_bytes[c];
    acc->link_bytes += st->link_bytes;
}

static llx_status time_stage(const sim_hw *hw, const llx_schedule *s, int i, llx_sim_pass *acc)
{
    const llx_sim_config *c = hw->cfg;
    const llx_stage *st = &s->stages[i];
    const int cyclemode = c->arch.cycle_mode;
    sim_stage r;
    int kernel = st->kernel;
    if (kernel == LLX_KERNEL_HOST) {
        acc->host_s += sim_host_stage_s(c, st);
        if (!c->arch.lm_head_fpga || st->op == LLX_OP_EMBED) return LLX_OK;
        kernel = st->op == LLX_OP_LM_HEAD ? LLX_KERNEL_MP : LLX_KERNEL_LNRES;
    }
    switch (kernel) {
    case LLX_KERNEL_MP:
        LLX_TRY(cyclemode ? sim_mp_cycle(hw, s, i, &r) : sim_mp_fast(hw, s, i, &r));
        add_stage(acc, &r, LLX_SIM_CAT_MP);
        return LLX_OK;
    case LLX_KERNEL_MHA:
        LLX_TRY(cyclemode ? sim_mha_cycle(hw, s, i, &r) : sim_mha_fast(hw, s, i, &r));
        add_stage(acc, &r, LLX_SIM_CAT_MHA);
        return LLX_OK;
    case LLX_KERNEL_LNRES:
        if (cyclemode) sim_lnres_cycle(hw, st, &r);
        else sim_lnres_time(hw, st, &r);
        add_stage(acc, &r, LLX_SIM_CAT_LNRES);
        return LLX_OK;
    default: return llx_fail(LLX_ERR_INTERNAL, "stage %d: unknown kernel %d", i, kernel);
    }
}

static llx_status check_schedule(const llx_sim_config *c, const llx_schedule *s)
{
    LLX_TRY(llx_sim_check(c, &s->cfg));
    if (s->opt.nodes != c->arch.nodes)
        return llx_fail(LLX_ERR_ARG, "schedule is planned for %d nodes but the simulator has %d", s->opt.nodes,
                        c->arch.nodes);
    return LLX_OK;
}

llx_status llx_sim_time_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_pass *out)
{
    memset(out, 0, sizeof *out);
    LLX_TRY(check_schedule(c, s));
    if (stage < 0 || stage >= s->n_stages) return llx_fail(LLX_ERR_ARG, "stage %d out of range", stage);
    sim_hw hw;
    LLX_TRY(sim_hw_init(&hw, c));
    return time_stage(&hw, s, stage, out);
}

llx_status llx_sim_time_schedule(const llx_sim_config *c, const llx_schedule *s, llx_sim_pass *out)
{
    memset(out, 0, sizeof *out);
    LLX_TRY(check_schedule(c, s));
    sim_hw hw;
    LLX_TRY(sim_hw_init(&hw, c));
    for (int i = 0; i < s->n_stages; i++) LLX_TRY(time_stage(&hw, s, i, out));
    return LLX_OK;
}

static llx_status time_pass(const llx_sim_config *c, const llx_config *m, int tokens, int pos, llx_sim_pass *out)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = tokens, .pos = pos, .block_rows = c->block_rows,
                        .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    LLX_TRY(llx_schedule_build(&s, m, &o));
    llx_status st = llx_sim_time_schedule(c, &s, out);
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
}

llx_status llx_sim_run(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w, llx_sim_result *r)
{
    memset(r, 0, sizeof *r);
    LLX_TRY(llx_sim_check(c, m));
    const double f = c->arch.clock_mhz * 1e6;
    llx_sim_pass pre = {0}, dec = {0}, one;
    if (w->context > 0) {
        if (w->context > m->n_ctx)
            return llx_fail(LLX_ERR_ARG, "context %d exceeds the model's %d positions", w->context, m->n_ctx);
        LLX_TRY(time_pass(c, m, 1, w->context - 1, &dec));
        r->decode_passes = 1;
    } else {
        if (w->prompt < 1 || w->gen < 1) return llx_fail(LLX_ERR_ARG, "prompt and gen must be at least 1");
        if ((long)w->prompt + w->gen > m->n_ctx)
            return llx_fail(LLX_ERR_ARG, "prompt %d + gen %d exceed the model's %d positions", w->prompt, w->gen,
                            m->n_ctx);
        if (c->arch.prefill_batched) {
            LLX_TRY(time_pass(c, m, w->prompt, 0, &pre));
            r->prefill_passes = 1;
        } else {
            for (int p = 0; p < w->prompt; p++) {
                LLX_TRY(time_pass(c, m, 1, p, &one));
                accumulate(&pre, &one);
            }
            r->prefill_passes = w->prompt;
        }
        for (int g = 0; g < w->gen; g++) {
            LLX_TRY(time_pass(c, m, 1, w->prompt + g, &one));
            accumulate(&dec, &one);
        }
        r->decode_passes = w->gen;
        r->prefill_ms = pre.cycles / f * 1e3;
        r->prefill_ms_per_token = r->prefill_ms / w->prompt;
    }
    const double np = r->decode_passes;
    r->decode_ms_per_token = dec.cycles / np / f * 1e3;
    r->tokens_per_s = 1e3 / r->decode_ms_per_token;
    r->host_ms_per_token = dec.host_s / np * 1e3;
    r->e2e_ms_per_token = r->decode_ms_per_token + r->host_ms_per_token;
    r->total_ms = r->prefill_ms + dec.cycles / f * 1e3;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) r->breakdown_ms[k] = dec.cat[k] / np / f * 1e3;
    r->ring_exposed_ms = r->breakdown_ms[LLX_SIM_CAT_RING];

    sim_hw hw;
    LLX_TRY(sim_hw_init(&hw, c));
    const double ch_bytes_s = (double)hw.hbm.num / 1000.0 * f;
    const double dec_s = r->decode_ms_per_token * 1e-3;
    r->channels = c->arch.channels < LLX_SIM_MAX_CHANNELS ? c->arch.channels : LLX_SIM_MAX_CHANNELS;
    for (int k = 0; k < r->channels; k++)
        r->hbm_util[k] = dec.hbm_bytes[k] / np / c->arch.nodes / (dec_s * ch_bytes_s);

    LLX_TRY(llx_sim_resources_estimate(c, m, &r->res));
    sim_power pw;
    sim_power_estimate(c, &r->res, dec.hbm_bytes, dec.link_bytes, np * dec_s, &pw);
    r->power_static_w = pw.static_w;
    r->power_logic_w = pw.logic_w;
    r->power_hbm_w = pw.hbm_w;
    r->power_link_w = pw.link_w;
    r->power_w = pw.total_w;
    r->tokens_per_joule = r->tokens_per_s / r->power_w;
    return LLX_OK;
}
