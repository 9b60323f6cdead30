/* engine/internal.h - structures shared by the engine's files.
 *
 *   node.c       a node's setup on its own thread; running local nodes
 *   engine.c     llx_engine: nodes, backends, forward passes
 *   pass.c       the schedule walker every node runs (ring + blocking)
 *   exec_fp32.c  FP32 stage implementations and weight slices
 *   exec_w8a8.c  W8A8 stage implementations and weight slices
 *   sampler.c, generate.c
 */
#ifndef LLX_ENGINE_INTERNAL_H
#define LLX_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "llx/checkpoint.h"
#include "llx/engine.h"
#include "model/llx_model.h"
#include "ring/ring.h"
#include "util/mem.h"
#include "util/pool.h"

typedef struct node node;

/* Observation hook (calibration, tests): after the stage that produces it,
 * a node reports a full activation of the pass, [tokens][width], at the
 * point named by the stage's op (llx_obs_point_of).  Outputs a datapath
 * holds in fp32 go to fn, int8 outputs (with their per-token scales) to
 * fn8; the W8A8 datapath also reports the residual stream entering a layer
 * (X_IN, before LN1). */
typedef enum llx_obs_point {
    LLX_OBS_LN1,  /* QKV input, C */
    LLX_OBS_QKV,  /* QKV output (after the rotary step when there is one) */
    LLX_OBS_CTX,  /* attention context */
    LLX_OBS_LN2,  /* FC1 / GATE / UP input, C */
    LLX_OBS_GELU, /* FC2 / DOWN input, F */
    LLX_OBS_X_IN, /* residual stream entering the layer, C */
    LLX_OBS_PROJ, /* attention output projection, C */
    LLX_OBS_FC2,  /* MLP output, C */
    LLX_OBS_DOWN_IN, /* FC2 / DOWN input after the online Hadamard transform, F */
} llx_obs_point;

/* The point a stage's output is reported at (-1: none), and the point its
 * input residual stream is reported at before it runs. */
static inline int llx_obs_point_of(llx_op op)
{
    static const signed char pt[LLX_OP_COUNT] = {
        [LLX_OP_EMBED] = -1, [LLX_OP_LN1] = LLX_OBS_LN1, [LLX_OP_QKV] = LLX_OBS_QKV, [LLX_OP_ATTN] = LLX_OBS_CTX,
        [LLX_OP_PROJ] = LLX_OBS_PROJ, [LLX_OP_RES_LN2] = LLX_OBS_LN2, [LLX_OP_FC1] = LLX_OBS_GELU,
        [LLX_OP_FC2] = LLX_OBS_FC2, [LLX_OP_RES] = -1, [LLX_OP_LN_F] = -1, [LLX_OP_LM_HEAD] = -1,
        [LLX_OP_ROPE] = LLX_OBS_QKV, [LLX_OP_GATE] = -1, [LLX_OP_UP] = LLX_OBS_GELU, [LLX_OP_DOWN] = LLX_OBS_FC2,
        [LLX_OP_HAD] = LLX_OBS_DOWN_IN,
    };
    return (unsigned)op < LLX_OP_COUNT ? pt[op] : -1;
}
static inline int llx_obs_point_before(llx_op op) { return op == LLX_OP_LN1 ? LLX_OBS_X_IN : -1; }
/* The point of stage st of a model with config c: q and k of a Llama are
 * reported after the rotary step, not straight out of the matrix. */
static inline int llx_obs_point_at(const llx_config *c, const llx_stage *st)
{
    if (st->op == LLX_OP_QKV && c->arch == LLX_ARCH_LLAMA) return -1;
    return llx_obs_point_of(st->op);
}

typedef struct llx_observer {
    void (*fn)(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width);
    void (*fn8)(void *ud, int layer, llx_obs_point p, const int8_t *q, const float *scales, int tokens, int width);
    void *ud;
} llx_observer;
typedef struct llx_engine_impl llx_engine_impl;

