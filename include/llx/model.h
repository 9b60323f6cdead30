/* llx/model.h - models: a HuggingFace folder (fp32 weights) or a .llx file
 * (W8A8, written by llx_quantize), each with its tokenizer.
 *
 *   llx_model *m;  llx_model_open(&m, "./gpt2-medium");
 *   const llx_config *c = llx_model_config(m);
 *   llx_model_close(m);
 *
 * A model is read-only once open; several engines may share one. */
#ifndef LLX_MODEL_H
#define LLX_MODEL_H

#include <stdint.h>

#include "llx/config.h"
#include "llx/status.h"
#include "llx/tokenizer.h"

typedef struct llx_model llx_model;

typedef enum llx_model_kind {
    LLX_MODEL_HF = 0,  /* HuggingFace folder, fp32 (F32/F16/BF16 storage) */
    LLX_MODEL_LLX = 1, /* looplynx .llx file, W8A8 */
} llx_model_kind;

/* Open a folder (HuggingFace) or a .llx file.  Returns a new handle; free
 * with llx_model_close.  Validates everything before returning. */
llx_status llx_model_open(llx_model **out, const char *path);
void llx_model_close(llx_model *m); /* accepts NULL */

const llx_config *llx_model_config(const llx_model *m);
const llx_tokenizer *llx_model_tokenizer(const llx_model *m);
llx_model_kind llx_model_kind_of(const llx_model *m);
const char *llx_model_path(const llx_model *m);

/* Open also refuses a vocab.json with fewer entries than vocab_size (some
 * ids could not be decoded).  Weights are checked for NaN/Inf as the engine
 * or the quantizer reads them; this checks them all now (a .llx file's
 * float tensors are checked when it is opened). */
llx_status llx_model_check_weights(const llx_model *m);

/* The checkpoint of a HuggingFace model (NULL for a .llx file). */
typedef struct llx_hf llx_hf;
const llx_hf *llx_model_checkpoint(const llx_model *m);

/* Bytes of weight data the model holds on disk (safetensors data or .llx file). */
uint64_t llx_model_bytes(const llx_model *m);

/* The numeric scheme of a .llx model (docs/quantization.md). */
typedef enum llx_scheme {
    LLX_SCHEME_W8A8 = 1, /* int8 weights per row, int8 activations (static or per token) */
    LLX_SCHEME_W4A8 = 2, /* int4 weights per row or per group, int8 activations */
    LLX_SCHEME_W4A4 = 3, /* int4 weights, int4 per-token asymmetric activations */
    LLX_SCHEME_F32 = 4,  /* fp32 weights and activations: a transformed model (calibration) */
} llx_scheme;

/* The smallest int4 activation clip ratio a file may hold (docs/formats.md). */
#define LLX_ACT_CLIP_MIN 0.5f

typedef struct llx_scheme_info {
    llx_scheme scheme;
    int group;          /* int4 weight columns per scale; 0 = one scale per row */
    int scales_f16;     /* int4 weight scales stored as fp16 (else fp32) */
    int gptq;           /* weights rounded by GPTQ (else to nearest) */
    float gptq_damp;    /* GPTQ damping, fraction of the mean Hessian diagonal */
    int gptq_act_order; /* GPTQ columns in decreasing Hessian diagonal order */
    int rotate;         /* Hadamard rotations folded into the weights */
    int rotate_seed;    /* seed of the residual rotation's random signs */
    int kv_int8;        /* int8 q/k/v and KV cache with static scales; 0: fp32 attention */
    int kv_per_head;    /* those scales per head (version 1 files: one per tensor) */
    int lm_bits;        /* LM head weights: 8 or 4 */
    int had_down;       /* online Hadamard transform of the down projection's input */
    int lm_bias;        /* the LM head has a bias (the final norm's bias folded in) */
    float act_clip;     /* W4A4: int4 activation range [c*min, c*max]; 0 = none (as 1) */
    uint64_t rotate_hash; /* R1/R2 from a rotation file: its hash (llx_hash64); 0: the Hadamard ones */
} llx_scheme_info;

/* Quantization info of an opened .llx model (zeros for an HF model). */
typedef struct llx_quant_info {
    int act_mode;
    float alpha;
    int calib_tokens;
    int smooth_v;
    int smooth_down; /* Llama: down_proj smoothed through up_proj */
    llx_scheme_info s;
} llx_quant_info;

/* The scheme's name ("w8a8", "w4a8", "w4a4", "f32"; "?" otherwise). */
const char *llx_scheme_name(llx_scheme s);
void llx_model_quant_info(const llx_model *m, llx_quant_info *q);

#endif
