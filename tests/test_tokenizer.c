/* tests/test_tokenizer.c - the GPT-2 tokenizer against the references:
 * the model folder's golden ids (../shared), the committed fixture of hard
 * and random strings (tests/fixtures/tokenizer_cases.json, ids from npm
 * gpt-3-encoder and an encoder.py re-implementation), the invalid-UTF-8
 * rule, round trips, speed on long inputs, thread safety and the UTF-8
 * stream (these four on the repository model's tokenizer when ../shared is
 * absent).  Loading errors and BPE semantics are in test_tokenizer_load.c. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "llx/tokenizer.h"
#include "golden.h"
#include "test.h"
#include "tokenizer/tok_internal.h"
#include "util/rng.h"
#include "util/timer.h"

/* The shakespeare-gpt2 tokenizer, loaded once (NULL when ../shared is absent). */
static const llx_tokenizer *shared_tok(void)
{
    static llx_tokenizer *t;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *v = llx_test_shared("models/shakespeare-gpt2/vocab.json");
        const char *m = llx_test_shared("models/shakespeare-gpt2/merges.txt");
        if (v && m && llx_tokenizer_load(&t, v, m) != LLX_OK) {
            llx_test_fail_at(__FILE__, __LINE__, "load: %s", llx_errmsg());
            t = NULL;
        }
    }
    return t;
}

/* For the properties any byte-level BPE must have (round trips, the
 * invalid-UTF-8 rule, long inputs, threads): the shared tokenizer when
 * present, else the repository's reference model's (same byte ids). */
