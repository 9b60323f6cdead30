/* sim/net_ln.c - the timing rule of the LayerNorm & residual stages (LN1,
 * RES_LN2, RES; LN_F when the LM head runs on the FPGA).
 *
 * Every node runs them on the whole hidden vector (the schedule's split
 * NONE), so one process stands for all nodes.  The residual stream x stays
 * in the kernel's lane buffers; the branch (PROJ or FC2 output) is read from
 * the shared buffer ln_rd elements per cycle and h is written back ln_wb
 * elements per cycle (TeraFly Res_layer, layerNorm, write_buffer_ln).
 *
 * Fused (the paper's optimisation): `lanes` elements per firing; residual
 * add and statistics (sum x, sum x^2 in lat_fadd interleaved partial sums
 * per lane, so the loop runs at ln_acc_ii) in one pass; the drain of the
 * adders, a reduction tree, mean / variance / rsqrt; the normalising pass;
 * the normalising pipeline's drain.
 * Unfused (the paper's starting point): one lane; the residual is its own
 * kernel call and pass; the statistics go into one accumulator per quantity
 * (II = lat_fadd); then the normalising pass. */
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

static void token(const sim_hw *hw, const llx_stage *st, sim_graph *g, int p)
{
    const long d = st->cols;
    const int finalize = hw->fmul + hw->fmul + hw->fadd + hw->fadd + hw->rsqrt; /* mean, mean^2, var, +eps, rsqrt */
    const int norm = hw->fadd + hw->fmul + hw->fmul + hw->fadd + hw->lat_logic; /* -mean, *rstd, *gamma, +beta, round */
    if (hw->fusion) {
        long lanes = hw->lanes;
        int ii1 = hw->ln_ii;
        if (st->residual && (int)cdiv_l(lanes, hw->ln_rd) > ii1) ii1 = (int)cdiv_l(lanes, hw->ln_rd);
        sim_phase_add(g, p, cdiv_l(d, lanes), ii1, 0, 0);
        if (st->norm == LLX_NORM_NONE) {
            sim_phase_add(g, p, 1, 1, hw->fadd, 0); /* the last residual adds drain */
            return;
        }
        long parts = lanes * cdiv_l(hw->fadd, hw->ln_ii); /* interleaved partial sums */
        int reduce = ilog2ceil(parts) * hw->fadd;
        int ii2 = (int)cdiv_l(lanes, hw->ln_wb);
        sim_phase_add(g, p, cdiv_l(d, lanes), ii2, hw->fadd + reduce + finalize, 0);
        sim_phase_add(g, p, 1, 1, norm, 0);
        return;
    }
    if (st->residual) {
        sim_phase_add(g, p, d, 1, 0, 0); /* one lane: one element per cycle */
        sim_phase_add(g, p, 1, 1, hw->fadd + (st->norm != LLX_NORM_NONE ? hw->sched : 0), 0);
    }
    if (st->norm != LLX_NORM_NONE) {
        sim_phase_add(g, p, d, hw->fadd, 0, 0); /* one accumulator: II = fadd latency */
        sim_phase_add(g, p, d, 1, hw->fadd + finalize, 0);
        sim_phase_add(g, p, 1, 1, norm, 0);
    }
}

llx_status sim_net_ln(const sim_hw *hw, const llx_stage *st, sim_stage_net *net)
{
    int p = sim_proc_add(&net->g, "n0.lnres", 0, SIM_PK_COMPUTE);
    for (int t = 0; t < st->tokens; t++) token(hw, st, &net->g, p);
    if (net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building a LayerNorm stage");
    return LLX_OK;
}
