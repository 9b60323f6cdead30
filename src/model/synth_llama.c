/* model/synth_llama.c - the Llama parts of `looplynx synth`: the tensors of
 * a LlamaForCausalLM checkpoint (normal std 0.02, o_proj and down_proj
 * scaled by 1/sqrt(2L), RMSNorm weights 1, no biases), its config.json, and
 * a tokenizer.json in the HuggingFace tokenizers format shaped like Llama
 * 3's: a byte-level BPE (the generated GPT-2-style vocabulary of
 * vocab_size - 256 tokens, ignore_merges), Llama 3's Split regex, and its
 * 256 special tokens after the BPE ids, <|begin_of_text|> added in front by
 * the post-processor. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bpe_vocab.h"
#include "model/synth_internal.h"
#include "util/status.h"

synth_tensor *llx_synth_llama_tensors(const llx_config *c, int *count)
{
    synth_tensor *t = calloc((size_t)c->n_layer * 9 + 4, sizeof *t);
    if (!t) return NULL;
    const uint64_t V = (uint64_t)c->n_vocab, C = (uint64_t)c->n_embd, F = (uint64_t)c->n_inner;
    const uint64_t d = (uint64_t)llx_config_head_dim(c), Q = (uint64_t)c->n_head * d;
    const uint64_t KV = (uint64_t)llx_config_kv_heads(c) * d;
    const float std = 0.02f, res_std = (float)(0.02 / sqrt(2.0 * c->n_layer));
    int n = 0;
    llx_synth_add(t, &n, "model.embed_tokens.weight", 2, V, C, INIT_NORMAL, std);
    for (int l = 0; l < c->n_layer; l++) {
        char nm[64];
#define T(suffix, nd, d0, d1, init, s)                                                                      \
    snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix);                                              \
    llx_synth_add(t, &n, nm, nd, d0, d1, init, s)
        T("input_layernorm.weight", 1, C, 0, INIT_ONES, 0);
        T("self_attn.q_proj.weight", 2, Q, C, INIT_NORMAL, std);
        T("self_attn.k_proj.weight", 2, KV, C, INIT_NORMAL, std);
        T("self_attn.v_proj.weight", 2, KV, C, INIT_NORMAL, std);
        T("self_attn.o_proj.weight", 2, C, Q, INIT_NORMAL, res_std);
        T("post_attention_layernorm.weight", 1, C, 0, INIT_ONES, 0);
        T("mlp.gate_proj.weight", 2, F, C, INIT_NORMAL, std);
        T("mlp.up_proj.weight", 2, F, C, INIT_NORMAL, std);
        T("mlp.down_proj.weight", 2, C, F, INIT_NORMAL, res_std);
#undef T
    }
    llx_synth_add(t, &n, "model.norm.weight", 1, C, 0, INIT_ONES, 0);
    if (c->untied) llx_synth_add(t, &n, "lm_head.weight", 2, V, C, INIT_NORMAL, std);
    *count = n;
    return t;
}

llx_status llx_synth_llama_config(const char *out_dir, const llx_config *c, const char *dtype)
{
    char eps[32], theta[32], rope[320] = "  \"rope_scaling\": null,\n";
    llx_synth_fmt_float(eps, sizeof eps, c->ln_eps);
    llx_synth_fmt_float(theta, sizeof theta, c->rope_theta);
    if (c->rope_llama3) {
        char f[32], lo[32], hi[32];
        llx_synth_fmt_float(f, sizeof f, c->rope_factor);
        llx_synth_fmt_float(lo, sizeof lo, c->rope_low_freq);
        llx_synth_fmt_float(hi, sizeof hi, c->rope_high_freq);
        snprintf(rope, sizeof rope,
                 "  \"rope_scaling\": {\n    \"factor\": %s,\n    \"high_freq_factor\": %s,\n    \"low_freq_factor\": %s,\n"
                 "    \"original_max_position_embeddings\": %d,\n    \"rope_type\": \"llama3\"\n  },\n",
                 f, hi, lo, c->rope_orig_ctx);
    }
    const char *torch = !strcmp(dtype, "F32") ? "float32" : !strcmp(dtype, "F16") ? "float16" : "bfloat16";
    const int bos = c->n_vocab - 256, eos = bos + 1;
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"attention_bias\": false,\n"
                     "  \"attention_dropout\": 0.0,\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n"
                     "  \"head_dim\": %d,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": %d,\n"
                     "  \"initializer_range\": 0.02,\n  \"intermediate_size\": %d,\n"
                     "  \"max_position_embeddings\": %d,\n  \"mlp_bias\": false,\n  \"model_type\": \"llama\",\n"
                     "  \"num_attention_heads\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n"
                     "  \"pretraining_tp\": 1,\n  \"rms_norm_eps\": %s,\n%s  \"rope_theta\": %s,\n"
                     "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n  \"use_cache\": true,\n"
                     "  \"vocab_size\": %d\n}\n",
                     bos, eos, llx_config_head_dim(c), c->n_embd, c->n_inner, c->n_ctx, c->n_head, c->n_layer,
                     llx_config_kv_heads(c), eps, rope, theta, c->untied ? "false" : "true", torch, c->n_vocab);
    if (n < 0 || (size_t)n >= sizeof buf) return llx_fail(LLX_ERR_INTERNAL, "config.json text too long");
    return llx_synth_write_file(out_dir, "config.json", buf, (size_t)n);
}

/* Llama 3's special tokens at offsets 0..10 after the BPE ids; the rest
 * are reserved_special_token_k. */