static const llx_tokenizer *any_tok(void)
{
    static llx_tokenizer *t;
    if (shared_tok()) return shared_tok();
    if (!t) {
        char v[512], m[512];
        snprintf(v, sizeof v, "%s/vocab.json", golden_repo_model());
        snprintf(m, sizeof m, "%s/merges.txt", golden_repo_model());
        if (llx_tokenizer_load(&t, v, m) != LLX_OK) llx_test_fail_at(__FILE__, __LINE__, "load: %s", llx_errmsg());
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

/* Every {"text", "ids"} of array `cases` (and the decode back to text);
 * returns the count checked. */
static int check_cases(const llx_tokenizer *t, const json_t *cases)
{
    return golden_check_tokenizer(t, cases, "case");
}

TEST(tokenizer_golden_cases, LLX_T_ASAN)
{
    const llx_tokenizer *t = shared_tok();
    const char *p = llx_test_shared("models/shakespeare-gpt2/golden/tokenizer_cases.json");
    if (!t || !p) SKIP("shakespeare-gpt2 not found");
    CHECK_EQ_INT(llx_tokenizer_vocab_size(t), 50257);
    CHECK_EQ_INT(llx_tokenizer_merge_count(t), 50000);
    json_t *j = load_json(p);
    if (!j) return;
    CHECK_EQ_INT(check_cases(t, json_object_get(j, "cases")), 30);
    json_decref(j);
}

TEST(tokenizer_golden_prompts, LLX_T_ASAN)
{
    const llx_tokenizer *t = shared_tok();
    const char *p = llx_test_shared("models/shakespeare-gpt2/golden/prompts.json");
    if (!t || !p) SKIP("shakespeare-gpt2 not found");
    json_t *j = load_json(p);
    if (!j) return;
    CHECK(check_cases(t, json_object_get(j, "prompts")) >= 6);
    json_decref(j);
}

TEST(tokenizer_golden_valid_txt, LLX_T_ASAN)
{
    const llx_tokenizer *t = shared_tok();
    const char *p = llx_test_shared("models/shakespeare-gpt2/golden/nll.json");
    const char *v = llx_test_shared("data/tinyshakespeare/valid.txt");
    if (!t || !p || !v) SKIP("shakespeare-gpt2 / tinyshakespeare not found");
    json_t *j = load_json(p);
    size_t len;
    char *text = llx_test_read(v, &len);
    if (!text) json_decref(j);
    REQUIRE(j && text);
    const json_t *want = json_object_get(j, "token_ids");
    CHECK_EQ_INT(json_array_size(want), 4096);
    int *ids = NULL, n = 0;
    double t0 = llx_now_s();
    CHECK(llx_tokenize(t, text, len, &ids, &n) == LLX_OK);
    double dt = llx_now_s() - t0;
    llx_test_note("valid.txt: %zu bytes -> %d tokens in %.1f ms", len, n, dt * 1e3);
    CHECK(n >= 4096);
    int bad = -1;
    for (int i = 0; i < 4096 && i < n && bad < 0; i++)
        if (ids[i] != (int)json_integer_value(json_array_get(want, (size_t)i))) bad = i;
    CHECK_MSG(bad < 0, "valid.txt id %d differs", bad);
    char *back = NULL;
    size_t blen = 0;
    CHECK(llx_detokenize(t, ids, n, &back, &blen) == LLX_OK);
    CHECK(blen == len && memcmp(back, text, len) == 0);
    free(back);
    free(ids);
    free(text);
    json_decref(j);
}

TEST(tokenizer_train_txt_speed)
{
    const llx_tokenizer *t = shared_tok();
    const char *v = llx_test_shared("data/tinyshakespeare/train.txt");
    if (!t || !v) SKIP("tinyshakespeare not found");
    size_t len;
    char *text = llx_test_read(v, &len);
    int *ids = NULL, n = 0;
    double t0 = llx_now_s();
    CHECK(llx_tokenize(t, text, len, &ids, &n) == LLX_OK);
    double dt = llx_now_s() - t0;
    llx_test_note("train.txt: %zu bytes -> %d tokens in %.1f ms", len, n, dt * 1e3);
    CHECK(n > 200000 && n < (int)len);
    free(ids);
    free(text);
}

/* The committed fixture; its "divergent" strings follow encoder.py. */
TEST(tokenizer_fixture_cases, LLX_T_ASAN)
{
    const llx_tokenizer *t = shared_tok();
    if (!t) SKIP("shakespeare-gpt2 vocabulary not found");
    json_t *j = load_json("tests/fixtures/tokenizer_cases.json");
    if (!j) return;
    int n = check_cases(t, json_object_get(j, "cases"));
    int d = check_cases(t, json_object_get(j, "divergent"));
    CHECK(n >= 500);
    CHECK(d >= 4);
    json_decref(j);
}

/* PCRE2's interpreter (used where JIT is unavailable or runs out of stack)
 * must give the same pieces as the JIT, also on 1 MB runs. */
TEST(tokenizer_no_jit, LLX_T_ASAN)
{
    const char *v = llx_test_shared("models/shakespeare-gpt2/vocab.json");
    const char *m = llx_test_shared("models/shakespeare-gpt2/merges.txt");
    if (!v || !m) SKIP("shakespeare-gpt2 vocabulary not found");
    llx_tokenizer *t = NULL;
    CHECK(llx_tokenizer_load(&t, v, m) == LLX_OK);
    if (!t) return;
    t->pretok.jit = 0;
    json_t *j = load_json("tests/fixtures/tokenizer_cases.json");
    CHECK(check_cases(t, json_object_get(j, "cases")) >= 500);
    json_decref(j);
    static const char *units[] = {"a", " ", "\n", "7", ".", "\xc2\xa0 ", " \n"};
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        size_t ul = strlen(units[u]);
        for (size_t i = 0; i < n; i++) s[i] = units[u][i % ul];
        s[n] = 'x';
        int *a = NULL, *b = NULL, na = 0, nb = 0;
        t->pretok.jit = 0;
        CHECK(llx_tokenize(t, s, n + 1, &a, &na) == LLX_OK);
        t->pretok.jit = shared_tok() ? shared_tok()->pretok.jit : 0;
        CHECK(llx_tokenize(t, s, n + 1, &b, &nb) == LLX_OK);
        CHECK_MSG(na == nb && na > 0 && memcmp(a, b, (size_t)na * sizeof *a) == 0, "unit %zu differs", u);
        free(a), free(b);
    }
    llx_test_note("JIT %s on this machine", shared_tok() && shared_tok()->pretok.jit ? "available" : "unavailable");
    free(s);
    llx_tokenizer_free(t);
}

/* ---- invalid UTF-8 ---- */

static int *tok(const llx_tokenizer *t, const char *s, size_t len, int *n)
{
    int *ids = NULL;
    *n = -1;
    CHECK(llx_tokenize(t, s, len, &ids, n) == LLX_OK);
    return ids;
}

/* tokenize(a + bad + b) == tokenize(a) + one byte token per bad byte + tokenize(b) */
static void check_invalid_rule(const llx_tokenizer *t, const char *a, const char *bad, const char *b)
{
    size_t la = strlen(a), lbad = strlen(bad), lb = strlen(b);
    char buf[256];
    memcpy(buf, a, la);
    memcpy(buf + la, bad, lbad);
    memcpy(buf + la + lbad, b, lb);
    int n, na, nb;
    int *ids = tok(t, buf, la + lbad + lb, &n), *ia = tok(t, a, la, &na), *ib = tok(t, b, lb, &nb);
    int ok = n == na + (int)lbad + nb;
    for (int i = 0; ok && i < na; i++) ok = ids[i] == ia[i];
    for (size_t i = 0; ok && i < lbad; i++) {
        size_t bl;
        const char *bytes = llx_token_bytes(t, ids[na + (int)i], &bl);
        ok = bl == 1 && bytes[0] == bad[i];
    }
    for (int i = 0; ok && i < nb; i++) ok = ids[na + (int)lbad + i] == ib[i];
    CHECK_MSG(ok, "invalid-UTF-8 rule broken for '%s' + %zu bad bytes + '%s'", a, lbad, b);
    free(ids), free(ia), free(ib);
}

TEST(tokenizer_invalid_utf8, LLX_T_ASAN)
{
    const llx_tokenizer *t = any_tok();
    REQUIRE(t);
    static const char *bad[] = {
        "\xff", "\xfe\xff", "\x80", "\x80\x80\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc0\xaf",
        "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
        "\xc2", "\xc1\xbf", "\xe2\x28\xa1",
    };
    /* \xe2\x28\xa1: \xe2 is bad, '(' is text, \xa1 is bad: check the pieces by hand below */
    for (size_t i = 0; i + 1 < sizeof bad / sizeof *bad; i++) {
        check_invalid_rule(t, "Hello", bad[i], " world");
        check_invalid_rule(t, "a  ", bad[i], "  b");
        check_invalid_rule(t, "it", bad[i], "'s");
        check_invalid_rule(t, "", bad[i], "");
        check_invalid_rule(t, "caf\xc3\xa9", bad[i], "\xe2\x98\x83");
    }
    int n;
    int *ids = tok(t, "\xe2(\xa1", 3, &n);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_INT(ids[0], 158); /* byte 0xe2 */
        CHECK_EQ_INT(ids[1], 7);   /* "(" */
        CHECK_EQ_INT(ids[2], 94);  /* byte 0xa1 */
    }
    free(ids);
    /* a space before a bad byte is at the end of its run: "\s+(?!\S)" takes it alone */
    int n1, n2;
    int *x = tok(t, "a \xff", 3, &n1), *y = tok(t, "a ", 2, &n2);
    CHECK(n1 == n2 + 1 && x[0] == y[0] && x[1] == y[1]);
    free(x), free(y);
}

