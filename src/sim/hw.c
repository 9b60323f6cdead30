/* sim/hw.c - derive the integer-cycle hardware (rates, widths, depths,
 * composite pipeline latencies) from a checked llx_sim_config.  Every number
 * here comes from a parameter (params.c, docs/simulator.md); this file only
 * converts units and adds latencies along the datapaths. */
#include <math.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

/* a rate limiter for units of `unit_bytes` at `bytes_per_cycle` (at most one
 * unit per cycle); the bucket holds one unit plus one cycle's credit */
static llx_status make_rate(sim_rate *r, double bytes_per_cycle, int unit_bytes, const char *what)
{
    r->cost = (cyc)unit_bytes * SIM_CREDIT_SCALE;
    r->num = llround(bytes_per_cycle * SIM_CREDIT_SCALE);
    if (r->num > r->cost) r->num = r->cost;
    if (r->num < 1) return llx_fail(LLX_ERR_ARG, "%s bandwidth is below one byte per %d cycles", what, SIM_CREDIT_SCALE);
    r->cap = r->cost + r->num - 1;
    return LLX_OK;
}

static int ns_to_cycles(double ns, double f_hz)
{
    double c = ceil(ns * f_hz / 1e9 - 1e-9); /* ns to cycles (unit conversion) */
    return c < 1 ? 1 : (int)c;
}

static int or_word(int v, int word) { return v > 0 ? v : word; }

static void latencies(sim_hw *hw, const llx_sim_arch *a)
{
    const int tree = ilog2ceil(hw->G);
    hw->lat_fifo = a->lat_fifo, hw->lat_logic = a->lat_logic;
    hw->fadd = a->lat_fadd, hw->fmul = a->lat_fmul, hw->exp_ = a->lat_exp;
    hw->rsqrt = a->lat_rsqrt, hw->recip = a->lat_recip, hw->i2f = a->lat_i2f;
    hw->imul = a->lat_imul, hw->iadd = a->lat_iadd;
    /* multiply, one process per adder-tree level (its FIFO included), accumulate */
    hw->tree_lat = a->lat_imul + tree * (a->lat_iadd + a->lat_fifo) + a->lat_iadd;
    hw->quant_lat = a->lat_i2f + a->lat_fmul + a->lat_fadd + a->lat_logic;
    /* QK tree, merge of the channel partial sums, score scale, stream FIFO */
    hw->score_lat = a->lat_imul + tree * (a->lat_iadd + a->lat_fifo) + (a->lat_iadd + a->lat_fifo) + a->lat_i2f +
                    a->lat_fmul + a->lat_fifo;
    hw->max_lat = a->lat_logic + a->lat_fifo;
    hw->exp_lat = a->lat_fadd + a->lat_exp + a->lat_fadd + a->lat_fifo;
    hw->sum_lat = a->lat_iadd + a->lat_fifo;
    hw->inv_lat = a->lat_i2f + a->lat_recip + a->lat_fifo;
    hw->norm_lat = a->lat_fmul + a->lat_fmul + a->lat_logic + a->lat_fifo;
    hw->sv_lat = a->lat_imul + a->lat_iadd + a->lat_fifo;
    hw->ctxq_lat = a->lat_i2f + a->lat_fmul + a->lat_logic + a->lat_fifo;
    /* activations (fp32 in, fp32 out): GELU as x * sigmoid(1.5958 (x +
     * 0.044715 x^3)) (x^2, x^3, *0.044715, +x, *-1.5958, exp, +1,
     * reciprocal, *x); SiLU as x * sigmoid(x) (exp(-x), +1, reciprocal, *x) */
    hw->act_lat[LLX_ACT_NONE] = 0;
    hw->act_lat[LLX_ACT_GELU] = a->lat_fmul + a->lat_fmul + a->lat_fmul + a->lat_fadd + a->lat_fmul + a->lat_exp +
                                a->lat_fadd + a->lat_recip + a->lat_fmul;
    hw->act_lat[LLX_ACT_SILU] = a->lat_exp + a->lat_fadd + a->lat_recip + a->lat_fmul;
}

llx_status sim_hw_init(sim_hw *hw, const llx_sim_config *c)
{
    memset(hw, 0, sizeof *hw);
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    hw->cfg = c;
    hw->nodes = a->nodes;
    hw->P = a->channels;
    hw->G = a->word_bytes;
    hw->hp = a->heads_parallel;
    hw->npf = a->nodes_per_fpga;
    hw->f_hz = a->clock_mhz * 1e6;

    LLX_TRY(make_rate(&hw->hbm, llx_sim_hbm_bytes_per_cycle(c), a->word_bytes, "HBM channel"));
    hw->L_hbm = ns_to_cycles(a->hbm_latency_ns, hw->f_hz);

    hw->flit_bytes = a->flit_bytes;
    for (int i = 0; i < a->nodes; i++) {
        int j = (i + 1) % a->nodes;
        int inter = i / a->nodes_per_fpga != j / a->nodes_per_fpga;
        double gbps = inter ? p->net_gbps : a->link_gbps_intra;
        double bpc = gbps > 0 ? gbps * 1e9 / hw->f_hz : a->flit_bytes;
        LLX_TRY(make_rate(&hw->link[i], bpc, a->flit_bytes, "ring link"));
        hw->hop[i] = ns_to_cycles(inter ? a->hop_ns_inter : a->hop_ns_intra, hw->f_hz);
    }
    hw->router = a->router_cycles;
    hw->sched = a->sched_cycles;

    hw->mp_in = or_word(a->mp_in_elems, hw->G);
    hw->mp_wb = a->mp_wb_elems;
    hw->mha_q = a->mha_q_elems;
    hw->kv_in = or_word(a->kv_in_elems, hw->G);
    hw->ctx_q = a->ctx_q_elems;
    hw->mha_wb = a->mha_wb_elems;
    hw->ln_rd = a->ln_rd_elems;
    hw->ln_wb = a->ln_wb_elems;
    hw->act = or_word(a->act_elems, hw->G);
    hw->lanes = a->ln_lanes;
    hw->ln_ii = a->ln_acc_ii;

    hw->dma_fifo = a->dma_fifo, hw->disp_fifo = a->disp_fifo, hw->out_fifo = a->out_fifo;
    hw->tx_fifo = a->tx_fifo, hw->wb_fifo = a->wb_fifo, hw->link_fifo = a->link_fifo;
    hw->sc_fifo = a->sc_fifo, hw->score_fifo = a->score_fifo, hw->exp_fifo = a->exp_fifo;
    hw->stat_fifo = a->stat_fifo, hw->prob_fifo = a->prob_fifo, hw->ctx_fifo = a->ctx_fifo;

    hw->fusion = a->lnres_fusion;
    hw->headwise = a->headwise_pipeline;
    hw->hiding = a->transfer_hiding;
    latencies(hw, a);
    return LLX_OK;
}