/* What a precision provides to the schedule walker: a buffer per slot and
 * an executor per llx_work (looked up, never chosen by the stage's op).
 * Callbacks run on the node's own thread and may use the node's pool. */
typedef struct node_ops {
    const char *name;
    int weight_bytes_per_elem; /* sizes the partition's automatic ring blocks */
    /* allocate buffers and load this node's weight slices (runs on the node thread) */
    llx_status (*load)(node *nd);
    void (*unload)(node *nd);
    /* before a stage runs (observers), may be NULL */
    void (*before)(node *nd, const llx_stage *st);
    /* compute units [u0, u1) of the stage: rows of a matrix, query heads,
     * or the whole width of an unsplit stage */
    llx_status (*run)(node *nd, const llx_stage *st, int u0, int u1);
    /* where the stage's gathered output lives */
    void (*target)(node *nd, const llx_stage *st, void **dst, int *ld);
    /* after the stage and its gather (per-token quantization, observers) */
    void (*done)(node *nd, const llx_stage *st);
    /* logits of the pass (node 0 after the LM head gather) */
    const float *(*logits)(const node *nd);
    /* weight bytes this node reads per decode pass */
    long long (*weight_bytes)(const node *nd);
    /* write x ([tokens][n_embd]) as the residual stream entering the first
     * layer of a pass that starts past the embedding
     * (llx_engine_set_layer_begin); NULL: the datapath cannot */
    void (*stream_in)(node *nd, const float *x, int tokens);
} node_ops;

/* The KV cache of a node is a pool of blocks of LLX_KV_BLOCK positions
 * (the engine hands them out; llx/engine.h).  A pass may mix tokens of
 * several sequences: token t sits at position pos[t] of the sequence in
 * slot slot[t], whose position p is kept at cache position
 * table[slot * bps + p / LLX_KV_BLOCK] * LLX_KV_BLOCK + p % LLX_KV_BLOCK.
 * A sequence whose blocks are consecutive is one contiguous stretch of the
 * cache, as a single sequence was before the pool. */
#define LLX_KV_BLOCK 64

typedef struct llx_pass_map {
    const int *pos;   /* [tokens] position of each token in its sequence */
    const int *slot;  /* [tokens] its sequence slot */
    const int *table; /* [slots][bps] block ids */
    int bps;          /* blocks per sequence (table row length) */
} llx_pass_map;

#define LLX_PACE_MAX 64 /* pools up to this size split matrix rows by measured speed */

struct node {
    int id;
    const llx_model *model;
    const llx_config *cfg;
    const llx_engine_opts *opt;
    const llx_kernels *k;
    const node_ops *ops;
    llx_pool *pool;
    llx_ring *ring;           /* NULL when nodes == 1 */
    int nodes;
    const llx_partition *part; /* what this node owns (the engine's) */
    int max_batch, max_ctx;
    int head0, heads;         /* owned query heads */
    int kv0, kv_heads;        /* KV heads whose cache this node holds */
    int pass_tokens;          /* tokens of the pass being run */
    int wanted0;              /* the first token whose logits the pass wants (pass.c): past the
                               * last layer's attention, a datapath may leave the rows before it */
    int layer_end;            /* 0: every stage; else the embedding and layers [0, layer_end) only
                               * (llx_engine_set_layer_end) */
    int layer_begin;          /* 0: from the embedding; else from this layer, whose incoming
                               * residual stream is x_in (llx_engine_set_layer_begin) */
    const float *x_in;        /* [pass tokens][n_embd] */
    int stop, stop_layer, stop_point; /* stop: a pass ends after the stage of layer stop_layer that
                                       * reports observation point stop_point (llx_engine_set_stop_after) */
    int kv_cap;               /* cache positions: pool blocks * LLX_KV_BLOCK */
    const llx_pass_map *map;  /* where the pass's tokens sit (set by the engine per pass) */
    const int *tokens;        /* ids of the pass (node 0, for the embedding) */
    float *logits_out;        /* set by the engine for a pass (node 0): the caller's buffer of
                               * logits_out_rows rows of n_vocab that the LM head writes straight
                               * into (llx_logits_dst), or NULL */
    int logits_out_rows;
    int logits_direct;        /* the pass's LM head wrote into logits_out (no copy needed) */
    float pace[LLX_PACE_MAX]; /* pool members' relative speeds on matrix stages (pass.c), 0: not yet */
    float pace_attn[LLX_PACE_MAX]; /* the same on decode attention */
    void *impl;               /* precision-specific state */
    const llx_observer *obs;  /* calibration hook (fp32 only) or NULL */
    llx_status status;        /* result of the last team job */
    char errmsg[512];
};

