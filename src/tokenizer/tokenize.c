/* tokenizer/tokenize.c - encoding with GPT-2's files (split off invalid
 * UTF-8, pre-tokenize, BPE each piece) and decoding; tokenizer.json
 * encoding is in hf_encode.c.
 *
 * BPE follows encoder.py exactly: repeatedly take the lowest-ranked adjacent
 * pair and merge all its occurrences left to right, then look again.  Instead
 * of rescanning the piece each round (encoder.py's O(n^2)), every candidate
 * pair is filed under its rank when it appears, and a heap holds the ranks
 * that have candidates.  A round takes all candidates of the lowest rank
 * (pairs created by its merges wait for the next round, as in encoder.py,
 * even when their rank is lower) and skips those no longer present, which
 * the pair's tokens (fixed by the rank) reveal.
 * All scratch state lives in the call, so a const tokenizer is thread-safe. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/bpe_merge.h"
#include "tokenizer/tok_internal.h"
#include "util/status.h"

typedef struct enc_ctx {
    const llx_tokenizer *t;
    tok_ids out;
    /* Per rank: a FIFO list of candidate positions (indices into m's pool
     * + 1; 0 = empty).  A rank is in m's heap exactly while its list is
     * non-empty. */
    int32_t *head, *tail; /* n_merges each, calloc'ed once per call */
    tok_bpe m;            /* the piece being merged, with the pool */
    size_t npool;
} enc_ctx;

static llx_status push_id(enc_ctx *c, int id) { return tok_ids_push(&c->out, id); }

/* Record the pair starting at symbol i as a candidate, if it has a rule. */
static void consider(enc_ctx *c, int32_t i)
{
    tok_bpe *m = &c->m;
    if (i < 0 || m->next[i] < 0) return;
    int32_t rank, merged;
    if (!tok_pair_find(&c->t->pairs, m->tok[i], m->tok[m->next[i]], &rank, &merged)) return;
    int32_t e = (int32_t)c->npool++;
    m->pool_pos[e] = i;
    m->pool_next[e] = 0;
    if (c->tail[rank]) m->pool_next[c->tail[rank] - 1] = e + 1;
    else {
        c->head[rank] = e + 1;
        tok_heap_push(m, (tok_cand){rank, 0, merged});
    }
    c->tail[rank] = e + 1;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Positions of rank r's candidates into m.batch, ascending; empties the list. */
static size_t take_batch(enc_ctx *c, int32_t r)
{
    tok_bpe *m = &c->m;
    size_t nb = 0;
    int sorted = 1;
    for (int32_t e = c->head[r]; e; e = m->pool_next[e - 1]) {
        m->batch[nb] = m->pool_pos[e - 1];
        if (nb > 0 && m->batch[nb] < m->batch[nb - 1]) sorted = 0;
        nb++;
    }
    c->head[r] = c->tail[r] = 0;
    if (!sorted) qsort(m->batch, nb, sizeof *m->batch, cmp_i32);
    return nb;
}

static llx_status bpe_piece(void *ctx, const char *s, size_t n)
{
    enc_ctx *c = ctx;
    const llx_tokenizer *t = c->t;
    const unsigned char *u = (const unsigned char *)s;
    tok_bpe *m = &c->m;
    if (n == 1) return push_id(c, t->byte_id[u[0]]);
    LLX_TRY(tok_bpe_reserve(m, n));
    tok_bpe_start(m, t, u, n);
    c->npool = 0;
    for (size_t i = 0; i + 1 < n; i++) consider(c, (int32_t)i);
    while (m->hn > 0) {
        /* one round: every occurrence of the lowest-ranked pair, left to right */
        int32_t r = tok_heap_pop(m).rank;
        int32_t a = t->merge_a[r], b = t->merge_b[r], out = t->merge_out[r];
        size_t nb = take_batch(c, r);
        for (size_t k = 0; k < nb; k++) {
            int32_t L = m->batch[k], R = m->tok[L] == a ? m->next[L] : -1;
            if (R < 0 || m->tok[R] != b) continue; /* stale or overlapped */
            tok_bpe_join(m, L, out);
            consider(c, m->prev[L]);
            consider(c, L);
        }
    }
    return tok_bpe_emit(m, &c->out);
}

size_t tok_valid_run_end(const unsigned char *p, size_t len, size_t i)
{
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int l = tok_utf8_len(p + i, len - i);
        if (l == 0) break;
        i += (size_t)l;
    }
    return i;
}

llx_status llx_tokenize(const llx_tokenizer *t, const char *text, size_t len, int **ids, int *n)
{
    return llx_tokenize_ex(t, text, len, 0, ids, n);
}

llx_status llx_tokenize_ex(const llx_tokenizer *t, const char *text, size_t len, unsigned flags, int **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    if (len > (size_t)INT_MAX) return llx_fail(LLX_ERR_ARG, "tokenize: text of %zu bytes is too long", len);
    if (t->hf) return tok_hf_encode(t, text, len, flags, ids, n);
    /* GPT-2 files: no added tokens, nothing to add around the text */
    enc_ctx c = {.t = t, .m = {.with_pool = 1}};
    c.head = calloc((size_t)t->n_merges + 1, sizeof *c.head);
    c.tail = calloc((size_t)t->n_merges + 1, sizeof *c.tail);
    if (!c.head || !c.tail) {
        free(c.head), free(c.tail);
        return llx_fail(LLX_ERR_NOMEM, "tokenize: out of memory");
    }
    const unsigned char *p = (const unsigned char *)text;
    llx_status st = LLX_OK;
    size_t i = 0;
    while (i < len && st == LLX_OK) {
        size_t j = tok_valid_run_end(p, len, i);
        if (j > i) st = tok_pretok_split(&t->pretok, text + i, j - i, bpe_piece, &c);
        /* bytes that start no well-formed character: one token each */
        for (; st == LLX_OK && j < len && tok_utf8_len(p + j, len - j) == 0; j++) st = push_id(&c, t->byte_id[p[j]]);
        i = j;
    }
    tok_bpe_free(&c.m);
    free(c.head), free(c.tail);
    if (st != LLX_OK) {
        free(c.out.v);
        return st;
    }
    *ids = c.out.v;
    *n = (int)c.out.n;
    return LLX_OK;
}

llx_status llx_detokenize(const llx_tokenizer *t, const int *ids, int n, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    if (n < 0) return llx_fail(LLX_ERR_ARG, "detokenize: negative token count %d", n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return llx_fail(LLX_ERR_ARG, "detokenize: token %d (at position %d) is outside the vocabulary 0..%d",
                            ids[i], i, t->n_vocab - 1);
        total += t->off[ids[i] + 1] - t->off[ids[i]];
    }
    char *buf = malloc(total + 1);
    if (!buf) return llx_fail(LLX_ERR_NOMEM, "detokenize: out of memory");
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        size_t k = t->off[ids[i] + 1] - t->off[ids[i]];
        memcpy(buf + w, t->bytes + t->off[ids[i]], k);
        w += k;
    }
    buf[w] = 0;
    *out = buf;
    if (len) *len = w;
    return LLX_OK;
}
