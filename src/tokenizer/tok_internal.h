/* tokenizer/tok_internal.h - the loaded tokenizer and the pieces shared by
 * load.c (files -> tables), pretok.c (PCRE2 pre-tokenizer), bpe.c (merging)
 * and utf8.c.  Not a public header: cli/ uses include/llx/tokenizer.h. */
#ifndef LLX_TOK_INTERNAL_H
#define LLX_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llx/tokenizer.h"

/* Open-addressing map from (left id, right id) to the merge's rank and
 * result.  Empty slots have key UINT64_MAX. */
typedef struct tok_pair_map {
    uint64_t *keys;
    int32_t *rank;
    int32_t *merged;
    size_t mask;
} tok_pair_map;

/* Compiled pre-tokenizer pattern (pcre2_code *, kept opaque here). */
typedef struct tok_pretok {
    void *code;
    int jit; /* 1 when JIT compilation succeeded */
} tok_pretok;

struct llx_tokenizer {
    int n_vocab;
    int n_merges;
    char *bytes;      /* raw bytes of every token, concatenated */
    uint32_t *off;    /* token id's bytes are bytes[off[id] .. off[id+1]) */
    int32_t *str_slots; /* bytes -> id: open addressing, -1 = empty */
    size_t str_mask;
    int byte_id[256]; /* id of the single-byte token of each byte */
    tok_pair_map pairs;
    int32_t *merge_a, *merge_b, *merge_out; /* merge rank r joins a and b into out */
    tok_pretok pretok;
};

/* Rank and result of merging (a, b); returns 0 when they do not merge. */
static inline int tok_pair_find(const tok_pair_map *m, int a, int b, int32_t *rank, int32_t *merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & m->mask;
    for (;;) {
        if (m->keys[i] == key) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return 1;
        }
        if (m->keys[i] == UINT64_MAX) return 0;
        i = (i + 1) & m->mask;
    }
}

/* Length of the well-formed UTF-8 sequence starting at p (1..4), or 0 when
 * the bytes there (at most n) are not one (bad lead, bad continuation,
 * overlong form, surrogate, > U+10FFFF, or cut off by the end). */
int tok_utf8_len(const unsigned char *p, size_t n);

/* Pre-tokenizer. */
llx_status tok_pretok_init(tok_pretok *p);
void tok_pretok_free(tok_pretok *p);

/* Calls piece(ctx, start, len) for each pre-token of the valid UTF-8 text
 * s[0..n), in order; the pieces cover the text exactly.  Stops and returns
 * the first non-OK status piece() returns. */
typedef llx_status (*tok_piece_fn)(void *ctx, const char *start, size_t len);
llx_status tok_pretok_split(const tok_pretok *p, const char *s, size_t n, tok_piece_fn piece, void *ctx);

#endif
