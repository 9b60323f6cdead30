/* tokenizer/hf_pipeline.c - the pipeline sections of tokenizer.json:
 *   normalizer      null only;
 *   pre_tokenizer   Split (Regex or String pattern, any behavior, invert),
 *                   ByteLevel (add_prefix_space, use_regex), and Sequence of
 *                   these, with ByteLevel present and last;
 *   post_processor  null, ByteLevel, TemplateProcessing (its "single"
 *                   template), and Sequence of these;
 *   decoder         ByteLevel.
 * Anything else is refused with one line naming the unsupported part. */
#include <jansson.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/status.h"

static const char *type_of(json_t *o)
{
    json_t *t = json_object_get(o, "type");
    return json_is_string(t) ? json_string_value(t) : "(no type)";
}

static llx_status split_mode(const char *b, tok_split_mode *m, const char *name)
{
    static const struct {
        const char *name;
        tok_split_mode mode;
    } modes[] = {{"Isolated", TOK_SPLIT_ISOLATED},        {"Removed", TOK_SPLIT_REMOVED},
                 {"MergedWithPrevious", TOK_SPLIT_MERGED_PREV}, {"MergedWithNext", TOK_SPLIT_MERGED_NEXT},
                 {"Contiguous", TOK_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; b && i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(b, modes[i].name)) {
            *m = modes[i].mode;
            return LLX_OK;
        }
    return llx_fail(LLX_ERR_FORMAT, "%s: Split behavior '%s' is not supported", name, b ? b : "(none)");
}

static llx_status add_split(llx_tokenizer *t, json_t *p, const char *name)
{
    tok_step *s = &t->steps[t->n_steps];
    json_t *pat = json_object_get(p, "pattern");
    json_t *re = json_object_get(pat, "Regex"), *str = json_object_get(pat, "String");
    if (!json_is_string(re) && !json_is_string(str))
        return llx_fail(LLX_ERR_FORMAT, "%s: Split needs a pattern {\"Regex\": ...} or {\"String\": ...}", name);
    LLX_TRY(split_mode(json_string_value(json_object_get(p, "behavior")), &s->mode, name));
    s->invert = json_is_true(json_object_get(p, "invert"));
    json_t *src = re ? re : str;
    LLX_TRY(tok_pretok_compile(&s->re, json_string_value(src), json_string_length(src), re == NULL, name));
    s->has_re = 1;
    t->n_steps++;
    return LLX_OK;
}

static llx_status add_bytelevel(llx_tokenizer *t, json_t *p, const char *name)
{
    tok_step *s = &t->steps[t->n_steps];
    s->prefix_space = json_is_true(json_object_get(p, "add_prefix_space"));
    json_t *ur = json_object_get(p, "use_regex");
    if (!ur || json_is_true(ur)) { /* GPT-2's pattern, built into the ByteLevel pre-tokenizer */
        static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
        LLX_TRY(tok_pretok_compile(&s->re, gpt2, sizeof gpt2 - 1, 0, name));
        s->has_re = 1;
        s->mode = TOK_SPLIT_ISOLATED;
    }
    t->n_steps++;
    return LLX_OK;
}

static llx_status add_pretok(llx_tokenizer *t, json_t *p, int depth, int *bytelevel, const char *name)
{
    const char *type = type_of(p);
    if (*bytelevel) return llx_fail(LLX_ERR_FORMAT, "%s: a pre-tokenizer after ByteLevel is not supported", name);
    if (!strcmp(type, "Sequence") && depth < 4) {
        json_t *list = json_object_get(p, "pretokenizers"), *q;
        size_t i;
        if (!json_is_array(list)) return llx_fail(LLX_ERR_FORMAT, "%s: Sequence needs \"pretokenizers\"", name);
        json_array_foreach(list, i, q) LLX_TRY(add_pretok(t, q, depth + 1, bytelevel, name));
        return LLX_OK;
    }
    if (t->n_steps == TOK_MAX_STEPS) return llx_fail(LLX_ERR_FORMAT, "%s: too many pre-tokenizers", name);
    if (!strcmp(type, "Split")) return add_split(t, p, name);
    if (!strcmp(type, "ByteLevel")) {
        *bytelevel = 1;
        return add_bytelevel(t, p, name);
    }
    return llx_fail(LLX_ERR_FORMAT, "%s: pre-tokenizer '%s' is not supported (Split, ByteLevel, Sequence are)", name,
                    type);
}

/* TemplateProcessing's "single": the ids around sequence A. */
static llx_status add_template(llx_tokenizer *t, json_t *p, const char *name)
{
    json_t *single = json_object_get(p, "single"), *specials = json_object_get(p, "special_tokens"), *item;
    if (!json_is_array(single)) return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing needs \"single\"", name);
    int seen_a = 0;
    size_t i;
    t->n_pre = t->n_post = 0;
    json_array_foreach(single, i, item)
    {
        json_t *seq = json_object_get(item, "Sequence"), *sp = json_object_get(item, "SpecialToken");
        if (seq) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (!id || strcmp(id, "A") != 0 || seen_a++)
                return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing \"single\" must hold sequence A once", name);
            continue;
        }
        const char *key = json_string_value(json_object_get(sp, "id"));
        json_t *ids = json_object_get(json_object_get(specials, key ? key : ""), "ids"), *v;
        if (!key || !json_is_array(ids))
            return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing token '%s' is not in \"special_tokens\"", name,
                            key ? key : "(none)");
        size_t k;
        json_array_foreach(ids, k, v)
        {
            int *n = seen_a ? &t->n_post : &t->n_pre;
            json_int_t id = json_integer_value(v);
            if (!json_is_integer(v) || id < 0 || id >= t->n_vocab)
                return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing token '%s' has an id outside the vocabulary",
                                name, key);
            if (*n == TOK_MAX_FRAME) return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing adds too many tokens", name);
            (seen_a ? t->frame_post : t->frame_pre)[(*n)++] = (int)id;
        }
    }
    if (!seen_a) return llx_fail(LLX_ERR_FORMAT, "%s: TemplateProcessing \"single\" must hold sequence A once", name);
    return LLX_OK;
}

