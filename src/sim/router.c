/* sim/router.c - the ring router, event level: a simplex ring all-gather in
 * N-1 rounds per block.  In round s node i forwards to node i+1 the block it
 * received in round s-1 (its own in round 1), store-and-forward, one message
 * at a time per link in (block, round) order.  A message of F flits started
 * at t leaves over the link's rate limiter and arrives hop + router cycles
 * after its last flit.  With transfer hiding the caller hands in each block
 * as soon as it is quantised, so block k travels while block k+1 computes. */
#include <stdlib.h>

#include "sim/hw.h"

cyc sim_ring_fast(const sim_hw *hw, int nblk, const cyc *ready, const int *flits, double *bytes)
{
    const int N = hw->nodes;
    cyc done = 0;
    for (int i = 0; i < N * nblk; i++) done = max_c(done, ready[i]);
    if (N == 1) return done;

    cyc free_at[LLX_MAX_NODES] = {0}, avail[LLX_MAX_NODES], next[LLX_MAX_NODES];
    cyc node_done[LLX_MAX_NODES] = {0};
    double traffic = 0;
    for (int b = 0; b < nblk; b++) {
        for (int i = 0; i < N; i++) {
            avail[i] = ready[i * nblk + b];
            node_done[i] = max_c(node_done[i], avail[i]);
        }
        for (int s = 1; s < N; s++) {
            for (int i = 0; i < N; i++) {
                int origin = ((i - (s - 1)) % N + N) % N;
                int F = flits[origin * nblk + b];
                cyc start = max_c(avail[i], free_at[i]);
                cyc span = cdiv((cyc)F * hw->link[i].cost, hw->link[i].num);
                free_at[i] = start + span;
                int j = (i + 1) % N;
                next[j] = start + span - 1 + hw->hop[i] + hw->router;
                node_done[j] = max_c(node_done[j], next[j]);
                traffic += (double)F * hw->flit_bytes;
            }
            for (int i = 0; i < N; i++) avail[i] = next[i];
        }
    }
    for (int i = 0; i < N; i++) done = max_c(done, node_done[i]);
    if (bytes) *bytes += traffic;
    return done;
}
