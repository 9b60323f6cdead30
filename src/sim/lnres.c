/* sim/lnres.c - LayerNorm & residual stages (LN1, RES_LN2, RES).
 *
 * Every node runs them on the whole hidden vector (the schedule's split
 * NONE), so they never scale with the node count.  The residual stream x
 * stays in the kernel's lane-partitioned buffer; the branch (PROJ or FC2
 * output) is read from the shared buffer and the normalised h written back
 * to it through its xfer-wide ports.
 *
 * Fused (the paper's optimisation): `lanes` lanes; residual add and the
 * statistics (sum x, sum x^2, lat_fadd interleaved partial sums per lane, so
 * one element per lane per cycle) share one pass; then a reduction tree,
 * mean/variance/rsqrt, and a normalising pass.
 * Unfused (the paper's starting point): one lane; the residual is its own
 * kernel and pass; the LayerNorm accumulates its statistics in a single
 * accumulator per quantity, so that loop runs at II = lat_fadd; then the
 * normalising pass.  Each kernel call costs a scheduler hand-over.
 */
#include <string.h>

#include "sim/hw.h"

static int log2ceil(long v)
{
    int n = 0;
    while ((1L << n) < v) n++;
    return n;
}

/* Cycles for one token. */
static cyc lnres_token(const sim_hw *hw, const llx_stage *st)
{
    const cyc d = st->cols;
    const cyc norm_lat = hw->fadd + hw->fmul + hw->fmul + hw->fadd;
    const cyc finalize = hw->fmul + hw->fmul + hw->fadd + hw->rsqrt; /* mean, E[x2]-mean^2, rsqrt */
    if (hw->fusion) {
        cyc lanes = hw->lanes;
        cyc pass1 = cdiv(d, lanes);
        if (st->residual) pass1 = max_c(pass1, cdiv(d, hw->xfer));
        if (!st->layernorm) return pass1 + hw->fadd;
        cyc reduce = (cyc)log2ceil(lanes * hw->fadd) * hw->fadd;
        cyc pass2 = max_c(cdiv(d, lanes), cdiv(d, hw->xfer)); /* h goes to the shared buffer */
        return pass1 + hw->fadd + reduce + finalize + pass2 + norm_lat;
    }
    cyc t = 0;
    if (st->residual) t += cdiv(d, hw->xfer) + hw->fadd + (st->layernorm ? hw->sched : 0);
    if (st->layernorm) t += d * hw->fadd + hw->fadd + finalize + max_c(d, cdiv(d, hw->xfer)) + norm_lat;
    return t;
}

void sim_lnres_time(const sim_hw *hw, const llx_stage *st, sim_stage *out)
{
    memset(out, 0, sizeof *out);
    out->end = (cyc)st->tokens * lnres_token(hw, st) + hw->sched;
}
