/* llx/schedule.h - the LoopLynx schedule: one forward pass as plain data.
 *
 * A pass pushes `tokens` consecutive tokens (positions pos .. pos+tokens-1)
 * through the model.  Decode is a pass with tokens = 1; batched prefill is one
 * pass with tokens = T; LoopLynx-style prefill is T passes of one token.
 *
 * The pass is a flat list of stages.  Each stage says which macro kernel of
 * the accelerator runs it (Fused Matrix Processing, Fused Multi-Head
 * Attention, Fused LayerNorm & Residual, or the host), what it computes
 * (`work`), which activation slots it reads and writes, which weights it
 * uses, how the work is split over the N nodes of the ring (a partition,
 * below) and what the nodes all-gather after it.  A GPT-2 layer:
 *
 *   LN1      LNRES  NORM    H = LN1(X)                              every node
 *   QKV      MP     MATMUL  QKV = H Wqkv^T + b  (3C x C)            rows, gathered
 *   ATTN     MHA    ATTN    CTX = softmax(q K^T / sqrt(d)) V        heads, gathered
 *   PROJ     MP     MATMUL  BR = CTX Wo^T + b   (C x C)             rows, gathered
 *   RES_LN2  LNRES  NORM    X += BR; H = LN2(X)                     every node
 *   FC1      MP     MATMUL  MID = gelu(H W1^T + b)  (F x C)         rows, gathered
 *   FC2      MP     MATMUL  BR = MID W2^T + b   (C x F)             rows, gathered
 *   RES      LNRES  NORM    X += BR                                 every node
 *
 * A Llama layer (RMSNorm, rotary positions, grouped-query attention,
 * SiLU-gated MLP, no biases):
 *
 *   LN1      LNRES  NORM    H = rms1(X)
 *   QKV      MP     MATMUL  QKV = H [Wq; Wk; Wv]^T  ((NH + 2 NKV) d x C)
 *   ROPE     LNRES  ROPE    rotate q and k of the node's heads in QKV
 *   ATTN     MHA    ATTN    CTX = attention, query head h on KV head h / (NH/NKV)
 *   PROJ     MP     MATMUL  BR = CTX Wo^T       (C x NH d)
 *   RES_LN2  LNRES  NORM    X += BR; H = rms2(X)
 *   GATE     MP     MATMUL  GATE = silu(H Wg^T)  (F x C)            rows, kept local
 *   UP       MP     MATMUL  MID = (H Wu^T) * GATE (F x C)           same rows, gathered
 *   DOWN     MP     MATMUL  BR = MID Wd^T       (C x F)
 *   RES      LNRES  NORM    X += BR
 *
 * framed by host stages EMBED (X = wte[tok] (+ wpe[pos])) before the first
 * layer and LN_F, LM_HEAD (LOGITS = LN_F(X) Wlm^T, V x C, rows split like
 * MP) after the last.
 *
 * A datapath keeps one buffer per slot and executes a stage by looking up
 * its `work`; it never asks which named op a stage is.  Adding an operation
 * is a kernel, a schedule entry and a simulator timing rule.
 *
 * The same schedule drives the engine (each node executes its slice of every
 * stage), the ring (which all-gathers after every stage with gather > 0) and
 * the cycle-level simulator (which times every stage).  Nothing here depends
 * on weights: a schedule is a function of the config, the partition and the
 * options.
 */
#ifndef LLX_SCHEDULE_H
#define LLX_SCHEDULE_H

#include "llx/config.h"
#include "llx/status.h"

typedef enum llx_kernel {
    LLX_KERNEL_HOST,  /* host CPU: embedding, final norm, LM head */
    LLX_KERNEL_MP,    /* Fused Matrix Processing */
    LLX_KERNEL_MHA,   /* Fused Multi-Head Attention */
    LLX_KERNEL_LNRES, /* Fused LayerNorm & Residual (also RMSNorm and the rotary step) */
} llx_kernel;

/* The stage's name in the model: traces, tests, the simulator's host rules.
 * Datapaths do not branch on it. */
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
    LLX_OP_ROPE,
    LLX_OP_GATE,
    LLX_OP_UP,
    LLX_OP_DOWN,
    LLX_OP_HAD, /* online Hadamard transform of the down projection's input */
    LLX_OP_COUNT
} llx_op;

