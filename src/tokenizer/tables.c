/* tokenizer/tables.c - the tables both loaders build (token bytes, the
 * bytes -> id map, the merge map, GPT-2's byte alphabet), the helpers
 * their error messages share, and the small read-only accessors. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/status.h"

/* ---- GPT-2's byte alphabet: byte b is spelled as one code point ---- */

static int byte_is_printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

void tok_byte_alphabet_inverse(int16_t cp_byte[324])
{
    for (int c = 0; c < 324; c++) cp_byte[c] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        if (byte_is_printable(b)) cp_byte[b] = (int16_t)b;
        else cp_byte[256 + extra++] = (int16_t)b;
    }
}

long tok_alphabet_decode(const int16_t cp_byte[324], const char *s, size_t n, char *out)
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

const char *tok_show(const char *s, size_t n, char *buf, size_t cap)
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

size_t tok_pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

/* ---- bytes -> id map ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

llx_status tok_str_map_init(llx_tokenizer *t, size_t n)
{
    t->str_mask = tok_pow2_at_least(n + n / 2) - 1;
    t->str_slots = malloc((t->str_mask + 1) * sizeof *t->str_slots);
    if (!t->str_slots) return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
    memset(t->str_slots, 0xff, (t->str_mask + 1) * sizeof *t->str_slots);
    return LLX_OK;
}

/* Slots hold the upper hash bits beside the id, so a probe compares bytes
 * only when the hashes agree. */
static int32_t slot_probe(const llx_tokenizer *t, const char *s, size_t n, size_t *at)
{
    size_t h = hash_bytes(s, n);
    uint32_t tag = (uint32_t)(h >> 32) | 0x80000000u; /* never 0xffffffff's pair with id -1 */
    for (size_t i = h & t->str_mask;; i = (i + 1) & t->str_mask) {
        uint64_t e = t->str_slots[i];
        if (e == UINT64_MAX) {
            *at = i;
            return -1;
        }
        int32_t id = (int32_t)(uint32_t)e;
        if ((uint32_t)(e >> 32) == tag && t->off[id + 1] - t->off[id] == n && memcmp(t->bytes + t->off[id], s, n) == 0) {
            *at = i;
            return id;
        }
    }
}

int tok_str_find(const llx_tokenizer *t, const char *bytes, size_t len)
{
    size_t at;
    return slot_probe(t, bytes, len, &at);
}

int tok_str_insert(llx_tokenizer *t, int id)
{
    const char *s = t->bytes + t->off[id];
    size_t n = t->off[id + 1] - t->off[id], at;
    int32_t old = slot_probe(t, s, n, &at);
    if (old >= 0) return old;
    uint32_t tag = (uint32_t)(hash_bytes(s, n) >> 32) | 0x80000000u;
    t->str_slots[at] = ((uint64_t)tag << 32) | (uint32_t)id;
    return -1;
}

int tok_fill_byte_ids(llx_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = tok_str_find(t, &c, 1);
        if (t->byte_id[b] < 0) return b;
    }
    return -1;
}

/* ---- merges ---- */

llx_status tok_merges_init(llx_tokenizer *t, size_t n)
{
    tok_pair_map *m = &t->pairs;
    m->mask = tok_pow2_at_least(n + n / 2) - 1;
    m->slot = malloc((m->mask + 1) * sizeof *m->slot);
    t->merge_a = malloc((n + 1) * sizeof *t->merge_a);
    t->merge_b = malloc((n + 1) * sizeof *t->merge_b);
    t->merge_out = malloc((n + 1) * sizeof *t->merge_out);
    if (!m->slot || !t->merge_a || !t->merge_b || !t->merge_out)
        return llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i <= m->mask; i++) m->slot[i].key = UINT64_MAX;
    return LLX_OK;
}

llx_status tok_merge_add(llx_tokenizer *t, int a, int b, int merged, int32_t *old_rank)
{
    tok_pair_map *m = &t->pairs;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & m->mask;
    for (; m->slot[i].key != UINT64_MAX; i = (i + 1) & m->mask)
        if (m->slot[i].key == key) {
            *old_rank = m->slot[i].rank;
            return LLX_ERR_FORMAT;
        }
    int32_t r = t->n_merges++;
    m->slot[i] = (tok_pair_slot){key, r, merged};
    t->merge_a[r] = a;
    t->merge_b[r] = b;
    t->merge_out[r] = merged;
    return LLX_OK;
}

llx_status tok_ids_push(tok_ids *b, int id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        int *p = realloc(b->v, cap * sizeof *p);
        if (!p) return llx_fail(LLX_ERR_NOMEM, "tokenize: out of memory");
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return LLX_OK;
}

/* ---- public accessors ---- */

int llx_tokenizer_find(const llx_tokenizer *t, const char *bytes, size_t len)
{
    if (t->hf) {
        for (int k = 0; k < 2; k++) {
            int id = tok_trie_find(&t->added[k], bytes, len);
            if (id >= 0) return id;
        }
    }
    return tok_str_find(t, bytes, len);
}

void llx_tokenizer_free(llx_tokenizer *t)
{
    if (!t) return;
    tok_pretok_free(&t->pretok);
    for (int i = 0; i < t->n_steps; i++) tok_pretok_free(&t->steps[i].re);
    tok_trie_free(&t->added[0]);
    tok_trie_free(&t->added[1]);
    free(t->special);
    free(t->chat_template);
    free(t->bytes);
    free(t->off);
    free(t->str_slots);
    free(t->pairs.slot);
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

int llx_tokenizer_bos(const llx_tokenizer *t) { return t->bos; }

int llx_tokenizer_eos(const llx_tokenizer *t) { return t->eos; }

int llx_tokenizer_is_special(const llx_tokenizer *t, int id)
{
    return t->special && id >= 0 && id < t->n_vocab && t->special[id];
}

int llx_tokenizer_is_eog(const llx_tokenizer *t, int id)
{
    if (id < 0) return 0;
    for (int i = 0; i < t->n_stops; i++)
        if (t->stops[i] == id) return 1;
    return 0;
}

const char *llx_tokenizer_chat_template(const llx_tokenizer *t) { return t->chat_template; }

int llx_tokenizer_is_hf(const llx_tokenizer *t) { return t->hf; }
