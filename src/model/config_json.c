/* model/config_json.c - HuggingFace config.json -> llx_config (jansson).
 *
 * Accepts GPT2LMHeadModel / GPT2Model and LlamaForCausalLM configs.  Fields
 * the engine does not implement are rejected by name rather than silently
 * ignored. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "util/file.h"
#include "util/status.h"

#define CONFIG_MAX_BYTES (1u << 20)

/* Integer field: required unless def_ok, then *out keeps its default. */
static llx_status get_int(json_t *root, const char *what, const char *key, int required, int *out)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return llx_fail(LLX_ERR_FORMAT, "%s: missing field '%s'", what, key);
        return LLX_OK;
    }
    if (!json_is_integer(v))
        return llx_fail(LLX_ERR_FORMAT, "%s: field '%s' must be an integer", what, key);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > 100000000)
        return llx_fail(LLX_ERR_FORMAT, "%s: field '%s' = %lld is out of range", what, key, (long long)x);
    *out = (int)x;
    return LLX_OK;
}

static llx_status get_bool(json_t *root, const char *what, const char *key, int *out)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return LLX_OK;
    if (!json_is_boolean(v)) return llx_fail(LLX_ERR_FORMAT, "%s: field '%s' must be true or false", what, key);
    *out = json_is_true(v);
    return LLX_OK;
}

static llx_status get_str(json_t *root, const char *what, const char *key, const char **out)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return LLX_OK;
    if (!json_is_string(v)) return llx_fail(LLX_ERR_FORMAT, "%s: field '%s' must be a string", what, key);
    *out = json_string_value(v);
    return LLX_OK;
}

static llx_status get_float(json_t *root, const char *what, const char *key, float *out)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return LLX_OK;
    if (!json_is_number(v)) return llx_fail(LLX_ERR_FORMAT, "%s: field '%s' must be a number", what, key);
    *out = (float)json_number_value(v);
    return LLX_OK;
}

/* Every string of 'architectures' must be one of allowed[] (NULL-ended). */
static llx_status check_architectures(json_t *root, const char *what, const char *const *allowed)
{
    json_t *arch = json_object_get(root, "architectures");
    if (!arch || json_is_null(arch)) return LLX_OK;
    if (!json_is_array(arch)) return llx_fail(LLX_ERR_FORMAT, "%s: field 'architectures' must be a list", what);
    size_t i;
    json_t *a;
    json_array_foreach(arch, i, a)
    {
        const char *s = json_string_value(a);
        if (!s) return llx_fail(LLX_ERR_FORMAT, "%s: 'architectures' must hold strings", what);
        int ok = 0;
        for (int k = 0; allowed[k]; k++) ok |= !strcmp(s, allowed[k]);
        if (!ok) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (%s)", what, s, allowed[0]);
    }
    return LLX_OK;
}

static llx_status check_arch(json_t *root, const char *what)
{
    static const char *const gpt2[] = {"GPT2LMHeadModel", "GPT2Model", NULL};
    LLX_TRY(check_architectures(root, what, gpt2));
    const char *act = "gelu_new";
    LLX_TRY(get_str(root, what, "activation_function", &act));
    if (strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        return llx_fail(LLX_ERR_UNSUPPORTED,
                        "%s: activation_function '%s' is not supported (only gelu_new, the tanh GELU)", what, act);
    int flag = 0;
    LLX_TRY(get_bool(root, what, "scale_attn_by_inverse_layer_idx", &flag));
    if (flag) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: scale_attn_by_inverse_layer_idx is not supported", what);
    flag = 0;
    LLX_TRY(get_bool(root, what, "add_cross_attention", &flag));
    if (flag) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: add_cross_attention is not supported", what);
    flag = 1;
    LLX_TRY(get_bool(root, what, "scale_attn_weights", &flag));
    if (!flag) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: scale_attn_weights = false is not supported", what);
    return LLX_OK;
}

/* rope_scaling: null, {"rope_type": "default"} or the llama3 band rescaling. */
static llx_status parse_rope_scaling(json_t *root, const char *what, llx_config *c)
{
    json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs)) return LLX_OK;
    if (!json_is_object(rs)) return llx_fail(LLX_ERR_FORMAT, "%s: field 'rope_scaling' must be an object or null", what);
    const char *type = NULL;
    LLX_TRY(get_str(rs, what, "rope_type", &type));
    if (!type) LLX_TRY(get_str(rs, what, "type", &type));
    if (!type) return llx_fail(LLX_ERR_FORMAT, "%s: rope_scaling has no rope_type", what);
    if (!strcmp(type, "default")) return LLX_OK;
    if (strcmp(type, "llama3"))
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: rope_scaling type '%s' is not supported (llama3 or default)", what,
                        type);
    static const char *const keys[3] = {"factor", "low_freq_factor", "high_freq_factor"};
    float *dst[3] = {&c->rope_factor, &c->rope_low_freq, &c->rope_high_freq};
    for (int i = 0; i < 3; i++) {
        if (!json_object_get(rs, keys[i]))
            return llx_fail(LLX_ERR_FORMAT, "%s: rope_scaling (llama3) needs '%s'", what, keys[i]);
        LLX_TRY(get_float(rs, what, keys[i], dst[i]));
    }
    LLX_TRY(get_int(rs, what, "original_max_position_embeddings", 1, &c->rope_orig_ctx));
    c->rope_llama3 = 1;
    return LLX_OK;
}

