/* tests/test_tokenizer_hf.c - tokenizer.json (HF tokenizers format) against
 * independent references: the committed fixture (tests/fixtures/hf_tokenizer:
 * a tiny BPE with added tokens, the Llama 3 Split regex and ignore_merges,
 * ids and decodings from HF tokenizers 0.22 for 400 strings and for 18
 * pre-tokenizer variants), and, when ../shared is present, the real Llama 3
 * tokenizer of tinyllama-shakespeare (its golden cases and prompt ids, and
 * train.txt's ids, whose count and hash came from HF tokenizers).
 * Loading errors are in test_tokenizer_hf_load.c. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "llx/tokenizer.h"
#include "test.h"
#include "util/status.h"

#define FIXTURE "tests/fixtures/hf_tokenizer"

static llx_tokenizer *load_fixture(void)
{
    llx_tokenizer *t = NULL;
    if (llx_tokenizer_load_dir(&t, FIXTURE) != LLX_OK) {
        llx_test_fail_at(__FILE__, __LINE__, "load: %s", llx_errmsg());
        return NULL;
    }
    return t;
}

/* The tinyllama-shakespeare tokenizer, loaded once (NULL when absent). */
static const llx_tokenizer *llama_tok(void)
{
    static llx_tokenizer *t;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *d = llx_test_shared("models/tinyllama-shakespeare/tokenizer.json");
        if (d && llx_tokenizer_load_hf(&t, llx_test_shared("models/tinyllama-shakespeare")) != LLX_OK) {
            llx_test_fail_at(__FILE__, __LINE__, "load: %s", llx_errmsg());
            t = NULL;
        }
    }
    return t;
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &e);
    if (!j) llx_test_fail_at(__FILE__, __LINE__, "%s: %s", path, e.text);
    return j;
}

/* Encode text with flags and compare with the json array want. */
static int same_ids(const llx_tokenizer *t, json_t *text, unsigned flags, const json_t *want)
{
    int *ids = NULL, n = 0;
    if (llx_tokenize_ex(t, json_string_value(text), json_string_length(text), flags, &ids, &n) != LLX_OK) {
        llx_test_fail_at(__FILE__, __LINE__, "tokenize failed: %s", llx_errmsg());
        return 0;
    }
    int ok = (size_t)n == json_array_size(want);
    for (int i = 0; ok && i < n; i++) ok = ids[i] == (int)json_integer_value(json_array_get(want, (size_t)i));
    free(ids);
    return ok;
}

/* Decoding want's ids gives the string `decoded`. */
static int same_text(const llx_tokenizer *t, const json_t *ids_j, const json_t *decoded)
{
    int n = (int)json_array_size(ids_j), *ids = malloc(((size_t)n + 1) * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int)json_integer_value(json_array_get(ids_j, (size_t)i));
    char *text = NULL;
    size_t len = 0;
    int ok = llx_detokenize(t, ids, n, &text, &len) == LLX_OK && len == json_string_length(decoded) &&
             memcmp(text, json_string_value(decoded), len) == 0;
    free(text);
    free(ids);
    return ok;
}

TEST(tokenizer_hf_fixture_cases, LLX_T_ASAN)
{
    llx_tokenizer *t = load_fixture();
    json_t *j = load_json(FIXTURE "/cases.json");
    if (!t || !j) goto out;
    json_t *cases = json_object_get(j, "cases"), *c;
    size_t i, good = 0;
    json_array_foreach(cases, i, c)
    {
        json_t *text = json_object_get(c, "text");
        int ok = same_ids(t, text, 0, json_object_get(c, "ids")) &&
                 same_ids(t, text, LLX_TOK_ADD_SPECIAL, json_object_get(c, "ids_special")) &&
                 same_text(t, json_object_get(c, "ids"), json_object_get(c, "decoded"));
        if (!ok && good + 5 > i) llx_test_fail_at(__FILE__, __LINE__, "case %zu differs", i);
        good += ok;
    }
    CHECK_EQ_INT(good, 400);
    CHECK_EQ_INT(json_array_size(cases), 400);
out:
    json_decref(j);
    llx_tokenizer_free(t);
}

