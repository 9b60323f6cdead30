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

/* Quantization info of an opened .llx model (zeros for an HF model). */
typedef struct llx_quant_info {
    int act_mode;
    float alpha;
    int calib_tokens;
    int smooth_v;
} llx_quant_info;
void llx_model_quant_info(const llx_model *m, llx_quant_info *q);

#endif
