/* tokenizer/hf_config.c - what a tokenizer.json model folder says beside
 * tokenizer.json: tokenizer_config.json (bos_token, eos_token, chat_template,
 * and add_bos_token/add_eos_token for the Llama tokenizer classes, which
 * rebuild the post-processor from them), generation_config.json and the
 * model's config.json (eos_token_id: one id or a list, all ending
 * generation). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/status.h"

static void add_stop(llx_tokenizer *t, int id)
{
    if (id < 0 || id >= t->n_vocab || llx_tokenizer_is_eog(t, id) || t->n_stops == TOK_MAX_STOPS) return;
    t->stops[t->n_stops++] = id;
}

/* A token named by tokenizer_config.json: a string or {"content": ...}.
 * *id = -1 when the key is absent or null. */
static llx_status named_token(llx_tokenizer *t, json_t *cfg, const char *key, const char *name, int *id)
{
    *id = -1;
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!v || json_is_null(v)) return LLX_OK;
    if (!json_is_string(v)) return llx_fail(LLX_ERR_FORMAT, "%s: \"%s\" must be a string", name, key);
    *id = llx_tokenizer_find(t, json_string_value(v), json_string_length(v));
    if (*id < 0) {
        char what[64];
        return llx_fail(LLX_ERR_FORMAT, "%s: %s '%s' is not a token of tokenizer.json", name, key,
                        tok_show(json_string_value(v), json_string_length(v), what, sizeof what));
    }
    return LLX_OK;
}

static llx_status chat_template(llx_tokenizer *t, json_t *cfg, const char *name)
{
    json_t *ct = json_object_get(cfg, "chat_template"), *item;
    if (json_is_array(ct)) { /* [{"name": ..., "template": ...}]: the default one */
        size_t i;
        json_t *found = NULL;
        json_array_foreach(ct, i, item)
        {
            const char *n = json_string_value(json_object_get(item, "name"));
            if (n && !strcmp(n, "default")) found = json_object_get(item, "template");
        }
        ct = found;
    }
    if (!ct || json_is_null(ct)) return LLX_OK;
    if (!json_is_string(ct))
        return llx_fail(LLX_ERR_FORMAT, "%s: \"chat_template\" must be a string or a list of named templates", name);
    t->chat_template = strndup(json_string_value(ct), json_string_length(ct));
    return t->chat_template ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
}

static llx_status read_config(llx_tokenizer *t, json_t *cfg, const char *name)
{
    if (!json_is_object(cfg)) return llx_fail(LLX_ERR_FORMAT, "%s: expected an object", name);
    int bos, eos;
    LLX_TRY(named_token(t, cfg, "bos_token", name, &bos));
    LLX_TRY(named_token(t, cfg, "eos_token", name, &eos));
    if (bos >= 0) t->bos = bos;
    if (eos >= 0) t->eos = eos;
    const char *cls = json_string_value(json_object_get(cfg, "tokenizer_class"));
    if (cls && (!strcmp(cls, "LlamaTokenizerFast") || !strcmp(cls, "LlamaTokenizer"))) {
        json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
        t->n_pre = (!ab || json_is_true(ab)) && t->bos >= 0; /* the class's default adds BOS */
        t->frame_pre[0] = t->bos;
        t->n_post = json_is_true(ae) && t->eos >= 0;
        t->frame_post[0] = t->eos;
    }
    return chat_template(t, cfg, name);
}

static llx_status read_generation(llx_tokenizer *t, json_t *gen, const char *name)
{
    json_t *e = json_object_get(gen, "eos_token_id"), *v;
    if (!json_is_object(gen)) return llx_fail(LLX_ERR_FORMAT, "%s: expected an object", name);
    if (json_is_integer(e)) {
        add_stop(t, (int)json_integer_value(e));
        return LLX_OK;
    }
    size_t i;
    json_array_foreach(e, i, v) if (json_is_integer(v)) add_stop(t, (int)json_integer_value(v));
    return LLX_OK;
}

static llx_status parse(const char *text, size_t len, const char *name, json_t **out)
{
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out) return llx_fail(LLX_ERR_FORMAT, "%s: line %d column %d: %s", name, jerr.line, jerr.column, jerr.text);
    return LLX_OK;
}

/* eos_token_id (one id or a list) of a JSON document, when it is an object */
static llx_status read_eos_ids(llx_tokenizer *t, const char *text, size_t len, const char *name)
{
    json_t *j = NULL;
    LLX_TRY(parse(text, len, name, &j));
    llx_status st = read_generation(t, j, name);
    json_decref(j);
    return st;
}

llx_status tok_hf_configs(llx_tokenizer *t, const llx_tokenizer_files *f, const char *cfg_name, const char *gen_name,
                          const char *model_name)
{
    if (t->n_pre > 0 && t->special[t->frame_pre[0]]) t->bos = t->frame_pre[0];
    json_t *j = NULL;
    llx_status st = LLX_OK;
    if (f->config) {
        st = parse(f->config, f->config_len, cfg_name, &j);
        if (st == LLX_OK) st = read_config(t, j, cfg_name);
        json_decref(j);
    }
    add_stop(t, t->eos);
    if (st == LLX_OK && f->generation) st = read_eos_ids(t, f->generation, f->generation_len, gen_name);
    if (st == LLX_OK && f->model_config) st = read_eos_ids(t, f->model_config, f->model_config_len, model_name);
    static const char *const enders[] = {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>"};
    for (size_t i = 0; i < sizeof enders / sizeof *enders; i++) {
        int id = llx_tokenizer_find(t, enders[i], strlen(enders[i]));
        if (id >= 0 && t->special[id]) add_stop(t, id);
    }
    return st;
}
