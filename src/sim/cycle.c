/* sim/cycle.c - the cycle-stepped reference.  The same hardware as the
 * event-level mode (mp.c, mha.c, router.c, lnres.c), advanced one clock at a
 * time: credit counters, latency pipes, FIFO occupancy, one-element-per-cycle
 * servers, a router per node.  Slow (it touches every unit every cycle), so it
 * is meant for small configurations; tests check that both modes agree.
 * It is deliberately written without the closed forms the fast mode uses. */
#include <stdlib.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

#define NEVER ((cyc)1 << 60)

/* ---- ring: one router per node, messages in (block, round) order, and a
 * write port per node that stores every held block in the shared buffer ---- */

typedef struct wjob {
    cyc t;
    int b, s, done;
    long elems;
} wjob;

typedef struct ring {
    int N, nblk;
    const int *flits;       /* [origin*nblk + b] */
    const long *elems;      /* [origin*nblk + b] */
    cyc *avail;             /* [(i*nblk + b)*(N-1) + s-1]: when node i may send (b, s) */
    int *next_msg;          /* per node: index into its (b, s) sequence */
    int *active;            /* per node: sending a message */
    cyc *credit;
    int *sent;
    wjob *jobs;             /* per node: nblk*N write jobs */
    int *njobs, *served;
    cyc *wfree, *wdone;     /* write port busy until / last element written */
    double bytes;
} ring;

static int ring_init(ring *r, int N, int nblk, const int *flits, const long *elems)
{
    memset(r, 0, sizeof *r);
    r->N = N, r->nblk = nblk, r->flits = flits, r->elems = elems;
    int per = nblk * (N > 1 ? N - 1 : 1);
    r->avail = malloc(sizeof *r->avail * (size_t)(N * per));
    r->next_msg = calloc((size_t)N, sizeof *r->next_msg);
    r->active = calloc((size_t)N, sizeof *r->active);
    r->credit = calloc((size_t)N, sizeof *r->credit);
    r->sent = calloc((size_t)N, sizeof *r->sent);
    r->jobs = calloc((size_t)(N * nblk * N), sizeof *r->jobs);
    r->njobs = calloc((size_t)N, sizeof *r->njobs);
    r->served = calloc((size_t)N, sizeof *r->served);
    r->wfree = calloc((size_t)N, sizeof *r->wfree);
    r->wdone = calloc((size_t)N, sizeof *r->wdone);
    if (!r->avail || !r->next_msg || !r->active || !r->credit || !r->sent || !r->jobs || !r->njobs ||
        !r->served || !r->wfree || !r->wdone)
        return -1;
    for (int i = 0; i < N * per; i++) r->avail[i] = NEVER;
    return 0;
}

static void ring_free(ring *r)
{
    free(r->avail), free(r->next_msg), free(r->active), free(r->credit), free(r->sent);
    free(r->jobs), free(r->njobs), free(r->served), free(r->wfree), free(r->wdone);
}

static void add_job(ring *r, int n, cyc t, int b, int s, long elems)
{
    wjob *j = &r->jobs[(size_t)n * r->nblk * r->N + r->njobs[n]++];
    j->t = t, j->b = b, j->s = s, j->elems = elems, j->done = 0;
}

/* node n's own block b became ready at cycle t */
static void ring_block_ready(ring *r, int n, int b, cyc t)
{
    if (r->N > 1) r->avail[(n * r->nblk + b) * (r->N - 1)] = t;
    add_job(r, n, t, b, 0, r->elems[n * r->nblk + b]);
}

/* write ports: when idle, take the earliest available job (ties: block, round) */
static void write_step(ring *r, const sim_hw *hw, cyc t)
{
    for (int n = 0; n < r->N; n++) {
        wjob *base = &r->jobs[(size_t)n * r->nblk * r->N];
        while (r->wfree[n] <= t) {
            wjob *best = NULL;
            for (int k = 0; k < r->njobs[n]; k++) {
                wjob *j = &base[k];
                if (j->done || j->t > t) continue;
                if (!best || j->t < best->t || (j->t == best->t && (j->b < best->b || (j->b == best->b && j->s < best->s))))
                    best = j;
            }
            if (!best) break;
            best->done = 1;
            r->served[n]++;
            r->wfree[n] = t + cdiv(best->elems, hw->xfer);
            r->wdone[n] = max_c(r->wdone[n], max_c(r->wfree[n], best->t));
        }
    }
}

