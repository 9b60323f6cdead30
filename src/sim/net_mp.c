/* sim/net_mp.c - the timing rule of the Fused Matrix Processing kernel
 * (paper Fig. 6(a); TeraFly gemm_quant): one stage as a dataflow network.
 *
 * Per node and slice p (one per HBM channel; rows p, p+P, ... of the node's
 * block of output rows):
 *   dma[p]   one word per firing at the channel's sustained rate; a word
 *            lands in the read buffer (dma_fifo words, outstanding requests
 *            included) L_hbm cycles later
 *   feed     packs the activation vector into words, mp_in elements per
 *            cycle, and broadcasts each word to every slice (disp_fifo);
 *            left out when it cannot bind (feed_binds)
 *   mac[p]   one activation word per cycle (per token), the weight word on
 *            its last token; a row's sums leave the adder tree tree_lat
 *            later into the result FIFO (out_fifo)
 *   quant    takes a row group's results from every slice, requantises one
 *            element per cycle (bias, scale, clamp) and packs flits for the
 *            router (tx_fifo)
 * then the ring and the write ports (net_ring.c).  An activation on a
 * gathered stage (GPT-2 FC1's GELU) is a pass over the gathered vector
 * after the write (act elements per cycle, a separate kernel call, as
 * TeraFly's Gelu_layer): dequantise, activate, requantise.  On a stage that
 * stays local (Llama GATE's SiLU) it is in the quantiser's epilogue, as is
 * the elementwise product with an aux slot (Llama UP times the node's own
 * GATE rows, read with the result).  Slices are identical except that the last row
 * group may leave some idle: slices 1.. are replicas of slice 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

typedef struct pass_shape pass_shape;

typedef struct mp_ctx {
    const sim_hw *hw;
    const llx_schedule *s;
    const llx_stage *st;
    sim_stage_net *net;
    int B, nblk, bytes;
    struct pass_shape {
        int k;        /* rows per pass */
        long wpr, sw; /* weight words and scale words per pass */
    } ps;
    int mac_lat; /* a row's sums from its last beat to the result FIFO */
} mp_ctx;

/* Can the activation feed ever hold a MAC back?  Not when it packs a word
 * per cycle and the dispatcher FIFO holds two: it starts with the stage,
 * keeps two words ahead and a stalled MAC stalls it, so the MAC's beat b
 * never waits for it beyond cycle b + lat_fifo (the MAC's first beat is
 * delayed by lat_fifo instead).  Then the feed is left out of the network. */
static int feed_binds(const sim_hw *hw)
{
    return cdiv_l(hw->G, hw->mp_in) > 1 || hw->disp_fifo + hw->lat_fifo - 1 < 2;
}

/* The weight stream of one slice pass (docs/simulator.md section 1.3): a
 * pass computes `k` output rows at once, k = 8 / weight bits (int4: two
 * rows, whose weights of one column sit side by side in the word and share
 * the activation, FlexLLM's PE_i4xi4_pack_1x2), over wpr weight words of
 * word_bytes bytes each; the rows' scales follow as sw words (int4 only:
 * one scale per row, or one per `group` columns, of w_scale_bytes each,
 * padded to a word per pass). */
static pass_shape pass_of(const sim_hw *hw, const llx_schedule *s, const llx_stage *st)
{
    pass_shape ps;
    const int bits = sim_weight_bits(s, st);
    ps.k = 8 / bits; /* not timing: weights per byte */
    ps.wpr = cdiv_l(st->cols, hw->G);
    ps.sw = 0;
    if (ps.k > 1) {
        const long per_row = s->opt.w_group > 0 ? cdiv_l(st->cols, s->opt.w_group) : 1;
        const int sb = s->opt.w_scale_bytes > 0 ? s->opt.w_scale_bytes : SIM_WORD_BYTES;
        ps.sw = cdiv_l((long)ps.k * per_row * sb, hw->G);
    }
    return ps;
}

