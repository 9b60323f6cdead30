/* tests/test_tokenizer_load.c - tokenizer files built in memory: BPE merge
 * semantics against a naive transcription of encoder.py's loop (random merge
 * tables, including ones whose ranks are not in creation order), and every
 * class of malformed vocab.json / merges.txt (tokenizer_bad_*). */
#include <stdlib.h>
#include <string.h>

#include "llx/tokenizer.h"
#include "test.h"
#include "util/rng.h"

/* ---- building tokenizer files ---- */

/* GPT-2's byte alphabet: the code point that spells byte b. */
static unsigned spell(unsigned char b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    unsigned k = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) k++;
    return 256 + k;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *s, const char *x, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        s->cap = (s->n + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
    }
    memcpy(s->p + s->n, x, n);
    s->n += n;
    s->p[s->n] = 0;
}

static void puts_(sbuf *s, const char *x) { put(s, x, strlen(x)); }

/* Append raw token bytes spelled in the alphabet (JSON-escaped when json). */
static void put_spelled(sbuf *s, const char *bytes, size_t n, int json)
{
    for (size_t i = 0; i < n; i++) {
        unsigned cp = spell((unsigned char)bytes[i]);
        char u[3];
        if (cp < 0x80) {
            if (json && (cp == '"' || cp == '\\')) put(s, "\\", 1);
            u[0] = (char)cp;
            put(s, u, 1);
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            put(s, u, 2);
        }
    }
}

typedef struct tiny {
    char tokens[512][32]; /* raw bytes, NUL-free in these tests */
    int ntok;
    int ma[128], mb[128], nmerge;
} tiny;

static void tiny_init(tiny *t)
{
    memset(t, 0, sizeof *t);
    for (int b = 0; b < 256; b++) t->tokens[b][0] = (char)b; /* byte 0 is "" here: fixed below */
    t->ntok = 256;
}

static size_t tok_len(const tiny *t, int id) { return id == 0 ? 1 : strlen(t->tokens[id]); }

static int tiny_find(const tiny *t, const char *s, size_t n)
{
    for (int i = 0; i < t->ntok; i++)
        if (tok_len(t, i) == n && memcmp(t->tokens[i], s, n) == 0) return i;
    return -1;
}

/* Add merge (a, b) and the joined token; returns the merged id. */
static int tiny_merge(tiny *t, int a, int b)
{
    char buf[64];
    size_t la = tok_len(t, a), lb = tok_len(t, b);
    memcpy(buf, t->tokens[a], la);
    memcpy(buf + la, t->tokens[b], lb);
    int id = tiny_find(t, buf, la + lb);
    if (id < 0) {
        id = t->ntok++;
        memcpy(t->tokens[id], buf, la + lb);
    }
    t->ma[t->nmerge] = a;
    t->mb[t->nmerge] = b;
    t->nmerge++;
    return id;
}

static void tiny_files(const tiny *t, sbuf *vocab, sbuf *merges)
{
    memset(vocab, 0, sizeof *vocab);
    memset(merges, 0, sizeof *merges);
    puts_(vocab, "{");
    for (int i = 0; i < t->ntok; i++) {
        char num[32];
        puts_(vocab, i ? ", \"" : "\"");
        put_spelled(vocab, t->tokens[i], tok_len(t, i), 1);
        snprintf(num, sizeof num, "\": %d", i);
        puts_(vocab, num);
    }
    puts_(vocab, "}");
    puts_(merges, "#version: 0.2\n");
    for (int r = 0; r < t->nmerge; r++) {
        put_spelled(merges, t->tokens[t->ma[r]], tok_len(t, t->ma[r]), 0);
        puts_(merges, " ");
        put_spelled(merges, t->tokens[t->mb[r]], tok_len(t, t->mb[r]), 0);
        puts_(merges, "\n");
    }
}

/* ---- naive encoder.py BPE over token ids ---- */

static int naive_rank(const tiny *t, int a, int b)
{
    for (int r = 0; r < t->nmerge; r++)
        if (t->ma[r] == a && t->mb[r] == b) return r;
    return -1;
}