/* Each pre-tokenizer variant replaces the fixture's; ids as HF gives them. */
TEST(tokenizer_hf_fixture_variants, LLX_T_ASAN)
{
    size_t len;
    char *base = llx_test_read(FIXTURE "/tokenizer.json", &len);
    json_t *j = load_json(FIXTURE "/variants.json"), *tok = base ? json_loadb(base, len, 0, NULL) : NULL;
    free(base);
    if (!j || !tok) goto out;
    json_t *vs = json_object_get(j, "variants"), *v;
    size_t i, good = 0, total = 0;
    json_array_foreach(vs, i, v)
    {
        json_object_set(tok, "pre_tokenizer", json_object_get(v, "pre_tokenizer"));
        char *s = json_dumps(tok, JSON_COMPACT);
        llx_tokenizer_files f = {.json = s, .json_len = strlen(s)};
        llx_tokenizer *t = NULL;
        CHECK_MSG(llx_tokenizer_load_hf_mem(&t, &f) == LLX_OK, "variant %zu: %s", i, llx_errmsg());
        json_t *c;
        size_t k;
        json_array_foreach(json_object_get(v, "cases"), k, c)
        {
            int ok = t && same_ids(t, json_object_get(c, "text"), 0, json_object_get(c, "ids"));
            CHECK_MSG(ok, "variant %zu case %zu differs", i, k);
            good += ok, total++;
        }
        llx_tokenizer_free(t);
        free(s);
    }
    CHECK_EQ_INT(json_array_size(vs), 18);
    CHECK_EQ_INT(good, total);
out:
    json_decref(tok);
    json_decref(j);
}

TEST(tokenizer_hf_fixture_specials, LLX_T_ASAN)
{
    llx_tokenizer *t = load_fixture();
    if (!t) return;
    CHECK(llx_tokenizer_is_hf(t));
    CHECK_EQ_INT(llx_tokenizer_vocab_size(t), 567);
    CHECK_EQ_INT(llx_tokenizer_merge_count(t), 300);
    CHECK_EQ_INT(llx_tokenizer_bos(t), 559);
    CHECK_EQ_INT(llx_tokenizer_eos(t), 560);
    int eot = llx_tokenizer_find(t, "<|eot_id|>", 10), ns = llx_tokenizer_find(t, "[NS]", 4);
    CHECK_EQ_INT(eot, 561);
    CHECK(llx_tokenizer_is_eog(t, eot) && llx_tokenizer_is_eog(t, 560) && llx_tokenizer_is_eog(t, 563));
    CHECK(!llx_tokenizer_is_eog(t, 559) && !llx_tokenizer_is_eog(t, 65) && !llx_tokenizer_is_eog(t, -1));
    CHECK(llx_tokenizer_is_special(t, eot) && !llx_tokenizer_is_special(t, ns) && !llx_tokenizer_is_special(t, 65));
    CHECK(ns == 566 && llx_tokenizer_find(t, "<|a|>b", 6) == 565);
    size_t n = 0;
    const char *b = llx_token_bytes(t, eot, &n);
    CHECK(n == 10 && memcmp(b, "<|eot_id|>", 10) == 0);
    const char *ct = llx_tokenizer_chat_template(t);
    CHECK(ct && strstr(ct, "<|im_start|>"));
    /* special tokens as plain text: no added id, and the text comes back;
     * the non-special [NS] is still matched */
    const char *text = "a<|eot_id|>b[NS]";
    int *ids = NULL, k = 0;
    CHECK(llx_tokenize_ex(t, text, strlen(text), LLX_TOK_SPECIAL_AS_TEXT, &ids, &k) == LLX_OK);
    int added = 0, saw_ns = 0;
    for (int i = 0; i < k; i++) added += ids[i] >= 559 && ids[i] != ns, saw_ns += ids[i] == ns;
    CHECK(added == 0 && saw_ns == 1 && k > 4);
    char *back = NULL;
    size_t bl = 0;
    CHECK(llx_detokenize(t, ids, k, &back, &bl) == LLX_OK && bl == strlen(text) && !memcmp(back, text, bl));
    free(back);
    free(ids);
    llx_tokenizer_free(t);
}

