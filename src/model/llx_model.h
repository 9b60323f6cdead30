/* model/llx_model.h - the llx_model object (llx/model.h) for the layers
 * above: the engine reads weights through its checkpoint handle, the
 * quantizer through both. */
#ifndef LLX_MODEL_LLX_MODEL_H
#define LLX_MODEL_LLX_MODEL_H

#include "llx/checkpoint.h"
#include "llx/model.h"
#include "model/llx_file.h"

struct llx_model {
    llx_model_kind kind;
    char *path;
    llx_config cfg;
    llx_tokenizer *tok;
    llx_hf *hf; /* LLX_MODEL_HF */
    llx_llx *qf; /* LLX_MODEL_LLX */
};

/* A model from a .llx image in memory (8-byte aligned, outliving the
 * model; `name` stands for the path in messages). */
llx_status llx_model_open_mem(llx_model **out, const void *data, size_t size, const char *name);
/* The same checks for an image the quantizer made to run its own engine
 * passes over token ids: the tokenizer is not parsed (llx_model_tokenizer
 * gives NULL), which for Llama 3's 128256 entries is most of an open. */
llx_status llx_model_open_image(llx_model **out, const void *data, size_t size, const char *name);

/* Release the model file's resident pages once the nodes hold their own copies. */
void llx_model_release_pages(const llx_model *m);

#endif
