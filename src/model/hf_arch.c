/* model/hf_arch.c - the tensor names and shapes of GPT2LMHeadModel and
 * LlamaForCausalLM checkpoints (docs/formats.md), as hf_arch descriptors. */
#include "model/hf_arch.h"

#include <stddef.h>

enum { G_LN1_G, G_LN1_B, G_QKV_W, G_QKV_B, G_PROJ_W, G_PROJ_B, G_LN2_G, G_LN2_B, G_FC1_W, G_FC1_B, G_FC2_W, G_FC2_B };

static const hf_arch gpt2 = {
    .name = "gpt2",
    .title = "GPT-2",
    .n_layer_key = "n_layer",
    .layer_prefix = "h.",
    .alt_prefix = "transformer.",
    .n_parts = 12,
    .parts = {
        [G_LN1_G] = {"ln_1.weight", 1, HF_D_C, 0},           [G_LN1_B] = {"ln_1.bias", 1, HF_D_C, 0},
        [G_QKV_W] = {"attn.c_attn.weight", 2, HF_D_C, HF_D_3C}, [G_QKV_B] = {"attn.c_attn.bias", 1, HF_D_3C, 0},
        [G_PROJ_W] = {"attn.c_proj.weight", 2, HF_D_C, HF_D_C}, [G_PROJ_B] = {"attn.c_proj.bias", 1, HF_D_C, 0},
        [G_LN2_G] = {"ln_2.weight", 1, HF_D_C, 0},           [G_LN2_B] = {"ln_2.bias", 1, HF_D_C, 0},
        [G_FC1_W] = {"mlp.c_fc.weight", 2, HF_D_C, HF_D_F},   [G_FC1_B] = {"mlp.c_fc.bias", 1, HF_D_F, 0},
        [G_FC2_W] = {"mlp.c_proj.weight", 2, HF_D_F, HF_D_C}, [G_FC2_B] = {"mlp.c_proj.bias", 1, HF_D_C, 0},
    },
    .transposed = 1,
    .mat_parts = {{G_QKV_W}, {G_PROJ_W}, {G_FC1_W}, {G_FC2_W}, {0}},
    .mat_nparts = {1, 1, 1, 1, 0},
    .mat_bias = {G_QKV_B, G_PROJ_B, G_FC1_B, G_FC2_B, -1},
    .vec_part = {G_LN1_G, G_LN1_B, G_LN2_G, G_LN2_B},
    .buffers = {"attn.bias", "attn.masked_bias"},
    .wte = "wte.weight",
    .wpe = "wpe.weight",
    .norm_g = "ln_f.weight",
    .norm_b = "ln_f.bias",
    .lm_head = "lm_head.weight",
};

enum { L_LN1, L_Q, L_K, L_V, L_O, L_LN2, L_GATE, L_UP, L_DOWN };

static const hf_arch llama = {
    .name = "llama",
    .title = "Llama",
    .n_layer_key = "num_hidden_layers",
    .layer_prefix = "model.layers.",
    .alt_prefix = NULL,
    .n_parts = 9,
    .parts = {
        [L_LN1] = {"input_layernorm.weight", 1, HF_D_C, 0},
        [L_Q] = {"self_attn.q_proj.weight", 2, HF_D_Q, HF_D_C},
        [L_K] = {"self_attn.k_proj.weight", 2, HF_D_KV, HF_D_C},
        [L_V] = {"self_attn.v_proj.weight", 2, HF_D_KV, HF_D_C},
        [L_O] = {"self_attn.o_proj.weight", 2, HF_D_C, HF_D_Q},
        [L_LN2] = {"post_attention_layernorm.weight", 1, HF_D_C, 0},
        [L_GATE] = {"mlp.gate_proj.weight", 2, HF_D_F, HF_D_C},
        [L_UP] = {"mlp.up_proj.weight", 2, HF_D_F, HF_D_C},
        [L_DOWN] = {"mlp.down_proj.weight", 2, HF_D_C, HF_D_F},
    },
    .transposed = 0,
    .mat_parts = {{L_Q, L_K, L_V}, {L_O}, {L_UP}, {L_DOWN}, {L_GATE}},
    .mat_nparts = {3, 1, 1, 1, 1},
    .mat_bias = {-1, -1, -1, -1, -1},
    .vec_part = {L_LN1, -1, L_LN2, -1},
    .buffers = {"self_attn.rotary_emb.inv_freq"},
    .wte = "model.embed_tokens.weight",
    .wpe = NULL,
    .norm_g = "model.norm.weight",
    .norm_b = NULL,
    .lm_head = "lm_head.weight",
};

const hf_arch *llx_hf_arch(llx_arch a) { return a == LLX_ARCH_LLAMA ? &llama : &gpt2; }

unsigned long long llx_hf_dim(const llx_config *c, int d)
{
    const unsigned long long C = (unsigned long long)c->n_embd, hd = (unsigned long long)llx_config_head_dim(c);
    switch (d) {
    case HF_D_C: return C;
    case HF_D_3C: return 3 * C;
    case HF_D_F: return (unsigned long long)c->n_inner;
    case HF_D_Q: return (unsigned long long)c->n_head * hd;
    case HF_D_KV: return (unsigned long long)llx_config_kv_heads(c) * hd;
    default: return 0;
    }
}