/* ignore_merges: " kingdom" is a vocabulary entry no merge builds. */
TEST(tokenizer_hf_ignore_merges, LLX_T_ASAN)
{
    size_t len;
    char *s = llx_test_read(FIXTURE "/tokenizer.json", &len);
    if (!s) return;
    char *flag = strstr(s, "\"ignore_merges\": true");
    CHECK(flag != NULL);
    for (int pass = 0; flag && pass < 2; pass++) {
        if (pass) memcpy(flag, "\"ignore_merges\":false", 21);
        llx_tokenizer_files f = {.json = s, .json_len = len};
        llx_tokenizer *t = NULL;
        CHECK(llx_tokenizer_load_hf_mem(&t, &f) == LLX_OK);
        int *ids = NULL, n = 0;
        if (t) CHECK(llx_tokenize(t, " kingdom", 8, &ids, &n) == LLX_OK);
        CHECK(pass ? n > 1 : n == 1 && ids[0] == 556);
        free(ids);
        llx_tokenizer_free(t);
    }
    free(s);
}

/* Invalid UTF-8: a bad byte is its own byte token, the runs around it are
 * encoded alone, and decoding restores the bytes. */
TEST(tokenizer_hf_invalid_utf8, LLX_T_ASAN)
{
    llx_tokenizer *t = load_fixture();
    if (!t) return;
    const char a[] = "The king", bad[] = "\xff\xc3", b[] = "<|eot_id|>castle";
    char all[64];
    size_t na = strlen(a), nb = strlen(b);
    memcpy(all, a, na);
    memcpy(all + na, bad, 2);
    memcpy(all + na + 2, b, nb);
    int *x = NULL, *y = NULL, *z = NULL, nx = 0, ny = 0, nz = 0;
    CHECK(llx_tokenize(t, all, na + 2 + nb, &x, &nx) == LLX_OK);
    CHECK(llx_tokenize(t, a, na, &y, &ny) == LLX_OK);
    CHECK(llx_tokenize(t, b, nb, &z, &nz) == LLX_OK);
    CHECK_EQ_INT(nx, ny + 2 + nz);
    if (nx == ny + 2 + nz) {
        CHECK(!memcmp(x, y, (size_t)ny * sizeof *x) && !memcmp(x + ny + 2, z, (size_t)nz * sizeof *x));
        CHECK(x[ny] == 0xff && x[ny + 1] == 0xc3); /* the fixture's byte tokens are ids 0..255 */
    }
    char *back = NULL;
    size_t bl = 0;
    CHECK(llx_detokenize(t, x, nx, &back, &bl) == LLX_OK && bl == na + 2 + nb && !memcmp(back, all, bl));
    free(back), free(x), free(y), free(z);
    llx_tokenizer_free(t);
}

typedef struct thr_arg {
    const llx_tokenizer *t;
    int ok;
} thr_arg;

static void *encode_many(void *p)
{
    thr_arg *a = p;
    const char *text = "<|begin_of_text|>To be, or not to be: that is the question 1234 日本語\n\n";
    int *ref = NULL, nr = 0;
    a->ok = llx_tokenize_ex(a->t, text, strlen(text), LLX_TOK_ADD_SPECIAL, &ref, &nr) == LLX_OK;
    for (int i = 0; i < 200 && a->ok; i++) {
        int *ids = NULL, n = 0;
        a->ok = llx_tokenize_ex(a->t, text, strlen(text), LLX_TOK_ADD_SPECIAL, &ids, &n) == LLX_OK && n == nr &&
                !memcmp(ids, ref, (size_t)n * sizeof *ids);
        free(ids);
    }
    free(ref);
    return NULL;
}