static llx_status add_post(llx_tokenizer *t, json_t *p, int depth, const char *name)
{
    if (!p || json_is_null(p)) return LLX_OK;
    const char *type = type_of(p);
    if (!strcmp(type, "Sequence") && depth < 4) {
        json_t *list = json_object_get(p, "processors"), *q;
        size_t i;
        if (!json_is_array(list)) return llx_fail(LLX_ERR_FORMAT, "%s: Sequence needs \"processors\"", name);
        json_array_foreach(list, i, q) LLX_TRY(add_post(t, q, depth + 1, name));
        return LLX_OK;
    }
    if (!strcmp(type, "ByteLevel")) return LLX_OK; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) return add_template(t, p, name);
    return llx_fail(LLX_ERR_FORMAT, "%s: post-processor '%s' is not supported (TemplateProcessing, ByteLevel are)", name,
                    type);
}

llx_status tok_hf_pipeline(llx_tokenizer *t, json_t *root, const char *name)
{
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm))
        return llx_fail(LLX_ERR_FORMAT, "%s: normalizer '%s' is not supported", name, type_of(norm));
    json_t *pre = json_object_get(root, "pre_tokenizer");
    int bytelevel = 0;
    if (pre && !json_is_null(pre)) LLX_TRY(add_pretok(t, pre, 0, &bytelevel, name));
    if (!bytelevel)
        return llx_fail(LLX_ERR_FORMAT, "%s: no ByteLevel pre-tokenizer (only byte-level BPE is supported)", name);
    json_t *dec = json_object_get(root, "decoder");
    if (!dec || json_is_null(dec) || strcmp(type_of(dec), "ByteLevel") != 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: decoder '%s' is not supported (ByteLevel is)", name,
                        dec && !json_is_null(dec) ? type_of(dec) : "null");
    return add_post(t, json_object_get(root, "post_processor"), 0, name);
}
