/* model/hf_internal.h - the checkpoint handle, shared by hf.c (opening,
 * binding) and hf_read.c (reading), and the part of the loader that works
 * on an already parsed safetensors image, so the fuzzer and tests can drive
 * the tensor-requirement checks and the readers without a folder on disk. */
#ifndef LLX_MODEL_HF_INTERNAL_H
#define LLX_MODEL_HF_INTERNAL_H

#include "llx/checkpoint.h"
#include "model/hf_arch.h"
#include "model/safetensors.h"

struct llx_hf {
    char *dir;
    llx_config cfg;
    const hf_arch *arch;
    llx_st st;
    const char *dtype;
    const llx_st_tensor *wte, *wpe, *lm_head, *lnf_g, *lnf_b; /* wpe, lnf_b: GPT-2 only */
    const llx_st_tensor **layer; /* [n_layer][arch->n_parts] */
};

/* Bind every tensor cfg needs (shapes and dtypes checked) and return a
 * handle.  Takes ownership of *st whatever the outcome (it is zeroed).
 * tied: the LM head is the token embedding (GPT-2: used when the file has
 * no lm_head.weight, which an untied config must have; Llama: the config's
 * tie_word_embeddings). */
llx_status llx_hf_from_st(llx_hf **out, llx_st *st, const llx_config *cfg, int tied, const char *dir);

/* LLX_OK, or the one-line refusal naming the first NaN/Inf of t (NULL: OK). */
llx_status llx_hf_check_tensor(const llx_hf *m, const llx_st_tensor *t);

/* Drop this process's resident pages of model.safetensors. */
void llx_hf_release_pages(const llx_hf *m);

#endif
