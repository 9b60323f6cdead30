/* tokenizer/load.c - vocab.json + merges.txt -> llx_tokenizer, with the
 * checks that make tokenization total: ids form 0..n-1 without gaps or
 * repeats, every token is spelled in GPT-2's printable byte alphabet, all
 * 256 single bytes are tokens, and every merge joins two tokens into a third.
 * Also the small read-only accessors.  Encoding lives in tokenize.c. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/file.h"
#include "util/status.h"

#define TOK_FILE_MAX ((size_t)256 << 20)
#define TOK_VOCAB_MAX (1 << 24)

/* ---- GPT-2's byte alphabet: byte b is spelled as one code point ---- */

static int byte_is_printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

/* cp_byte[c] = the byte spelled by code point c (< 324), or -1. */
static void byte_alphabet_inverse(int16_t cp_byte[324])
{
    for (int c = 0; c < 324; c++) cp_byte[c] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        if (byte_is_printable(b)) cp_byte[b] = (int16_t)b;
        else cp_byte[256 + extra++] = (int16_t)b;
    }
}

/* Decode a token spelled in the byte alphabet (UTF-8 s[0..n)) into raw bytes
 * at out (room for n bytes).  Returns the byte count, or -1 when s is not
 * valid UTF-8 or has a character outside the alphabet. */
static long alphabet_decode(const int16_t cp_byte[324], const char *s, size_t n, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, w = 0;
    while (i < n) {
        int len = tok_utf8_len(p + i, n - i);
        if (len == 0 || len > 2) return -1; /* the alphabet is U+0021..U+0143 */
        unsigned cp = len == 1 ? p[i] : ((unsigned)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
        if (cp >= 324 || cp_byte[cp] < 0) return -1;
        out[w++] = (char)cp_byte[cp];
        i += (size_t)len;
    }
    return (long)w;
}

/* A printable, length-limited rendering of a token for error messages. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        int len = c >= 0x80 ? tok_utf8_len((const unsigned char *)s + i, n - i) : 0;
        if (len > 1) {
            memcpy(buf + w, s + i, (size_t)len);
            w += (size_t)len;
            i += (size_t)len - 1;
        } else if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\') {
            static const char hex[] = "0123456789abcdef";
            buf[w++] = '\\', buf[w++] = 'x', buf[w++] = hex[c >> 4], buf[w++] = hex[c & 15];
        } else {
            buf[w++] = (char)c;
        }
        if (w + 8 >= cap && i + 1 < n) {
            memcpy(buf + w, "...", 3);
            w += 3;
            break;
        }
    }
    buf[w] = 0;
    return buf;
}

/* ---- bytes -> id map ---- */

static size_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29));
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

int llx_tokenizer_find(const llx_tokenizer *t, const char *bytes, size_t len)
{
    for (size_t i = hash_bytes(bytes, len) & t->str_mask;; i = (i + 1) & t->str_mask) {
        int32_t id = t->str_slots[i];
        if (id < 0) return -1;
        size_t n = t->off[id + 1] - t->off[id];
        if (n == len && memcmp(t->bytes + t->off[id], bytes, len) == 0) return id;
    }
}

/* Insert id; returns the id already holding the same bytes, or -1. */
static int str_insert(llx_tokenizer *t, int id)
{
    const char *s = t->bytes + t->off[id];
    size_t n = t->off[id + 1] - t->off[id];
    int old = llx_tokenizer_find(t, s, n);
    if (old >= 0) return old;
    size_t i = hash_bytes(s, n) & t->str_mask;
    while (t->str_slots[i] >= 0) i = (i + 1) & t->str_mask;
    t->str_slots[i] = id;
    return -1;
}

/* ---- vocab.json ---- */