/* Position of token t of the pass, and the cache position of position p
 * of token t's sequence. */
static inline int llx_tok_pos(const node *nd, int t) { return nd->map->pos[t]; }
static inline int llx_cache_pos(const node *nd, int t, int p)
{
    const int *bt = nd->map->table + (size_t)nd->map->slot[t] * nd->map->bps;
    return bt[p / LLX_KV_BLOCK] * LLX_KV_BLOCK + p % LLX_KV_BLOCK;
}
/* End (<= n) of the stretch of positions from p of token t's sequence
 * whose cache positions are consecutive. */
static inline int llx_cache_run(const node *nd, int t, int p, int n)
{
    const int *bt = nd->map->table + (size_t)nd->map->slot[t] * nd->map->bps;
    int b = p / LLX_KV_BLOCK;
    while ((b + 1) * LLX_KV_BLOCK < n && bt[b + 1] == bt[b] + 1) b++;
    return (b + 1) * LLX_KV_BLOCK < n ? (b + 1) * LLX_KV_BLOCK : n;
}
/* Whether the pass's T tokens are one sequence's consecutive positions
 * whose cache positions, from the sequence's first up to the last token,
 * are one stretch (a prompt or a chunk of one over consecutive blocks):
 * then prompt attention reads the cache from llx_cache_pos(nd, 0, 0) on. */
static inline int llx_pass_one_stretch(const node *nd, int T)
{
    const int p0 = llx_tok_pos(nd, 0);
    for (int t = 1; t < T; t++)
        if (nd->map->slot[t] != nd->map->slot[0] || llx_tok_pos(nd, t) != p0 + t) return 0;
    return llx_cache_run(nd, 0, 0, p0 + T) == p0 + T;
}

/* A datapath's executor of one llx_work, and the lookup every datapath's
 * `run` makes: table[st->work], or one error line naming the stage when
 * the datapath has none for it. */
typedef llx_status (*llx_exec_fn)(node *nd, const llx_stage *st, int u0, int u1);
llx_status llx_node_exec(const llx_exec_fn *table, const char *datapath, node *nd, const llx_stage *st, int u0,
                         int u1);

/* The NORM stage's arithmetic on one token of n_embd features, the same
 * in every datapath: x += in (when in is not NULL), then out = the stage's
 * norm of x with the weight set st->normw of ng (and of nb, LayerNorm's
 * biases).  Returns 0, leaving out alone, when the stage has no norm (a
 * residual add only; norm.c). */
int llx_norm_token(const node *nd, const llx_stage *st, float *x, const float *in, float *out, float *const ng[3],
                   float *const nb[3]);

/* Run one pass of schedule s on node nd (tokens: the pass's ids, used by
 * node 0 for the embedding). */
llx_status llx_node_pass(node *nd, const llx_schedule *s, const int *tokens);
/* The last stage of s a pass runs: with llx_engine_set_stop_after, the one
 * of layer stop_layer reporting stop_point (-1: no stage of s does), else
 * the last of s. */
int llx_node_last_stage(const node *nd, const llx_schedule *s);

/* The first token row a datapath computes in stage st: nd->wanted0 past
 * the last layer's attention (its queries, the stages after it and the
 * final norm) when no observer watches, else 0 (pass.c). */
int llx_stage_row0(const node *nd, const llx_stage *st);

extern const node_ops llx_fp32_ops;
extern const node_ops llx_w8a8_ops;

