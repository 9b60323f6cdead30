/* tokenizer/bpe_merge.h - the scratch both BPE encoders merge a piece in
 * (tokenize.c: GPT-2's rounds by rank; hf_encode.c: HF's (rank, position)
 * order): the piece's symbol list, a min-heap of merge candidates and, for
 * the GPT-2 rounds, the per-rank candidate pool.  Grown to the longest
 * piece and reused; owned by one encoding call. */
#ifndef LLX_TOK_BPE_MERGE_H
#define LLX_TOK_BPE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_internal.h"

/* A heap entry, ordered by rank, then by position. */
typedef struct tok_cand {
    int32_t rank, pos, out;
} tok_cand;

typedef struct tok_bpe {
    int32_t *tok, *prev, *next; /* symbol list of the piece; tok < 0 = merged away */
    tok_cand *heap;
    size_t hn;                  /* entries in heap */
    int with_pool;              /* set before the first reserve to get the pool */
    int32_t *pool_pos, *pool_next, *batch;
    size_t cap;                 /* longest piece the arrays hold */
} tok_bpe;

/* Room for a piece of n bytes: the symbol arrays, and 3n heap (and pool)
 * entries (n-1 initial pairs plus at most 2 new ones per merge). */
llx_status tok_bpe_reserve(tok_bpe *b, size_t n);
void tok_bpe_free(tok_bpe *b);

/* Start a piece: one symbol per byte (its single-byte token), empty heap. */
void tok_bpe_start(tok_bpe *b, const llx_tokenizer *t, const unsigned char *u, size_t n);

/* Symbol L and the one after it become the single symbol out. */
void tok_bpe_join(tok_bpe *b, int32_t L, int32_t out);

/* The piece's remaining symbols, in order, onto out. */
llx_status tok_bpe_emit(const tok_bpe *b, tok_ids *out);

void tok_heap_push(tok_bpe *b, tok_cand x);
tok_cand tok_heap_pop(tok_bpe *b); /* the least entry; b->hn > 0 */

#endif
