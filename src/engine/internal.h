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
 * a node reports a full activation of the pass, [tokens][width].  The fp32
 * datapath reports fp32 data for LN1, QKV, CTX, LN2, GELU; the W8A8 datapath
 * reports int8 data with per-token scales for LN1, QKV (scales NULL), CTX,
 * LN2, GELU and fp32 data for X_IN (residual entering the layer), PROJ and FC2. */
typedef enum llx_obs_point {
    LLX_OBS_LN1,  /* QKV input, C */
    LLX_OBS_QKV,  /* QKV output, 3C */
    LLX_OBS_CTX,  /* attention context, C */
    LLX_OBS_LN2,  /* FC1 input, C */
    LLX_OBS_GELU, /* FC2 input, F */
    LLX_OBS_X_IN, /* residual stream entering the layer, C */
    LLX_OBS_PROJ, /* attention output projection, C */
    LLX_OBS_FC2,  /* MLP output, C */
} llx_obs_point;

typedef struct llx_observer {
    void (*fn)(void *ud, int layer, llx_obs_point p, const float *x, int tokens, int width);
    void (*fn8)(void *ud, int layer, llx_obs_point p, const int8_t *q, const float *scales, int tokens, int width);
    void *ud;
} llx_observer;
typedef struct llx_engine_impl llx_engine_impl;

/* What a precision provides to the schedule walker.  `stage` callbacks run
 * on the node's own thread and may use the node's pool. */
typedef struct node_ops {
    const char *name;
    /* allocate buffers and load this node's weight slices (runs on the node thread) */
    llx_status (*load)(node *nd);
    void (*unload)(node *nd);
    /* host: x rows for the pass's tokens (node 0 only) */
    llx_status (*embed)(node *nd, const int *tokens, int n, int pos);
    /* LN&Res stages and the final LayerNorm, full width on every node */
    void (*lnres)(node *nd, const llx_stage *st);
    /* MP/LM-head stage: where the gathered output lives */
    void (*mp_target)(node *nd, const llx_stage *st, void **dst, int *ld);
    /* compute own output rows [r0, r1) of the stage, all tokens */
    void (*mp_rows)(node *nd, const llx_stage *st, int r0, int r1);
    /* after the gather (e.g. per-token quantization of the full vector) */
    void (*mp_done)(node *nd, const llx_stage *st);
    /* attention for own heads [h0, h1): appends K/V, writes the context */
    void (*attn)(node *nd, const llx_stage *st, int h0, int h1);
    void (*attn_target)(node *nd, const llx_stage *st, void **dst, int *ld);
    void (*attn_done)(node *nd, const llx_stage *st);
    /* logits of the pass (node 0 after the LM head gather) */
    const float *(*logits)(const node *nd);
    /* weight bytes this node reads per decode pass */
    long long (*weight_bytes)(const node *nd);
} node_ops;

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
    int max_batch, max_ctx;
    int head0, heads;         /* owned attention heads */
    int pass_tokens;          /* tokens of the pass being run */
    float pace[LLX_PACE_MAX]; /* pool members' relative speeds on matrix stages (pass.c), 0: not yet */
    float pace_attn[LLX_PACE_MAX]; /* the same on decode attention */
    void *impl;               /* precision-specific state */
    const llx_observer *obs;  /* calibration hook (fp32 only) or NULL */
    llx_status status;        /* result of the last team job */
    char errmsg[512];
};

/* Run one pass of schedule s on node nd (tokens: the pass's ids, used by
 * node 0 for the embedding). */
llx_status llx_node_pass(node *nd, const llx_schedule *s, const int *tokens);

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

/* Make a logits buffer of `rows` x vocab hold `tokens` rows (LM head over
 * every token for perplexity).  On allocation failure it keeps what it had;
 * callers clamp to *rows. */
void llx_logits_reserve(float **buf, int *rows, int tokens, int vocab);

#endif
