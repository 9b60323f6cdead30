/* sim/mha.c - Fused Multi-Head Attention kernel, event level.
 *
 * A node owns a contiguous block of heads.  It stages q, k, v of its heads
 * out of the shared buffer (the new k, v are posted to the KV cache; the
 * newest key and value come from the staged copy), then processes items:
 * one item = one token x one group of heads_parallel heads.  Per item:
 *   K DMA   ctx words on each of the group's K channels (rate limited)
 *   QK      one score per cycle -> score FIFO (score_lat after the word)
 *   S1      online max / exp / sum, one score per cycle; s1_lat after the last
 *   S2      reciprocal, then one int8 probability per cycle from the FIFO
 *   V DMA   ctx words on the group's V channels, launched when K is issued
 *   SV      one (p, v) pair per cycle, sv_lat to the context output
 * Head-wise pipeline on: the K DMA of item k starts as soon as the channel
 * and the score FIFO allow, so softmax and SV of head k-1 run under QK of
 * head k.  Off: item k starts after item k-1's context is out.
 * Each item's context (heads x head_dim x 1 token) is one ring block, written
 * into every node's shared buffer like an MP block.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

typedef struct item_state {
    cyc kfree, vfree, s2_prev_end, sv_prev, sv_done_prev;
} item_state;

/* Items of one node; fills ready/flits (nblk entries), returns local end. */
static cyc node_items(const sim_hw *hw, const llx_stage *st, int heads_n, cyc t_in, int nblk, cyc *ready,
                      int *flits, long *elems, cyc *c_of, cyc *rel_of, double *hbm)
{
    const int hp = hw->hp, hd = st->head_dim;
    const int kw = (int)cdiv(hd, hw->G);
    const int groups = (int)cdiv(heads_n, hp);
    item_state z = {t_in, t_in, 0, -1, t_in};
    cyc local = t_in;
    int k = 0;
    for (int t = 0; t < st->tokens && heads_n > 0; t++) {
        cyc c = st->pos + t + 1;
        for (int g = 0; g < groups; g++, k++) {
            int nh = heads_n - g * hp < hp ? heads_n - g * hp : hp;
            c_of[k] = c;
            cyc kst = z.kfree;
            if (hw->headwise) {
                /* score FIFO: items m..k must fit; items before m released */
                cyc sum = 0;
                int m = k;
                while (m >= 0 && sum + c_of[m] <= hw->score_fifo) sum += c_of[m--];
                if (m >= 0) kst = max_c(kst, rel_of[m]);
            } else {
                kst = max_c(kst, z.sv_done_prev);
            }
            cyc klast = rate_issue(hw->hbm, kst, c);
            z.kfree = klast + 1;
            cyc s2r = klast + hw->L_hbm + hw->score_lat + hw->s1_lat + hw->s2_lat;
            cyc vst = max_c(klast + 1, z.vfree);
            cyc vlast = rate_issue(hw->hbm, vst, c);
            z.vfree = vlast + 1;
            cyc s2s = max_c(s2r, z.s2_prev_end);
            z.s2_prev_end = s2s + c;
            rel_of[k] = s2s + c;
            cyc svl = max_c(max_c(vlast + hw->L_hbm, s2s + c - 1), z.sv_prev + c);
            z.sv_prev = svl;
            z.sv_done_prev = svl + hw->sv_lat;
            ready[k] = z.sv_done_prev;
            flits[k] = sim_flits(hw, (long)nh * hd, st->gather_bytes);
            elems[k] = (long)nh * hd;
            local = ready[k];
            for (int ch = 0; ch < nh * kw && ch < LLX_SIM_MAX_CHANNELS; ch++) {
                hbm[ch] += (double)c * hw->G;
                if (hp * kw + ch < LLX_SIM_MAX_CHANNELS) hbm[hp * kw + ch] += (double)c * hw->G;
            }
        }
    }
    for (; k < nblk; k++) {
        ready[k] = local;
        flits[k] = 1;
        elems[k] = 0;
    }
    return local;
}

llx_status sim_mha_fast(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes;
    memset(out, 0, sizeof *out);
    int nblk = 1;
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        int nb = (int)cdiv(r.end - r.begin, hw->hp) * st->tokens;
        if (nb > nblk) nblk = nb;
    }
    size_t cells = (size_t)N * (size_t)nblk;
    cyc *ready = malloc(sizeof *ready * cells);
    int *flits = malloc(sizeof *flits * cells);
    long *elems = malloc(sizeof *elems * cells);
    cyc *c_of = malloc(sizeof *c_of * (size_t)nblk);
    cyc *rel_of = malloc(sizeof *rel_of * (size_t)nblk);
    if (!ready || !flits || !elems || !c_of || !rel_of) {
        free(ready), free(flits), free(elems), free(c_of), free(rel_of);
        return llx_fail(LLX_ERR_NOMEM, "out of memory simulating stage %d", i);
    }
    cyc local_max = 0, t_in_max = 0;
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        int heads_n = r.end - r.begin;
        cyc t_in = cdiv(3LL * heads_n * st->head_dim * st->tokens, hw->xfer);
        t_in_max = max_c(t_in_max, t_in);
        cyc local = node_items(hw, st, heads_n, t_in, nblk, ready + n * nblk, flits + n * nblk,
                               elems + n * nblk, c_of, rel_of,
                               out->hbm_bytes);
        if (!hw->hiding)
            for (int b = 0; b < nblk; b++) ready[n * nblk + b] = local;
        local_max = max_c(local_max, local);
    }
    cyc end = st->gather > 0 ? sim_ring_fast(hw, nblk, ready, flits, elems, &out->link_bytes) : local_max;
    free(ready), free(flits), free(elems), free(c_of), free(rel_of);
    if (end < 0) return llx_fail(LLX_ERR_NOMEM, "out of memory simulating stage %d", i);
    out->stage_in = t_in_max;
    out->ring = end - local_max;
    out->end = end + hw->sched;
    return LLX_OK;
}
