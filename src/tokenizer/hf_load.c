/* tokenizer/hf_load.c - HuggingFace tokenizer.json -> llx_tokenizer: the
 * BPE model (vocab, merges as "a b" strings or [a, b] pairs, ignore_merges),
 * the added tokens, and the public loaders.  The pipeline sections
 * (normalizer, pre_tokenizer, post_processor, decoder) are parsed by
 * hf_pipeline.c, tokenizer_config.json and generation_config.json by
 * hf_config.c.  Only byte-level BPE is supported; anything else is refused
 * with one line naming it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/file.h"
#include "util/status.h"

#define HF_FILE_MAX ((size_t)512 << 20)
#define HF_MAX_ID (1 << 21) /* ids per tokenizer (the largest real vocabularies have ~262K) */

/* Where each id's spelling comes from while loading. */
typedef struct id_src {
    const char *s;
    size_t n;
    int added; /* 1: raw content of an added token; 0: byte-level spelled vocab entry */
} id_src;

typedef struct hf_load {
    llx_tokenizer *t;
    const char *name;
    int16_t cp_byte[324];
    id_src *src; /* n_src entries: every id that may appear */
    size_t n_src;
    int n_model; /* model vocabulary entries */
} hf_load;

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* True when o[key] is absent, null, or false/0/"" (an option left off). */
static int unset(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v) || json_is_false(v)) return 1;
    if (json_is_number(v)) return json_number_value(v) == 0.0;
    if (json_is_string(v)) return json_string_length(v) == 0;
    return 0;
}