static void special_name(int i, char *buf, size_t cap)
{
    static const char *const named[11] = {
        "<|begin_of_text|>", "<|end_of_text|>", NULL, NULL, "<|finetune_right_pad_id|>", NULL,
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
    static const int reserved[11] = {0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0};
    if (i < 11 && named[i]) snprintf(buf, cap, "%s", named[i]);
    else snprintf(buf, cap, "<|reserved_special_token_%d|>", i < 11 ? reserved[i] : i - 8);
}

static json_t *added_tokens(int first)
{
    json_t *a = json_array();
    for (int i = 0; a && i < 256; i++) {
        char name[64];
        special_name(i, name, sizeof name);
        json_t *t = json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", first + i, "content", name, "single_word", 0,
                              "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
        if (!t || json_array_append_new(a, t)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *pre_tokenizer(void)
{
    static const char *const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type", "Sequence",
                     "pretokenizers", "type", "Split", "pattern", "Regex", regex, "behavior", "Isolated", "invert", 0,
                     "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
}

static json_t *post_processor(int bos)
{
    return json_pack("{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}, "
                     "{s:{s:s, s:i}}], s:{s:{s:s, s:[i], s:[s]}}}",
                     "type", "TemplateProcessing", "single", "SpecialToken", "id", "<|begin_of_text|>", "type_id", 0,
                     "Sequence", "id", "A", "type_id", 0, "pair", "SpecialToken", "id", "<|begin_of_text|>", "type_id",
                     0, "Sequence", "id", "A", "type_id", 0, "SpecialToken", "id", "<|begin_of_text|>", "type_id", 1,
                     "Sequence", "id", "B", "type_id", 1, "special_tokens", "<|begin_of_text|>", "id",
                     "<|begin_of_text|>", "ids", bos, "tokens", "<|begin_of_text|>");
}

/* merges.txt text (first line "#version: 0.2") -> ["a b", ...] */
static json_t *merge_list(const char *merges)
{
    json_t *a = json_array();
    const char *p = strchr(merges, '\n');
    for (p = p ? p + 1 : merges; a && *p;) {
        const char *e = strchr(p, '\n');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && json_array_append_new(a, json_stringn(p, len))) {
            json_decref(a);
            return NULL;
        }
        p += len + (e ? 1 : 0);
    }
    return a;
}

static json_t *bpe_model(const char *vocab_json, size_t vlen, const char *merges)
{
    json_t *vocab = json_loadb(vocab_json, vlen, 0, NULL), *m = merge_list(merges);
    if (!vocab || !m) {
        json_decref(vocab), json_decref(m);
        return NULL;
    }
    return json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout", "unk_token",
                     "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                     "ignore_merges", 1, "vocab", vocab, "merges", m);
}

llx_status llx_synth_llama_tokenizer(const char *out_dir, int n_vocab)
{
    const int n_bpe = n_vocab - 256;
    char *vocab = NULL, *merges = NULL;
    size_t vlen = 0, mlen = 0;
    LLX_TRY(llx_bpe_vocab_generate(n_bpe, &vocab, &vlen, &merges, &mlen));
    json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:{s:s, s:b, s:b, s:b}, s:o}", "version", "1.0",
                             "truncation", "padding", "added_tokens", added_tokens(n_bpe), "normalizer",
                             "pre_tokenizer", pre_tokenizer(), "post_processor", post_processor(n_bpe), "decoder",
                             "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model",
                             bpe_model(vocab, vlen, merges));
    free(vocab);
    free(merges);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) return llx_fail(LLX_ERR_NOMEM, "out of memory writing tokenizer.json");
    llx_status st = llx_synth_write_file(out_dir, "tokenizer.json", text, strlen(text));
    free(text);
    if (st != LLX_OK) return st;
    char cfg[512];
    const int n = snprintf(cfg, sizeof cfg,
                           "{\n  \"bos_token\": \"<|begin_of_text|>\",\n  \"eos_token\": \"<|end_of_text|>\",\n"
                           "  \"model_max_length\": 131072,\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\"\n}\n");
    return llx_synth_write_file(out_dir, "tokenizer_config.json", cfg, (size_t)n);
}
