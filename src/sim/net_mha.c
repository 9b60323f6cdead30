/* sim/net_mha.c - the timing rule of the Fused Multi-Head Attention kernel
 * (paper Fig. 6(b); TeraFly attention): one stage as a dataflow network.
 *
 * A node owns a block of query heads (and holds the cache of their KV
 * heads) and processes items: one token x one group of heads_parallel query
 * heads (one lane per head).  K and V of a head live on kw = ceil(head_dim
 * / word) channels each (one word per key per channel).  With grouped-query
 * attention the lanes of an item whose query heads share a KV head share
 * its streams: the group's first lane reads K and V and each word goes to
 * every lane of the group (a stalled lane stalls the stream).
 *   stage-in  q (mha_q elements/cycle), the on-chip copy of k and v (kv_in
 *             elements/cycle) and the K/V write, before anything else
 *   kdma/vdma one word per key per channel at the channel's rate (a lane
 *             leading its KV group)
 *   qk        one score per cycle (all K channels of the lane)
 *   smax      running maximum; every score waits in score_fifo
 *   sexp      exp(score - max) into exp_fifo, sum at the end of the item
 *   sinv      reciprocal of the sum
 *   snorm     one int8 probability per cycle into each V channel's prob_fifo
 *   sv        one (probability, V word) pair per cycle, the context sums
 *             at the end of the item into ctx_fifo
 *   ctxq      requantises the item's context (ctx_q elements per cycle per
 *             channel) into flits for the router (tx_fifo)
 * then the ring and write ports (net_ring.c).  The head-wise pipeline
 * (paper Fig. 4(b)) is the overlap of these processes across items; with it
 * off, each item's K and V loads wait for the previous item's context
 * (a go token through a depth-1 FIFO).  A score or exponential bypass FIFO
 * shorter than the context deadlocks the softmax, as it would in hardware. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

#define MAX_LANES 64 /* not timing: array bound */

typedef struct item {
    long c;  /* keys attended */
    int nh;  /* heads (lanes) in use */
    int h0;  /* the query head of lane 0 */
} item;

typedef struct mha_ctx {
    const sim_hw *hw;
    const llx_stage *st;
    sim_stage_net *net;
    int kw, nblk, bytes;
    int group; /* query heads per KV head */
    int share; /* this node's lanes share their KV group's streams */
} mha_ctx;

/* The lane that streams lane l's K and V in item `it`: the first lane of
 * the item whose query head shares l's KV head (grouped-query attention). */
static int leader(const mha_ctx *x, const item *it, int l)
{
    if (!x->share) return l;
    int kv = (it->h0 + l) / x->group, first = kv * x->group - it->h0;
    return first > 0 ? first : 0;
}

/* lanes l.. of the item that share lane l's KV head */
static int span(const mha_ctx *x, const item *it, int l)
{
    if (!x->share) return 1;
    int end = ((it->h0 + l) / x->group + 1) * x->group - it->h0;
    return (end < it->nh ? end : it->nh) - l;
}

/* Can the node's lanes share streams?  Only if every lane has the same
 * leader in every item it is busy in.  When heads_parallel and the group
 * size do not divide one another the lanes fall on KV heads differently
 * from item to item; a lane's K/V buffer would then need a switch between
 * two leaders' streams, which the design has not, so each lane reads its
 * own K and V. */
static int can_share(mha_ctx *x, const item *it, int nit)
{
    x->share = x->group > 1;
    for (int l = 0; x->share && l < x->hw->hp && l < MAX_LANES; l++) {
        int lead = -1;
        for (int k = 0; k < nit; k++) {
            if (it[k].nh <= l) continue;
            int m = leader(x, &it[k], l);
            if (lead >= 0 && m != lead) return x->share = 0;
            lead = m;
        }
    }
    return x->share;
}

/* per-lane, per-channel FIFOs and processes of one node */
typedef struct lane_net {
    int kbuf[MAX_LANES], vbuf[MAX_LANES], prob[MAX_LANES], ctx[MAX_LANES], kgo[MAX_LANES], vgo[MAX_LANES];
    int kdma[MAX_LANES], vdma[MAX_LANES], sv[MAX_LANES];
    int sc, byp, mx, ex, sm, iv;
    int qk, smax, sexp, sinv, snorm;
} lane_net;

static int fifo(sim_graph *g, int n, const char *what, int l, int c, int depth, int init, int bits)
{
    char name[SIM_NAME_LEN];
    if (c >= 0) snprintf(name, sizeof name, "n%d.%s[%d][%d]", n, what, l, c);
    else snprintf(name, sizeof name, "n%d.%s[%d]", n, what, l);
    return sim_fifo_add(g, name, depth, init, bits);
}