static llx_status check_model_kind(hf_load *L, json_t *model)
{
    const char *type = jstr(model, "type");
    if (!type && json_object_get(model, "merges")) type = "BPE"; /* older files omit the type */
    if (!type) return llx_fail(LLX_ERR_FORMAT, "%s: \"model\" has no \"type\"", L->name);
    if (strcmp(type, "BPE") != 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: model type '%s' is not supported (only byte-level BPE)", L->name, type);
    if (!unset(model, "byte_fallback"))
        return llx_fail(LLX_ERR_FORMAT, "%s: BPE with byte_fallback (SentencePiece style) is not supported", L->name);
    static const char *const off[] = {"dropout", "continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < sizeof off / sizeof *off; i++)
        if (!unset(model, off[i]))
            return llx_fail(LLX_ERR_FORMAT, "%s: BPE option \"%s\" is not supported", L->name, off[i]);
    json_t *im = json_object_get(model, "ignore_merges");
    if (im && !json_is_boolean(im) && !json_is_null(im))
        return llx_fail(LLX_ERR_FORMAT, "%s: \"ignore_merges\" must be true or false", L->name);
    L->t->ignore_merges = json_is_true(im);
    return LLX_OK;
}

/* Record id's spelling; fails on an id used twice or out of range. */
static llx_status put_id(hf_load *L, json_int_t id, const char *s, size_t n, int added)
{
    char what[64];
    if (id < 0 || (size_t)id >= L->n_src)
        return llx_fail(LLX_ERR_FORMAT, "%s: id %lld of token '%s' is outside 0..%d", L->name, (long long)id,
                        tok_show(s, n, what, sizeof what), HF_MAX_ID - 1);
    if (n == 0) return llx_fail(LLX_ERR_FORMAT, "%s: empty token (id %lld)", L->name, (long long)id);
    id_src *d = &L->src[id];
    if (d->s) {
        char other[64];
        return llx_fail(LLX_ERR_FORMAT, "%s: id %lld is used twice (tokens '%s' and '%s')", L->name, (long long)id,
                        tok_show(d->s, d->n, other, sizeof other), tok_show(s, n, what, sizeof what));
    }
    d->s = s, d->n = n, d->added = added;
    if (id >= L->t->n_vocab) L->t->n_vocab = (int)id + 1;
    return LLX_OK;
}

static llx_status read_vocab(hf_load *L, json_t *vocab)
{
    if (!json_is_object(vocab) || json_object_size(vocab) == 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: \"model.vocab\" must be a non-empty object of token ids", L->name);
    const char *k;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach(vocab, k, kl, v)
    {
        char what[64];
        if (!json_is_integer(v))
            return llx_fail(LLX_ERR_FORMAT, "%s: id of token '%s' is not an integer", L->name,
                            tok_show(k, kl, what, sizeof what));
        LLX_TRY(put_id(L, json_integer_value(v), k, kl, 0));
    }
    L->n_model = (int)json_object_size(vocab);
    return LLX_OK;
}

/* One added token; an id that is also a vocabulary entry must spell the
 * same bytes (only marks it special). */
static llx_status read_added_one(hf_load *L, json_t *a, size_t i)
{
    json_t *jid = json_object_get(a, "id"), *jc = json_object_get(a, "content");
    if (!json_is_object(a) || !json_is_integer(jid) || !json_is_string(jc))
        return llx_fail(LLX_ERR_FORMAT, "%s: added_tokens[%zu] needs an integer \"id\" and a string \"content\"",
                        L->name, i);
    const char *c = json_string_value(jc);
    size_t n = json_string_length(jc);
    char what[64];
    static const char *const unsupported[] = {"single_word", "lstrip", "rstrip"};
    for (size_t k = 0; k < 3; k++)
        if (json_is_true(json_object_get(a, unsupported[k])))
            return llx_fail(LLX_ERR_FORMAT, "%s: added token '%s' uses \"%s\", which is not supported", L->name,
                            tok_show(c, n, what, sizeof what), unsupported[k]);
    json_int_t id = json_integer_value(jid);
    if (id >= 0 && (size_t)id < L->n_src && L->src[id].s && !L->src[id].added) {
        char buf[256];
        const id_src *d = &L->src[id];
        long got = d->n <= sizeof buf ? tok_alphabet_decode(L->cp_byte, d->s, d->n, buf) : -1;
        if (got != (long)n || memcmp(buf, c, n) != 0)
            return llx_fail(LLX_ERR_FORMAT, "%s: added token '%s' reuses id %lld of a different vocabulary token",
                            L->name, tok_show(c, n, what, sizeof what), (long long)id);
    } else {
        LLX_TRY(put_id(L, id, c, n, 1));
    }
    return LLX_OK;
}

static llx_status read_added(hf_load *L, json_t *added)
{
    if (added && !json_is_array(added) && !json_is_null(added))
        return llx_fail(LLX_ERR_FORMAT, "%s: \"added_tokens\" must be an array", L->name);
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) LLX_TRY(read_added_one(L, a, i));
    return LLX_OK;
}

/* Token bytes of every id and the bytes -> id map of the BPE vocabulary. */
static llx_status build_tables(hf_load *L)
{
    llx_tokenizer *t = L->t;
    size_t total = 0;
    for (int id = 0; id < t->n_vocab; id++) {
        if (!L->src[id].s) return llx_fail(LLX_ERR_FORMAT, "%s: id %d has no token (ids must be 0..n-1)", L->name, id);
        total += L->src[id].n;
    }
    t->bytes = malloc(total + 1);
    t->off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->off);
    t->special = calloc((size_t)t->n_vocab, 1);
    if (!t->bytes || !t->off || !t->special || total > UINT32_MAX)
        return llx_fail(LLX_ERR_NOMEM, "%s: out of memory", L->name);
    LLX_TRY(tok_str_map_init(t, (size_t)L->n_model));
    uint32_t w = 0;
    for (int id = 0; id < t->n_vocab; id++) {
        const id_src *d = &L->src[id];
        t->off[id] = w;
        long got = d->added ? -1 : tok_alphabet_decode(L->cp_byte, d->s, d->n, t->bytes + w);
        int spelled = got >= 0;
        if (!spelled) { /* added content, or a vocab entry outside the alphabet: its own bytes */
            memcpy(t->bytes + w, d->s, d->n);
            got = (long)d->n;
        }
        w += (uint32_t)got;
        t->off[id + 1] = w;
        if (spelled) tok_str_insert(t, id); /* distinct spellings in the alphabet are distinct bytes */
    }
    int missing = tok_fill_byte_ids(t);
    if (missing >= 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: no vocabulary token for the single byte 0x%02x (byte-level BPE needs all 256)",
                        L->name, missing);
    return LLX_OK;
}

