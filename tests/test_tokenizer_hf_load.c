/* tests/test_tokenizer_hf_load.c - tokenizer.json loading: every refusal is
 * one line naming the file and what is not supported or wrong, and the
 * Oniguruma -> PCRE2 regex translation. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "llx/tokenizer.h"
#include "test.h"
#include "tokenizer/tok_internal.h"
#include "util/status.h"

/* The fixture's tokenizer.json with one change: the value at a dotted path
 * ("model.type", "added_tokens.7.id") replaced by value (JSON text), removed
 * when value is NULL, or, for a path starting with '+', inserted first into
 * the array at the path. */
static char *patched(const char *path, const char *value)
{
    json_t *root = json_load_file("tests/fixtures/hf_tokenizer/tokenizer.json", 0, NULL), *node = root;
    json_t *v = value ? json_loads(value, JSON_DECODE_ANY, NULL) : NULL;
    int insert = path[0] == '+';
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path + insert);
    char *key = buf, *dot;
    while (node && (dot = strchr(key, '.'))) {
        *dot = 0;
        node = json_is_array(node) ? json_array_get(node, (size_t)atoi(key)) : json_object_get(node, key);
        key = dot + 1;
    }
    int ok = node && (value == NULL || v);
    if (ok && insert) ok = json_array_insert_new(json_object_get(node, key), 0, v) == 0;
    else if (ok && json_is_array(node)) ok = json_array_set_new(node, (size_t)atoi(key), v) == 0;
    else if (ok && v) ok = json_object_set_new(node, key, v) == 0;
    else if (ok) ok = json_object_del(node, key) == 0;
    char *s = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    if (!ok) llx_test_fail_at(__FILE__, __LINE__, "cannot patch %s", path);
    json_decref(root);
    return s;
}

/* Loading json (+ config) fails with one line containing want. */
static int refused(const char *json, const char *config, const char *want)
{
    if (!json) return 0;
    llx_tokenizer_files f = {.json = json, .json_len = strlen(json), .config = config,
                             .config_len = config ? strlen(config) : 0};
    llx_tokenizer *t = NULL;
    llx_status st = llx_tokenizer_load_hf_mem(&t, &f);
    const char *msg = llx_errmsg();
    int ok = st != LLX_OK && !t && strstr(msg, want) && !strchr(msg, '\n');
    if (!ok) llx_test_note("wanted '%s', got '%s'", want, st == LLX_OK ? "(loaded)" : msg);
    llx_tokenizer_free(t);
    return ok;
}

static int refused_patch(const char *path, const char *value, const char *want)
{
    char *s = patched(path, value);
    int ok = refused(s, NULL, want);
    free(s);
    return ok;
}

TEST(tokenizer_hf_bad_model, LLX_T_ASAN)
{
    CHECK(refused("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", NULL,
                  "tokenizer.json: model type 'WordPiece' is not supported (only byte-level BPE)"));
    CHECK(refused_patch("model.type", "\"Unigram\"", "model type 'Unigram' is not supported"));
    CHECK(refused_patch("model.byte_fallback", "true", "byte_fallback (SentencePiece style)"));
    CHECK(refused_patch("model.continuing_subword_prefix", "\"##\"", "\"continuing_subword_prefix\" is not supported"));
    CHECK(refused_patch("model.dropout", "0.1", "\"dropout\" is not supported"));
    CHECK(refused("{\"a\": 1", NULL, "tokenizer.json: line 1"));
    CHECK(refused("[1, 2]", NULL, "expected an object with a \"model\" object"));
    CHECK(refused_patch("model.ignore_merges", "3", "\"ignore_merges\" must be true or false"));
}

TEST(tokenizer_hf_bad_vocab, LLX_T_ASAN)
{
    CHECK(refused_patch("model.vocab.a", "\"x\"", "id of token 'a' is not an integer"));
    CHECK(refused_patch("model.vocab.a", "98", "id 98 is used twice"));
    CHECK(refused_patch("model.vocab.a", "9999", "id 97 has no token"));
    CHECK(refused_patch("model.vocab.a", "-1", "id -1 of token 'a' is outside"));
    CHECK(refused_patch("model.vocab.a", "99999999", "id 99999999 of token 'a' is outside"));
    CHECK(refused_patch("model.vocab", "5", "\"model.vocab\" must be a non-empty object"));
    /* id 97 spelled "a a" (a space is outside the byte alphabet: never a BPE
     * symbol), so byte 0x61 has no token */
    char *s = patched("model.vocab.a", NULL);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    json_object_set_new(json_object_get(json_object_get(j, "model"), "vocab"), "a a", json_integer(97));
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    CHECK(out && refused(out, NULL, "no vocabulary token for the single byte 0x61"));
    free(out);
    json_decref(j);
    free(s);
}