/* What a Llama config may not have: biases, other activations, sliding windows. */
static llx_status check_llama(json_t *root, const char *what)
{
    static const char *const llama[] = {"LlamaForCausalLM", NULL};
    LLX_TRY(check_architectures(root, what, llama));
    const char *act = "silu";
    LLX_TRY(get_str(root, what, "hidden_act", &act));
    if (strcmp(act, "silu"))
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (only silu)", what, act);
    static const char *const biases[2] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        int flag = 0;
        LLX_TRY(get_bool(root, what, biases[i], &flag));
        if (flag) return llx_fail(LLX_ERR_UNSUPPORTED, "%s: %s = true is not supported (Llama without biases)", what,
                                  biases[i]);
    }
    json_t *sw = json_object_get(root, "sliding_window");
    if (sw && !json_is_null(sw))
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: sliding_window attention is not supported", what);
    return LLX_OK;
}

static llx_status parse_llama(json_t *root, const char *what, llx_config *c)
{
    LLX_TRY(check_llama(root, what));
    memset(c, 0, sizeof *c);
    c->arch = LLX_ARCH_LLAMA;
    LLX_TRY(get_int(root, what, "vocab_size", 1, &c->n_vocab));
    LLX_TRY(get_int(root, what, "hidden_size", 1, &c->n_embd));
    LLX_TRY(get_int(root, what, "num_hidden_layers", 1, &c->n_layer));
    LLX_TRY(get_int(root, what, "num_attention_heads", 1, &c->n_head));
    LLX_TRY(get_int(root, what, "intermediate_size", 1, &c->n_inner));
    c->n_kv_head = c->n_head;
    LLX_TRY(get_int(root, what, "num_key_value_heads", 0, &c->n_kv_head));
    if (c->n_kv_head < 1) return llx_fail(LLX_ERR_FORMAT, "%s: num_key_value_heads must be at least 1", what);
    if (c->n_head % c->n_kv_head != 0)
        return llx_fail(LLX_ERR_FORMAT,
                        "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d (grouped-query "
                        "attention needs whole groups)", what, c->n_head, c->n_kv_head);
    LLX_TRY(get_int(root, what, "head_dim", 0, &c->head_dim));
    if (c->head_dim == 0 && c->n_head > 0) c->head_dim = c->n_embd / c->n_head;
    c->n_ctx = 2048;
    LLX_TRY(get_int(root, what, "max_position_embeddings", 0, &c->n_ctx));
    c->ln_eps = 1e-6f;
    LLX_TRY(get_float(root, what, "rms_norm_eps", &c->ln_eps));
    c->rope_theta = 10000.0f;
    LLX_TRY(get_float(root, what, "rope_theta", &c->rope_theta));
    LLX_TRY(parse_rope_scaling(root, what, c));
    int tied = 0; /* LlamaConfig's default */
    LLX_TRY(get_bool(root, what, "tie_word_embeddings", &tied));
    c->untied = !tied;
    llx_status st = llx_config_check(c);
    if (st != LLX_OK) llx_errmsg_prefix(what);
    return st;
}

static llx_status parse_root(json_t *root, const char *what, llx_config *c)
{
    if (!json_is_object(root)) return llx_fail(LLX_ERR_FORMAT, "%s: top level must be a JSON object", what);
    const char *mt = NULL;
    LLX_TRY(get_str(root, what, "model_type", &mt));
    if (mt && !strcmp(mt, "llama")) return parse_llama(root, what, c);
    if (mt && strcmp(mt, "gpt2") != 0)
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (gpt2 or llama)", what, mt);
    LLX_TRY(check_arch(root, what));
    memset(c, 0, sizeof *c);
    LLX_TRY(get_int(root, what, "vocab_size", 1, &c->n_vocab));
    LLX_TRY(get_int(root, what, "n_embd", 1, &c->n_embd));
    LLX_TRY(get_int(root, what, "n_layer", 1, &c->n_layer));
    LLX_TRY(get_int(root, what, "n_head", 1, &c->n_head));
    c->n_ctx = 1024;
    if (json_object_get(root, "n_positions")) LLX_TRY(get_int(root, what, "n_positions", 1, &c->n_ctx));
    else LLX_TRY(get_int(root, what, "n_ctx", 0, &c->n_ctx));
    c->n_inner = 0;
    LLX_TRY(get_int(root, what, "n_inner", 0, &c->n_inner));
    if (c->n_inner == 0) c->n_inner = 4 * c->n_embd;
    c->ln_eps = 1e-5f;
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps))
            return llx_fail(LLX_ERR_FORMAT, "%s: field 'layer_norm_epsilon' must be a number", what);
        c->ln_eps = (float)json_number_value(eps);
    }
    llx_status st = llx_config_check(c);
    if (st != LLX_OK) llx_errmsg_prefix(what);
    return st;
}

llx_status llx_config_parse_json(const char *json, size_t len, const char *what, llx_config *c)
{
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return llx_fail(LLX_ERR_FORMAT, "%s: invalid JSON at line %d: %s", what, err.line, err.text);
    llx_status st = parse_root(root, what, c);
    json_decref(root);
    return st;
}

llx_status llx_config_load_json(const char *path, llx_config *c)
{
    char *buf;
    size_t len;
    LLX_TRY(llx_read_file(path, CONFIG_MAX_BYTES, &buf, &len));
    llx_status st = llx_config_parse_json(buf, len, path, c);
    free(buf);
    return st;
}
