/* engine/engine_impl.h - the engine object, shared by engine.c (threads
 * backend and the forward loop) and engine_mpi.c (MPI backend). */
#ifndef LLX_ENGINE_IMPL_H
#define LLX_ENGINE_IMPL_H

#include "engine/internal.h"
#include "ring/link.h"

struct llx_engine {
    const llx_model *model;
    llx_engine_opts opt;
    const llx_kernels *k;
    const node_ops *ops;
    llx_partition part; /* rows, heads and ring blocks of every node */
    node *nd;          /* the nodes this process runs */
    int n_local;
    llx_pool *team;    /* threads backend, nodes > 1 */
    llx_inproc_fabric *fab;
    llx_link *mpi_link;
    int pos;
    int seq_open;      /* the one sequence of llx_seq_open is in use (seqs.c) */
    int seq_cap;       /* its positions */
    int broken;        /* a ring failure left the nodes out of step */
    long long weight_bytes;
    double ring_exposed_s; /* sum over gathers of the minimum wait over nodes */
    llx_engine_stats stats;
};

llx_status llx_node_setup(llx_engine *e, node *nd, llx_link *link);
void llx_node_teardown(node *nd);
/* what: 0 setup, 1 pass, 2 teardown, on every local node */
llx_status llx_engine_run_local(llx_engine *e, int what, const llx_schedule *s, const int *tokens);
llx_status llx_engine_local_nodes(llx_engine *e, int first, int count);
llx_status llx_engine_threads_create(llx_engine *e);
llx_status llx_engine_pass(llx_engine *e, const int *tokens, int n, int all_logits);

/* Report fp32 activations to obs (threads backend). */
void llx_engine_set_observer(llx_engine *e, const llx_observer *obs);

llx_status llx_engine_mpi_create(llx_engine *e);
llx_status llx_engine_mpi_pass(llx_engine *e, const llx_schedule *s, const int *tokens);
void llx_engine_mpi_free(llx_engine *e);

#endif
