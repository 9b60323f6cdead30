/* model/bpe_vocab.c - see bpe_vocab.h.  Small and quadratic on purpose: the
 * training text is a few kilobytes, so counting every pair afresh for each
 * merge costs milliseconds. */
#include "model/bpe_vocab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

/* Written for this generator: plain English with the usual mix of short
 * function words, contractions, numbers, punctuation and line breaks. */
static const char training_text[] =
    "The river runs past the old mill and under the stone bridge, where the town meets the fields.\n"
    "In the morning the people of the town walk down to the water to see what the night has left on the bank. "
    "Some of them find wood, some find nothing at all, and a few come back with a story they will tell for years.\n\n"
    "It was the first time that she had been there, and she did not know the way. "
    "He said that he would show her where the road turns, but he was late, so she went on alone. "
    "There is a long path from the house to the hill, and at the end of it you can see the whole valley.\n"
    "We don't think that they're coming back today; it's been a long week and we've all had enough of the rain. "
    "I'm sure you'll find them at the inn, where they'd gone to wait for the weather to change.\n\n"
    "A number of small changes were made over the years: in 1907 the bridge was rebuilt, in 1958 the mill "
    "was closed, and by 2004 only 12 of the 300 houses still had their first roofs. "
    "Each of these changes has its own story, and many of those stories are better than the truth.\n"
    "What should we do with the time that is given to us? The answer, if there is one, may be simpler than "
    "we expect: work when there is work, rest when there is rest, and listen more than you speak.\n\n"
    "The children learned to read and write in the school by the church. Their teacher was a patient man "
    "who believed that every question was worth an answer, even the ones he could not give.\n"
    "When the light falls in the evening, the water turns the colour of copper, and the birds return to "
    "the trees along the other side. Nobody hurries then; it is the best part of the day.\n\n"
    "Numbers matter too: 1, 2, 3, 10, 100 and 2024 appear in letters, in prices and in the dates on old "
    "doors. A price of $5.50 was high for bread, and a trip of 40 miles took most of a day.\n"
    "\"Are you going to the market?\" she asked. \"Only if the cart is ready,\" he answered, \"and only if "
    "you'll come with me.\" They laughed, because both of them knew that the cart was never ready.\n";

static const char fill_letters[] = "etaoinsrhldcumfpgwybvkxjqz";

int llx_bpe_byte_codepoint(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0; /* rank among the remapped bytes */
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

/* ---- growable byte buffer ---- */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* ---- token table: id -> string, string -> id (open addressing) ---- */
typedef struct toks {
    char **s;
    int n, cap;
    int *slot; /* id + 1, 0 = empty */
    size_t nslot;
} toks;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int tok_find(const toks *t, const char *s)
{
    size_t i = (size_t)hash_str(s) & (t->nslot - 1);
    for (; t->slot[i]; i = (i + 1) & (t->nslot - 1))
        if (strcmp(t->s[t->slot[i] - 1], s) == 0) return t->slot[i] - 1;
    return -1;
}

static int tok_rehash(toks *t, size_t nslot)
{
    int *slot = calloc(nslot, sizeof *slot);
    if (!slot) return 0;
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    for (int id = 0; id < t->n; id++) {
        size_t i = (size_t)hash_str(t->s[id]) & (nslot - 1);
        while (slot[i]) i = (i + 1) & (nslot - 1);
        slot[i] = id + 1;
    }
    return 1;
}

/* Append s (copied) as a new id; returns the id or -1 on out of memory. */
static int tok_add(toks *t, const char *s)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 1024;
        char **p = realloc(t->s, (size_t)cap * sizeof *p);
        if (!p) return -1;
        t->s = p;
        t->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return -1;
    t->s[t->n++] = copy;
    if ((size_t)t->n * 2 > t->nslot) {
        if (!tok_rehash(t, t->nslot ? t->nslot * 2 : 4096)) return -1;
    } else {
        size_t i = (size_t)hash_str(s) & (t->nslot - 1);
        while (t->slot[i]) i = (i + 1) & (t->nslot - 1);
        t->slot[i] = t->n;
    }
    return t->n - 1;
}

static void tok_free(toks *t)
{
    for (int i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static void utf8(int cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f)), out[2] = 0;
    }
}

/* byte -> token id: its position in bytes_to_unicode order (the bytes that
 * stand for themselves first, then the remapped ones) */
static int byte_token(int b)
{
    if (b >= 33 && b <= 126) return b - 33;
    if (b >= 161 && b <= 172) return 94 + b - 161;
    if (b >= 174) return 106 + b - 174;
    if (b <= 32) return 188 + b;
    if (b <= 160) return 188 + 33 + b - 127;
    return 255; /* 173 */
}