static void ring_step(ring *r, const sim_hw *hw, cyc t)
{
    const int N = r->N, R = N - 1;
    for (int i = 0; i < N && N > 1; i++) {
        int m = r->next_msg[i];
        if (m >= r->nblk * R) continue;
        if (!r->active[i]) {
            if (r->avail[i * r->nblk * R + m] > t) continue;
            r->active[i] = 1, r->credit[i] = 0, r->sent[i] = 0;
        }
        int b = m / R, s = m % R + 1;
        int origin = ((i - (s - 1)) % N + N) % N;
        int F = r->flits[origin * r->nblk + b];
        r->credit[i] += hw->link[i].num;
        if (r->credit[i] < hw->link[i].cost) continue;
        r->credit[i] -= hw->link[i].cost;
        r->bytes += hw->flit_bytes;
        if (++r->sent[i] < F) continue;
        /* last flit leaves now; the message is complete at the successor
         * hop + router cycles later */
        int j = (i + 1) % N;
        cyc arrive = t + hw->hop[i] + hw->router;
        if (s < R) r->avail[j * r->nblk * R + b * R + s] = arrive;
        add_job(r, j, arrive, b, s, r->elems[origin * r->nblk + b]);
        r->active[i] = 0;
        r->next_msg[i]++;
    }
    write_step(r, hw, t);
}

static int ring_idle(const ring *r)
{
    for (int i = 0; i < r->N; i++)
        if (r->served[i] < r->nblk * r->N) return 0;
    return 1;
}

static cyc ring_end(const ring *r)
{
    cyc e = 0;
    for (int i = 0; i < r->N; i++) e = max_c(e, r->wdone[i]);
    return e;
}

/* ---- a rate-limited DMA request ---- */

typedef struct dma {
    int active;
    cyc credit, issued, total;
} dma;

static int dma_step(dma *d, sim_rate rt)
{
    if (!d->active || d->issued >= d->total) return 0;
    d->credit += rt.num;
    if (d->credit < rt.cost) return 0;
    d->credit -= rt.cost;
    d->issued++;
    return 1;
}

/* ---- Fused MP ---- */

typedef struct mp_node {
    int rows, groups, nblk_own;
    cyc in_left;       /* stage-in elements still to read */
    cyc t_dma;         /* DMA start (after stage-in) */
    dma ch;            /* all active slices issue in lock step; slice 0 stands for them */
    cyc *row_ready;    /* per group: results out of the adder trees */
    int q_row;         /* next row the quantiser serves */
    int q_elems;       /* elements of that row done */
    cyc local;
    int finished;
} mp_node;

