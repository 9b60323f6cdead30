/* llx/config.h - the dimensions of a GPT-2 style decoder. */
#ifndef LLX_CONFIG_H
#define LLX_CONFIG_H

#include "llx/status.h"

typedef struct llx_config {
    int n_vocab;   /* vocabulary size (V) */
    int n_ctx;     /* maximum positions (n_positions) */
    int n_embd;    /* hidden size (C) */
    int n_layer;   /* transformer blocks (L) */
    int n_head;    /* attention heads (NH); n_embd % n_head == 0 */
    int n_inner;   /* MLP width (F), 4*C when the checkpoint says null */
    float ln_eps;  /* LayerNorm epsilon */
} llx_config;

#define LLX_EOT_TOKEN 50256 /* GPT-2 <|endoftext|> */

static inline int llx_config_head_dim(const llx_config *c) { return c->n_embd / c->n_head; }

/* Fill c with a named preset: gpt2, gpt2-medium, gpt2-large, gpt2-xl. */
llx_status llx_config_preset(const char *name, llx_config *c);

/* Check that every field is in range and the dimensions are consistent. */
llx_status llx_config_check(const llx_config *c);

/* Parameter count of the model described by c (tied LM head counted once). */
long long llx_config_params(const llx_config *c);

#endif
