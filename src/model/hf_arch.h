/* model/hf_arch.h - how each architecture's HuggingFace checkpoint names
 * and shapes its tensors, as data: the loader (hf.c) binds and reads any
 * architecture through one of these descriptors. */
#ifndef LLX_MODEL_HF_ARCH_H
#define LLX_MODEL_HF_ARCH_H

#include "llx/config.h"
#include "llx/schedule.h"

/* Dimensions a shape is written in. */
enum { HF_D_NONE, HF_D_C, HF_D_3C, HF_D_F, HF_D_Q, HF_D_KV };

#define HF_MAX_PARTS 12
#define HF_MAX_SEGS 3
#define HF_MAX_BUFFERS 2

typedef struct hf_part {
    const char *suffix; /* after the layer prefix */
    int ndim, d0, d1;   /* shape as stored */
} hf_part;

typedef struct hf_arch {
    const char *name;
    const char *title;       /* for messages: "GPT-2", "Llama" */
    const char *n_layer_key; /* config.json's layer count field */
    const char *layer_prefix; /* layer l's names start with this, then "l." */
    const char *alt_prefix;  /* also accepted in front of every name but lm_head ("transformer.") or NULL */
    int n_parts;
    hf_part parts[HF_MAX_PARTS];
    int transposed;          /* matrices stored [in, out] (Conv1D) */
    /* each layer matrix: its row blocks, in order (q | k | v), and its bias part */
    int mat_parts[LLX_MAT_LAYER_COUNT][HF_MAX_SEGS];
    int mat_nparts[LLX_MAT_LAYER_COUNT];
    int mat_bias[LLX_MAT_LAYER_COUNT]; /* -1: no bias */
    int vec_part[4];         /* LLX_VEC_LN1_G .. LLX_VEC_LN2_B; -1: none (RMSNorm has no bias) */
    const char *buffers[HF_MAX_BUFFERS]; /* per-layer non-weights files may hold (after "l.") */
    const char *wte, *wpe, *norm_g, *norm_b, *lm_head; /* model-level names; NULL when absent */
} hf_arch;

const hf_arch *llx_hf_arch(llx_arch a);

/* Elements of dimension d for config c. */
unsigned long long llx_hf_dim(const llx_config *c, int d);

#endif
