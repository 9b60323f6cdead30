/* engine/w8a8_node.h - the W8A8 datapath's per-node state, shared by its
 * two files: exec_w8a8.c (weights, buffers, norms, matrices, the executor
 * table) and attn_w8a8.c (the int8 KV cache and attention).
 *
 * Every activation slot has an fp32 buffer, an int8 buffer and a per-token
 * scale of the int8 one; a stage's `quant` says which of them it writes
 * (llx/schedule.h).  The int8 KV cache holds this node's KV heads
 * position-major, so a decode step reads each stretch of consecutive
 * blocks of a sequence (internal.h) as one sequential stream: K as
 * [layer][cache pos][kv head][d], V in chunks of 32 positions,
 * [layer][cache pos/32][kv head][d][cache pos%32] (kernels.h). */
#ifndef LLX_ENGINE_W8A8_NODE_H
#define LLX_ENGINE_W8A8_NODE_H

#include "engine/internal.h"

/* int32 accumulators per thread: a tile of rows x tokens; at decode (one
 * token) a tile is 16K rows, so the kernel sees whole matrices and keeps its
 * four weight streams long */
#define W8_ACC_ELEMS 16384
/* weight bytes per tile when a matrix stage runs several tokens: within L2 */
#define W8_L2_TILE (256u << 10)

/* A layer's weights, or (layer -1) the final norm and the LM head. */
typedef struct w8_layer {
    const int8_t *w[LLX_MAT_COUNT];                     /* packed own rows (int8 matrices) */
    const float *wf[LLX_MAT_COUNT];                     /* own rows kept in fp32 (LM head, --lm-head fp32) */
    const float *ws[LLX_MAT_COUNT], *b[LLX_MAT_COUNT];  /* row scales; biases (NULL: none) */
    float *ng[3], *nb[3];                               /* norms by llx_normw; static mode folds 1/scale in */
    float sc[LLX_SC_COUNT], inv[LLX_SC_COUNT];          /* static activation scales and their inverses */
    float score_scale, ctx_scale;
} w8_layer;

typedef struct w8_node {
    llx_arena weights; /* this node's copies of its int8 (and LM head) rows, scales, biases */
    int dynamic, lm_int8;
    w8_layer *layers, top;
    const float *wte, *wpe;
    float *f[LLX_SLOT_COUNT];  /* fp32 buffer of each slot */
    int8_t *q[LLX_SLOT_COUNT]; /* int8 buffer of each slot */
    float *s[LLX_SLOT_COUNT];  /* per-token scale of q */
    int ld[LLX_SLOT_COUNT];
    int logit_rows;
    int8_t *kc, *vc;  /* [layer][cache pos][kv head][d]; V: [layer][cache pos/32][kv head][d][cache pos%32] */
    int kv_ctx;       /* cache positions (the block pool, whole chunks) */
    size_t kv_layer;  /* bytes of K (or V) per layer: kv_ctx * kv heads * head_dim */
    int p_ld;         /* probabilities per head: max_ctx rounded up to whole chunks */
    int32_t *acc;     /* [threads][W8_ACC_ELEMS + max_batch * 8] */
    float *ybuf;      /* [threads][W8_ACC_ELEMS] epilogue row */
    float *scores;    /* [threads][heads][sc_ld] */
    size_t sc_ld;     /* max(max_ctx, head_dim): scores, then the fp32 context */
    int32_t *iscores; /* [threads][heads][max_ctx] */
    int8_t *probs;    /* [threads][heads][kv_ctx] */
    int32_t *cacc;    /* [threads][heads][head_dim] */
    int32_t *cpart;   /* [threads][heads][head_dim]: one stretch of the cache's share */
} w8_node;

static inline w8_node *w8_impl(const node *nd) { return nd->impl; }
static inline const w8_layer *w8_layer_of(const w8_node *q, const llx_stage *st)
{
    return st->layer >= 0 ? &q->layers[st->layer] : &q->top;
}

/* attn_w8a8.c: scratch for attention, and the ATTN executor */
llx_status w8_attn_alloc(node *nd, w8_node *q);
llx_status w8_attn(node *nd, const llx_stage *st, int h0, int h1);

#endif