/* ---- merges ---- */

static int spelled_id(const hf_load *L, const char *s, size_t n, char *buf)
{
    long got = tok_alphabet_decode(L->cp_byte, s, n, buf);
    return got < 0 ? -1 : tok_str_find(L->t, buf, (size_t)got);
}

static llx_status add_merge(hf_load *L, size_t i, const char *a, size_t na, const char *b, size_t nb, char *buf)
{
    llx_tokenizer *t = L->t;
    char what[64], what2[64];
    int ia = spelled_id(L, a, na, buf), ib = spelled_id(L, b, nb, buf);
    if (ia < 0 || ib < 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: merge %zu: token '%s' is not in the vocabulary", L->name, i,
                        ia < 0 ? tok_show(a, na, what, sizeof what) : tok_show(b, nb, what, sizeof what));
    size_t la = t->off[ia + 1] - t->off[ia], lb = t->off[ib + 1] - t->off[ib];
    memcpy(buf, t->bytes + t->off[ia], la);
    memcpy(buf + la, t->bytes + t->off[ib], lb);
    int merged = tok_str_find(t, buf, la + lb);
    if (merged < 0)
        return llx_fail(LLX_ERR_FORMAT, "%s: merge %zu: '%s' + '%s' is not in the vocabulary", L->name, i,
                        tok_show(a, na, what, sizeof what), tok_show(b, nb, what2, sizeof what2));
    int32_t old = 0;
    if (tok_merge_add(t, ia, ib, merged, &old) != LLX_OK)
        return llx_fail(LLX_ERR_FORMAT, "%s: merge %zu: '%s' + '%s' repeats merge %d", L->name, i,
                        tok_show(a, na, what, sizeof what), tok_show(b, nb, what2, sizeof what2), (int)old);
    return LLX_OK;
}

static llx_status read_merges(hf_load *L, json_t *merges)
{
    if (merges && !json_is_array(merges))
        return llx_fail(LLX_ERR_FORMAT, "%s: \"model.merges\" must be an array", L->name);
    size_t n = json_array_size(merges), maxlen = 0;
    for (int id = 0; id < L->t->n_vocab; id++)
        if (L->src[id].n > maxlen) maxlen = L->src[id].n;
    LLX_TRY(tok_merges_init(L->t, n));
    char *buf = malloc(2 * maxlen + 8);
    if (!buf) return llx_fail(LLX_ERR_NOMEM, "%s: out of memory", L->name);
    llx_status st = LLX_OK;
    for (size_t i = 0; i < n && st == LLX_OK; i++) {
        json_t *m = json_array_get(merges, i);
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *sp = strchr(s, ' ');
            size_t len = json_string_length(m);
            if (!sp || strchr(sp + 1, ' ') || sp == s || (size_t)(sp - s) + 1 == len || memchr(s, 0, len))
                st = llx_fail(LLX_ERR_FORMAT, "%s: merge %zu is not two tokens separated by one space", L->name, i);
            else st = add_merge(L, i, s, (size_t)(sp - s), sp + 1, len - (size_t)(sp - s) - 1, buf);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *a = json_array_get(m, 0), *b = json_array_get(m, 1);
            st = add_merge(L, i, json_string_value(a), json_string_length(a), json_string_value(b),
                           json_string_length(b), buf);
        } else {
            st = llx_fail(LLX_ERR_FORMAT, "%s: merge %zu must be a string \"a b\" or a pair [a, b]", L->name, i);
        }
    }
    free(buf);
    return st;
}