TEST(tokenizer_hf_bad_merges, LLX_T_ASAN)
{
    CHECK(refused_patch("+model.merges", "[\"a\", \"zzz\"]", "merge 0: token 'zzz' is not in the vocabulary"));
    CHECK(refused_patch("+model.merges", "[\"q\", \"j\"]", "merge 0: 'q' + 'j' is not in the vocabulary"));
    CHECK(refused_patch("+model.merges", "\"a b c\"", "merge 0 is not two tokens separated by one space"));
    CHECK(refused_patch("+model.merges", "7", "merge 0 must be a string \"a b\" or a pair [a, b]"));
    CHECK(refused_patch("model.merges.5", "[\"\\u0120\", \"t\"]", "merge 5: '\xc4\xa0' + 't' repeats merge 0"));
    CHECK(refused_patch("model.merges", "{}", "\"model.merges\" must be an array"));
}

TEST(tokenizer_hf_bad_added, LLX_T_ASAN)
{
    CHECK(refused_patch("added_tokens.7.single_word", "true",
                        "added token '[NS]' uses \"single_word\", which is not supported"));
    CHECK(refused_patch("added_tokens.7.lstrip", "true", "uses \"lstrip\""));
    CHECK(refused_patch("added_tokens.7.id", "97", "added token '[NS]' reuses id 97 of a different vocabulary token"));
    CHECK(refused_patch("added_tokens.7.id", "\"x\"", "added_tokens[7] needs an integer \"id\""));
    CHECK(refused_patch("added_tokens.7.id", "600", "id 566 has no token"));
    CHECK(refused_patch("added_tokens", "{}", "\"added_tokens\" must be an array"));
}

