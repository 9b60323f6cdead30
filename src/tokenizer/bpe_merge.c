/* tokenizer/bpe_merge.c - the BPE merge scratch shared by the GPT-2 and the
 * tokenizer.json encoders: symbol list, candidate min-heap, growing. */
#include <stdlib.h>

#include "tokenizer/bpe_merge.h"
#include "util/status.h"

void tok_bpe_free(tok_bpe *b)
{
    free(b->tok), free(b->prev), free(b->next), free(b->heap);
    free(b->pool_pos), free(b->pool_next), free(b->batch);
    b->tok = b->prev = b->next = b->pool_pos = b->pool_next = b->batch = NULL;
    b->heap = NULL;
    b->cap = 0;
}

llx_status tok_bpe_reserve(tok_bpe *b, size_t n)
{
    if (n <= b->cap) return LLX_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n) cap *= 2;
    tok_bpe_free(b);
    b->tok = malloc(cap * sizeof *b->tok);
    b->prev = malloc(cap * sizeof *b->prev);
    b->next = malloc(cap * sizeof *b->next);
    b->heap = malloc(3 * cap * sizeof *b->heap);
    int ok = b->tok && b->prev && b->next && b->heap;
    if (b->with_pool) {
        b->pool_pos = malloc(3 * cap * sizeof *b->pool_pos);
        b->pool_next = malloc(3 * cap * sizeof *b->pool_next);
        b->batch = malloc(3 * cap * sizeof *b->batch);
        ok = ok && b->pool_pos && b->pool_next && b->batch;
    }
    if (!ok) {
        tok_bpe_free(b);
        return llx_fail(LLX_ERR_NOMEM, "tokenize: out of memory");
    }
    b->cap = cap;
    return LLX_OK;
}

void tok_bpe_start(tok_bpe *b, const llx_tokenizer *t, const unsigned char *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        b->tok[i] = t->byte_id[u[i]];
        b->prev[i] = (int32_t)i - 1;
        b->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    b->hn = 0;
}

void tok_bpe_join(tok_bpe *b, int32_t L, int32_t out)
{
    int32_t R = b->next[L];
    b->tok[L] = out;
    b->tok[R] = -1;
    b->next[L] = b->next[R];
    if (b->next[R] >= 0) b->prev[b->next[R]] = L;
}

llx_status tok_bpe_emit(const tok_bpe *b, tok_ids *out)
{
    for (int32_t i = 0; i >= 0; i = b->next[i]) LLX_TRY(tok_ids_push(out, b->tok[i]));
    return LLX_OK;
}

static int before(const tok_cand *a, const tok_cand *b) { return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos; }

void tok_heap_push(tok_bpe *b, tok_cand x)
{
    tok_cand *h = b->heap;
    size_t i = b->hn++;
    while (i > 0 && before(&x, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

tok_cand tok_heap_pop(tok_bpe *b)
{
    tok_cand *h = b->heap, top = h[0], e = h[--b->hn];
    size_t i = 0, n = b->hn;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n) break;
        if (k + 1 < n && before(&h[k + 1], &h[k])) k++;
        if (!before(&h[k], &e)) break;
        h[i] = h[k];
        i = k;
    }
    if (n) h[i] = e;
    return top;
}
