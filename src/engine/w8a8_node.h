/* engine/w8a8_node.h - the quantized datapath's per-node state (every .llx
 * scheme: W8A8, W4A8, W4A4 and fp32 models), shared by its files:
 * exec_w8a8.c (weights, buffers, norms, the Hadamard stage, the executor
 * table), mm_w8a8.c (matrix stages), attn_w8a8.c (the int8 KV cache and
 * attention) and attn_f32q.c (fp32 attention).
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

/* A matrix's weight format */
enum { W8_WF_NONE = 0, W8_WF_I8, W8_WF_Q4, W8_WF_F32 };

/* A layer's weights, or (layer -1) the final norm and the LM head. */
typedef struct w8_layer {
    int fmt[LLX_MAT_COUNT];                             /* W8_WF_* */
    const int8_t *w[LLX_MAT_COUNT];                     /* int8: packed own rows (the tier's layout) */
    const uint8_t *w4[LLX_MAT_COUNT];                   /* int4: own rows in the tier's q4 panels */
    const float *wf[LLX_MAT_COUNT];                     /* fp32 own rows (fp32 models; --lm-head fp32) */
    const float *ws[LLX_MAT_COUNT], *b[LLX_MAT_COUNT];  /* scales (int4: panel-major groups); biases or NULL */
    int groups[LLX_MAT_COUNT], group[LLX_MAT_COUNT];    /* int4: scales per row, columns per scale */
    float *ng[3], *nb[3];                               /* norms by llx_normw; static mode folds 1/scale in */
    float sc[LLX_SC_COUNT], inv[LLX_SC_COUNT];          /* static activation scales and their inverses */
    /* int8 q, k, v: the static output scales of the QKV rows by segment
     * (q | k | v, or one per head), and per query head the score scale
     * s_q s_k / sqrt(d) and the context scale s_v / 127 */
    int nseg, *seg_end;
    float *seg_inv, *score_scale, *ctx_scale;
} w8_layer;

typedef struct w8_node {
    llx_arena weights; /* this node's copies of its weight rows, scales, biases */
    int dynamic, lm_int8;
    int kv_f32;        /* fp32 q, k, v and KV cache (attn_f32q.c) */
    float a4_clip;     /* W4A4: the int4 activation range's clip ratio (1: none) */
    llx_hadamard *had; /* the online transform of the down projection's input, or NULL */
    const int8_t *had_signs; /* its signs, applied first */
    w8_layer *layers, top;
    const float *wte, *wpe;
    float *f[LLX_SLOT_COUNT];  /* fp32 buffer of each slot */
    int8_t *q[LLX_SLOT_COUNT]; /* int8 buffer of each slot */
    float *s[LLX_SLOT_COUNT];  /* per-token scale of q */
    int ld[LLX_SLOT_COUNT];
    int logit_rows;
    float *rope;      /* Llama: [position][cos of d/2 angles, then sin] */
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
    float *kcf, *vcf; /* fp32 KV cache: K [layer][kv head][pos][d], V [layer][kv head][d][pos] */
    char *pscratch;   /* [threads][pscratch_bytes]: prompt attention (kernels/attn_prefill.h) */
    size_t pscratch_bytes;
} w8_node;

static inline w8_node *w8_impl(const node *nd) { return nd->impl; }
static inline const w8_layer *w8_layer_of(const w8_node *q, const llx_stage *st)
{
    return st->layer >= 0 ? &q->layers[st->layer] : &q->top;
}

/* attn_w8a8.c: scratch for attention, the ROPE and ATTN executors (int8,
 * or fp32 through attn_f32q.c) */
llx_status w8_attn_alloc(node *nd, w8_node *q);
llx_status w8_rope(node *nd, const llx_stage *st, int h0, int h1);
llx_status w8_attn(node *nd, const llx_stage *st, int h0, int h1);
llx_status w8_attn_f32_alloc(node *nd, w8_node *q);
llx_status w8_attn_f32(node *nd, const llx_stage *st, int h0, int h1);

/* load_w8a8.c: the node's weights (arena bytes first, for one allocation) */
size_t w8_arena_bytes(const node *nd, const w8_node *q);
llx_status w8_load_weights(node *nd, w8_node *q);
void w8_free_layer(w8_layer *L);

/* mm_w8a8.c: the MATMUL executor (int8, int4 or fp32 weights) */
llx_status w8_matmul(node *nd, const llx_stage *st, int r0, int r1);
/* where the stage's gathered output lives */
void w8_target(node *nd, const llx_stage *st, void **dst, int *ld);
/* one token's activation x (n) quantized per the stage's kind: q, *s */
void w8_quantize(const node *nd, const llx_stage *st, const float *x, int n, int8_t *q, float *s);

#endif