/* ---- added-token tries ---- */

static int trie_node(tok_trie *tr, int32_t parent, uint8_t b)
{
    for (int32_t c = tr->child[parent]; c >= 0; c = tr->sibling[c])
        if (tr->byte[c] == b) return c;
    if (tr->n == tr->cap) {
        int cap = tr->cap * 2;
        int32_t *ch = realloc(tr->child, (size_t)cap * sizeof *ch);
        if (ch) tr->child = ch;
        int32_t *sb = realloc(tr->sibling, (size_t)cap * sizeof *sb);
        if (sb) tr->sibling = sb;
        int32_t *id = realloc(tr->id, (size_t)cap * sizeof *id);
        if (id) tr->id = id;
        uint8_t *by = realloc(tr->byte, (size_t)cap);
        if (by) tr->byte = by;
        if (!ch || !sb || !id || !by) return -1;
        tr->cap = cap;
    }
    int32_t c = tr->n++;
    tr->child[c] = -1, tr->id[c] = -1, tr->byte[c] = b;
    tr->sibling[c] = tr->child[parent];
    tr->child[parent] = c;
    return c;
}

static llx_status trie_add(tok_trie *tr, const char *s, size_t n, int id)
{
    if (!tr->child) {
        tr->cap = 64;
        tr->child = malloc(64 * sizeof *tr->child);
        tr->sibling = malloc(64 * sizeof *tr->sibling);
        tr->id = malloc(64 * sizeof *tr->id);
        tr->byte = malloc(64);
        if (!tr->child || !tr->sibling || !tr->id || !tr->byte) return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
        tr->n = 1;
        tr->child[0] = tr->sibling[0] = tr->id[0] = -1;
    }
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = trie_node(tr, node, (uint8_t)s[i]);
    if (node < 0) return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
    if (tr->id[node] < 0) tr->id[node] = id; /* the same content twice: the first id wins */
    tr->first[(uint8_t)s[0]] = 1;
    return LLX_OK;
}

int tok_trie_find(const tok_trie *tr, const char *s, size_t n)
{
    if (!tr->child || n == 0) return -1;
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) {
        int32_t c = tr->child[node];
        while (c >= 0 && tr->byte[c] != (uint8_t)s[i]) c = tr->sibling[c];
        node = c;
    }
    return node >= 0 ? tr->id[node] : -1;
}

void tok_trie_free(tok_trie *tr)
{
    free(tr->child), free(tr->sibling), free(tr->id), free(tr->byte);
    memset(tr, 0, sizeof *tr);
}

static llx_status build_added(hf_load *L, json_t *added)
{
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a)
    {
        int id = (int)json_integer_value(json_object_get(a, "id"));
        json_t *c = json_object_get(a, "content");
        int normalized = json_is_true(json_object_get(a, "normalized"));
        LLX_TRY(trie_add(&L->t->added[normalized], json_string_value(c), json_string_length(c), id));
        if (json_is_true(json_object_get(a, "special"))) L->t->special[id] = 1;
    }
    return LLX_OK;
}

/* ---- public ---- */

/* The largest id in the vocabulary and added tokens, capped at HF_MAX_ID
 * (larger ids are refused by put_id). */
static size_t max_id(json_t *model, json_t *added)
{
    json_int_t m = 0;
    const char *k;
    json_t *v;
    json_t *vocab = json_object_get(model, "vocab");
    json_object_foreach(vocab, k, v) if (json_is_integer(v) && json_integer_value(v) > m) m = json_integer_value(v);
    size_t i;
    json_array_foreach(added, i, v)
    {
        json_t *id = json_object_get(v, "id");
        if (json_is_integer(id) && json_integer_value(id) > m) m = json_integer_value(id);
    }
    return m < HF_MAX_ID ? (size_t)m : HF_MAX_ID - 1;
}

