/* model/hf_internal.h - the part of the checkpoint loader that works on an
 * already parsed safetensors image, so the fuzzer and tests can drive the
 * tensor-requirement checks and the readers without a folder on disk. */
#ifndef LLX_MODEL_HF_INTERNAL_H
#define LLX_MODEL_HF_INTERNAL_H

#include "llx/checkpoint.h"
#include "model/safetensors.h"

/* Bind every tensor cfg needs (shapes and dtypes checked) and return a
 * handle.  Takes ownership of *st whatever the outcome (it is zeroed).
 * tied: the config's tie_word_embeddings (an untied config needs lm_head). */
llx_status llx_hf_from_st(llx_hf **out, llx_st *st, const llx_config *cfg, int tied, const char *dir);

/* Drop this process's resident pages of model.safetensors. */
void llx_hf_release_pages(const llx_hf *m);

#endif