/* What a stage computes: the key a datapath looks its executor up by. */
typedef enum llx_work {
    LLX_WORK_EMBED,  /* out = wte[token] (+ wpe[position]) */
    LLX_WORK_NORM,   /* X += in (if any); out = norm(X) (if any) */
    LLX_WORK_MATMUL, /* out = act(in W^T + b) (* aux) */
    LLX_WORK_ROPE,   /* rotate q and k of the node's heads (in -> out) */
    LLX_WORK_ATTN,   /* append k, v to the cache; out = attention of the node's heads */
    LLX_WORK_HADAMARD, /* out = H in, the normalised Hadamard transform of each token (in place) */
    LLX_WORK_COUNT
} llx_work;

/* Activation buffers, [tokens][width]. */
typedef enum llx_slot {
    LLX_SLOT_NONE = -1,
    LLX_SLOT_X = 0,  /* residual stream, C */
    LLX_SLOT_H,      /* normalised residual: input of QKV, FC1/GATE/UP, LM head; C */
    LLX_SLOT_QKV,    /* q | k | v, (NH + 2 NKV) d */
    LLX_SLOT_CTX,    /* attention context, NH d */
    LLX_SLOT_BR,     /* branch added to the residual (PROJ, FC2/DOWN output), C */
    LLX_SLOT_GATE,   /* silu(gate), only the node's own rows are ever written, F */
    LLX_SLOT_MID,    /* MLP hidden activation: gelu(fc1) or silu(gate) * up, F */
    LLX_SLOT_LOGITS, /* V per wanted token */
    LLX_SLOT_COUNT
} llx_slot;

typedef enum llx_matrix {
    LLX_MAT_NONE = -1,
    LLX_MAT_QKV = 0, /* (NH + 2 NKV) d x C: GPT-2 c_attn, Llama q|k|v_proj */
    LLX_MAT_PROJ,    /* C x NH d: attention output projection */
    LLX_MAT_FC1,     /* F x C: GPT-2 c_fc, Llama up_proj */
    LLX_MAT_FC2,     /* C x F: GPT-2 mlp.c_proj, Llama down_proj */
    LLX_MAT_GATE,    /* F x C: Llama gate_proj (0 rows for GPT-2) */
    LLX_MAT_LM_HEAD, /* V x C (tied to wte unless the checkpoint has lm_head) */
    LLX_MAT_COUNT
} llx_matrix;
#define LLX_MAT_LAYER_COUNT LLX_MAT_LM_HEAD /* matrices a layer owns: QKV .. GATE */

/* Normalisation weight sets. */
typedef enum llx_normw { LLX_NORMW_NONE = -1, LLX_NORMW_1 = 0, LLX_NORMW_2, LLX_NORMW_F } llx_normw;
typedef enum llx_norm { LLX_NORM_NONE = 0, LLX_NORM_LAYER, LLX_NORM_RMS } llx_norm;
/* MATMUL epilogue activation. */
typedef enum llx_act { LLX_ACT_NONE = 0, LLX_ACT_GELU, LLX_ACT_SILU } llx_act;

/* How a quantized datapath produces a stage's output (the fp32 datapath
 * ignores it):
 *   F32      fp32 values; the consumer takes them as they are
 *   STATIC   int8 with the static scale `scale` (per tensor, or per head
 *            for q, k, v; travels as int8)
 *   DYNAMIC  fp32 values, quantized to int8 per token once the vector is whole
 *   DYNAMIC4 fp32 values, quantized to int4 per token (asymmetric) once the
 *            vector is whole (W4A4) */
typedef enum llx_quant { LLX_QUANT_F32 = 0, LLX_QUANT_STATIC, LLX_QUANT_DYNAMIC, LLX_QUANT_DYNAMIC4 } llx_quant;

/* Static activation scales of a quantized layer (one int8 step each), in
 * the order the .llx file stores them.  QKV output uses Q, K, V by segment. */