/* node n's slices, feed and MACs; returns 0 or -1 (out of memory) */
static int slices(const mp_ctx *x, int n, int rows, int *res)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int P = hw->P, T = x->st->tokens, ap = rows < P ? rows : P, feed_on = feed_binds(hw);
    const pass_shape ps = x->ps;
    const long L = (ps.wpr + ps.sw) * T; /* MAC beats per pass: one word per token beat */
    const long passes0 = cdiv_l(cdiv_l(rows, P), ps.k); /* slice 0 has the most rows */
    char name[SIM_NAME_LEN];
    int wbuf[LLX_SIM_MAX_CHANNELS], disp[LLX_SIM_MAX_CHANNELS], dma0 = -1, mac0 = -1, feed = -1;
    long full = 0; /* slices with passes0 passes */
    if (feed_on) {
        snprintf(name, sizeof name, "n%d.feed", n);
        feed = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
    }
    for (int p = 0; p < ap; p++) {
        const long rows_p = cdiv_l(rows - p, P), passes = cdiv_l(rows_p, ps.k);
        const long last = rows_p - (passes - 1) * ps.k; /* rows of the last pass */
        full += passes == passes0;
        snprintf(name, sizeof name, "n%d.w[%d]", n, p);
        wbuf[p] = sim_fifo_add(g, name, hw->dma_fifo, 0, SIM_BYTE_BITS * hw->G);
        if (wbuf[p] >= 0) g->fifos[wbuf[p]].reserve = 1; /* m_axi: requests hold their place */
        disp[p] = -1;
        if (feed_on) {
            snprintf(name, sizeof name, "n%d.act[%d]", n, p);
            disp[p] = sim_fifo_add(g, name, hw->disp_fifo, 0, SIM_BYTE_BITS * hw->G);
        }
        snprintf(name, sizeof name, "n%d.out[%d]", n, p);
        res[p] = sim_fifo_add(g, name, hw->out_fifo, 0, SIM_WORD_BITS);
        snprintf(name, sizeof name, "n%d.dma[%d]", n, p);
        int dma = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
        sim_proc_rate(g, dma, hw->hbm);
        int ph = sim_phase_add(g, dma, passes * (ps.wpr + ps.sw), 1, 0, 1);
        sim_port_add(g, ph, wbuf[p], SIM_PUSH, 1, hw->L_hbm, sim_every());
        snprintf(name, sizeof name, "n%d.mac[%d]", n, p);
        int mac = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
        /* every pass but the last pushes k results per token, the last `last` */
        for (int part = 0; part < 2; part++) {
            const long np = part == 0 ? passes - 1 : 1, kk = part == 0 ? ps.k : last;
            if (np <= 0) continue;
            ph = sim_phase_add(g, mac, np * L, 1, part == 0 || passes == 1 ? (feed_on ? 0 : hw->lat_fifo) : 0, 0);
            if (feed_on) sim_port_add(g, ph, disp[p], SIM_POP, 1, 0, sim_every());
            sim_port_add(g, ph, wbuf[p], SIM_POP, 1, 0, sim_each(T, T - 1));
            sim_port_add(g, ph, res[p], SIM_PUSH, (int)kk, x->mac_lat, (sim_pat){L, L - T, L - 1, 0, 0});
        }
        if (p == 0) {
            dma0 = dma, mac0 = mac;
        } else if (dma >= 0 && mac >= 0) {
            g->procs[dma].replica_of = dma0, g->procs[mac].replica_of = mac0;
            g->fifos[wbuf[p]].replica_of = wbuf[0];
            if (feed_on) g->fifos[disp[p]].replica_of = disp[0];
            g->fifos[res[p]].replica_of = res[0];
        }
        if (p < LLX_SIM_MAX_CHANNELS) x->net->hbm_bytes[p] += (double)(passes * (ps.wpr + ps.sw)) * hw->G;
    }
    if (!feed_on) return g->oom ? -1 : 0;
    /* one activation word per MAC beat, broadcast to the slices still busy
     * (a beat that applies a scale word takes a word it does not use) */
    const int feed_ii = (int)cdiv_l(hw->G, hw->mp_in);
    if (passes0 > 1) {
        int ph = sim_phase_add(g, feed, (passes0 - 1) * L, feed_ii, 0, 0);
        for (int p = 0; p < ap; p++) sim_port_add(g, ph, disp[p], SIM_PUSH, 1, hw->lat_fifo, sim_every());
    }
    int ph = sim_phase_add(g, feed, L, feed_ii, 0, 0);
    for (int p = 0; p < full; p++) sim_port_add(g, ph, disp[p], SIM_PUSH, 1, hw->lat_fifo, sim_every());
    return g->oom ? -1 : 0;
}

static int epilogue_lat(const sim_hw *hw, const llx_schedule *s, const llx_stage *st)
{
    int l = hw->quant_lat;
    /* int4 asymmetric inputs: + zero point x (scale x row sum), FlexLLM's s_sum */
    if (s->opt.act_bits == 4 && st->matrix != LLX_MAT_LM_HEAD) l += hw->fmul + hw->fadd; /* not timing: bits */
    if (st->aux != LLX_SLOT_NONE) l += hw->fmul;
    if (st->gather == 0) l += hw->act_lat[st->act];
    return l;
}

/* node n's quantisation unit: element order (row group, token, slice);
 * message b is the b-th run of block_rows elements of that stream (a router
 * round: block_rows rows of one token).  Returns the process. */