static llx_status load_root(llx_tokenizer *t, json_t *root, const char *name)
{
    hf_load L = {.t = t, .name = name};
    tok_byte_alphabet_inverse(L.cp_byte);
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(root) || !json_is_object(model))
        return llx_fail(LLX_ERR_FORMAT, "%s: expected an object with a \"model\" object", name);
    LLX_TRY(check_model_kind(&L, model));
    json_t *added = json_object_get(root, "added_tokens");
    L.n_src = max_id(model, added) + 1;
    L.src = calloc(L.n_src, sizeof *L.src);
    if (!L.src) return llx_fail(LLX_ERR_NOMEM, "%s: out of memory", name);
    llx_status st = read_vocab(&L, json_object_get(model, "vocab"));
    if (st == LLX_OK) st = read_added(&L, added);
    if (st == LLX_OK) st = build_tables(&L);
    if (st == LLX_OK) st = read_merges(&L, json_object_get(model, "merges"));
    if (st == LLX_OK) st = build_added(&L, added);
    free(L.src);
    return st;
}

/* Names used in messages: the files' paths, or their bare names. */
typedef struct hf_names {
    const char *json, *config, *generation, *model;
} hf_names;

static llx_status load_named(llx_tokenizer **out, const llx_tokenizer_files *f, const hf_names *nm)
{
    *out = NULL;
    llx_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
    t->hf = 1;
    t->bos = t->eos = -1;
    const char *name = nm->json;
    json_error_t jerr;
    json_t *root = json_loadb(f->json, f->json_len, JSON_REJECT_DUPLICATES, &jerr);
    llx_status st = root ? LLX_OK
                         : llx_fail(LLX_ERR_FORMAT, "%s: line %d column %d: %s", name, jerr.line, jerr.column, jerr.text);
    if (st == LLX_OK) st = load_root(t, root, name);
    if (st == LLX_OK) st = tok_hf_pipeline(t, root, name);
    json_decref(root);
    if (st == LLX_OK)
        st = tok_hf_configs(t, f, nm->config, nm->generation, nm->model);
    if (st != LLX_OK) {
        llx_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LLX_OK;
}

llx_status llx_tokenizer_load_hf_mem(llx_tokenizer **out, const llx_tokenizer_files *f)
{
    const hf_names nm = {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"};
    return load_named(out, f, &nm);
}

/* Read a file when it exists (or always, when required). */
static llx_status read_opt(const char *path, int required, char **buf, size_t *len)
{
    *buf = NULL, *len = 0;
    if (!path) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    return required || llx_is_file(path) ? llx_read_file(path, HF_FILE_MAX, buf, len) : LLX_OK;
}

llx_status llx_tokenizer_load_hf(llx_tokenizer **out, const char *dir)
{
    *out = NULL;
    llx_tokenizer_files f = {0};
    hf_names nm = {llx_path_join(dir, "tokenizer.json"), llx_path_join(dir, "tokenizer_config.json"),
                   llx_path_join(dir, "generation_config.json"), llx_path_join(dir, "config.json")};
    char *j = NULL, *c = NULL, *g = NULL, *mc = NULL;
    llx_status st = read_opt(nm.json, 1, &j, &f.json_len);
    if (st == LLX_OK) st = read_opt(nm.config, 0, &c, &f.config_len);
    if (st == LLX_OK) st = read_opt(nm.generation, 0, &g, &f.generation_len);
    if (st == LLX_OK) st = read_opt(nm.model, 0, &mc, &f.model_config_len);
    f.json = j, f.config = c, f.generation = g, f.model_config = mc;
    if (st == LLX_OK) st = load_named(out, &f, &nm);
    free(j), free(c), free(g), free(mc);
    free((char *)nm.json), free((char *)nm.config), free((char *)nm.generation), free((char *)nm.model);
    return st;
}