static int proc(sim_graph *g, int n, const char *what, int l, int c)
{
    char name[SIM_NAME_LEN];
    if (c >= 0) snprintf(name, sizeof name, "n%d.%s[%d][%d]", n, what, l, c);
    else snprintf(name, sizeof name, "n%d.%s[%d]", n, what, l);
    return sim_proc_add(g, name, n, SIM_PK_COMPUTE);
}

/* Does lane l lead its KV group in item k (and so stream its K and V)? */
static int leads_item(const mha_ctx *x, const item *it, int k, int l)
{
    return it[k].nh > l && leader(x, &it[k], l) == l;
}

/* lanes l leads in items from..nit-1 */
static int leads_from(const mha_ctx *x, const item *it, int nit, int from, int l)
{
    for (int k = from; k < nit; k++)
        if (leads_item(x, it, k, l)) return 1;
    return 0;
}

/* one lane's FIFOs and processes.  Without the head-wise pipeline a lane's
 * K/V loads of item k > 0 wait for item k-1's context: a go token through a
 * depth-1 FIFO, pushed by the requantiser, for every item after the first
 * that the lane leads; the first item it leads is free when it is item 0
 * (an initial token) and waits like the others otherwise. */
static void lane_add(const mha_ctx *x, int n, int l, int stagein, const item *it, int nit, lane_net *ln)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int kw = x->kw, G = hw->G, dma = leads_from(x, it, nit, 0, l);
    const int go = !hw->headwise && leads_from(x, it, nit, 1, l), go_init = leads_item(x, it, 0, l);
    ln->sc = fifo(g, n, "score", l, -1, hw->sc_fifo, 0, SIM_WORD_BITS);
    ln->byp = fifo(g, n, "score_bypass", l, -1, hw->score_fifo, 0, SIM_WORD_BITS);
    ln->mx = fifo(g, n, "max", l, -1, hw->stat_fifo, 0, SIM_WORD_BITS);
    ln->ex = fifo(g, n, "exp_bypass", l, -1, hw->exp_fifo, 0, SIM_WORD_BITS);
    ln->sm = fifo(g, n, "sum", l, -1, hw->stat_fifo, 0, SIM_WORD_BITS);
    ln->iv = fifo(g, n, "inv", l, -1, hw->stat_fifo, 0, SIM_WORD_BITS);
    ln->qk = proc(g, n, "qk", l, -1), ln->smax = proc(g, n, "smax", l, -1), ln->sexp = proc(g, n, "sexp", l, -1);
    ln->sinv = proc(g, n, "sinv", l, -1), ln->snorm = proc(g, n, "snorm", l, -1);
    for (int c = 0; c < kw; c++) {
        ln->kbuf[c] = fifo(g, n, "k", l, c, hw->dma_fifo, 0, SIM_BYTE_BITS * G);
        ln->vbuf[c] = fifo(g, n, "v", l, c, hw->dma_fifo, 0, SIM_BYTE_BITS * G);
        if (ln->kbuf[c] >= 0 && ln->vbuf[c] >= 0) /* m_axi: requests hold their place */
            g->fifos[ln->kbuf[c]].reserve = g->fifos[ln->vbuf[c]].reserve = 1;
        ln->prob[c] = fifo(g, n, "prob", l, c, hw->prob_fifo, 0, SIM_BYTE_BITS);
        ln->ctx[c] = fifo(g, n, "ctx", l, c, hw->ctx_fifo, 0, SIM_WORD_BITS * G);
        ln->kgo[c] = go ? fifo(g, n, "kgo", l, c, 1, go_init, 1) : -1;
        ln->vgo[c] = go ? fifo(g, n, "vgo", l, c, 1, go_init, 1) : -1;
        ln->sv[c] = proc(g, n, "sv", l, c);
        ln->kdma[c] = ln->vdma[c] = -1;
        if (!dma) continue;
        ln->kdma[c] = proc(g, n, "kdma", l, c), ln->vdma[c] = proc(g, n, "vdma", l, c);
        sim_proc_rate(g, ln->kdma[c], hw->hbm), sim_proc_rate(g, ln->vdma[c], hw->hbm);
        sim_proc_after(g, ln->kdma[c], stagein), sim_proc_after(g, ln->vdma[c], stagein);
    }
}

/* lane l's K and V streams of one item (l leads its KV group): each word
 * goes to every lane of the group */