TEST(tokenizer_hf_threads, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_tokenizer *t = load_fixture();
    if (!t) return;
    pthread_t th[3];
    thr_arg a[3];
    for (int i = 0; i < 3; i++) a[i] = (thr_arg){t, 0}, pthread_create(&th[i], NULL, encode_many, &a[i]);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(a[i].ok);
    }
    llx_tokenizer_free(t);
}

/* ---- the real Llama 3 tokenizer (../shared) ---- */

TEST(tokenizer_hf_llama_golden_cases, LLX_T_ASAN)
{
    const llx_tokenizer *t = llama_tok();
    const char *p = llx_test_shared("models/tinyllama-shakespeare/golden/tokenizer_cases.json");
    if (!t || !p) SKIP("tinyllama-shakespeare not found");
    CHECK_EQ_INT(llx_tokenizer_vocab_size(t), 128256);
    CHECK_EQ_INT(llx_tokenizer_merge_count(t), 280147);
    CHECK_EQ_INT(llx_tokenizer_bos(t), 128000);
    CHECK_EQ_INT(llx_tokenizer_eos(t), 128001);
    CHECK(llx_tokenizer_is_eog(t, 128009) && llx_tokenizer_is_eog(t, 128001) && !llx_tokenizer_is_eog(t, 128000));
    json_t *j = load_json(p);
    if (!j) return;
    json_t *c;
    size_t i, good = 0;
    json_array_foreach(json_object_get(j, "cases"), i, c)
    {
        int ok = same_ids(t, json_object_get(c, "text"), 0, json_object_get(c, "ids")) &&
                 same_text(t, json_object_get(c, "ids"), json_object_get(c, "decoded"));
        CHECK_MSG(ok, "golden case %zu differs", i);
        good += ok;
    }
    CHECK_EQ_INT(good, 30);
    json_decref(j);
}

TEST(tokenizer_hf_llama_golden_prompts, LLX_T_ASAN)
{
    const llx_tokenizer *t = llama_tok();
    const char *p = llx_test_shared("models/tinyllama-shakespeare/golden/prompts.json");
    if (!t || !p) SKIP("tinyllama-shakespeare not found");
    json_t *j = load_json(p);
    if (!j) return;
    json_t *c;
    size_t i, good = 0;
    json_array_foreach(json_object_get(j, "prompts"), i, c)
    {
        int ok = same_ids(t, json_object_get(c, "text"), LLX_TOK_ADD_SPECIAL, json_object_get(c, "input_ids"));
        CHECK_MSG(ok, "prompt %zu differs", i);
        good += ok;
    }
    CHECK_EQ_INT(good, 6);
    json_decref(j);
}

/* train.txt (1 MB): 270,305 ids whose FNV-1a hash (ids as 4-byte little
 * endian) was computed from HF tokenizers' output; decoding restores it. */
TEST(tokenizer_hf_llama_train_txt, LLX_T_ASAN)
{
    const llx_tokenizer *t = llama_tok();
    const char *p = llx_test_shared("data/tinyshakespeare/train.txt");
    if (!t || !p) SKIP("tinyllama-shakespeare / tinyshakespeare not found");
    size_t len;
    char *text = llx_test_read(p, &len);
    int *ids = NULL, n = 0;
    CHECK(text && llx_tokenize(t, text, len, &ids, &n) == LLX_OK);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)ids[i] >> (8 * k)) & 0xff)) * 0x100000001b3ull;
    CHECK_EQ_INT(n, 270305);
    CHECK_MSG(h == 0xaca26fbae4a1ee1dull, "hash %llx", (unsigned long long)h);
    char *back = NULL;
    size_t bl = 0;
    CHECK(llx_detokenize(t, ids, n, &back, &bl) == LLX_OK && bl == len && !memcmp(back, text, len));
    free(back), free(ids), free(text);
}