/* Split [0, n) rows among the node's pool threads with alignment; fn gets
 * its part and the member index (for per-thread scratch). */
typedef void (*row_fn)(void *ctx, int r0, int r1, int ith);
void llx_node_parallel_rows(node *nd, int n, int align, row_fn fn, void *ctx);

/* The same in one contiguous part per member, sized by each member's
 * measured speed on earlier calls of the same kind (pace: nd->pace for
 * matrix stages, nd->pace_attn for decode attention), so a member on a
 * slower (busier) vCPU gets fewer rows and all finish together; parts stay
 * contiguous, so the weight streams stay long. */
void llx_node_parallel_paced(node *nd, float *pace, int n, int align, row_fn fn, void *ctx);

/* attn_f32.c: fp32 attention over an fp32 KV cache, the fp32 datapath's
 * and the quantized datapath's fp32-KV mode.  The cache of (layer, local
 * KV head) starts at llx_attn_f32_kv_base: K [cache pos][hd], then V
 * transposed [hd][kv_cap] at the same offset of the V cache.  A call
 * covers a stage's query heads [h0, h1): append the k and v of their KV
 * heads from the stage's q | k | v rows at the token's position, then
 * each (head, token) context out = softmax(q K^T / sqrt(hd)) V over the
 * sequence's positions, in fp32 at out, or with qout as int8 rounded by
 * inv (a static scale). */
typedef struct llx_attn_f32_job {
    node *nd;
    const llx_stage *st;
    int h0, h1;
    int t0;          /* the first query token (0: all; the fp32 prompt path: its first block of 16) */
    const float *in; /* q | k | v rows of the stage's tokens, ldq apart */
    size_t ldq;
    float *out;      /* context rows, ldc apart (unused with qout) */
    int8_t *qout;    /* or int8 context rows, ldc apart; NULL = fp32 */
    size_t ldc;
    float inv;
    float *kc, *vc;  /* the caches, all layers */
    /* per thread ith: scores at sc + ith * sc_ld (max_ctx) and at
     * vt + ith * vt_ld the gathered V^T (max_ctx * hd), then, with qout,
     * the fp32 context (hd) */
    float *sc, *vt;
    size_t sc_ld, vt_ld;
} llx_attn_f32_job;
size_t llx_attn_f32_kv_base(const node *nd, int layer, int kvl);
/* every token's K and V of the KV heads of [h0, h1): a prompt over one
 * stretch of the cache (llx_pass_one_stretch) in the pool, V transposed a
 * block of 16 tokens at a time; else token by token on this thread */
void llx_attn_f32_append(const llx_attn_f32_job *j);
void llx_attn_f32_heads(const llx_attn_f32_job *j); /* the contexts, after the append */
void llx_attn_f32_run(const llx_attn_f32_job *j);   /* both */

/* The rotary table of a Llama model for positions [0, positions): row p
 * holds cos of the d/2 angles, then their sin (rope.c; llx_alloc'd, NULL
 * when out of memory). */
float *llx_rope_table(const llx_config *c, int positions);

/* Make a logits buffer of `rows` x vocab hold `tokens` rows (LM head over
 * every token for perplexity).  On allocation failure it keeps what it had;
 * callers clamp to *rows. */
void llx_logits_reserve(float **buf, int *rows, int tokens, int vocab);
/* Where the LM head writes `tokens` rows of logits: the caller's buffer
 * nd->logits_out when it holds them and no observer watches (and then
 * nd->logits_direct = 1), else the datapath's own buffer *buf, grown with
 * llx_logits_reserve.  *rows_out: the rows the returned buffer holds. */
float *llx_logits_dst(node *nd, float **buf, int *rows, int tokens, int *rows_out);

/* bench.c: the bandwidth probe's buffer (llx_membw_create's `bytes`), for
 * tests that fill it with known words and check the probe's checksum. */
struct llx_membw;
unsigned char *llx_membw_buffer(struct llx_membw *p);

#endif
