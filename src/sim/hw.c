/* sim/hw.c - derive the integer-cycle hardware model (rates, latencies,
 * ring links) from a checked llx_sim_config.  No timing happens here. */
#include <math.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

static int log2ceil(long v)
{
    int n = 0;
    while ((1L << n) < v) n++;
    return n;
}

/* credits are bytes scaled by 1000 so fractional bytes/cycle stay exact */
static llx_status make_rate(sim_rate *r, double bytes_per_cycle, int unit_bytes, const char *what)
{
    r->cost = (cyc)unit_bytes * 1000;
    r->num = llround(bytes_per_cycle * 1000.0);
    if (r->num > r->cost) r->num = r->cost; /* at most one unit per cycle */
    if (r->num < 1) return llx_fail(LLX_ERR_ARG, "%s bandwidth is below one byte per 1000 cycles", what);
    return LLX_OK;
}

static cyc ns_to_cycles(double ns, double f_hz)
{
    cyc c = (cyc)ceil(ns * 1e-9 * f_hz - 1e-9);
    return c < 1 ? 1 : c;
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
    hw->f_hz = a->clock_mhz * 1e6;

    /* per-channel HBM rate: sustained PC rate, capped by the device total
     * shared by the channels in use and by one word per cycle (the port) */
    int per_dev = a->nodes < a->nodes_per_fpga ? a->nodes : a->nodes_per_fpga;
    double ch_gbps = p->hbm_pc_gbps;
    double share = p->hbm_total_gbps / (double)(per_dev * a->channels);
    if (share < ch_gbps) ch_gbps = share;
    LLX_TRY(make_rate(&hw->hbm, ch_gbps * 1e9 / hw->f_hz, a->word_bytes, "HBM channel"));
    hw->L_hbm = ns_to_cycles(a->hbm_latency_ns, hw->f_hz);

    hw->flit_bytes = a->flit_bytes;
    for (int i = 0; i < a->nodes; i++) {
        int j = (i + 1) % a->nodes;
        int inter = i / a->nodes_per_fpga != j / a->nodes_per_fpga;
        double gbps = inter ? a->link_gbps_inter : a->link_gbps_intra;
        LLX_TRY(make_rate(&hw->link[i], gbps * 1e9 / hw->f_hz, a->flit_bytes, "ring link"));
        hw->hop[i] = ns_to_cycles(inter ? a->hop_ns_inter : a->hop_ns_intra, hw->f_hz);
    }
    hw->router = a->router_cycles;
    hw->sched = a->sched_cycles;
    hw->xfer = a->xfer_elems;
    hw->lanes = a->ln_lanes;
    hw->hp = a->heads_parallel;
    hw->score_fifo = a->score_fifo;
    hw->fadd = a->lat_fadd;
    hw->fmul = a->lat_fmul;
    hw->exp_ = a->lat_exp;
    hw->rsqrt = a->lat_rsqrt;
    hw->recip = a->lat_recip;
    hw->fusion = a->lnres_fusion;
    hw->headwise = a->headwise_pipeline;
    hw->hiding = a->transfer_hiding;

    int tree = log2ceil(hw->G);
    hw->tree_lat = 1 + tree + 1;                 /* multiply, adder tree, accumulate */
    hw->quant_lat = a->lat_fmul + a->lat_fadd + 1; /* x*alpha + bias, round/clamp */
    hw->gelu_lat = 1;                            /* 256-entry table on the int8 result */
    hw->score_lat = 1 + tree + 1 + a->lat_fmul;  /* QK tree, channel merge, score scale */
    /* online softmax keeps lat_fadd interleaved partial (max, sum) pairs so it
     * takes one score per cycle; the pairs are merged after the last score */
    int merge = log2ceil(a->lat_fadd);
    hw->s1_lat = a->lat_fadd + a->lat_exp + a->lat_fmul + a->lat_fadd +
                 merge * (a->lat_fadd + a->lat_exp + a->lat_fmul);
    hw->s2_lat = a->lat_recip + a->lat_fadd + a->lat_exp + a->lat_fmul + 1;
    hw->sv_lat = 2 + a->lat_fmul + 1;            /* MAC, accumulate, context requant */
    return LLX_OK;
}
