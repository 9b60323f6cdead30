/* sim/mp.c - Fused Matrix Processing kernel, event level.
 *
 * Per node and stage: the kernel first reads its input vector (cols x tokens
 * elements) out of the shared buffer through the xfer port and packs it into
 * n_group-byte words (stage-in).  Then every slice p streams its rows
 * (p, p+P, ...) from HBM channel p, one word per issue of the channel's rate
 * limiter, L_hbm cycles of latency; the MAC slice consumes a word per cycle
 * (per token), a row's dot product leaves the adder tree tree_lat cycles
 * after its last word.  The quantisation unit serves one element per cycle
 * in row order (bias, scale, GELU table for FC1).  Rows are grouped in
 * blocks of block_rows; a finished block goes to the router.  The stage ends
 * when every node has written the all-gathered output into its shared buffer
 * (sim_ring_fast).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

/* Block ready times of one node: fills ready[0..nblk) and flits[0..nblk),
 * returns the node's local completion (last row quantised). */
static cyc node_blocks(const sim_hw *hw, const llx_stage *st, int rows_n, int B, cyc t_in, int nblk, cyc *ready,
                       int *flits, long *elems)
{
    const int P = hw->P, T = st->tokens;
    const cyc wpr = cdiv(st->cols, hw->G);
    const sim_rate rw = sim_mp_rate(hw, T, wpr);
    const cyc qlat = hw->quant_lat + (st->gelu ? hw->gelu_lat : 0);
    cyc qfree = 0, local = t_in;
    int b = 0;
    const int groups = (int)cdiv(rows_n, P);
    for (int g = 0; g < groups; g++) {
        int pg = rows_n - g * P < P ? rows_n - g * P : P;
        cyc avail = rate_issue(rw, t_in, (cyc)(g + 1) * wpr) + hw->L_hbm;
        cyc r = avail + (T - 1) + hw->tree_lat;
        cyc s = max_c(r, qfree);
        qfree = s + (cyc)pg * T;
        /* blocks whose last row falls in this group */
        while (b < nblk) {
            int last = (b + 1) * B < rows_n ? (b + 1) * B - 1 : rows_n - 1;
            if (last / P != g) break;
            int p = last % P;
            ready[b] = s + (cyc)(p + 1) * T - 1 + qlat;
            int rows_b = last + 1 - b * B;
            flits[b] = sim_flits(hw, (long)rows_b * T, st->gather_bytes);
            elems[b] = (long)rows_b * T;
            local = ready[b];
            b++;
        }
    }
    for (; b < nblk; b++) { /* a node with fewer rows sends header-only messages */
        ready[b] = local;
        flits[b] = 1;
        elems[b] = 0;
    }
    return local;
}

llx_status sim_mp_fast(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes, B = s->opt.block_rows, P = hw->P;
    memset(out, 0, sizeof *out);
    int nblk = 1;
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        int nb = (int)cdiv(r.end - r.begin, B);
        if (nb > nblk) nblk = nb;
    }
    cyc *ready = malloc(sizeof *ready * (size_t)N * (size_t)nblk);
    int *flits = malloc(sizeof *flits * (size_t)N * (size_t)nblk);
    long *elems = malloc(sizeof *elems * (size_t)N * (size_t)nblk);
    if (!ready || !flits || !elems) {
        free(ready), free(flits), free(elems);
        return llx_fail(LLX_ERR_NOMEM, "out of memory simulating stage %d", i);
    }
    const cyc t_in = cdiv((cyc)st->tokens * st->cols, hw->xfer);
    const cyc wpr = cdiv(st->cols, hw->G);
    cyc local_max = 0;
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        int rows_n = r.end - r.begin;
        cyc local = node_blocks(hw, st, rows_n, B, t_in, nblk, ready + n * nblk, flits + n * nblk, elems + n * nblk);
        if (!hw->hiding)
            for (int b = 0; b < nblk; b++) ready[n * nblk + b] = local;
        local_max = max_c(local_max, local);
        for (int p = 0; p < P && p < LLX_SIM_MAX_CHANNELS; p++) {
            cyc rows_p = rows_n > p ? cdiv(rows_n - p, P) : 0;
            out->hbm_bytes[p] += (double)(rows_p * wpr) * hw->G;
        }
    }
    cyc end = st->gather > 0 ? sim_ring_fast(hw, nblk, ready, flits, elems, &out->link_bytes) : local_max;
    free(ready), free(flits), free(elems);
    if (end < 0) return llx_fail(LLX_ERR_NOMEM, "out of memory simulating stage %d", i);
    out->stage_in = t_in;
    out->ring = end - local_max;
    out->end = end + hw->sched;
    return LLX_OK;
}