/* ---- round trips ---- */

static void check_roundtrip(const llx_tokenizer *t, const char *s, size_t len)
{
    int *ids = NULL, n = 0;
    char *back = NULL;
    size_t blen = 0;
    int ok = llx_tokenize(t, s, len, &ids, &n) == LLX_OK && llx_detokenize(t, ids, n, &back, &blen) == LLX_OK &&
             blen == len && memcmp(back, s, len) == 0 && back[blen] == 0;
    CHECK_MSG(ok, "round trip of %zu bytes failed", len);
    free(ids);
    free(back);
}

TEST(tokenizer_roundtrip, LLX_T_ASAN)
{
    const llx_tokenizer *t = any_tok();
    REQUIRE(t);
#define S(x) {x, sizeof x - 1}
    static const struct {
        const char *s;
        size_t n;
    } fixed[] = {
        S(""), S(" "), S("\n"), S("Hello world"), S("\xff\xfe"), S("a\x00" "b"), S("\xed\xa0\x80\xed\xb0\x80"),
        S("\xf0\x9f\x98\x80\xf0\x9f"), S("caf\xc3\xa9\xcc\x81"), S("   \r\n\t\xc2\xa0\xe3\x80\x80x"), S("<|endoftext|>"),
    };
#undef S
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_roundtrip(t, fixed[i].s, fixed[i].n);
    json_t *j = load_json("tests/fixtures/tokenizer_cases.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "cases"), i, c) {
        const json_t *s = json_object_get(c, "text");
        check_roundtrip(t, json_string_value(s), json_string_length(s));
    }
    json_decref(j);
    /* random bytes, random bytes biased to UTF-8 lead/continuation bytes, and
     * random splices of valid characters */
    llx_rng r;
    llx_rng_seed(&r, 7);
    static const char *frag[] = {"a", " ", "  ", "'s", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\xe2\x80\x8d",
                                 "\n", "\r\n", "1", "!", "\xcc\x81", "\xc2\xa0", "\x80", "\xf0", "\xe2\x82"};
    char buf[512];
    for (int k = 0; k < 3000; k++) {
        size_t len = llx_rng_u64(&r) % sizeof buf;
        int mode = k % 3;
        size_t w = 0;
        while (w < len) {
            uint64_t x = llx_rng_u64(&r);
            if (mode == 0) buf[w++] = (char)x;
            else if (mode == 1) buf[w++] = (char)(x & 1 ? 0x80 | (x >> 8 & 0x7f) : x >> 8);
            else {
                const char *f = frag[x % (sizeof frag / sizeof *frag)];
                size_t fl = strlen(f);
                if (w + fl > len) break;
                memcpy(buf + w, f, fl);
                w += fl;
            }
        }
        check_roundtrip(t, buf, w);
    }
}

