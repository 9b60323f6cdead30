/* sim/router.c - the ring router, event level: a simplex ring all-gather in
 * N-1 rounds per block.  In round s node i forwards to node i+1 the block it
 * received in round s-1 (its own in round 1), store-and-forward, one message
 * at a time per link in (block, round) order.  A message of F flits started
 * at t leaves over the link's rate limiter and arrives hop + router cycles
 * after its last flit.  Every block a node holds (its own once quantised,
 * the others once received) is written into the node's shared buffer
 * through the xfer-wide write port, first come first served (ties by block,
 * then round).  With transfer hiding the caller hands in each block as soon
 * as it is ready, so block k travels while block k+1 computes. */
#include <stdlib.h>

#include "sim/hw.h"

typedef struct wjob {
    cyc t;
    int b, s;
    long elems;
} wjob;

static int wjob_cmp(const void *x, const void *y)
{
    const wjob *a = x, *b = y;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return (a->s > b->s) - (a->s < b->s);
}

/* serve a node's write jobs; returns when the last element is written */
static cyc serve(const sim_hw *hw, wjob *jobs, int n)
{
    qsort(jobs, (size_t)n, sizeof *jobs, wjob_cmp);
    cyc free_at = 0, end = 0;
    for (int k = 0; k < n; k++) {
        cyc start = max_c(jobs[k].t, free_at);
        free_at = start + cdiv(jobs[k].elems, hw->xfer);
        end = max_c(end, max_c(free_at, jobs[k].t));
    }
    return end;
}

cyc sim_ring_fast(const sim_hw *hw, int nblk, const cyc *ready, const int *flits, const long *elems, double *bytes)
{
    const int N = hw->nodes;
    const int per = nblk * N; /* write jobs per node: own + received */
    wjob *jobs = malloc(sizeof *jobs * (size_t)(per * N));
    int *nj = calloc((size_t)N, sizeof *nj);
    if (!jobs || !nj) {
        free(jobs), free(nj);
        return -1;
    }
    for (int i = 0; i < N; i++)
        for (int b = 0; b < nblk; b++) jobs[i * per + nj[i]++] = (wjob){ready[i * nblk + b], b, 0, elems[i * nblk + b]};

    cyc free_at[LLX_MAX_NODES] = {0}, avail[LLX_MAX_NODES], next[LLX_MAX_NODES];
    double traffic = 0;
    for (int b = 0; b < nblk && N > 1; b++) {
        for (int i = 0; i < N; i++) avail[i] = ready[i * nblk + b];
        for (int s = 1; s < N; s++) {
            for (int i = 0; i < N; i++) {
                int origin = ((i - (s - 1)) % N + N) % N;
                int F = flits[origin * nblk + b];
                cyc start = max_c(avail[i], free_at[i]);
                cyc span = cdiv((cyc)F * hw->link[i].cost, hw->link[i].num);
                free_at[i] = start + span;
                int j = (i + 1) % N;
                next[j] = start + span - 1 + hw->hop[i] + hw->router;
                jobs[j * per + nj[j]++] = (wjob){next[j], b, s, elems[origin * nblk + b]};
                traffic += (double)F * hw->flit_bytes;
            }
            for (int i = 0; i < N; i++) avail[i] = next[i];
        }
    }
    cyc done = 0;
    for (int i = 0; i < N; i++) done = max_c(done, serve(hw, jobs + i * per, nj[i]));
    free(jobs), free(nj);
    if (bytes) *bytes += traffic;
    return done;
}