static void kv_streams(const mha_ctx *x, const item *it, int l, lane_net *ln, double *hbm)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int kw = x->kw, sp = span(x, it, l), off = !hw->headwise;
    for (int ch = 0; ch < kw; ch++) {
        int ph = sim_phase_add(g, ln[l].kdma[ch], it->c, 1, 0, 1);
        for (int m = l; m < l + sp; m++) sim_port_add(g, ph, ln[m].kbuf[ch], SIM_PUSH, 1, hw->L_hbm, sim_every());
        if (off && ln[l].kgo[ch] >= 0) sim_port_add(g, ph, ln[l].kgo[ch], SIM_POP, 1, 0, sim_first());
        ph = sim_phase_add(g, ln[l].vdma[ch], it->c, 1, 0, 1);
        for (int m = l; m < l + sp; m++) sim_port_add(g, ph, ln[m].vbuf[ch], SIM_PUSH, 1, hw->L_hbm, sim_every());
        if (off && ln[l].vgo[ch] >= 0) sim_port_add(g, ph, ln[l].vgo[ch], SIM_POP, 1, 0, sim_first());
        int kch = l * kw + ch, vch = hw->hp * kw + l * kw + ch;
        if (kch < LLX_SIM_MAX_CHANNELS) hbm[kch] += (double)it->c * hw->G;
        if (vch < LLX_SIM_MAX_CHANNELS) hbm[vch] += (double)it->c * hw->G;
    }
}

/* lane l's work in the items where it is busy */
static void lane_items(const mha_ctx *x, int l, const item *it, int nit, lane_net *ln, double *hbm)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int kw = x->kw;
    lane_net *me = &ln[l];
    for (int k = 0; k < nit; k++) {
        if (it[k].nh <= l) continue;
        const long c = it[k].c;
        if (leader(x, &it[k], l) == l) kv_streams(x, &it[k], l, ln, hbm);
        for (int ch = 0; ch < kw; ch++) {
            int ph = sim_phase_add(g, me->sv[ch], c, 1, 0, 0);
            sim_port_add(g, ph, me->prob[ch], SIM_POP, 1, 0, sim_every());
            sim_port_add(g, ph, me->vbuf[ch], SIM_POP, 1, 0, sim_every());
            sim_port_add(g, ph, me->ctx[ch], SIM_PUSH, 1, hw->sv_lat, sim_last());
        }
        int ph = sim_phase_add(g, me->qk, c, 1, 0, 0);
        for (int ch = 0; ch < kw; ch++) sim_port_add(g, ph, me->kbuf[ch], SIM_POP, 1, 0, sim_every());
        sim_port_add(g, ph, me->sc, SIM_PUSH, 1, hw->score_lat, sim_every());
        ph = sim_phase_add(g, me->smax, c, 1, 0, 0);
        sim_port_add(g, ph, me->sc, SIM_POP, 1, 0, sim_every());
        sim_port_add(g, ph, me->byp, SIM_PUSH, 1, hw->lat_fifo, sim_every());
        sim_port_add(g, ph, me->mx, SIM_PUSH, 1, hw->max_lat, sim_last());
        ph = sim_phase_add(g, me->sexp, c, 1, 0, 0);
        sim_port_add(g, ph, me->mx, SIM_POP, 1, 0, sim_first());
        sim_port_add(g, ph, me->byp, SIM_POP, 1, 0, sim_every());
        sim_port_add(g, ph, me->ex, SIM_PUSH, 1, hw->exp_lat, sim_every());
        sim_port_add(g, ph, me->sm, SIM_PUSH, 1, hw->exp_lat + hw->sum_lat, sim_last());
        ph = sim_phase_add(g, me->sinv, 1, 1, 0, 0);
        sim_port_add(g, ph, me->sm, SIM_POP, 1, 0, sim_every());
        sim_port_add(g, ph, me->iv, SIM_PUSH, 1, hw->inv_lat, sim_every());
        ph = sim_phase_add(g, me->snorm, c, 1, 0, 0);
        sim_port_add(g, ph, me->iv, SIM_POP, 1, 0, sim_first());
        sim_port_add(g, ph, me->ex, SIM_POP, 1, 0, sim_every());
        for (int ch = 0; ch < kw; ch++) sim_port_add(g, ph, me->prob[ch], SIM_PUSH, 1, hw->norm_lat, sim_every());
    }
}

/* mark lane l (and channels) as replicas: channel c of a lane copies channel
 * 0 of that lane; lane l copies lane 0 when `lanes_alike` */