static int add_byte_tokens(toks *t)
{
    int order[256];
    for (int b = 0; b < 256; b++) order[byte_token(b)] = b;
    for (int i = 0; i < 256; i++) {
        char s[4];
        utf8(llx_bpe_byte_codepoint(order[i]), s);
        if (tok_add(t, s) != i) return 0;
    }
    return 1;
}

/* ---- training corpus: pre-tokenised words as id sequences ---- */
typedef struct word {
    int *ids;
    int len;
    int count;
} word;

static int is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_space(int c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Length of the next piece at s[i] under (the ASCII part of) GPT-2's
 * pre-tokenisation pattern. */
static size_t next_piece(const char *s, size_t i, size_t n)
{
    static const char *const contr[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (int k = 0; k < 7; k++) {
        size_t l = strlen(contr[k]);
        if (i + l <= n && memcmp(s + i, contr[k], l) == 0) return l;
    }
    if (is_space(s[i])) {
        size_t e = i;
        while (e < n && is_space(s[e])) e++;
        if (e == n) return e - i;
        if (e - i >= 2) return e - i - 1;          /* \s+(?!\S) */
        if (s[i] != ' ') return 1;                  /* lone non-space whitespace */
    }
    size_t j = (s[i] == ' ') ? i + 1 : i;           /* " ?" prefix */
    int c = (unsigned char)s[j];
    size_t e = j + 1;
    if (is_letter(c)) while (e < n && is_letter(s[e])) e++;
    else if (is_digit(c)) while (e < n && is_digit(s[e])) e++;
    else while (e < n && !is_space(s[e]) && !is_letter(s[e]) && !is_digit(s[e])) e++;
    return e - i;
}

static int build_words(word **out, int *nout)
{
    const size_t n = sizeof training_text - 1;
    word *w = calloc(n, sizeof *w);
    if (!w) return 0;
    int nw = 0;
    for (size_t i = 0; i < n;) {
        size_t len = next_piece(training_text, i, n);
        int found = -1;
        for (int k = 0; k < nw && found < 0; k++) {
            if ((size_t)w[k].len != len) continue;
            int same = 1;
            for (size_t q = 0; q < len && same; q++)
                same = w[k].ids[q] == byte_token((unsigned char)training_text[i + q]);
            if (same) found = k;
        }
        if (found >= 0) {
            w[found].count++;
        } else {
            w[nw].ids = malloc(len * sizeof(int));
            if (!w[nw].ids) break;
            for (size_t q = 0; q < len; q++) w[nw].ids[q] = byte_token((unsigned char)training_text[i + q]);
            w[nw].len = (int)len;
            w[nw].count = 1;
            nw++;
        }
        i += len;
    }
    *out = w;
    *nout = nw;
    return 1;
}

/* The most frequent adjacent pair (ties: smallest ids); 0 when none is left. */
static int best_pair(const word *w, int nw, int ntok, int *a, int *b)
{
    /* pairs are few (a few thousand): count them in a small hash table */
    size_t cap = 1;
    for (int k = 0; k < nw; k++) cap += (size_t)w[k].len;
    size_t nslot = 16;
    while (nslot < cap * 2) nslot *= 2;
    uint64_t *key = calloc(nslot, sizeof *key);
    int *cnt = calloc(nslot, sizeof *cnt);
    int found = 0;
    if (!key || !cnt) goto out;
    int best = 0;
    uint64_t best_key = 0;
    for (int k = 0; k < nw; k++) {
        for (int q = 0; q + 1 < w[k].len; q++) {
            uint64_t kk = (uint64_t)w[k].ids[q] * (uint64_t)ntok + (uint64_t)w[k].ids[q + 1] + 1;
            size_t i = (size_t)(kk * 0x9e3779b97f4a7c15ull >> 20) & (nslot - 1);
            while (key[i] && key[i] != kk) i = (i + 1) & (nslot - 1);
            key[i] = kk;
            cnt[i] += w[k].count;
            if (cnt[i] > best || (cnt[i] == best && kk < best_key)) best = cnt[i], best_key = kk;
        }
    }
    if (best > 0) {
        found = 1;
        *a = (int)((best_key - 1) / (uint64_t)ntok);
        *b = (int)((best_key - 1) % (uint64_t)ntok);
    }
out:
    free(key);
    free(cnt);
    return found;
}

static void apply_merge(word *w, int nw, int a, int b, int id)
{
    for (int k = 0; k < nw; k++) {
        int o = 0;
        for (int q = 0; q < w[k].len; q++) {
            if (q + 1 < w[k].len && w[k].ids[q] == a && w[k].ids[q + 1] == b) {
                w[k].ids[o++] = id;
                q++;
            } else {
                w[k].ids[o++] = w[k].ids[q];
            }
        }
        w[k].len = o;
    }
}

/* Record merge (a, b) as a new token unless its string exists already.
 * Returns the id of the result, or -1 on out of memory. */
static int add_merge(toks *t, sbuf *merges, int a, int b, int *added)
{
    size_t la = strlen(t->s[a]), lb = strlen(t->s[b]);
    char *cat = malloc(la + lb + 1);
    if (!cat) return -1;
    memcpy(cat, t->s[a], la);
    memcpy(cat + la, t->s[b], lb + 1);
    int id = tok_find(t, cat);
    *added = 0;
    if (id < 0) {
        id = tok_add(t, cat);
        *added = id >= 0;
        sb_str(merges, t->s[a]);
        sb_str(merges, " ");
        sb_str(merges, t->s[b]);
        sb_str(merges, "\n");
    }
    free(cat);
    return id;
}

static llx_status train(toks *t, sbuf *merges, int need)
{
    word *w = NULL;
    int nw = 0;
    if (!build_words(&w, &nw)) return llx_fail(LLX_ERR_NOMEM, "out of memory generating a vocabulary");
    llx_status st = LLX_OK;
    int done = 0, a, b;
    while (done < need && best_pair(w, nw, t->n, &a, &b)) {
        int added, id = add_merge(t, merges, a, b, &added);
        if (id < 0) {
            st = llx_fail(LLX_ERR_NOMEM, "out of memory generating a vocabulary");
            break;
        }
        apply_merge(w, nw, a, b, id);
        done += added;
    }
    for (int k = 0; k < nw; k++) free(w[k].ids);
    free(w);
    /* the text is exhausted: extend learned tokens by frequent letters */
    for (int parent = 256; st == LLX_OK && done < need; parent++) {
        if (parent >= t->n) return llx_fail(LLX_ERR_INTERNAL, "vocabulary generator ran out of merges");
        for (const char *l = fill_letters; *l && done < need; l++) {
            int added;
            if (add_merge(t, merges, parent, byte_token((unsigned char)*l), &added) < 0)
                return llx_fail(LLX_ERR_NOMEM, "out of memory generating a vocabulary");
            done += added;
        }
    }
    return st;
}

static void json_token(sbuf *b, const char *s)
{
    sb_str(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_str(b, "\\");
        sb_add(b, s, 1);
    }
    sb_str(b, "\"");
}

llx_status llx_bpe_vocab_generate(int n_vocab, char **vocab_json, size_t *vocab_len, char **merges_txt,
                                  size_t *merges_len)
{
    *vocab_json = *merges_txt = NULL;
    if (n_vocab < 256 || n_vocab > 1000000)
        return llx_fail(LLX_ERR_ARG, "cannot generate a byte-level BPE vocabulary of %d tokens (needs 256 .. 1000000)",
                        n_vocab);
    toks t = {0};
    sbuf merges = {0}, vocab = {0};
    llx_status st = LLX_OK;
    sb_str(&merges, "#version: 0.2\n");
    if (!add_byte_tokens(&t)) st = llx_fail(LLX_ERR_NOMEM, "out of memory generating a vocabulary");
    const int eot = n_vocab >= 257;
    if (st == LLX_OK) st = train(&t, &merges, n_vocab - 256 - eot);
    if (st == LLX_OK && eot && tok_add(&t, "<|endoftext|>") != n_vocab - 1)
        st = llx_fail(LLX_ERR_INTERNAL, "vocabulary generator: '<|endoftext|>' is already a token");
    if (st == LLX_OK) {
        sb_str(&vocab, "{");
        for (int i = 0; i < t.n; i++) {
            char num[32];
            if (i) sb_str(&vocab, ", ");
            json_token(&vocab, t.s[i]);
            snprintf(num, sizeof num, ": %d", i);
            sb_str(&vocab, num);
        }
        sb_str(&vocab, "}");
        if (vocab.oom || merges.oom) st = llx_fail(LLX_ERR_NOMEM, "out of memory generating a vocabulary");
    }
    tok_free(&t);
    if (st != LLX_OK) {
        free(vocab.p);
        free(merges.p);
        return st;
    }
    *vocab_json = vocab.p;
    *vocab_len = vocab.n;
    *merges_txt = merges.p;
    *merges_len = merges.n;
    return LLX_OK;
}