static int quant(const mp_ctx *x, int n, int rows, const int *res, int tx, long *msgs, long *elems)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int P = hw->P, T = x->st->tokens, fe = hw->flit_bytes / x->bytes;
    const long groups = rows > 0 ? cdiv_l(rows, P) : 0, pl = rows - (groups - 1) * P;
    const long E = (long)rows * T, full_end = (groups - 1) * P * T;
    const long qlat = epilogue_lat(hw, x->s, x->st);
    char name[SIM_NAME_LEN];
    snprintf(name, sizeof name, "n%d.quant", n);
    int q = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
    int nb = 0;
    for (long ms = 0; ms < E; nb++) {
        long eb = E - ms < x->B ? E - ms : x->B;
        long me = ms + eb;
        msgs[nb] = sim_flits(hw, eb, x->bytes);
        elems[nb] = eb;
        for (long a = ms; a < me;) { /* segments: message x unit-size region */
            int in_full = a < full_end;
            long rb = in_full ? 0 : full_end, us = in_full ? P : pl;
            long z = in_full && me > full_end ? full_end : me;
            int ph = sim_phase_add(g, q, z - a, 1, 0, 0);
            for (int p = 0; p < us; p++) sim_port_add(g, ph, res[p], SIM_POP, 1, 0, sim_each(us, (us - (a - rb) % us) % us));
            sim_port_add(g, ph, tx, SIM_PUSH, 1, (int)qlat, (sim_pat){fe, fe - 1, fe - 1, (a - ms) % fe, z == me});
            a = z;
        }
        ms = me;
    }
    sim_net_headers(hw, g, q, tx, nb, x->nblk, msgs, elems);
    return q;
}

static void act_pass(const mp_ctx *x, int n, int write)
{
    const sim_hw *hw = x->hw;
    char name[SIM_NAME_LEN];
    snprintf(name, sizeof name, "n%d.act", n);
    int a = sim_proc_add(&x->net->g, name, n, SIM_PK_TAIL);
    sim_proc_after(&x->net->g, a, write);
    const int lat = hw->i2f + hw->fmul + hw->act_lat[x->st->act] + hw->fmul + hw->lat_logic;
    sim_phase_add(&x->net->g, a, cdiv_l((long)x->st->gather * x->st->tokens, hw->act), 1, hw->sched, 0);
    sim_phase_add(&x->net->g, a, 1, 1, lat, 0);
}

llx_status sim_net_mp(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes;
    mp_ctx x = {hw, s, st, net, st->block, 1, st->gather_bytes > 0 ? st->gather_bytes : SIM_WORD_BYTES, {1, 0, 0}, 0};
    x.ps = pass_of(hw, s, st);
    /* group scales: each group's integer sum is scaled and added in fp32 */
    x.mac_lat = hw->tree_lat + (x.ps.sw > 0 && s->opt.w_group > 0 ? hw->fmul + hw->fadd : 0);
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        long nb = cdiv_l((long)(r.end - r.begin) * st->tokens, x.B);
        if (nb > x.nblk) x.nblk = (int)nb;
    }
    const int ring = st->gather > 0 && N > 1;
    long *msgs = calloc((size_t)(N > 0 ? N : 1) * (size_t)(x.nblk > 0 ? x.nblk : 1), sizeof *msgs);
    long *elems = calloc((size_t)(N > 0 ? N : 1) * (size_t)(x.nblk > 0 ? x.nblk : 1), sizeof *elems);
    int own[LLX_MAX_NODES], gate[LLX_MAX_NODES], wproc[LLX_MAX_NODES], res[LLX_SIM_MAX_CHANNELS];
    int oom = !msgs || !elems;
    for (int n = 0; n < N && !oom; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        int rows = r.end - r.begin;
        long total = 0, E = (long)rows * st->tokens;
        for (long b = 0; b < x.nblk; b++) {
            long eb = E - b * x.B < x.B ? E - b * x.B : x.B;
            total += eb > 0 ? sim_flits(hw, eb, x.bytes) : 1;
        }
        /* without transfer hiding the results wait in the shared buffer until
         * the router starts: the kernel never blocks on the router */
        int depth = !hw->hiding && ring && total > hw->tx_fifo ? (int)total : hw->tx_fifo;
        char name[SIM_NAME_LEN];
        snprintf(name, sizeof name, "n%d.for_router", n);
        own[n] = sim_fifo_add(&net->g, name, depth, 0, SIM_BYTE_BITS * hw->flit_bytes);
        if (rows > 0) oom |= slices(&x, n, rows, res) != 0;
        int q = quant(&x, n, rows, res, own[n], msgs + (long)n * x.nblk, elems + (long)n * x.nblk);
        gate[n] = hw->hiding ? -1 : q;
    }
    if (!oom) oom = sim_net_ring(hw, net, x.nblk, own, msgs, elems, x.bytes, hw->mp_wb, gate, ring, wproc) != 0;
    if (!oom && st->act != LLX_ACT_NONE && st->gather > 0)
        for (int n = 0; n < N; n++) act_pass(&x, n, wproc[n]);
    free(msgs), free(elems);
    if (oom || net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building stage %d", i);
    net->gathered = 1;
    return LLX_OK;
}
