/* ring/ring.h - the LoopLynx simplex ring all-gather, written once over the
 * link interface.
 *
 * Every node holds a [tokens][ld] array of elements and owns the elements
 * [own.begin, own.end) of every token.  A node posts its own elements in
 * blocks as soon as they are computed; each block travels successor by
 * successor and every node copies it into place by its offset, forwarding it
 * until the next hop would be its origin.  After N-1 hops every node holds
 * the whole array (the paper's Fig. 6(c)).  Posting block k while block k+1
 * is computed is the transmission hiding of Fig. 4(c); only what remains
 * after the node's own work (gather_end) is exposed. */
#ifndef LLX_RING_RING_H
#define LLX_RING_RING_H

#include "llx/schedule.h"
#include "ring/link.h"

typedef struct llx_ring llx_ring;

typedef struct llx_ring_stats {
    long long bytes_sent;   /* payload bytes sent on the outgoing link */
    long long messages;
    double exposed_s;       /* time spent in llx_ring_gather_end */
} llx_ring_stats;

/* A ring endpoint for node `link->node`; the link stays owned by the caller.
 * timeout_s: how long gather_end waits without any progress before it fails.
 * spin: wait by spinning (every node has a core of its own); otherwise
 * yield, then sleep briefly, so oversubscribed nodes leave the CPU to peers. */
llx_status llx_ring_create(llx_ring **out, llx_link *link, double timeout_s, int spin);
void llx_ring_free(llx_ring *r);

/* Start gathering into dst (tokens rows of ld elements of elem_bytes each);
 * `total` elements per token are gathered, this node owns `own`. */
void llx_ring_gather_begin(llx_ring *r, void *dst, int ld, int tokens, int elem_bytes, int total, llx_range own);
/* Own elements [b, e) (all tokens) are final in dst: send them and make any
 * progress possible without waiting. */
llx_status llx_ring_gather_post(llx_ring *r, int b, int e);
/* Wait until this node holds everything and has forwarded all it must. */
llx_status llx_ring_gather_end(llx_ring *r);

/* Mark this node failed so the others stop instead of waiting out the timeout. */
void llx_ring_fail(llx_ring *r);

const llx_ring_stats *llx_ring_get_stats(const llx_ring *r);
void llx_ring_clear_stats(llx_ring *r);

/* The wait of every gather_end since the last llx_ring_clear_waits, in
 * order (seconds); n gets the count.  Valid until the next gather. */
const double *llx_ring_waits(const llx_ring *r, int *n);
void llx_ring_clear_waits(llx_ring *r);

#endif