/* ---- long inputs ---- */

/* "well under a second" for 1 MB; sanitizer builds run several times slower */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LONG_INPUT_LIMIT_S 5.0
#else
#define LONG_INPUT_LIMIT_S 1.0
#endif

static void check_long(const llx_tokenizer *t, const char *name, const char *unit, size_t total, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail), n = total / ul * ul;
    char *s = malloc(n + tl);
    for (size_t i = 0; i < n; i += ul) memcpy(s + i, unit, ul);
    memcpy(s + n, tail, tl);
    int *ids = NULL, k = 0;
    double t0 = llx_now_s();
    CHECK(llx_tokenize(t, s, n + tl, &ids, &k) == LLX_OK);
    double dt = llx_now_s() - t0;
    char *back = NULL;
    size_t bl = 0;
    CHECK(llx_detokenize(t, ids, k, &back, &bl) == LLX_OK && bl == n + tl && memcmp(back, s, bl) == 0);
    llx_test_note("%-22s %7zu bytes -> %7d tokens in %6.1f ms", name, n + tl, k, dt * 1e3);
    CHECK_MSG(dt < LONG_INPUT_LIMIT_S, "%s took %.2f s", name, dt);
    free(back);
    free(ids);
    free(s);
}

TEST(tokenizer_long_inputs, LLX_T_ASAN)
{
    const llx_tokenizer *t = any_tok();
    REQUIRE(t);
    const size_t mb = 1 << 20;
    check_long(t, "letters", "a", mb, "");
    check_long(t, "spaces then word", " ", mb, "word");
    check_long(t, "spaces then newline", " ", mb, "\n");
    check_long(t, "digits", "7", mb, "");
    check_long(t, "punctuation", ".", mb, "");
    check_long(t, "newlines", "\n", mb, "x");
    check_long(t, "cjk", "\xe6\x97\xa5", mb, "");
    check_long(t, "combining marks", "\xcc\x81", mb, "");
    check_long(t, "emoji zwj", "\xf0\x9f\x91\xa8\xe2\x80\x8d", mb, "");
    check_long(t, "invalid bytes", "\xff", mb, "");
    check_long(t, "words", "the quick brown fox's 42 jumps!\n", mb, "");
    check_long(t, "nbsp + spaces", "\xc2\xa0  ", mb, "z");
}