enum {
    LLX_SC_LN1 = 0, /* QKV input (first norm's output) */
    LLX_SC_Q,
    LLX_SC_K,
    LLX_SC_V,
    LLX_SC_CTX,  /* PROJ input (attention context) */
    LLX_SC_LN2,  /* MLP input (second norm's output) */
    LLX_SC_GELU, /* FC2/DOWN input (MLP activation) */
    LLX_SC_COUNT = 8
};

typedef enum llx_split {
    LLX_SPLIT_NONE,  /* every node does all of it (redundant critical-path work) */
    LLX_SPLIT_ROWS,  /* output rows: the partition's contiguous block per node */
    LLX_SPLIT_HEADS, /* query heads: the partition's heads per node (whole KV groups) */
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

#define LLX_MAX_NODES 64

/* Who owns what, for N nodes: built once per engine (or simulation) and read
 * by the weight loaders, the nodes, the ring and the simulator, so all of
 * them cut the same rows, heads and blocks.
 *
 * Rows of every matrix are split contiguously and balanced.  Heads follow
 * the KV heads: with N <= NKV each node owns a balanced block of KV heads
 * and all their query heads; with N > NKV the nodes are spread over the KV
 * heads (node n serves KV head n * NKV / N) and the nodes of one KV head
 * split its query heads, each holding a copy of that KV head's cache.  A
 * query head therefore always lives with its KV head. */
typedef struct llx_partition {
    int nodes;
    int block_rows[LLX_MAT_COUNT];                /* rows per ring block of each matrix */
    llx_range rows[LLX_MAT_COUNT][LLX_MAX_NODES]; /* output rows each node owns */
    llx_range heads[LLX_MAX_NODES];               /* query heads each node owns */
    llx_range kv_heads[LLX_MAX_NODES];            /* KV heads whose cache each node holds */
} llx_partition;

typedef struct llx_part_opts {
    int nodes;        /* ring size, >= 1 */
    int weight_bytes; /* bytes per weight element (4 fp32, 1 int8): sizes automatic blocks */
    int block_rows;   /* rows per ring block (0 = automatic: about 1 MiB of weights) */
} llx_part_opts;

/* Automatic ring blocks hold about this many bytes of weights. */
#define LLX_BLOCK_BYTES (1 << 20)

llx_status llx_partition_build(llx_partition *p, const llx_config *c, const llx_part_opts *o);

typedef struct llx_stage {
    llx_op op;
    llx_kernel kernel;
    llx_work work;
    int layer;         /* 0 .. L-1, or -1 for host stages */
    /* data flow */
    llx_slot in, out;  /* NORM: in is added into X (residual), out = norm(X) */
    llx_slot aux;      /* MATMUL: output multiplied elementwise by this slot's same rows */
    llx_matrix matrix; /* MATMUL: the weight matrix, else LLX_MAT_NONE */
    llx_normw normw;   /* NORM: the weight set */
    llx_norm norm;     /* NORM: LayerNorm, RMSNorm or none (residual only) */
    llx_act act;       /* MATMUL epilogue */
    llx_quant quant;   /* quantized datapaths: how `out` is produced */
    int scale;         /* STATIC: the layer's static scale (LLX_SC_*), else -1 */
    /* shape */
    int rows, cols;    /* MATMUL: output rows x input columns; vector stages: cols = width */
    int heads, head_dim, kv_heads; /* ROPE, ATTN */
    int tokens;        /* tokens in this pass (LM_HEAD: positions whose logits are wanted) */
    int pos;           /* position of the first token of the pass */
    int ctx;           /* ATTN: keys attended by the last token = pos + tokens */
    int residual;      /* NORM adds a branch into the residual stream (in != NONE) */
    int pos_embed;     /* EMBED adds the learned position embedding (GPT-2) */
    /* work split and ring exchange */
    llx_split split;
    int units;         /* what `split` divides: rows or heads (0 for NONE/HOST) */
    int unit_elems;    /* gathered elements per unit and token (head_dim for heads, else 1) */
    int block;         /* units per ring block (rows: the partition's block_rows) */
    int gather;        /* elements per token all-gathered after the stage, 0 = none */
    int gather_bytes;  /* bytes per gathered element (4 fp32, 1 int8) */
} llx_stage;

typedef struct llx_sched_opts {
    int nodes;        /* ring size, >= 1 */
    int tokens;       /* tokens in the pass, >= 1 */
    int pos;          /* position of the first token */
    int all_logits;   /* LM head for every token (perplexity) instead of the last only */
    int logits;       /* else the LM head for the last `logits` tokens (0: 1) */
    int mixed;        /* tokens of several sequences at positions of their own (continuous
                       * batching): pos is 0 and not checked; the engine knows the positions */
    int block_rows;   /* without a partition: rows per ring block (0 = automatic) */
    llx_precision precision;
    /* quantized precisions: what a .llx model's scheme changes (zeros: W8A8) */
    int act_bits;     /* matrix inputs: 8 (int8 as the precision says), 4 (int4 per token,
                       * asymmetric, after the gather) or 32 (fp32: an fp32 .llx model) */
    int kv_f32;       /* q, k, v and the KV cache in fp32 (else int8 with static scales) */
    int hadamard;     /* a HADAMARD stage before the down projection (its input rotated online) */
    int w_bits;       /* bits of the layers' weights (8, 4, 32; 0 = 8): the simulator's MACs and words */
    int lm_bits;      /* bits of the LM head's weights (0 = 8) */
    int w_group;      /* int4 weights: columns per scale (0: one scale per row) */
    int w_scale_bytes; /* int4 weights: bytes per scale (2 fp16, 4 fp32; 0 = 4) */
} llx_sched_opts;

typedef struct llx_schedule {
    llx_config cfg;
    llx_sched_opts opt;  /* with defaults filled in */
    llx_partition part;
    int n_stages;
    llx_stage *stages;
    llx_range *slices;   /* [n_stages * nodes]: units node n owns in stage s */
} llx_schedule;

/* Plan one pass.  Fails (LLX_ERR_ARG) when the pass does not fit the model:
 * pos + tokens > n_ctx, nodes outside [1, LLX_MAX_NODES], tokens < 1.
 * llx_schedule_build makes the partition from the options (weight bytes of
 * the precision, opt->block_rows); llx_schedule_build_part takes one made
 * by the caller (its node count must be opt->nodes). */
llx_status llx_schedule_build(llx_schedule *s, const llx_config *cfg, const llx_sched_opts *opt);
llx_status llx_schedule_build_part(llx_schedule *s, const llx_config *cfg, const llx_partition *part,
                                   const llx_sched_opts *opt);
void llx_schedule_free(llx_schedule *s); /* accepts a zeroed schedule */
/* Move a built schedule to another first position: the same stages as a
 * schedule built at pos with the same options (only the stages' pos and
 * ctx depend on it).  Fails like the build when the pass no longer fits. */
llx_status llx_schedule_set_pos(llx_schedule *s, int pos);

/* The units (rows or heads) node `node` owns in stage `i`.  NONE: all units
 * of the stage's width; HOST: everything on node 0, nothing elsewhere. */
static inline llx_range llx_schedule_slice(const llx_schedule *s, int i, int node)
{
    return s->slices[(long)i * s->opt.nodes + node];
}

/* The elements of the gathered vector (per token) node `node` contributes
 * after stage i: its units times the stage's unit_elems. */
static inline llx_range llx_schedule_gather_range(const llx_schedule *s, int i, int node)
{
    llx_range r = llx_schedule_slice(s, i, node);
    r.begin *= s->stages[i].unit_elems;
    r.end *= s->stages[i].unit_elems;
    return r;
}

/* Balanced contiguous split of `units` over `nodes`: node n gets
 * [floor(units*n/nodes), floor(units*(n+1)/nodes)). */
llx_range llx_split_range(int units, int nodes, int node);

const char *llx_op_name(llx_op op);
const char *llx_kernel_name(llx_kernel k);
const char *llx_matrix_name(llx_matrix m);
const char *llx_precision_name(llx_precision p);

/* Rows and columns of matrix m for config c (0 x 0 when the model has none). */
void llx_matrix_shape(const llx_config *c, llx_matrix m, int *rows, int *cols);
/* Width of slot s for config c. */
int llx_slot_width(const llx_config *c, llx_slot s);

#endif