llx_status sim_mp_cycle(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes, B = s->opt.block_rows, P = hw->P, T = st->tokens;
    const cyc wpr = cdiv(st->cols, hw->G);
    const sim_rate rw = sim_mp_rate(hw, T, wpr);
    const cyc qlat = hw->quant_lat + (st->gelu ? hw->gelu_lat : 0);
    memset(out, 0, sizeof *out);

    int nblk = 1, oom = 0;
    mp_node *nd = calloc((size_t)N, sizeof *nd);
    if (!nd) return llx_fail(LLX_ERR_NOMEM, "out of memory (cycle mode)");
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        nd[n].rows = r.end - r.begin;
        nd[n].groups = (int)cdiv(nd[n].rows, P);
        nd[n].nblk_own = (int)cdiv(nd[n].rows, B);
        if (nd[n].nblk_own > nblk) nblk = nd[n].nblk_own;
        nd[n].in_left = (cyc)T * st->cols;
        nd[n].t_dma = NEVER;
        nd[n].row_ready = malloc(sizeof(cyc) * (size_t)(nd[n].groups + 1));
        oom |= !nd[n].row_ready;
        for (int p = 0; p < P && p < LLX_SIM_MAX_CHANNELS; p++) {
            cyc rows_p = nd[n].rows > p ? cdiv(nd[n].rows - p, P) : 0;
            out->hbm_bytes[p] += (double)(rows_p * wpr) * hw->G;
        }
    }
    int *flits = calloc((size_t)(N * nblk), sizeof *flits);
    long *elems = calloc((size_t)(N * nblk), sizeof *elems);
    ring rg;
    oom |= !flits || !elems;
    for (int n = 0; n < N && !oom; n++)
        for (int b = 0; b < nblk; b++) {
            int rows_b = nd[n].rows - b * B < B ? nd[n].rows - b * B : B;
            int own = b < nd[n].nblk_own;
            flits[n * nblk + b] = own ? sim_flits(hw, (long)rows_b * T, st->gather_bytes) : 1;
            elems[n * nblk + b] = own ? (long)rows_b * T : 0;
        }
    oom |= ring_init(&rg, N, nblk, flits, elems) != 0;
    if (oom) {
        ring_free(&rg);
        for (int n = 0; n < N; n++) free(nd[n].row_ready);
        free(nd), free(flits), free(elems);
        return llx_fail(LLX_ERR_NOMEM, "out of memory (cycle mode)");
    }

    cyc local_max = 0, t_in = 0;
    int pending = N;
    for (cyc t = 0; pending > 0 || !ring_idle(&rg); t++) {
        for (int n = 0; n < N; n++) {
            mp_node *x = &nd[n];
            if (x->finished) continue;
            /* stage-in: xfer elements per cycle */
            if (x->in_left > 0) {
                x->in_left -= hw->xfer;
                if (x->in_left <= 0) {
                    x->t_dma = t + 1;
                    t_in = t + 1;
                    x->ch.active = 1, x->ch.total = x->groups * wpr;
                }
                continue;
            }
            /* slices: a word issued now arrives L_hbm later; the row it
             * completes leaves the tree T-1+tree_lat after that */
            if (t >= x->t_dma && dma_step(&x->ch, rw) && x->ch.issued % wpr == 0) {
                int g = (int)(x->ch.issued / wpr) - 1;
                x->row_ready[g] = t + hw->L_hbm + (T - 1) + hw->tree_lat;
            }
            /* quantiser: one element per cycle, rows in order */
            if (x->q_row < x->rows) {
                int g = x->q_row / P;
                if (g < x->ch.issued / wpr && x->row_ready[g] <= t) {
                    if (++x->q_elems == T) {
                        cyc done = t + qlat;
                        int j = x->q_row++;
                        x->q_elems = 0;
                        if (j == x->rows - 1 || (j + 1) % B == 0) {
                            x->local = done;
                            if (hw->hiding) ring_block_ready(&rg, n, j / B, done);
                        }
                    }
                }
            }
            if (x->q_row == x->rows && (x->rows == 0 || x->local <= t + qlat)) {
                if (x->rows == 0) x->local = t;
                for (int b = hw->hiding ? x->nblk_own : 0; b < nblk; b++) ring_block_ready(&rg, n, b, x->local);
                local_max = max_c(local_max, x->local);
                x->finished = 1;
                pending--;
            }
        }
        ring_step(&rg, hw, t);
    }
    cyc end = max_c(ring_end(&rg), local_max);
    if (st->gather <= 0) end = local_max;
    out->link_bytes = rg.bytes;
    out->stage_in = t_in;
    out->ring = end - local_max;
    out->end = end + hw->sched;
    ring_free(&rg);
    for (int n = 0; n < N; n++) free(nd[n].row_ready);
    free(nd), free(flits), free(elems);
    return LLX_OK;
}

/* ---- Fused MHA ---- */

typedef struct mha_item {
    cyc c;
    int nh;
    cyc klast, s2r, s2s, vstart_min, done;
    cyc *varr;       /* arrival cycle of each V word */
    int k_started, v_started, s2_started;
    dma k, v;
    int sv_w;        /* pairs done */
} mha_item;

typedef struct mha_node {
    int n_items;
    mha_item *it;
    cyc in_left, t_in;
    int k_next, v_next, s2_next, sv_next;
    cyc kfree, vfree, s2_free, local;
} mha_node;

static int mha_node_init(mha_node *x, const sim_hw *hw, const llx_stage *st, int heads_n, double *hbm)
{
    const int hp = hw->hp, kw = (int)cdiv(st->head_dim, hw->G);
    const int groups = (int)cdiv(heads_n, hp);
    memset(x, 0, sizeof *x);
    x->n_items = heads_n > 0 ? groups * st->tokens : 0;
    x->it = calloc((size_t)(x->n_items + 1), sizeof *x->it);
    if (!x->it) return -1;
    int k = 0;
    for (int t = 0; t < st->tokens && heads_n > 0; t++)
        for (int g = 0; g < groups; g++, k++) {
            mha_item *m = &x->it[k];
            m->c = st->pos + t + 1;
            m->nh = heads_n - g * hp < hp ? heads_n - g * hp : hp;
            m->varr = malloc(sizeof(cyc) * (size_t)m->c);
            if (!m->varr) return -1;
            m->k.total = m->v.total = m->c;
            m->done = NEVER;
            for (int ch = 0; ch < m->nh * kw && ch < LLX_SIM_MAX_CHANNELS; ch++) {
                hbm[ch] += (double)m->c * hw->G;
                if (hp * kw + ch < LLX_SIM_MAX_CHANNELS) hbm[hp * kw + ch] += (double)m->c * hw->G;
            }
        }
    x->in_left = 3LL * heads_n * st->head_dim * st->tokens;
    return 0;
}