/* ---- thread safety ---- */

typedef struct tok_job {
    const llx_tokenizer *t;
    const char *text;
    size_t len;
    int *ids;
    int n;
} tok_job;

static void *tok_thread(void *arg)
{
    tok_job *j = arg;
    for (int rep = 0; rep < 3; rep++) {
        free(j->ids);
        if (llx_tokenize(j->t, j->text, j->len, &j->ids, &j->n) != LLX_OK) j->n = -1;
    }
    return NULL;
}

TEST(tokenizer_threads, LLX_T_ASAN | LLX_T_TSAN)
{
    /* valid.txt with ../shared, else the reference model's calib.txt */
    const llx_tokenizer *t = any_tok();
    const char *v = llx_test_shared("data/tinyshakespeare/valid.txt");
    char calib[512];
    snprintf(calib, sizeof calib, "%s/calib.txt", golden_repo_model());
    size_t len;
    char *text = llx_test_read(v ? v : calib, &len);
    REQUIRE(t && text);
    int *ref = NULL, nref = 0;
    CHECK(llx_tokenize(t, text, len, &ref, &nref) == LLX_OK);
    tok_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (tok_job){t, text, len, NULL, 0};
        CHECK(pthread_create(&th[i], NULL, tok_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].n == nref && memcmp(jobs[i].ids, ref, (size_t)nref * sizeof *ref) == 0);
        free(jobs[i].ids);
    }
    free(ref);
    free(text);
}

/* ---- token bytes / detokenize edges ---- */

TEST(tokenizer_token_bytes, LLX_T_ASAN)
{
    const llx_tokenizer *t = shared_tok();
    if (!t) SKIP("shakespeare-gpt2 vocabulary not found");
    size_t len = 99;
    CHECK(llx_token_bytes(t, -1, &len) == NULL && len == 0);
    CHECK(llx_token_bytes(t, 50257, NULL) == NULL);
    const char *b = llx_token_bytes(t, 50256, &len);
    CHECK(b && len == 13 && memcmp(b, "<|endoftext|>", 13) == 0);
    CHECK_EQ_INT(llx_tokenizer_find(t, "<|endoftext|>", 13), 50256);
    CHECK_EQ_INT(llx_tokenizer_find(t, " world", 6), 995);
    CHECK_EQ_INT(llx_tokenizer_find(t, "\x00", 1), 188);
    CHECK_EQ_INT(llx_tokenizer_find(t, "no such token here", 18), -1);
    int ids[] = {15496, 50257};
    char *out = (char *)1;
    CHECK(llx_detokenize(t, ids, 2, &out, &len) == LLX_ERR_ARG && out == NULL);
    CHECK(strstr(llx_errmsg(), "50257") != NULL);
    CHECK(llx_detokenize(t, NULL, 0, &out, &len) == LLX_OK && len == 0 && out && out[0] == 0);
    free(out);
    int *none = (int *)1, n = 5;
    CHECK(llx_tokenize(t, "", 0, &none, &n) == LLX_OK && n == 0 && none == NULL);
}

/* ---- UTF-8 stream ---- */

