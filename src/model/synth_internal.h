/* model/synth_internal.h - what synth.c (the writer, GPT-2) and
 * synth_llama.c (Llama's tensors, config.json and tokenizer.json) share. */
#ifndef LLX_MODEL_SYNTH_INTERNAL_H
#define LLX_MODEL_SYNTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llx/config.h"
#include "llx/status.h"

enum { INIT_NORMAL, INIT_ONES, INIT_ZEROS };

typedef struct synth_tensor {
    char name[64];
    int ndim;
    uint64_t shape[2];
    int init;
    float std;
    uint64_t numel;
} synth_tensor;

void llx_synth_add(synth_tensor *t, int *n, const char *name, int ndim, uint64_t d0, uint64_t d1, int init, float std);
llx_status llx_synth_write_file(const char *out_dir, const char *name, const char *buf, size_t len);
/* Shortest %g form that reads back as the same float. */
void llx_synth_fmt_float(char *buf, size_t cap, float x);

/* Llama (synth_llama.c): the tensors in file order (HF names, [out, in]),
 * config.json, and a tokenizer.json (byte-level BPE of n_vocab - 256 tokens
 * plus Llama 3's 256 special tokens, BOS added by the post-processor). */
synth_tensor *llx_synth_llama_tensors(const llx_config *c, int *count);
llx_status llx_synth_llama_config(const char *out_dir, const llx_config *c, const char *dtype);
llx_status llx_synth_llama_tokenizer(const char *out_dir, int n_vocab);

#endif