TEST(tokenizer_hf_bad_pipeline, LLX_T_ASAN)
{
    const char *llama = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    char re[256];
    CHECK(refused_patch("normalizer", "{\"type\": \"NFC\"}", "normalizer 'NFC' is not supported"));
    CHECK(refused_patch("pre_tokenizer.pretokenizers.0.type", "\"Metaspace\"",
                        "pre-tokenizer 'Metaspace' is not supported (Split, ByteLevel, Sequence are)"));
    CHECK(refused_patch("pre_tokenizer.pretokenizers.0.behavior", "\"Sideways\"", "Split behavior 'Sideways' is not supported"));
    CHECK(refused_patch("pre_tokenizer.pretokenizers.0.pattern", "{\"Glob\": \"*\"}", "Split needs a pattern"));
    CHECK(refused_patch("pre_tokenizer", "null", "no ByteLevel pre-tokenizer"));
    struct {
        const char *re, *want;
    } bad[] = {{"\\\\w", "regex escape '\\w' is not supported"},
               {"(?m)", "regex group '(?m)...' is not supported"},
               {"[a[b]]", "nested character classes"},
               {"[^\\\\S]", "regex escape '\\S' is not supported inside a character class"},
               {"((", "Split pattern does not compile"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(re, sizeof re, "{\"Regex\": \"%s%s\"}", bad[i].re, llama);
        CHECK_MSG(refused_patch("pre_tokenizer.pretokenizers.0.pattern", re, bad[i].want), "%s", bad[i].re);
    }
    CHECK(refused_patch("pre_tokenizer.pretokenizers.0.pattern", "{\"String\": \"\"}", "Split pattern is an empty string"));
    CHECK(refused_patch("decoder.type", "\"WordPiece\"", "decoder 'WordPiece' is not supported"));
    CHECK(refused_patch("decoder", "null", "decoder 'null' is not supported"));
    CHECK(refused_patch("post_processor.processors.1.type", "\"RobertaProcessing\"",
                        "post-processor 'RobertaProcessing' is not supported"));
    CHECK(refused_patch("post_processor.processors.1.single.0.SpecialToken.id", "\"<|nope|>\"",
                        "TemplateProcessing token '<|nope|>' is not in \"special_tokens\""));
    CHECK(refused_patch("post_processor.processors.1.single.1.Sequence.id", "\"B\"",
                        "TemplateProcessing \"single\" must hold sequence A once"));
    /* ByteLevel must be last: a Split after it would see the byte alphabet */
    CHECK(refused_patch("+pre_tokenizer.pretokenizers", "{\"type\": \"ByteLevel\"}",
                        "a pre-tokenizer after ByteLevel is not supported"));
}

TEST(tokenizer_hf_bad_config, LLX_T_ASAN)
{
    size_t len;
    char *s = llx_test_read("tests/fixtures/hf_tokenizer/tokenizer.json", &len);
    if (!s) return;
    CHECK(refused(s, "{\"eos_token\": \"</s>\"}", "tokenizer_config.json: eos_token '</s>' is not a token"));
    CHECK(refused(s, "{\"bos_token\": 5}", "tokenizer_config.json: \"bos_token\" must be a string"));
    CHECK(refused(s, "{\"chat_template\": 5}", "\"chat_template\" must be a string or a list"));
    CHECK(refused(s, "[", "tokenizer_config.json: line 1"));
    /* accepted: {"content": ...} tokens, named templates, Llama classes' add_bos_token */
    const char *cfg = "{\"bos_token\": {\"content\": \"<|im_start|>\"}, \"tokenizer_class\": \"LlamaTokenizerFast\","
                      " \"add_bos_token\": true, \"add_eos_token\": true, \"eos_token\": \"<|im_end|>\","
                      " \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}";
    const char *gen = "{\"eos_token_id\": [97, 98]}";
    const char *model = "{\"architectures\": [\"LlamaForCausalLM\"], \"eos_token_id\": [99, 100]}";
    llx_tokenizer_files f = {s, len, cfg, strlen(cfg), gen, strlen(gen), model, strlen(model)};
    llx_tokenizer *t = NULL;
    CHECK(llx_tokenizer_load_hf_mem(&t, &f) == LLX_OK);
    if (t) {
        CHECK_EQ_INT(llx_tokenizer_bos(t), 562);
        CHECK_EQ_INT(llx_tokenizer_eos(t), 563);
        CHECK(llx_tokenizer_is_eog(t, 97) && llx_tokenizer_is_eog(t, 98) && llx_tokenizer_is_eog(t, 563));
        /* config.json's eos_token_id (a list here) ends generation too */
        CHECK(llx_tokenizer_is_eog(t, 99) && llx_tokenizer_is_eog(t, 100) && !llx_tokenizer_is_eog(t, 101));
        CHECK(strcmp(llx_tokenizer_chat_template(t), "D") == 0);
        int *ids = NULL, n = 0;
        CHECK(llx_tokenize_ex(t, "a", 1, LLX_TOK_ADD_SPECIAL, &ids, &n) == LLX_OK);
        CHECK(n == 3 && ids[0] == 562 && ids[1] == 97 && ids[2] == 563);
        free(ids);
    }
    llx_tokenizer_free(t);
    /* ... and as a single id, with no generation_config.json */
    const char *model1 = "{\"eos_token_id\": 101}";
    llx_tokenizer_files f1 = {s, len, NULL, 0, NULL, 0, model1, strlen(model1)};
    t = NULL;
    CHECK(llx_tokenizer_load_hf_mem(&t, &f1) == LLX_OK);
    CHECK(t && llx_tokenizer_is_eog(t, 101) && !llx_tokenizer_is_eog(t, 99));
    llx_tokenizer_free(t);
    free(s);
}

TEST(tokenizer_hf_regex_translate, LLX_T_ASAN)
{
    struct {
        const char *in, *out_has;
    } ok[] = {
        {"\\s+", "[\\t\\n\\x0b\\f\\r \\x{85}"},
        {"\\S", "[^\\t\\n"},
        {"[^\\r\\n\\p{L}\\p{N}]?", "[^\\r\\n\\p{L}\\x{1c89}"},
        {"\\p{N}{1,3}", "[\\p{N}\\x{10d40}"},
        {"\\P{L}", "[^\\p{L}\\x{1c89}"},
        {"^a$", "(?m:^)a(?m:$)"},
        {"\\v", "\\x0b"},
        {"[]a]", "[]a]"},
        {"\\p{Lu}", "\\p{Lu}"},
        {"(?<name>x)\\x{41}\\.", "(?<name>x)\\x{41}\\."},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *o = tok_regex_translate(ok[i].in, strlen(ok[i].in), "t");
        CHECK_MSG(o && strstr(o, ok[i].out_has), "%s -> %s", ok[i].in, o ? o : llx_errmsg());
        free(o);
    }
    const char *bad[][2] = {{"\\w", "escape '\\w'"}, {"\\b", "escape '\\b'"}, {"\\h", "escape '\\h'"},
                            {"(?x)a", "group '(?x)"}, {"[a&&b]", "'&&'"}, {"[abc", "unclosed"}, {"a\\", "ends with a backslash"},
                            {"[\\P{L}]", "inside a character class"}, {"\\Qa\\E", "escape '\\Q'"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *o = tok_regex_translate(bad[i][0], strlen(bad[i][0]), "t");
        CHECK_MSG(!o && strstr(llx_errmsg(), bad[i][1]), "%s: %s", bad[i][0], o ? o : llx_errmsg());
        free(o);
    }
}