static llx_status parse_vocab(llx_tokenizer *t, const char *text, size_t len, const char *name,
                              const int16_t cp_byte[324])
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return llx_fail(LLX_ERR_FORMAT, "%s: line %d column %d: %s", name, jerr.line, jerr.column, jerr.text);
    llx_status st = LLX_OK;
    size_t n = json_is_object(root) ? json_object_size(root) : 0;
    const char **key = NULL;
    size_t *klen = NULL, total = 0;
    char what[64];
    if (!json_is_object(root)) {
        st = llx_fail(LLX_ERR_FORMAT, "%s: expected an object mapping tokens to ids", name);
        goto out;
    }
    if (n == 0 || n > TOK_VOCAB_MAX) {
        st = llx_fail(LLX_ERR_FORMAT, "%s: %zu tokens (expected 1..%d)", name, n, TOK_VOCAB_MAX);
        goto out;
    }
    key = calloc(n, sizeof *key);
    klen = calloc(n, sizeof *klen);
    if (!key || !klen) {
        st = llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (!json_is_integer(v)) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: id of token '%s' is not an integer", name, show(k, kl, what, sizeof what));
            goto out;
        }
        json_int_t id = json_integer_value(v);
        if (id < 0 || (size_t)id >= n) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: id %lld of token '%s' is outside 0..%zu (ids must be 0..n-1)", name,
                          (long long)id, show(k, kl, what, sizeof what), n - 1);
            goto out;
        }
        if (key[id]) {
            char other[64];
            st = llx_fail(LLX_ERR_FORMAT, "%s: id %lld is used twice (tokens '%s' and '%s')", name, (long long)id,
                          show(key[id], klen[id], other, sizeof other), show(k, kl, what, sizeof what));
            goto out;
        }
        if (kl == 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: empty token (id %lld)", name, (long long)id);
            goto out;
        }
        key[id] = k;
        klen[id] = kl;
        total += kl;
    }
    t->n_vocab = (int)n;
    t->bytes = malloc(total + 1);
    t->off = malloc((n + 1) * sizeof *t->off);
    t->str_mask = pow2_at_least(2 * n) - 1;
    t->str_slots = malloc((t->str_mask + 1) * sizeof *t->str_slots);
    if (!t->bytes || !t->off || !t->str_slots || total > UINT32_MAX) {
        st = llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    memset(t->str_slots, 0xff, (t->str_mask + 1) * sizeof *t->str_slots);
    uint32_t w = 0;
    for (size_t id = 0; id < n; id++) {
        t->off[id] = w;
        long got = alphabet_decode(cp_byte, key[id], klen[id], t->bytes + w);
        if (got < 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: token '%s' (id %zu) has a character outside GPT-2's byte alphabet",
                          name, show(key[id], klen[id], what, sizeof what), id);
            goto out;
        }
        w += (uint32_t)got;
        t->off[id + 1] = w;
        int dup = str_insert(t, (int)id);
        if (dup >= 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: ids %d and %zu spell the same token", name, dup, id);
            goto out;
        }
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = llx_tokenizer_find(t, &c, 1);
        if (t->byte_id[b] < 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: no token for the single byte 0x%02x", name, b);
            goto out;
        }
    }
out:
    free(key);
    free(klen);
    json_decref(root);
    return st;
}

/* ---- merges.txt ---- */

static llx_status pair_insert(tok_pair_map *m, int a, int b, int32_t rank, int32_t merged, int32_t *old_rank)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & m->mask;
    while (m->keys[i] != UINT64_MAX) {
        if (m->keys[i] == key) {
            *old_rank = m->rank[i];
            return LLX_ERR_FORMAT;
        }
        i = (i + 1) & m->mask;
    }
    m->keys[i] = key;
    m->rank[i] = rank;
    m->merged[i] = merged;
    return LLX_OK;
}

/* Split a line into at most 3 fields on spaces/tabs; returns the count. */
static int split_fields(const char *s, size_t n, const char *f[3], size_t fl[3])
{
    int k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i == n) break;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t') j++;
        if (k == 3) return 4;
        f[k] = s + i;
        fl[k++] = j - i;
        i = j;
    }
    return k;
}

/* Token id of an alphabet-spelled token; -1 if not in the vocabulary, -2 if
 * not spelled in the alphabet.  buf has room for n bytes. */
static int spelled_id(const llx_tokenizer *t, const int16_t cp_byte[324], const char *s, size_t n, char *buf)
{
    long got = alphabet_decode(cp_byte, s, n, buf);
    if (got < 0) return -2;
    return llx_tokenizer_find(t, buf, (size_t)got);
}

static llx_status parse_merge_line(llx_tokenizer *t, const char *line, size_t n, size_t lineno, const char *name,
                                   const int16_t cp_byte[324], char *buf)
{
    const char *f[3];
    size_t fl[3];
    int k = split_fields(line, n, f, fl);
    if (k == 0) return LLX_OK;
    char what[64];
    if (k != 2)
        return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: expected two tokens separated by a space, got '%s'", name,
                        lineno, show(line, n, what, sizeof what));
    int id[2];
    for (int j = 0; j < 2; j++) {
        id[j] = spelled_id(t, cp_byte, f[j], fl[j], buf);
        if (id[j] < 0)
            return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: token '%s' %s", name, lineno,
                            show(f[j], fl[j], what, sizeof what),
                            id[j] == -2 ? "has a character outside GPT-2's byte alphabet" : "is not in the vocabulary");
    }
    size_t la = t->off[id[0] + 1] - t->off[id[0]], lb = t->off[id[1] + 1] - t->off[id[1]];
    memcpy(buf, t->bytes + t->off[id[0]], la);
    memcpy(buf + la, t->bytes + t->off[id[1]], lb);
    int merged = llx_tokenizer_find(t, buf, la + lb);
    if (merged < 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: the merge of '%s' is not in the vocabulary", name, lineno,
                        show(line, n, what, sizeof what));
    int32_t old = 0;
    t->merge_a[t->n_merges] = id[0];
    t->merge_b[t->n_merges] = id[1];
    t->merge_out[t->n_merges] = merged;
    if (pair_insert(&t->pairs, id[0], id[1], t->n_merges, merged, &old) != LLX_OK)
        return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: duplicate merge '%s' (also merge #%d)", name, lineno,
                        show(line, n, what, sizeof what), (int)old + 1);
    t->n_merges++;
    return LLX_OK;
}

