/* llx/config.h - the dimensions of a decoder: GPT-2 (LayerNorm, learned
 * positions, GELU MLP, biases) or Llama (RMSNorm, rotary positions,
 * grouped-query attention, SiLU-gated MLP, no biases). */
#ifndef LLX_CONFIG_H
#define LLX_CONFIG_H

#include "llx/status.h"

typedef enum llx_arch {
    LLX_ARCH_GPT2 = 0,  /* GPT2LMHeadModel */
    LLX_ARCH_LLAMA = 1, /* LlamaForCausalLM */
} llx_arch;

typedef struct llx_config {
    int n_vocab;   /* vocabulary size (V) */
    int n_ctx;     /* maximum positions (n_positions / max_position_embeddings) */
    int n_embd;    /* hidden size (C) */
    int n_layer;   /* transformer blocks (L) */
    int n_head;    /* query heads (NH) */
    int n_inner;   /* MLP width (F), 4*C when a GPT-2 checkpoint says null */
    float ln_eps;  /* LayerNorm (GPT-2) or RMSNorm (Llama) epsilon */
    /* zero for GPT-2 means: GPT-2, n_kv_head = n_head, head_dim = n_embd / n_head */
    llx_arch arch;
    int n_kv_head; /* KV heads (grouped-query attention); n_head % n_kv_head == 0 */
    int head_dim;  /* per-head width (d); Llama may have NH * d != C */
    int untied;    /* the LM head is its own matrix (lm_head.weight), not the token embedding */
    /* Llama rotary positions: inv_freq[i] = theta^(-2i/d), optionally
     * rescaled per frequency band as rope_type "llama3" does */
    float rope_theta;
    int rope_llama3;
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_ctx; /* original_max_position_embeddings */
} llx_config;

#define LLX_EOT_TOKEN 50256 /* GPT-2 <|endoftext|> */
#define LLX_MAX_POSITIONS (1 << 20) /* Llama 3.2 has 131072; GPT-2 checkpoints stay within 65536 */

static inline int llx_config_head_dim(const llx_config *c)
{
    return c->head_dim > 0 ? c->head_dim : c->n_embd / c->n_head;
}
static inline int llx_config_kv_heads(const llx_config *c) { return c->n_kv_head > 0 ? c->n_kv_head : c->n_head; }

/* Fill c with a named preset: gpt2, gpt2-medium, gpt2-large, gpt2-xl,
 * llama-3.2-1b, llama-tiny (the shape of the shared tinyllama-shakespeare). */
llx_status llx_config_preset(const char *name, llx_config *c);

/* Check that every field is in range and the dimensions are consistent. */
llx_status llx_config_check(const llx_config *c);

/* Parameter count of the model described by c (tied LM head counted once). */
long long llx_config_params(const llx_config *c);

#endif
