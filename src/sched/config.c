/* sched/config.c - presets and consistency checks for llx_config (the shape
 * every schedule is planned from).
 * Parsing config.json lives in model/config_json.c. */
#include "llx/config.h"

#include <string.h>

#include "util/status.h"

static const struct {
    const char *name;
    llx_config c;
} presets[] = {
#define GPT2(V, P, C, L, H, F) {.n_vocab = V, .n_ctx = P, .n_embd = C, .n_layer = L, .n_head = H, .n_inner = F, .ln_eps = 1e-5f}
    {"gpt2", GPT2(50257, 1024, 768, 12, 12, 3072)},
    {"gpt2-medium", GPT2(50257, 1024, 1024, 24, 16, 4096)},
    {"gpt2-large", GPT2(50257, 1024, 1280, 36, 20, 5120)},
    {"gpt2-xl", GPT2(50257, 1024, 1600, 48, 25, 6400)},
#undef GPT2
    /* Llama 3.2 1B (config.json of meta-llama/Llama-3.2-1B) */
    {"llama-3.2-1b", {.n_vocab = 128256, .n_ctx = 131072, .n_embd = 2048, .n_layer = 16, .n_head = 32, .n_inner = 8192,
                      .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = 8, .head_dim = 64, .rope_theta = 500000.0f,
                      .rope_llama3 = 1, .rope_factor = 32.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
                      .rope_orig_ctx = 8192}},
    /* a small Llama-3-shaped model: tinyllama-shakespeare's dimensions */
    {"llama-tiny", {.n_vocab = 128256, .n_ctx = 1024, .n_embd = 256, .n_layer = 4, .n_head = 8, .n_inner = 640,
                    .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = 2, .head_dim = 32, .rope_theta = 500000.0f,
                    .rope_llama3 = 1, .rope_factor = 32.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
                    .rope_orig_ctx = 8192}},
};

llx_status llx_config_preset(const char *name, llx_config *c)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *c = presets[i].c;
            return LLX_OK;
        }
    }
    return llx_fail(LLX_ERR_ARG,
                    "unknown model preset '%s' (known: gpt2, gpt2-medium, gpt2-large, gpt2-xl, llama-3.2-1b, llama-tiny)",
                    name);
}

/* Limits keep every derived size (V*C, F*C, L*n_ctx*C) far inside int64 and
 * every per-matrix element count inside int32. */
llx_status llx_config_check(const llx_config *c)
{
    if (c->n_vocab < 1 || c->n_vocab > 1000000)
        return llx_fail(LLX_ERR_FORMAT, "vocab_size %d out of range [1, 1000000]", c->n_vocab);
    if (c->n_ctx < 1 || c->n_ctx > LLX_MAX_POSITIONS)
        return llx_fail(LLX_ERR_FORMAT, "n_positions %d out of range [1, %d]", c->n_ctx, LLX_MAX_POSITIONS);
    if (c->n_embd < 1 || c->n_embd > 16384)
        return llx_fail(LLX_ERR_FORMAT, "n_embd %d out of range [1, 16384]", c->n_embd);
    if (c->n_layer < 1 || c->n_layer > 256)
        return llx_fail(LLX_ERR_FORMAT, "n_layer %d out of range [1, 256]", c->n_layer);
    if (c->arch != LLX_ARCH_GPT2 && c->arch != LLX_ARCH_LLAMA)
        return llx_fail(LLX_ERR_FORMAT, "unknown architecture %d", (int)c->arch);
    if (c->n_head < 1 || c->n_head > c->n_embd)
        return llx_fail(LLX_ERR_FORMAT, "n_head %d out of range [1, n_embd=%d]", c->n_head, c->n_embd);
    if (c->head_dim == 0 && c->n_embd % c->n_head != 0)
        return llx_fail(LLX_ERR_FORMAT, "n_embd %d is not a multiple of n_head %d", c->n_embd, c->n_head);
    if (c->head_dim < 0 || c->head_dim > 1024 || (long)c->head_dim * c->n_head > 65536)
        return llx_fail(LLX_ERR_FORMAT, "head_dim %d out of range [1, 1024] (and n_head * head_dim <= 65536)",
                        c->head_dim);
    if (c->n_kv_head < 0 || c->n_kv_head > c->n_head)
        return llx_fail(LLX_ERR_FORMAT, "num_key_value_heads %d out of range [1, n_head=%d]", c->n_kv_head,
                        c->n_head);
    if (c->n_head % llx_config_kv_heads(c) != 0)
        return llx_fail(LLX_ERR_FORMAT, "num_attention_heads %d is not a multiple of num_key_value_heads %d",
                        c->n_head, c->n_kv_head);
    if (c->arch == LLX_ARCH_GPT2 && (llx_config_kv_heads(c) != c->n_head || llx_config_head_dim(c) * c->n_head != c->n_embd))
        return llx_fail(LLX_ERR_FORMAT, "a GPT-2 model has n_head * head_dim = n_embd and no KV-head groups");
    if (c->n_inner < 1 || c->n_inner > 65536)
        return llx_fail(LLX_ERR_FORMAT, "n_inner %d out of range [1, 65536]", c->n_inner);
    if (!(c->ln_eps > 0.0f) || c->ln_eps > 1.0f)
        return llx_fail(LLX_ERR_FORMAT, "layer_norm_epsilon %g out of range (0, 1]", (double)c->ln_eps);
    if (c->arch == LLX_ARCH_GPT2) {
        if (c->n_ctx > 65536) return llx_fail(LLX_ERR_FORMAT, "n_positions %d out of range [1, 65536]", c->n_ctx);
        return LLX_OK;
    }
    if (llx_config_head_dim(c) % 2 != 0)
        return llx_fail(LLX_ERR_FORMAT, "head_dim %d must be even for rotary embeddings", llx_config_head_dim(c));
    if (!(c->rope_theta > 1.0f) || c->rope_theta > 1e12f)
        return llx_fail(LLX_ERR_FORMAT, "rope_theta %g out of range (1, 1e12]", (double)c->rope_theta);
    if (c->rope_llama3 && (!(c->rope_factor >= 1.0f) || c->rope_factor > 1e6f || !(c->rope_low_freq > 0.0f) ||
                           !(c->rope_high_freq > c->rope_low_freq) || c->rope_high_freq > 1e6f ||
                           c->rope_orig_ctx < 1 || c->rope_orig_ctx > LLX_MAX_POSITIONS))
        return llx_fail(LLX_ERR_FORMAT, "rope_scaling (llama3): factor >= 1, 0 < low_freq_factor < high_freq_factor "
                                        "and original_max_position_embeddings >= 1 are required");
    return LLX_OK;
}

long long llx_config_params(const llx_config *c)
{
    long long C = c->n_embd, F = c->n_inner;
    if (c->arch == LLX_ARCH_LLAMA) {
        const long long q = (long long)c->n_head * llx_config_head_dim(c);
        const long long kv = (long long)llx_config_kv_heads(c) * llx_config_head_dim(c);
        const long long per = 2 * C + C * (q + 2 * kv) + q * C + 3 * C * F;
        return (long long)c->n_vocab * C * (c->untied ? 2 : 1) + c->n_layer * per + C;
    }
    long long per_layer = 4 * C                  /* ln_1, ln_2 */
                          + C * 3 * C + 3 * C    /* c_attn */
                          + C * C + C            /* attn c_proj */
                          + C * F + F            /* c_fc */
                          + F * C + C;           /* mlp c_proj */
    return (long long)c->n_vocab * C + (long long)c->n_ctx * C + c->n_layer * per_layer + 2 * C;
}