/* Push s[0..n) split at the given cut points; returns the output. */
static size_t stream_run(const char *s, size_t n, const size_t *cuts, int ncut, char *out, int *held_too_long)
{
    llx_utf8_stream st = {0};
    size_t w = 0, from = 0;
    *held_too_long = 0;
    for (int c = 0; c <= ncut; c++) {
        size_t to = c < ncut ? cuts[c] : n;
        w += llx_utf8_stream_push(&st, s + from, to - from, out + w);
        if (st.npend > 3) *held_too_long = 1;
        from = to;
    }
    w += llx_utf8_stream_flush(&st, out + w);
    return w;
}

/* 1 when out[0..n) splits into whole well-formed characters only */
static int whole_chars(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + need > n) return 0;
        i += need;
    }
    return 1;
}

TEST(tokenizer_utf8_stream_splits, LLX_T_ASAN)
{
    /* valid text: every split point of every character, and every pair of cuts */
    const char *s = "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80z\xe2\x80\x8d\xf4\x8f\xbf\xbf";
    size_t n = strlen(s);
    char out[64];
    for (size_t c1 = 0; c1 <= n; c1++)
        for (size_t c2 = c1; c2 <= n; c2++) {
            size_t cuts[2] = {c1, c2};
            int held;
            size_t w = stream_run(s, n, cuts, 2, out, &held);
            CHECK(w == n && memcmp(out, s, n) == 0 && !held);
        }
    /* each push of valid text yields whole characters only */
    llx_utf8_stream st = {0};
    for (size_t i = 0; i < n; i++) {
        size_t w = llx_utf8_stream_push(&st, s + i, 1, out);
        CHECK(whole_chars(out, w));
    }
    CHECK_EQ_INT(llx_utf8_stream_flush(&st, out), 0);
}

TEST(tokenizer_utf8_stream_invalid, LLX_T_ASAN)
{
    char out[64];
    llx_utf8_stream st = {0};
    /* bytes that can never start a character come out at once */
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xff", 1, out), 1);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\x80", 1, out), 1);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xc0", 1, out), 1);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xf5", 1, out), 1);
    /* a lead is held, then released with the byte that proves it invalid */
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xe2", 1, out), 0);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "A", 1, out), 2);
    CHECK(memcmp(out, "\xe2" "A", 2) == 0);
    /* surrogate and overlong second bytes are rejected immediately */
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xed\xa0", 2, out), 2);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xe0\x80", 2, out), 2);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xf4\x90", 2, out), 2);
    /* a held prefix followed by a new lead: the prefix goes, the lead is held */
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xf0\x9f\xe6", 3, out), 2);
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\x97\xa5", 2, out), 3);
    CHECK(memcmp(out, "\xe6\x97\xa5", 3) == 0);
    /* flush returns an unfinished character */
    CHECK_EQ_INT(llx_utf8_stream_push(&st, "\xf0\x9f\x98", 3, out), 0);
    CHECK_EQ_INT(llx_utf8_stream_flush(&st, out), 3);
    CHECK_EQ_INT(st.npend, 0);
    /* random bytes in random chunks: output == input, nothing held > 3 */
    llx_rng r;
    llx_rng_seed(&r, 11);
    char in[256], got[256 + 8];
    for (int k = 0; k < 2000; k++) {
        size_t n = llx_rng_u64(&r) % sizeof in;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = llx_rng_u64(&r);
            in[i] = (char)(x & 3 ? 0x80 | (x >> 8 & 0x7f) : x >> 8);
        }
        size_t cuts[4];
        for (int c = 0; c < 4; c++) cuts[c] = n ? llx_rng_u64(&r) % (n + 1) : 0;
        for (int a = 0; a < 4; a++) /* sort */
            for (int b = a + 1; b < 4; b++)
                if (cuts[b] < cuts[a]) {
                    size_t tmp = cuts[a];
                    cuts[a] = cuts[b], cuts[b] = tmp;
                }
        int held;
        size_t w = stream_run(in, n, cuts, 4, got, &held);
        CHECK(w == n && memcmp(got, in, n) == 0 && !held);
    }
}
