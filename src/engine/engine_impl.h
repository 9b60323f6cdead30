/* engine/engine_impl.h - the engine object, shared by engine.c (threads
 * backend and the forward loop) and engine_mpi.c (MPI backend). */
#ifndef LLX_ENGINE_IMPL_H
#define LLX_ENGINE_IMPL_H

#include "engine/internal.h"
#include "ring/link.h"

/* The KV block pool (host side: which blocks each sequence holds) and the
 * token table of the pass being run.  Slot `slots - 1` is the default
 * sequence of llx_engine_forward; the others are llx_seq_open's. */
typedef struct engine_kv {
    int blocks, free, bps, slots;
    unsigned char *used; /* [blocks] */
    int *table;          /* [slots][bps] */
    int *held;           /* [slots] blocks held, 0 = closed */
    int *pos, *cap;      /* [slots] positions run, reserved */
    int *tok_ids, *tok_pos, *tok_slot; /* [max_batch] the pass */
    llx_pass_map map;
} engine_kv;

struct llx_engine {
    const llx_model *model;
    llx_engine_opts opt;
    const llx_kernels *k;
    const node_ops *ops;
    llx_partition part; /* rows, heads and ring blocks of every node */
    llx_sched_opts sched; /* every pass's schedule options but tokens, pos and all_logits */
    node *nd;          /* the nodes this process runs */
    int n_local;
    llx_pool *team;    /* threads backend, nodes > 1 */
    llx_inproc_fabric *fab;
    llx_link *mpi_link;
    int pos;           /* the default sequence's position (llx_engine_forward) */
    engine_kv kv;      /* the KV block pool and the sequences in it (seqs.c) */
    int broken;        /* a ring failure left the nodes out of step */
    long long weight_bytes;
    double ring_exposed_s; /* sum over gathers of the minimum wait over nodes */
    llx_engine_stats stats;
    llx_schedule last; /* the last pass's schedule, kept for the next (llx_engine_schedule) */
    int have_last;
    int logits_copy;   /* tests: copy the logits after every pass, as before the LM head wrote them in place */
};

/* The schedule options of a pass of n tokens at pos (the model's scheme
 * included). */
llx_sched_opts llx_engine_sched_opts(const llx_engine *e, int n, int pos, int all_logits);

/* The schedule of a pass with options so: the last pass's moved to so's
 * position when every other option is the same (decode: every token
 * after the first), else built anew and kept.  Owned by e. */
llx_status llx_engine_schedule(llx_engine *e, const llx_sched_opts *so, const llx_schedule **out);

llx_status llx_node_setup(llx_engine *e, node *nd, llx_link *link);
void llx_node_teardown(node *nd);
/* what: 0 setup, 1 pass, 2 teardown, on every local node */
llx_status llx_engine_run_local(llx_engine *e, int what, const llx_schedule *s, const int *tokens);
llx_status llx_engine_local_nodes(llx_engine *e, int first, int count);
llx_status llx_engine_threads_create(llx_engine *e);
/* One pass of the default sequence; its logits (n rows with all_logits,
 * else 1) go to out unless it is NULL. */
llx_status llx_engine_pass(llx_engine *e, const int *tokens, int n, int all_logits, float *out);
/* Run the pass in e->kv.tok_* (n tokens, the last `logits` of them wanted). */
llx_status llx_engine_run_pass(llx_engine *e, int n, int all_logits, int logits);
/* The same, its `rows` rows of logits into out: written there by the LM
 * head on node 0 when it can (no copy), else copied after the pass. */
llx_status llx_engine_run_pass_into(llx_engine *e, int n, int all_logits, int logits, float *out, int rows);
/* seqs.c: size the pool (before the nodes load), free it. */
llx_status llx_engine_kv_init(llx_engine *e);
void llx_engine_kv_free_all(llx_engine *e);
/* Blocks for slot's `positions` (LLX_ERR_BUSY when the pool lacks them). */
llx_status llx_engine_kv_take(llx_engine *e, int slot, int positions);

/* Report fp32 activations to obs (threads backend). */
void llx_engine_set_observer(llx_engine *e, const llx_observer *obs);
/* Cut every later pass after layer layers - 1 (calibration that watches
 * one layer's inputs): the embedding and layers [0, layers) run as in a
 * whole pass, the rest, the final norm and the LM head do not, so such a
 * pass gives no logits (pass NULL).  An observer still sees the residual
 * stream entering layer `layers` (LLX_OBS_X_IN, as a whole pass reports
 * it) when layers < n_layer.  0: whole passes again.  Threads
 * backend only (LLX_ERR_UNSUPPORTED with MPI); LLX_ERR_ARG outside
 * [0, n_layer]. */
llx_status llx_engine_set_layer_end(llx_engine *e, int layers);
/* Start every later pass at layer `layer` (0: at the embedding again):
 * the embedding and the layers before it do not run, and the residual
 * stream entering it is read from x, [n][n_embd] for a pass of n tokens
 * (what LLX_OBS_X_IN reported for that layer in a whole pass over the
 * same tokens gives the same pass from there on, bit for bit).  x stays
 * the caller's and must hold a pass's rows while it runs.  With
 * llx_engine_set_layer_end, layer_end (when set) must lie past it.
 * Threads backend and W8A8 datapath only (LLX_ERR_UNSUPPORTED);
 * LLX_ERR_ARG for a layer outside [0, n_layer) or a NULL x past 0. */
llx_status llx_engine_set_layer_begin(llx_engine *e, int layer, const float *x);
/* End every later pass right after the stage of layer `layer` that reports
 * observation point `point` (calibration that watches one matrix input:
 * the stages after it cannot change what it sees); everything before it
 * runs as in a whole pass, bit for bit, and such a pass gives no logits.
 * A point no stage of the layer reports fails the pass (LLX_ERR_ARG).
 * point < 0: whole passes again.  Threads backend only
 * (LLX_ERR_UNSUPPORTED with MPI); LLX_ERR_ARG for a layer outside
 * [0, n_layer) or a point past the last. */
llx_status llx_engine_set_stop_after(llx_engine *e, int layer, int point);

llx_status llx_engine_mpi_create(llx_engine *e);
llx_status llx_engine_mpi_pass(llx_engine *e, const llx_schedule *s, const int *tokens);
/* rank > 0: the pass's token table from rank 0 into e->kv */
llx_status llx_engine_mpi_recv_map(llx_engine *e, int n, int rows);
void llx_engine_mpi_free(llx_engine *e);

#endif