static llx_status parse_merges(llx_tokenizer *t, const char *text, size_t len, const char *name,
                               const int16_t cp_byte[324])
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    tok_pair_map *m = &t->pairs;
    m->mask = pow2_at_least(2 * lines) - 1;
    m->keys = malloc((m->mask + 1) * sizeof *m->keys);
    m->rank = malloc((m->mask + 1) * sizeof *m->rank);
    m->merged = malloc((m->mask + 1) * sizeof *m->merged);
    t->merge_a = malloc(lines * sizeof *t->merge_a);
    t->merge_b = malloc(lines * sizeof *t->merge_b);
    t->merge_out = malloc(lines * sizeof *t->merge_out);
    char *buf = malloc(len + 1);
    if (!m->keys || !m->rank || !m->merged || !buf || !t->merge_a || !t->merge_b || !t->merge_out) {
        free(buf);
        return llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
    }
    memset(m->keys, 0xff, (m->mask + 1) * sizeof *m->keys);
    llx_status st = LLX_OK;
    size_t pos = 0, lineno = 0;
    while (pos < len && st == LLX_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        lineno++;
        if (n > 0 && text[pos + n - 1] == '\r') n--;
        int version = lineno == 1 && n >= 8 && memcmp(text + pos, "#version", 8) == 0;
        if (!version) st = parse_merge_line(t, text + pos, n, lineno, name, cp_byte, buf);
        pos = end + 1;
    }
    free(buf);
    return st;
}

/* ---- public ---- */

static llx_status load_named(llx_tokenizer **out, const char *vocab, size_t vocab_len, const char *vocab_name,
                             const char *merges, size_t merges_len, const char *merges_name)
{
    *out = NULL;
    llx_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
    int16_t cp_byte[324];
    byte_alphabet_inverse(cp_byte);
    llx_status st = parse_vocab(t, vocab, vocab_len, vocab_name, cp_byte);
    if (st == LLX_OK) st = parse_merges(t, merges, merges_len, merges_name, cp_byte);
    if (st == LLX_OK) st = tok_pretok_init(&t->pretok);
    if (st != LLX_OK) {
        llx_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LLX_OK;
}

llx_status llx_tokenizer_load_mem(llx_tokenizer **out, const char *vocab_json, size_t vocab_len, const char *merges,
                                  size_t merges_len)
{
    return load_named(out, vocab_json, vocab_len, "vocab.json", merges, merges_len, "merges.txt");
}

llx_status llx_tokenizer_load(llx_tokenizer **out, const char *vocab_json_path, const char *merges_path)
{
    *out = NULL;
    char *v = NULL, *m = NULL;
    size_t vl = 0, ml = 0;
    llx_status st = llx_read_file(vocab_json_path, TOK_FILE_MAX, &v, &vl);
    if (st == LLX_OK) st = llx_read_file(merges_path, TOK_FILE_MAX, &m, &ml);
    if (st == LLX_OK) st = load_named(out, v, vl, vocab_json_path, m, ml, merges_path);
    free(v);
    free(m);
    return st;
}

void llx_tokenizer_free(llx_tokenizer *t)
{
    if (!t) return;
    tok_pretok_free(&t->pretok);
    free(t->bytes);
    free(t->off);
    free(t->str_slots);
    free(t->pairs.keys);
    free(t->pairs.rank);
    free(t->pairs.merged);
    free(t->merge_a);
    free(t->merge_b);
    free(t->merge_out);
    free(t);
}

int llx_tokenizer_vocab_size(const llx_tokenizer *t) { return t->n_vocab; }

int llx_tokenizer_merge_count(const llx_tokenizer *t) { return t->n_merges; }

const char *llx_token_bytes(const llx_tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->off[id + 1] - t->off[id];
    return t->bytes + t->off[id];
}
