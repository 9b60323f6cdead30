/* tokenizer/tok_internal.h - the loaded tokenizer and the pieces shared by
 * the GPT-2 loader (load.c: vocab.json + merges.txt), the tokenizer.json
 * loader (hf_load.c, hf_pipeline.c), the tables both build (tables.c), the
 * PCRE2 pre-tokenizers (pretok.c, regex.c), encoding (tokenize.c for GPT-2
 * files, hf_encode.c for tokenizer.json, both merging in bpe_merge.c) and
 * utf8.c.
 * Not a public header: cli/ uses include/llx/tokenizer.h. */
#ifndef LLX_TOK_INTERNAL_H
#define LLX_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llx/tokenizer.h"

/* Open-addressing map from (left id, right id) to the merge's rank and
 * result, one cache line access per probe.  Empty slots have key UINT64_MAX. */
typedef struct tok_pair_slot {
    uint64_t key;
    int32_t rank, merged;
} tok_pair_slot;
typedef struct tok_pair_map {
    tok_pair_slot *slot;
    size_t mask;
} tok_pair_map;

/* A compiled PCRE2 pattern (pcre2_code *, kept opaque here). */
typedef struct tok_pretok {
    void *code;
    int jit; /* 1 when JIT compilation succeeded */
} tok_pretok;

/* Added tokens (tokenizer.json "added_tokens"): a byte trie matched
 * leftmost-longest before anything else.  Node 0 is the root. */
typedef struct tok_trie {
    int32_t *child, *sibling; /* first child / next sibling, -1 = none */
    int32_t *id;              /* token ending here, -1 = none */
    uint8_t *byte;
    int n, cap;
    uint8_t first[256]; /* 1 when some token starts with this byte */
} tok_trie;

/* Split delimiter behaviours of the HF Split pre-tokenizer. */
typedef enum tok_split_mode {
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} tok_split_mode;

/* One pre-tokenizer step of a tokenizer.json pipeline. */
typedef struct tok_step {
    int has_re;        /* split by re (Split, or ByteLevel with use_regex) */
    tok_pretok re;
    tok_split_mode mode;
    int invert;        /* Split: the pieces are what does NOT match */
    int prefix_space;  /* ByteLevel add_prefix_space */
} tok_step;

#define TOK_MAX_STEPS 8
#define TOK_MAX_FRAME 8
#define TOK_MAX_STOPS 16

struct llx_tokenizer {
    int n_vocab;    /* number of ids, added tokens included */
    int n_merges;
    char *bytes;      /* raw bytes of every token, concatenated */
    uint32_t *off;    /* token id's bytes are bytes[off[id] .. off[id+1]) */
    uint64_t *str_slots; /* bytes -> id of the BPE vocabulary: open addressing,
                            (hash << 32) | id, UINT64_MAX = empty */
    size_t str_mask;
    int byte_id[256]; /* id of the single-byte token of each byte */
    tok_pair_map pairs;
    int32_t *merge_a, *merge_b, *merge_out; /* merge rank r joins a and b into out */
    tok_pretok pretok; /* GPT-2 files: GPT-2's pattern */

    /* tokenizer.json (hf = 1) */
    int hf;
    int ignore_merges;          /* a pre-token that is a vocabulary entry is one token */
    tok_step steps[TOK_MAX_STEPS];
    int n_steps;
    tok_trie added[2];          /* [0] normalized: false, [1] normalized: true */
    uint8_t *special;           /* per id: 1 = special added token */
    int frame_pre[TOK_MAX_FRAME], n_pre;   /* ids the post-processor puts before the text */
    int frame_post[TOK_MAX_FRAME], n_post; /* and after it */
    int bos, eos;
    int stops[TOK_MAX_STOPS], n_stops;
    char *chat_template;        /* tokenizer_config.json chat_template, or NULL */
};

/* Rank and result of merging (a, b); returns 0 when they do not merge. */
static inline int tok_pair_find(const tok_pair_map *m, int a, int b, int32_t *rank, int32_t *merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & m->mask;
    for (;;) {
        if (m->slot[i].key == key) {
            *rank = m->slot[i].rank;
            *merged = m->slot[i].merged;
            return 1;
        }
        if (m->slot[i].key == UINT64_MAX) return 0;
        i = (i + 1) & m->mask;
    }
}

/* Length of the well-formed UTF-8 sequence starting at p (1..4), or 0 when
 * the bytes there (at most n) are not one (bad lead, bad continuation,
 * overlong form, surrogate, > U+10FFFF, or cut off by the end). */
int tok_utf8_len(const unsigned char *p, size_t n);

/* End of the maximal run of well-formed UTF-8 in p[0..len) starting at i. */
size_t tok_valid_run_end(const unsigned char *p, size_t len, size_t i);