static void replicas(sim_graph *g, lane_net *ln, int hp, int kw, int lanes_alike)
{
    for (int l = 0; l < hp; l++)
        for (int c = 0; c < kw; c++) {
            int rl = lanes_alike ? 0 : l;
            if (l == rl && c == 0) continue;
            lane_net *r = &ln[rl], *m = &ln[l];
            if (m->kdma[c] >= 0) g->procs[m->kdma[c]].replica_of = r->kdma[0];
            if (m->vdma[c] >= 0) g->procs[m->vdma[c]].replica_of = r->vdma[0];
            g->procs[m->sv[c]].replica_of = r->sv[0];
            g->fifos[m->kbuf[c]].replica_of = r->kbuf[0];
            g->fifos[m->vbuf[c]].replica_of = r->vbuf[0];
            g->fifos[m->prob[c]].replica_of = r->prob[0];
            g->fifos[m->ctx[c]].replica_of = r->ctx[0];
            if (m->kgo[c] >= 0) g->fifos[m->kgo[c]].replica_of = r->kgo[0];
            if (m->vgo[c] >= 0) g->fifos[m->vgo[c]].replica_of = r->vgo[0];
            if (c == 0) {
                g->procs[m->qk].replica_of = r->qk, g->procs[m->smax].replica_of = r->smax;
                g->procs[m->sexp].replica_of = r->sexp, g->procs[m->sinv].replica_of = r->sinv;
                g->procs[m->snorm].replica_of = r->snorm;
                g->fifos[m->sc].replica_of = r->sc, g->fifos[m->byp].replica_of = r->byp;
                g->fifos[m->mx].replica_of = r->mx, g->fifos[m->ex].replica_of = r->ex;
                g->fifos[m->sm].replica_of = r->sm, g->fifos[m->iv].replica_of = r->iv;
            }
        }
}

/* the context requantiser: one message per item, header-only messages
 * when this node has fewer items than the busiest one */
static int ctxq(const mha_ctx *x, int n, const item *it, int nit, lane_net *ln, int tx, long *msgs, long *elems)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const int hd = x->st->head_dim, fe = hw->flit_bytes / x->bytes, off = !hw->headwise;
    char name[SIM_NAME_LEN];
    snprintf(name, sizeof name, "n%d.ctxq", n);
    int q = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
    for (int k = 0; k < nit; k++) {
        long e = (long)it[k].nh * hd, F = sim_flits(hw, e, x->bytes);
        long units = (long)hw->ctx_q * x->kw * it[k].nh;
        int ph = sim_phase_add(g, q, F, (int)cdiv_l(fe, units), 0, 0);
        for (int l = 0; l < it[k].nh; l++)
            for (int c = 0; c < x->kw; c++) sim_port_add(g, ph, ln[l].ctx[c], SIM_POP, 1, 0, sim_first());
        sim_port_add(g, ph, tx, SIM_PUSH, 1, hw->ctxq_lat, sim_every());
        if (off && k + 1 < nit)
            for (int l = 0; l < it[k + 1].nh; l++)
                for (int c = 0; c < x->kw && leader(x, &it[k + 1], l) == l; c++) {
                    sim_port_add(g, ph, ln[l].kgo[c], SIM_PUSH, 1, hw->lat_fifo, sim_last());
                    sim_port_add(g, ph, ln[l].vgo[c], SIM_PUSH, 1, hw->lat_fifo, sim_last());
                }
        msgs[k] = F, elems[k] = e;
    }
    sim_net_headers(hw, g, q, tx, nit, x->nblk, msgs, elems);
    return q;
}

/* q of the node's query heads; k and v of the KV heads it holds */
static int stage_in(const mha_ctx *x, int n, int heads_n, int kv_n)
{
    const sim_hw *hw = x->hw;
    sim_graph *g = &x->net->g;
    const long T = x->st->tokens, hd = x->st->head_dim, groups = cdiv_l(kv_n, hw->hp);
    char name[SIM_NAME_LEN];
    snprintf(name, sizeof name, "n%d.stage_in", n);
    int p = sim_proc_add(g, name, n, SIM_PK_STAGEIN);
    sim_phase_add(g, p, cdiv_l(heads_n * hd * T, hw->mha_q), 1, 0, 0);      /* q */
    sim_phase_add(g, p, cdiv_l(2 * kv_n * hd * T, hw->kv_in), 1, 0, 0);     /* k, v on chip */
    sim_phase_add(g, p, 2 * x->kw * groups * T, 1, 0, 0);                   /* k, v to HBM */
    return p;
}