static void mha_node_free(mha_node *x)
{
    for (int k = 0; x->it && k < x->n_items; k++) free(x->it[k].varr);
    free(x->it);
}

/* may the K DMA of item k start at cycle t (score FIFO space)? */
static int fifo_ok(const sim_hw *hw, const mha_node *x, int k, cyc t)
{
    cyc occ = x->it[k].c;
    for (int j = k - 1; j >= 0; j--) {
        const mha_item *m = &x->it[j];
        if (m->s2_started && m->s2s + m->c <= t) break; /* released (and all before it) */
        occ += m->c;
    }
    return occ <= hw->score_fifo;
}

/* advance node x by one cycle; returns 1 when all its items are done */
static int mha_node_step(mha_node *x, const sim_hw *hw, ring *rg, int n, cyc t)
{
    if (x->in_left > 0) {
        x->in_left -= hw->xfer;
        if (x->in_left <= 0) x->t_in = t + 1, x->kfree = x->vfree = t + 1;
        return 0;
    }
    if (x->n_items == 0) {
        x->local = x->t_in;
        return 1;
    }
    /* K DMA */
    if (x->k_next < x->n_items) {
        mha_item *m = &x->it[x->k_next];
        if (!m->k_started && t >= x->kfree) {
            int ok = hw->headwise ? fifo_ok(hw, x, x->k_next, t)
                                  : (x->k_next == 0 || x->it[x->k_next - 1].done <= t);
            if (ok) m->k_started = 1, m->k.active = 1;
        }
        if (m->k_started && dma_step(&m->k, hw->hbm) && m->k.issued == m->c) {
            m->klast = t;
            m->s2r = t + hw->L_hbm + hw->score_lat + hw->s1_lat + hw->s2_lat;
            x->kfree = t + 1;
            x->k_next++;
        }
    }
    /* V DMA: after the item's K is issued */
    if (x->v_next < x->k_next) {
        mha_item *m = &x->it[x->v_next];
        if (!m->v_started && t >= x->vfree && t > m->klast) m->v_started = 1, m->v.active = 1;
        if (m->v_started && dma_step(&m->v, hw->hbm)) {
            m->varr[m->v.issued - 1] = t + hw->L_hbm;
            if (m->v.issued == m->c) x->vfree = t + 1, x->v_next++;
        }
    }
    /* S2: normalised probabilities, one per cycle */
    if (x->s2_next < x->k_next && t >= x->s2_free) {
        mha_item *m = &x->it[x->s2_next];
        if (m->s2r <= t) {
            m->s2_started = 1, m->s2s = t;
            x->s2_free = t + m->c;
            x->s2_next++;
        }
    }
    /* SV: one (p, v) pair per cycle */
    if (x->sv_next < x->n_items) {
        mha_item *m = &x->it[x->sv_next];
        int w = m->sv_w; /* next pair, 0-based */
        if (m->s2_started && m->s2s + w <= t && (cyc)w < m->v.issued && m->varr[w] <= t) {
            if (++m->sv_w == m->c) {
                m->done = t + hw->sv_lat;
                x->local = m->done;
                if (hw->hiding) ring_block_ready(rg, n, x->sv_next, m->done);
                x->sv_next++;
            }
        }
    }
    return x->sv_next == x->n_items;
}

