/* ring/link.h - one node's connection to the ring: an outgoing channel to
 * its successor (node+1 mod N) and an incoming one from its predecessor.
 *
 * Links move opaque messages of at most LLX_LINK_MAX_MSG bytes, in order,
 * and never block: a full channel says "try again" so the caller can keep
 * draining its own input meanwhile (which is what keeps the ring free of
 * deadlock).  Two implementations: link_inproc.c (threads of one process,
 * lock-free single-producer/single-consumer queues) and link_mpi.c (MPI
 * ranks, non-blocking point-to-point). */
#ifndef LLX_RING_LINK_H
#define LLX_RING_LINK_H

#include <stddef.h>

#include "llx/status.h"

#define LLX_LINK_MAX_MSG (64 * 1024 + 64)

typedef struct llx_link llx_link;

typedef struct llx_link_ops {
    /* 1 = sent, 0 = no room now, < 0 = failure (llx_errmsg set) */
    int (*try_send)(llx_link *l, const void *msg, size_t len);
    /* 1 = one message copied into buf (cap >= LLX_LINK_MAX_MSG) and *len set,
     * 0 = nothing waiting, < 0 = failure */
    int (*try_recv)(llx_link *l, void *buf, size_t *len);
    /* non-zero when another node has failed and this one should stop */
    int (*peer_failed)(llx_link *l);
    /* tell the other nodes this node failed (best effort) */
    void (*fail)(llx_link *l);
} llx_link_ops;

struct llx_link {
    const llx_link_ops *ops;
    int node, nodes;
};

/* ---- in-process links ---- */

typedef struct llx_inproc_fabric llx_inproc_fabric;

/* N queues, queue i carrying node i -> node (i+1) mod N. */
llx_status llx_inproc_fabric_create(llx_inproc_fabric **out, int nodes);
void llx_inproc_fabric_free(llx_inproc_fabric *f);
/* Node i's link (owned by the fabric). */
llx_link *llx_inproc_link(llx_inproc_fabric *f, int node);

/* ---- MPI links ---- */

/* 1 when this build has MPI support. */
int llx_mpi_available(void);
/* Initialise MPI (once per process) and report rank and size. */
llx_status llx_mpi_init(int *rank, int *size);
void llx_mpi_finalize(void);
/* This rank's ring link (successor rank+1, predecessor rank-1, mod size). */
llx_status llx_mpi_link_create(llx_link **out);
void llx_mpi_link_free(llx_link *l);
/* Collective helpers used by the engine's control channel (rank 0 -> all).
 * Non-blocking underneath: a rank that never joins fails the call after
 * timeout_s seconds (<= 0: wait as long as it takes). */
llx_status llx_mpi_bcast(void *buf, size_t len, double timeout_s);
/* *v = sum of *v over all ranks */
llx_status llx_mpi_sum(long long *v, double timeout_s);
void llx_mpi_abort(int code);

#endif