static int node(mha_ctx *x, int n, llx_range heads, int kv_n, int tx, long *msgs, long *elems, lane_net *ln,
                int *qproc)
{
    const sim_hw *hw = x->hw;
    const llx_stage *st = x->st;
    const int heads_n = heads.end - heads.begin, hp = hw->hp, groups = (int)cdiv_l(heads_n, hp);
    const int nit = heads_n > 0 ? groups * st->tokens : 0;
    item *it = malloc(sizeof *it * (size_t)(nit ? nit : 1));
    if (!it) return -1;
    for (int t = 0, k = 0; t < st->tokens && heads_n > 0; t++)
        for (int gi = 0; gi < groups; gi++, k++) {
            it[k].c = (long)st->pos + t + 1;
            it[k].nh = heads_n - gi * hp < hp ? heads_n - gi * hp : hp;
            it[k].h0 = heads.begin + gi * hp;
        }
    if (nit > 0) {
        can_share(x, it, nit);
        int sin = stage_in(x, n, heads_n, kv_n);
        int lanes = heads_n < hp ? heads_n : hp;
        for (int l = 0; l < lanes; l++) lane_add(x, n, l, sin, it, nit, &ln[l]);
        for (int l = 0; l < lanes; l++) lane_items(x, l, it, nit, ln, x->net->hbm_bytes);
        /* lanes alike: every item has the same lanes and no lane shares another's K/V */
        replicas(&x->net->g, ln, lanes, x->kw, (st->tokens == 1 || heads_n % hp == 0) && !x->share);
    }
    *qproc = ctxq(x, n, it, nit, ln, tx, msgs, elems);
    free(it);
    return x->net->g.oom ? -1 : 0;
}

llx_status sim_net_mha(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes;
    if (hw->hp > MAX_LANES) return llx_fail(LLX_ERR_ARG, "heads_parallel %d above %d", hw->hp, MAX_LANES);
    const int kvh = st->kv_heads > 0 ? st->kv_heads : st->heads;
    if (kvh < 1 || st->heads % kvh != 0)
        return llx_fail(LLX_ERR_ARG, "stage %d: %d query heads on %d KV heads", i, st->heads, kvh);
    const int bytes = st->gather_bytes > 0 ? st->gather_bytes : SIM_WORD_BYTES;
    mha_ctx x = {hw, st, net, (int)cdiv_l(st->head_dim, hw->G), 1, bytes, st->heads / kvh, 0};
    if (x.kw > MAX_LANES)
        return llx_fail(LLX_ERR_ARG, "head_dim %d needs more than %d channels", st->head_dim, MAX_LANES);
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        long nb = cdiv_l(r.end - r.begin, hw->hp) * st->tokens;
        if (nb > x.nblk) x.nblk = (int)nb;
    }
    const int ring = st->gather > 0 && N > 1;
    long *msgs = calloc((size_t)(N > 0 ? N : 1) * (size_t)(x.nblk > 0 ? x.nblk : 1), sizeof *msgs);
    long *elems = calloc((size_t)(N > 0 ? N : 1) * (size_t)(x.nblk > 0 ? x.nblk : 1), sizeof *elems);
    lane_net *ln = calloc(MAX_LANES, sizeof *ln);
    int own[LLX_MAX_NODES], gate[LLX_MAX_NODES], wproc[LLX_MAX_NODES];
    int oom = !msgs || !elems || !ln;
    for (int n = 0; n < N && !oom; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        long total = (long)x.nblk * sim_flits(hw, (long)hw->hp * st->head_dim, x.bytes);
        int depth = !hw->hiding && ring && total > hw->tx_fifo ? (int)total : hw->tx_fifo;
        char name[SIM_NAME_LEN];
        snprintf(name, sizeof name, "n%d.for_router", n);
        own[n] = sim_fifo_add(&net->g, name, depth, 0, SIM_BYTE_BITS * hw->flit_bytes);
        int q = -1;
        llx_range kv = s->part.kv_heads[n];
        long at = (long)n * x.nblk;
        oom |= node(&x, n, r, kv.end - kv.begin, own[n], msgs + at, elems + at, ln, &q) != 0;
        gate[n] = hw->hiding ? -1 : q;
    }
    if (!oom) oom = sim_net_ring(hw, net, x.nblk, own, msgs, elems, x.bytes, hw->mha_wb, gate, ring, wproc) != 0;
    free(msgs), free(elems), free(ln);
    if (oom || net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building stage %d", i);
    net->gathered = 1;
    return LLX_OK;
}