llx_status sim_mha_cycle(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out)
{
    const llx_stage *st = &s->stages[i];
    const int N = hw->nodes;
    memset(out, 0, sizeof *out);
    mha_node *nd = calloc((size_t)N, sizeof *nd);
    if (!nd) return llx_fail(LLX_ERR_NOMEM, "out of memory (cycle mode)");
    int nblk = 1, oom = 0;
    for (int n = 0; n < N; n++) {
        llx_range r = llx_schedule_slice(s, i, n);
        oom |= mha_node_init(&nd[n], hw, st, r.end - r.begin, out->hbm_bytes) != 0;
        if (nd[n].n_items > nblk) nblk = nd[n].n_items;
    }
    int *flits = calloc((size_t)(N * nblk), sizeof *flits);
    long *elems = calloc((size_t)(N * nblk), sizeof *elems);
    ring rg;
    oom |= !flits || !elems;
    for (int n = 0; n < N && !oom; n++)
        for (int b = 0; b < nblk; b++) {
            int own = b < nd[n].n_items;
            long e = own ? (long)nd[n].it[b].nh * st->head_dim : 0;
            flits[n * nblk + b] = own ? sim_flits(hw, e, st->gather_bytes) : 1;
            elems[n * nblk + b] = e;
        }
    oom |= ring_init(&rg, N, nblk, flits, elems) != 0;
    if (oom) {
        ring_free(&rg);
        for (int n = 0; n < N; n++) mha_node_free(&nd[n]);
        free(nd), free(flits), free(elems);
        return llx_fail(LLX_ERR_NOMEM, "out of memory (cycle mode)");
    }
    int pending = N;
    int *fin = calloc((size_t)N, sizeof *fin);
    cyc local_max = 0, t_in = 0;
    for (cyc t = 0; fin && (pending > 0 || !ring_idle(&rg)); t++) {
        for (int n = 0; n < N; n++) {
            if (fin[n] || !mha_node_step(&nd[n], hw, &rg, n, t)) continue;
            fin[n] = 1, pending--;
            for (int b = hw->hiding ? nd[n].n_items : 0; b < nblk; b++) ring_block_ready(&rg, n, b, nd[n].local);
            local_max = max_c(local_max, nd[n].local);
            t_in = max_c(t_in, nd[n].t_in);
        }
        ring_step(&rg, hw, t);
    }
    cyc end = st->gather > 0 ? max_c(ring_end(&rg), local_max) : local_max;
    out->link_bytes = rg.bytes;
    out->stage_in = t_in;
    out->ring = end - local_max;
    out->end = end + hw->sched;
    ring_free(&rg);
    for (int n = 0; n < N; n++) mha_node_free(&nd[n]);
    free(nd), free(flits), free(elems);
    if (!fin) return llx_fail(LLX_ERR_NOMEM, "out of memory (cycle mode)");
    free(fin);
    return LLX_OK;
}

/* ---- LN & residual: per-cycle passes ---- */

void sim_lnres_cycle(const sim_hw *hw, const llx_stage *st, sim_stage *out)
{
    memset(out, 0, sizeof *out);
    const cyc d = st->cols;
    const cyc norm_lat = hw->fadd + 2 * hw->fmul + hw->fadd;
    const cyc finalize = 2 * hw->fmul + hw->fadd + hw->rsqrt;
    cyc t = 0;
    for (int tok = 0; tok < st->tokens; tok++) {
        if (hw->fusion) {
            /* pass 1: lanes elements per cycle, but no faster than the branch port */
            cyc x = 0, br = 0;
            while (x < d) {
                cyc take = hw->lanes;
                if (st->residual && br + hw->xfer < x + take) take = br + hw->xfer - x;
                if (st->residual) br += hw->xfer;
                x += take;
                t++;
            }
            t += hw->fadd; /* last accumulation / residual add drains */
            if (st->layernorm) {
                /* tree over lanes x fadd partial sums, then mean, var, rsqrt */
                cyc parts = (cyc)hw->lanes * hw->fadd;
                while (parts > 1) parts = (parts + 1) / 2, t += hw->fadd;
                t += finalize;
                /* pass 2: lanes per cycle, no faster than the write port (h) */
                cyc step = hw->lanes < hw->xfer ? hw->lanes : hw->xfer;
                for (cyc y = 0; y < d; y += step) t++;
                t += norm_lat;
            }
        } else {
            if (st->residual) {
                for (cyc y = 0; y < d; y += hw->xfer) t++;
                t += hw->fadd + (st->layernorm ? hw->sched : 0);
            }
            if (st->layernorm) {
                for (cyc y = 0; y < d; y++) t += hw->fadd; /* one accumulator: II = fadd latency */
                t += hw->fadd + finalize;
                for (cyc y = 0; y < d; y++) t++; /* one lane, one element per cycle */
                t += norm_lat;
            }
        }
    }
    out->end = t + hw->sched;
}