static int naive_bpe(const tiny *t, const char *s, int n, int *w)
{
    for (int i = 0; i < n; i++) w[i] = (unsigned char)s[i];
    for (;;) {
        int best = -1;
        for (int i = 0; i + 1 < n; i++) {
            int r = naive_rank(t, w[i], w[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r;
        }
        if (best < 0) return n;
        char buf[64];
        size_t la = tok_len(t, t->ma[best]), lb = tok_len(t, t->mb[best]);
        memcpy(buf, t->tokens[t->ma[best]], la);
        memcpy(buf + la, t->tokens[t->mb[best]], lb);
        int merged = tiny_find(t, buf, la + lb), k = 0;
        for (int i = 0; i < n;) {
            if (i + 1 < n && w[i] == t->ma[best] && w[i + 1] == t->mb[best]) w[k++] = merged, i += 2;
            else w[k++] = w[i++];
        }
        n = k;
    }
}

static llx_tokenizer *tiny_load(const tiny *t)
{
    sbuf v, m;
    tiny_files(t, &v, &m);
    llx_tokenizer *tk = NULL;
    if (llx_tokenizer_load_mem(&tk, v.p, v.n, m.p, m.n) != LLX_OK)
        llx_test_fail_at(__FILE__, __LINE__, "tiny load: %s", llx_errmsg());
    free(v.p);
    free(m.p);
    return tk;
}

TEST(tokenizer_bpe_matches_naive, LLX_T_ASAN)
{
    llx_rng r;
    llx_rng_seed(&r, 3);
    const char alpha[] = "abc";
    int compared = 0;
    for (int table = 0; table < 60; table++) {
        tiny t;
        tiny_init(&t);
        int pool[128] = {'a', 'b', 'c'}, npool = 3;
        int nm = 5 + (int)(llx_rng_u64(&r) % 40);
        for (int k = 0; k < nm && t.ntok < 500; k++) {
            int a = pool[llx_rng_u64(&r) % (uint64_t)npool], b = pool[llx_rng_u64(&r) % (uint64_t)npool];
            if (tok_len(&t, a) + tok_len(&t, b) > 24 || naive_rank(&t, a, b) >= 0) continue;
            int id = tiny_merge(&t, a, b);
            if (npool < 128) pool[npool++] = id;
        }
        if (table % 2) /* shuffle the ranks: later tokens may merge before they can exist */
            for (int i = t.nmerge - 1; i > 0; i--) {
                int j = (int)(llx_rng_u64(&r) % (uint64_t)(i + 1));
                int ta = t.ma[i], tb = t.mb[i];
                t.ma[i] = t.ma[j], t.mb[i] = t.mb[j];
                t.ma[j] = ta, t.mb[j] = tb;
            }
        llx_tokenizer *tk = tiny_load(&t);
        if (!tk) return;
        CHECK_EQ_INT(llx_tokenizer_vocab_size(tk), t.ntok);
        CHECK_EQ_INT(llx_tokenizer_merge_count(tk), t.nmerge);
        for (int k = 0; k < 60; k++) {
            char s[400];
            int n = 1 + (int)(llx_rng_u64(&r) % (k < 50 ? 40 : sizeof s));
            for (int i = 0; i < n; i++) s[i] = alpha[llx_rng_u64(&r) % 3];
            int want[400], nw = naive_bpe(&t, s, n, want);
            int *ids = NULL, ni = 0;
            CHECK(llx_tokenize(tk, s, (size_t)n, &ids, &ni) == LLX_OK);
            int same = ni == nw && memcmp(ids, want, (size_t)nw * sizeof *ids) == 0;
            CHECK_MSG(same, "table %d: '%.*s' gives %d ids, naive %d", table, n, s, ni, nw);
            compared += same;
            free(ids);
        }
        llx_tokenizer_free(tk);
    }
    CHECK_EQ_INT(compared, 60 * 60);
}

TEST(tokenizer_load_mem_tiny, LLX_T_ASAN)
{
    tiny t;
    tiny_init(&t);
    int th = tiny_merge(&t, 't', 'h');
    int the = tiny_merge(&t, th, 'e');
    tiny_merge(&t, ' ', th);
    llx_tokenizer *tk = tiny_load(&t);
    if (!tk) return;
    CHECK_EQ_INT(llx_tokenizer_find(tk, "the", 3), the);
    int *ids = NULL, n = 0;
    CHECK(llx_tokenize(tk, "the the", 7, &ids, &n) == LLX_OK);
    /* " the": ' '+'th' (rank 2) happens after 'th'+'e' (rank 1) took the 'th' */
    CHECK_EQ_INT(n, 3);
    if (n == 3) CHECK(ids[0] == the && ids[1] == ' ' && ids[2] == the);
    free(ids);
    llx_tokenizer_free(tk);
    /* merges.txt without a #version line, with CRLF and blank lines */
    sbuf v, m;
    tiny_files(&t, &v, &m);
    const char *alt = "t h\r\n\r\nth e\r\n\n";
    CHECK(llx_tokenizer_load_mem(&tk, v.p, v.n, alt, strlen(alt)) == LLX_OK);
    if (tk) CHECK_EQ_INT(llx_tokenizer_merge_count(tk), 2);
    llx_tokenizer_free(tk);
    free(v.p);
    free(m.p);
}

/* ---- malformed files ---- */

/* Load with vocab.json = the tiny vocab with `extra` spliced in before the
 * closing brace (or `vocab` verbatim when given) and merges.txt `merges`;
 * check the failure names the file and contains `want`. */
static void expect_bad(const char *vocab, const char *extra, const char *merges, const char *file, const char *want)
{
    tiny t;
    tiny_init(&t);
    tiny_merge(&t, 'a', 'b');
    sbuf v, m;
    tiny_files(&t, &v, &m);
    if (vocab) {
        v.n = 0;
        puts_(&v, vocab);
    } else if (extra) {
        v.n--; /* drop '}' */
        puts_(&v, ", ");
        puts_(&v, extra);
        puts_(&v, "}");
    }
    const char *mt = merges ? merges : m.p;
    llx_tokenizer *tk = (llx_tokenizer *)1;
    llx_status st = llx_tokenizer_load_mem(&tk, v.p, v.n, mt, strlen(mt));
    const char *msg = llx_errmsg();
    CHECK_MSG(st == LLX_ERR_FORMAT && tk == NULL, "expected a format error containing '%s' (status %d)", want, st);
    CHECK_MSG(strncmp(msg, file, strlen(file)) == 0 && strstr(msg, want) && !strchr(msg, '\n'),
              "message '%s' should name %s and say '%s'", msg, file, want);
    if (st == LLX_OK) llx_tokenizer_free(tk);
    free(v.p);
    free(m.p);
}

TEST(tokenizer_bad_vocab_json, LLX_T_ASAN)
{
    expect_bad("not json", NULL, NULL, "vocab.json", "line 1");
    expect_bad("{\"a\": 0", NULL, NULL, "vocab.json", "line 1");
    expect_bad("[1, 2]", NULL, NULL, "vocab.json", "expected an object");
    expect_bad("{}", NULL, NULL, "vocab.json", "0 tokens");
    expect_bad("{\"a\": 0}", NULL, NULL, "vocab.json", "no token for the single byte 0x00");
    expect_bad(NULL, "\"a\": 257", NULL, "vocab.json", "duplicate");
}

TEST(tokenizer_bad_vocab_ids, LLX_T_ASAN)
{
    expect_bad(NULL, "\"zz\": \"257\"", NULL, "vocab.json", "not an integer");
    expect_bad(NULL, "\"zz\": 257.0", NULL, "vocab.json", "not an integer");
    expect_bad(NULL, "\"zz\": 999", NULL, "vocab.json", "outside 0..257");
    expect_bad(NULL, "\"zz\": -1", NULL, "vocab.json", "outside");
    expect_bad(NULL, "\"zz\": 5", NULL, "vocab.json", "id 5 is used twice");
    expect_bad(NULL, "\"zz\": 256", NULL, "vocab.json", "used twice");
}

TEST(tokenizer_bad_vocab_tokens, LLX_T_ASAN)
{
    expect_bad(NULL, "\"\": 257", NULL, "vocab.json", "empty token");
    expect_bad(NULL, "\"x\\u0000y\": 257", NULL, "vocab.json", "NUL"); /* jansson rejects NUL in keys */
    expect_bad(NULL, "\"\\u00ad\": 257", NULL, "vocab.json", "outside GPT-2's byte alphabet");
    expect_bad(NULL, "\"\xe6\x97\xa5\": 257", NULL, "vocab.json", "outside GPT-2's byte alphabet");
    expect_bad(NULL, "\"tab\\there\": 257", NULL, "vocab.json", "tab\\x09here");
    expect_bad(NULL, "\"\\u0100\": 257", NULL, "vocab.json", "duplicate object key"); /* = byte 0x00 spelled raw */
}

TEST(tokenizer_bad_merges, LLX_T_ASAN)
{
    expect_bad(NULL, NULL, "#version: 0.2\na b c\n", "merges.txt", "line 2: expected two tokens");
    expect_bad(NULL, NULL, "a\n", "merges.txt", "line 1: expected two tokens");
    expect_bad(NULL, NULL, "a b\nb a\n", "merges.txt", "line 2: the merge of 'b a' is not in the vocabulary");
    expect_bad(NULL, NULL, "zz a\n", "merges.txt", "token 'zz' is not in the vocabulary");
    expect_bad(NULL, NULL, "a b\na b\n", "merges.txt", "line 2: duplicate merge 'a b' (also merge #1)");
    expect_bad(NULL, NULL, "\xff b\n", "merges.txt", "outside GPT-2's byte alphabet");
    expect_bad(NULL, NULL, "\xe6\x97\xa5 b\n", "merges.txt", "outside GPT-2's byte alphabet");
    expect_bad(NULL, NULL, "a b\n#version: 0.2\n", "merges.txt", "line 2");
}

TEST(tokenizer_bad_files, LLX_T_ASAN)
{
    llx_tokenizer *tk = (llx_tokenizer *)1;
    const char *missing = llx_test_tmpfile("no-such-vocab.json");
    CHECK(llx_tokenizer_load(&tk, missing, missing) == LLX_ERR_IO && tk == NULL);
    CHECK(strstr(llx_errmsg(), "no-such-vocab.json") != NULL);
    /* a real file's errors carry its path */
    const char *vp = llx_test_tmpfile("vocab.json"), *mp = llx_test_tmpfile("merges.txt");
    FILE *f = fopen(vp, "w");
    fputs("{\"a\": 0}", f);
    fclose(f);
    f = fopen(mp, "w");
    fclose(f);
    CHECK(llx_tokenizer_load(&tk, vp, mp) == LLX_ERR_FORMAT && tk == NULL);
    CHECK(strncmp(llx_errmsg(), vp, strlen(vp)) == 0);
    llx_tokenizer_free(NULL);
}
