/* tokenizer/load.c - vocab.json + merges.txt -> llx_tokenizer, with the
 * checks that make tokenization total: ids form 0..n-1 without gaps or
 * repeats, every token is spelled in GPT-2's printable byte alphabet, all
 * 256 single bytes are tokens, and every merge joins two tokens into a third.
 * Also llx_tokenizer_load_dir, which picks tokenizer.json (hf_load.c) or
 * these two files.  Encoding lives in tokenize.c. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/file.h"
#include "util/status.h"

#define TOK_FILE_MAX ((size_t)256 << 20)
#define TOK_VOCAB_MAX (1 << 24)

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
            st = llx_fail(LLX_ERR_FORMAT, "%s: id of token '%s' is not an integer", name, tok_show(k, kl, what, sizeof what));
            goto out;
        }
        json_int_t id = json_integer_value(v);
        if (id < 0 || (size_t)id >= n) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: id %lld of token '%s' is outside 0..%zu (ids must be 0..n-1)", name,
                          (long long)id, tok_show(k, kl, what, sizeof what), n - 1);
            goto out;
        }
        if (key[id]) {
            char other[64];
            st = llx_fail(LLX_ERR_FORMAT, "%s: id %lld is used twice (tokens '%s' and '%s')", name, (long long)id,
                          tok_show(key[id], klen[id], other, sizeof other), tok_show(k, kl, what, sizeof what));
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
    if (!t->bytes || !t->off || total > UINT32_MAX) {
        st = llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    st = tok_str_map_init(t, n);
    if (st != LLX_OK) goto out;
    uint32_t w = 0;
    for (size_t id = 0; id < n; id++) {
        t->off[id] = w;
        long got = tok_alphabet_decode(cp_byte, key[id], klen[id], t->bytes + w);
        if (got < 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: token '%s' (id %zu) has a character outside GPT-2's byte alphabet",
                          name, tok_show(key[id], klen[id], what, sizeof what), id);
            goto out;
        }
        w += (uint32_t)got;
        t->off[id + 1] = w;
        int dup = tok_str_insert(t, (int)id);
        if (dup >= 0) {
            st = llx_fail(LLX_ERR_FORMAT, "%s: ids %d and %zu spell the same token", name, dup, id);
            goto out;
        }
    }
    int missing = tok_fill_byte_ids(t);
    if (missing >= 0) st = llx_fail(LLX_ERR_FORMAT, "%s: no token for the single byte 0x%02x", name, missing);
out:
    free(key);
    free(klen);
    json_decref(root);
    return st;
}

/* ---- merges.txt ---- */

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
    long got = tok_alphabet_decode(cp_byte, s, n, buf);
    if (got < 0) return -2;
    return tok_str_find(t, buf, (size_t)got);
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
                        lineno, tok_show(line, n, what, sizeof what));
    int id[2];
    for (int j = 0; j < 2; j++) {
        id[j] = spelled_id(t, cp_byte, f[j], fl[j], buf);
        if (id[j] < 0)
            return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: token '%s' %s", name, lineno,
                            tok_show(f[j], fl[j], what, sizeof what),
                            id[j] == -2 ? "has a character outside GPT-2's byte alphabet" : "is not in the vocabulary");
    }
    size_t la = t->off[id[0] + 1] - t->off[id[0]], lb = t->off[id[1] + 1] - t->off[id[1]];
    memcpy(buf, t->bytes + t->off[id[0]], la);
    memcpy(buf + la, t->bytes + t->off[id[1]], lb);
    int merged = tok_str_find(t, buf, la + lb);
    if (merged < 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: the merge of '%s' is not in the vocabulary", name, lineno,
                        tok_show(line, n, what, sizeof what));
    int32_t old = 0;
    if (tok_merge_add(t, id[0], id[1], merged, &old) != LLX_OK)
        return llx_fail(LLX_ERR_FORMAT, "%s: line %zu: duplicate merge '%s' (also merge #%d)", name, lineno,
                        tok_show(line, n, what, sizeof what), (int)old + 1);
    return LLX_OK;
}

static llx_status parse_merges(llx_tokenizer *t, const char *text, size_t len, const char *name,
                               const int16_t cp_byte[324])
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    LLX_TRY(tok_merges_init(t, lines));
    char *buf = malloc(len + 1);
    if (!buf) return llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
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
    tok_byte_alphabet_inverse(cp_byte);
    llx_status st = parse_vocab(t, vocab, vocab_len, vocab_name, cp_byte);
    if (st == LLX_OK) st = parse_merges(t, merges, merges_len, merges_name, cp_byte);
    if (st == LLX_OK) st = tok_pretok_init(&t->pretok);
    /* GPT-2: nothing is added around the text; <|endoftext|> ends a text */
    t->bos = -1;
    t->eos = st == LLX_OK ? tok_str_find(t, "<|endoftext|>", 13) : -1;
    if (t->eos >= 0) t->stops[t->n_stops++] = t->eos;
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


llx_status llx_tokenizer_load_dir(llx_tokenizer **out, const char *dir)
{
    *out = NULL;
    char *tj = llx_path_join(dir, "tokenizer.json");
    char *v = llx_path_join(dir, "vocab.json"), *m = llx_path_join(dir, "merges.txt");
    llx_status st;
    if (!tj || !v || !m) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    else if (llx_is_file(v) && llx_is_file(m)) st = llx_tokenizer_load(out, v, m);
    else if (llx_is_file(tj)) st = llx_tokenizer_load_hf(out, dir);
    else if (llx_is_file(v) || llx_is_file(m)) st = llx_tokenizer_load(out, v, m); /* names the missing one */
    else
        st = llx_fail(LLX_ERR_IO, "%s: no tokenizer (expected tokenizer.json, or vocab.json and merges.txt)", dir);
    free(tj);
    free(v);
    free(m);
    return st;
}
