/* llx/schedule.h - the LoopLynx schedule: one forward pass as plain data.
 *
 * A pass pushes `tokens` consecutive tokens (positions pos .. pos+tokens-1)
 * through the model.  Decode is a pass with tokens = 1; batched prefill is one
 * pass with tokens = T; LoopLynx-style prefill is T passes of one token.
 *
 * The pass is a flat list of stages.  Each stage names the macro kernel that
 * runs it (the accelerator's Fused Matrix Processing, Fused Multi-Head
 * Attention or Fused LayerNorm & Residual kernel, or the host), the work it
 * does, how that work is split over the N nodes of the ring, and how many
 * elements per token the nodes all-gather after it.  Per layer:
 *
 *   LN1      LNRES  h = LN1(x)                        every node, full width
 *   QKV      MP     qkv = h Wqkv^T + b  (3C x C)      rows split, all-gather
 *   ATTN     MHA    ctx = softmax(q K^T / sqrt(d)) V  heads split, all-gather
 *   PROJ     MP     a = ctx Wo^T + b    (C x C)       rows split, all-gather
 *   RES_LN2  LNRES  x += a; h = LN2(x)                every node
 *   FC1      MP     g = gelu(h W1^T + b) (F x C)      rows split, all-gather
 *   FC2      MP     f = g W2^T + b      (C x F)       rows split, all-gather
 *   RES      LNRES  x += f                            every node
 *
 * framed by host stages EMBED (x = wte[tok] + wpe[pos]) before the first layer
 * and LN_F, LM_HEAD (logits = LN_F(x) wte^T, V x C, rows split like MP) after
 * the last.  Weight matrices are split by output rows, a contiguous balanced
 * block per node; attention is split by heads (the KV cache lives with its
 * heads).  Within a node an MP stage runs in blocks of `block_rows` rows so a
 * finished block can travel the ring while the next is computed.
 *
 * The same schedule drives the engine (each node executes its slice of every
 * stage), the ring (which all-gathers after every stage with gather > 0) and
 * the cycle-level simulator (which times every stage).  Nothing here depends
 * on weights: a schedule is a function of the config and the options.
 */
#ifndef LLX_SCHEDULE_H
#define LLX_SCHEDULE_H

#include "llx/config.h"
#include "llx/status.h"

typedef enum llx_kernel {
    LLX_KERNEL_HOST,  /* host CPU: embedding, final LayerNorm, LM head */
    LLX_KERNEL_MP,    /* Fused Matrix Processing */
    LLX_KERNEL_MHA,   /* Fused Multi-Head Attention */
    LLX_KERNEL_LNRES, /* Fused LayerNorm & Residual */
} llx_kernel;

typedef enum llx_op {
    LLX_OP_EMBED,
    LLX_OP_LN1,
    LLX_OP_QKV,
    LLX_OP_ATTN,
    LLX_OP_PROJ,
    LLX_OP_RES_LN2,
    LLX_OP_FC1,
    LLX_OP_FC2,
    LLX_OP_RES,
    LLX_OP_LN_F,
    LLX_OP_LM_HEAD,
} llx_op;

typedef enum llx_matrix {
    LLX_MAT_NONE = -1,
    LLX_MAT_QKV = 0, /* 3C x C */
    LLX_MAT_PROJ,    /* C x C */
    LLX_MAT_FC1,     /* F x C */
    LLX_MAT_FC2,     /* C x F */
    LLX_MAT_LM_HEAD, /* V x C (tied to wte) */
    LLX_MAT_COUNT
} llx_matrix;

typedef enum llx_split {
    LLX_SPLIT_NONE,  /* every node does all of it (redundant critical-path work) */
    LLX_SPLIT_ROWS,  /* output rows: contiguous balanced block per node */
    LLX_SPLIT_HEADS, /* attention heads: contiguous balanced block per node */
    LLX_SPLIT_HOST,  /* node 0 only (the host side) */
} llx_split;

/* Numeric format the schedule is planned for; decides ring element sizes. */
typedef enum llx_precision {
    LLX_PREC_FP32 = 0,
    LLX_PREC_W8A8_STATIC,  /* static per-tensor activation scales (the hardware) */
    LLX_PREC_W8A8_DYNAMIC, /* per-token activation scales */
} llx_precision;

typedef struct llx_range {
    int begin, end; /* [begin, end) */
} llx_range;

typedef struct llx_stage {
    llx_op op;
    llx_kernel kernel;
    int layer;        /* 0 .. L-1, or -1 for host stages */
    llx_matrix matrix; /* MP and LM_HEAD: the weight matrix, else LLX_MAT_NONE */
    int rows, cols;   /* MP/LM_HEAD: output rows x input columns; vector stages: cols = width */
    int heads, head_dim; /* MHA */
    int tokens;       /* tokens in this pass (LM_HEAD: positions whose logits are wanted) */
    int pos;          /* position of the first token of the pass */
    int ctx;          /* MHA: keys attended by the last token = pos + tokens */
    int gelu;         /* MP epilogue applies tanh-GELU (FC1) */
    int residual;     /* LNRES: adds a branch into the residual stream */
    int layernorm;    /* LNRES/LN_F: applies a LayerNorm */
    llx_split split;
    int units;        /* what `split` divides: rows or heads (0 for NONE/HOST) */
    int gather;       /* elements per token all-gathered after the stage, 0 = none */
    int gather_bytes; /* bytes per gathered element (4 fp32, 1 int8) */
} llx_stage;

typedef struct llx_sched_opts {
    int nodes;        /* ring size, >= 1 */
    int tokens;       /* tokens in the pass, >= 1 */
    int pos;          /* position of the first token */
    int all_logits;   /* LM head for every token (perplexity) instead of the last only */
    int block_rows;   /* MP rows per transmission block (0 = default 64) */
    llx_precision precision;
} llx_sched_opts;

typedef struct llx_schedule {
    llx_config cfg;
    llx_sched_opts opt;  /* with defaults filled in */
    int n_stages;
    llx_stage *stages;
    llx_range *slices;   /* [n_stages * nodes]: units node n owns in stage s */
} llx_schedule;

#define LLX_MAX_NODES 64

/* Plan one pass.  Fails (LLX_ERR_ARG) when the pass does not fit the model:
 * pos + tokens > n_ctx, nodes outside [1, LLX_MAX_NODES], tokens < 1. */
llx_status llx_schedule_build(llx_schedule *s, const llx_config *cfg, const llx_sched_opts *opt);
void llx_schedule_free(llx_schedule *s); /* accepts a zeroed schedule */

/* The units (rows or heads) node `node` owns in stage `i`.  NONE: all units
 * of the stage's width; HOST: everything on node 0, nothing elsewhere. */
static inline llx_range llx_schedule_slice(const llx_schedule *s, int i, int node)
{
    return s->slices[(long)i * s->opt.nodes + node];
}

/* Balanced contiguous split of `units` over `nodes`: node n gets
 * [floor(units*n/nodes), floor(units*(n+1)/nodes)). */
llx_range llx_split_range(int units, int nodes, int node);

const char *llx_op_name(llx_op op);
const char *llx_kernel_name(llx_kernel k);
const char *llx_matrix_name(llx_matrix m);
const char *llx_precision_name(llx_precision p);

/* Rows and columns of matrix m for config c. */
void llx_matrix_shape(const llx_config *c, llx_matrix m, int *rows, int *cols);

#endif
