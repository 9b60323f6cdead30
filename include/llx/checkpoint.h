/* llx/checkpoint.h - HuggingFace checkpoint folders: GPT2LMHeadModel and
 * LlamaForCausalLM.
 *
 * A GPT-2 folder holds config.json, model.safetensors (F32, F16 or BF16
 * tensors, HuggingFace key names with or without a "transformer." prefix,
 * Conv1D [in, out] layout, lm_head.weight optional and tied to wte when
 * absent), vocab.json and merges.txt.  A Llama folder holds config.json,
 * model.safetensors (nn.Linear [out, in] layout; lm_head.weight unless
 * tie_word_embeddings) and tokenizer.json; docs/formats.md lists both.
 * Opening validates the config and every safetensors header field before
 * any tensor is touched, and refuses a tensor the config does not use
 * (other than HF's attention-mask buffers); the tensor data stays
 * memory-mapped and is converted on read. */
#ifndef LLX_CHECKPOINT_H
#define LLX_CHECKPOINT_H

#include <stdint.h>

#include "llx/config.h"
#include "llx/schedule.h"
#include "llx/status.h"

typedef struct llx_hf llx_hf;

/* Parse a HuggingFace config.json.  Rejects, by name, anything the engine
 * cannot run (model_type other than gpt2, activation other than gelu_new,
 * scale_attn_by_inverse_layer_idx, cross attention, untied embeddings
 * without lm_head, ...) and wrong-typed or out-of-range fields. */
llx_status llx_config_load_json(const char *path, llx_config *c);
llx_status llx_config_parse_json(const char *json, size_t len, const char *what, llx_config *c);

/* Open and validate a checkpoint folder.  Returns a new handle (free with
 * llx_hf_close). */
llx_status llx_hf_open(llx_hf **out, const char *dir);
void llx_hf_close(llx_hf *m); /* accepts NULL */

const llx_config *llx_hf_config(const llx_hf *m);
const char *llx_hf_dir(const llx_hf *m);

/* Storage type of the checkpoint's weight matrices ("F32", "F16", "BF16"). */
const char *llx_hf_dtype(const llx_hf *m);
/* Bytes of tensor data in model.safetensors. */
uint64_t llx_hf_data_bytes(const llx_hf *m);

/* NaN and Inf weights: the readers below refuse a tensor holding one (one
 * error naming the file, tensor and element), as they convert it at load.
 * This checks every tensor at once (for `info`). */
llx_status llx_hf_check_finite(const llx_hf *m);

/* Vectors a layer (or the model, layer = -1) owns. */
typedef enum llx_vec {
    LLX_VEC_LN1_G, LLX_VEC_LN1_B, LLX_VEC_LN2_G, LLX_VEC_LN2_B, /* per layer, C */
    LLX_VEC_LNF_G, LLX_VEC_LNF_B,                                /* layer -1, C */
} llx_vec;

/* Rows [r0, r1) of a weight matrix in [out][in] orientation (the Conv1D
 * transpose is undone here), converted to fp32: dst[(r - r0) * cols + k].
 * layer is ignored for LLX_MAT_LM_HEAD (lm_head.weight, or wte when tied). */
llx_status llx_hf_read_rows(const llx_hf *m, int layer, llx_matrix mat, int r0, int r1, float *dst);
/* 1 when the model's matrices and norms have biases (GPT-2), 0 (Llama). */
int llx_hf_has_bias(const llx_hf *m);
/* Entries [r0, r1) of that matrix's bias (zeros for the LM head and for
 * models without biases). */
llx_status llx_hf_read_bias(const llx_hf *m, int layer, llx_matrix mat, int r0, int r1, float *dst);
/* A whole norm vector (C floats); a bias of an RMSNorm model reads as zeros. */
llx_status llx_hf_read_vec(const llx_hf *m, int layer, llx_vec v, float *dst);
/* Rows [r0, r1) of the token embedding (V x C) or, GPT-2 only, wpe (n_ctx x C). */
llx_status llx_hf_read_wte(const llx_hf *m, int r0, int r1, float *dst);
llx_status llx_hf_read_wpe(const llx_hf *m, int r0, int r1, float *dst);

/* Write a random-weight checkpoint folder (config.json, model.safetensors,
 * vocab.json, merges.txt) for cfg.  dtype is "F32", "F16" or "BF16".  The
 * tokenizer files are copied from vocab_from (a folder) when given, else a
 * valid byte-level BPE vocabulary of cfg->n_vocab entries is generated.
 * The files are written into a new folder beside out_dir and put in place
 * at the end (the folder renamed, or, when out_dir exists, each file moved
 * in atomically, its other files kept), so a failed write leaves nothing. */
llx_status llx_synth_write(const char *out_dir, const llx_config *cfg, uint64_t seed, const char *dtype,
                           const char *vocab_from);

#endif