/* A growing array of ids (encoding output). */
typedef struct tok_ids {
    int *v;
    size_t n, cap;
} tok_ids;
llx_status tok_ids_push(tok_ids *b, int id);

/* ---- tables.c: shared by both loaders ---- */

/* GPT-2's byte alphabet: cp_byte[c] = the byte spelled by code point c
 * (< 324), or -1. */
void tok_byte_alphabet_inverse(int16_t cp_byte[324]);
/* Decode a token spelled in the byte alphabet (UTF-8 s[0..n)) into raw
 * bytes at out (room for n bytes); the byte count, or -1 when s has a
 * character outside the alphabet. */
long tok_alphabet_decode(const int16_t cp_byte[324], const char *s, size_t n, char *out);
/* A printable, length-limited rendering of bytes for error messages. */
const char *tok_show(const char *s, size_t n, char *buf, size_t cap);
size_t tok_pow2_at_least(size_t n);
/* Allocate the bytes -> id map for n entries (all empty). */
llx_status tok_str_map_init(llx_tokenizer *t, size_t n);
/* Insert id into the bytes -> id map; returns the id already holding the
 * same bytes, or -1. */
int tok_str_insert(llx_tokenizer *t, int id);
/* Id of a BPE vocabulary entry, or -1. */
int tok_str_find(const llx_tokenizer *t, const char *bytes, size_t len);
/* Allocate the pair map and merge arrays for up to n merges. */
llx_status tok_merges_init(llx_tokenizer *t, size_t n);
/* Add merge (a, b) -> merged with the next rank; LLX_ERR_FORMAT with
 * *old_rank set when the pair is already a merge. */
llx_status tok_merge_add(llx_tokenizer *t, int a, int b, int merged, int32_t *old_rank);
/* Fill byte_id[] from the map; returns the first byte without a token, or -1. */
int tok_fill_byte_ids(llx_tokenizer *t);

/* ---- pretok.c / regex.c: PCRE2 ---- */

/* GPT-2's pre-tokenizer. */
llx_status tok_pretok_init(tok_pretok *p);
/* A tokenizer.json Split pattern: regex (written for Oniguruma, translated
 * by regex.c) or, with literal, a plain string.  `what` names it in errors. */
llx_status tok_pretok_compile(tok_pretok *p, const char *pattern, size_t len, int literal, const char *what);
void tok_pretok_free(tok_pretok *p);
/* One match of p in valid UTF-8 s[0..n) at or after pos (JIT when it can,
 * the interpreter when the JIT stack runs out); PCRE2's return code, the
 * match in match_data (a pcre2_match_data *). */
int tok_pretok_match(const tok_pretok *p, const char *s, size_t n, size_t pos, void *match_data);

/* Calls piece(ctx, start, len) for each pre-token of the valid UTF-8 text
 * s[0..n) under GPT-2's pattern, in order; the pieces cover the text exactly.
 * Stops and returns the first non-OK status piece() returns. */
typedef llx_status (*tok_piece_fn)(void *ctx, const char *start, size_t len);
llx_status tok_pretok_split(const tok_pretok *p, const char *s, size_t n, tok_piece_fn piece, void *ctx);

/* All matches of p in the valid UTF-8 text s[0..n) as HF tokenizers finds
 * them (left to right, an empty match moves on by one character): fills
 * (*spans)[2k], (*spans)[2k+1] with start and end of match k (a new array,
 * free with free()).  Returns the match count, or -1 with llx_fail set. */
long tok_regex_matches(const tok_pretok *p, const char *s, size_t n, size_t **spans);

/* Rewrite an Oniguruma pattern (as in tokenizer.json) into PCRE2 syntax
 * with the same meaning for \s, \S, \p{L}, \p{N}; a new string or NULL
 * with llx_fail set (unsupported construct). */
char *tok_regex_translate(const char *pat, size_t len, const char *what);

/* ---- hf_*.c ---- */

/* Parse tokenizer.json's pipeline sections (normalizer, pre_tokenizer,
 * post_processor, decoder) into t; the model and added tokens are loaded. */
struct json_t;
llx_status tok_hf_pipeline(llx_tokenizer *t, struct json_t *root, const char *name);
/* f's tokenizer_config.json, generation_config.json and config.json (each
 * may be NULL), named in messages by the three names. */
llx_status tok_hf_configs(llx_tokenizer *t, const llx_tokenizer_files *f, const char *cfg_name, const char *gen_name,
                          const char *model_name);
/* Id of the added token with exactly these bytes, or -1. */
int tok_trie_find(const tok_trie *tr, const char *s, size_t n);
void tok_trie_free(tok_trie *tr);

/* Encode with tokenizer.json semantics. */
llx_status tok_hf_encode(const llx_tokenizer *t, const char *text, size_t len, unsigned flags, int **ids, int *n);

#endif
