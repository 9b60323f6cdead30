/* tokenizer/hf_encode.c - encoding with tokenizer.json semantics (HF
 * tokenizers 0.22):
 *   1. invalid UTF-8 is cut off as in GPT-2 mode (each bad byte is its own
 *      byte token; the valid runs are encoded independently);
 *   2. added tokens are taken out of the text, leftmost-longest: first those
 *      with normalized: false, then (in the remaining text) the others;
 *   3. the rest goes through the pre-tokenizer steps (Split / ByteLevel, in
 *      order, each splitting the pieces of the one before);
 *   4. each piece is one token when ignore_merges is set and the vocabulary
 *      has it, else BPE as HF's word merging does it: a heap of candidate
 *      pairs ordered by (rank, position); a popped pair is applied only if
 *      its two symbols still merge into the same token.
 * All scratch state lives in the call, so a const tokenizer is thread-safe. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/bpe_merge.h"
#include "tokenizer/tok_internal.h"
#include "util/status.h"

typedef struct hf_enc {
    const llx_tokenizer *t;
    unsigned flags;
    tok_ids out;
    tok_bpe m; /* the piece being merged */
} hf_enc;

static llx_status push_id(hf_enc *c, int id) { return tok_ids_push(&c->out, id); }

/* ---- BPE ---- */

static void consider(hf_enc *c, int32_t i)
{
    int32_t j = i >= 0 ? c->m.next[i] : -1, rank, out;
    if (j < 0 || !tok_pair_find(&c->t->pairs, c->m.tok[i], c->m.tok[j], &rank, &out)) return;
    tok_heap_push(&c->m, (tok_cand){rank, i, out});
}

static llx_status bpe(hf_enc *c, const char *s, size_t n)
{
    const llx_tokenizer *t = c->t;
    const unsigned char *u = (const unsigned char *)s;
    tok_bpe *m = &c->m;
    if (t->ignore_merges) {
        int id = tok_str_find(t, s, n);
        if (id >= 0) return push_id(c, id);
    }
    if (n == 1) return push_id(c, t->byte_id[u[0]]);
    LLX_TRY(tok_bpe_reserve(m, n));
    tok_bpe_start(m, t, u, n);
    for (size_t i = 0; i + 1 < n; i++) consider(c, (int32_t)i);
    while (m->hn > 0) {
        tok_cand x = tok_heap_pop(m);
        int32_t L = x.pos, R = m->tok[L] >= 0 ? m->next[L] : -1, rank, out;
        if (R < 0 || !tok_pair_find(&t->pairs, m->tok[L], m->tok[R], &rank, &out) || out != x.out) continue;
        tok_bpe_join(m, L, out);
        consider(c, m->prev[L]);
        consider(c, L);
    }
    return tok_bpe_emit(m, &c->out);
}

/* ---- pre-tokenizer steps ---- */

static llx_status pretok(hf_enc *c, int k, const char *s, size_t n);

/* Pieces of s under step st: HF's find_matches (matches and the gaps
 * between them), then the split behaviour; each non-empty piece goes on
 * to step k + 1. */
static llx_status split_step(hf_enc *c, const tok_step *st, int k, const char *s, size_t n)
{
    size_t *sp = NULL;
    long nm = tok_regex_matches(&st->re, s, n, &sp);
    if (nm < 0) return LLX_ERR_ARG;
    /* pieces as (start, end, is_match), at most 2 * nm + 1 */
    size_t np = 0, prev = 0, (*pc)[3] = malloc((2 * (size_t)nm + 1) * sizeof *pc);
    if (!pc) {
        free(sp);
        return llx_fail(LLX_ERR_NOMEM, "tokenize: out of memory");
    }
    for (long m = 0; m <= nm; m++) {
        size_t a = m < nm ? sp[2 * m] : n, e = m < nm ? sp[2 * m + 1] : n;
        if (a > prev) pc[np][0] = prev, pc[np][1] = a, pc[np++][2] = (size_t)st->invert;
        if (m < nm) pc[np][0] = a, pc[np][1] = e, pc[np++][2] = (size_t)!st->invert;
        prev = e;
    }
    free(sp);
    size_t w = 0;
    int prev_match = 0;
    if (st->mode == TOK_SPLIT_MERGED_NEXT) {
        for (size_t i = np; i-- > 0;) { /* right to left, into pc[w..] from the end */
            int is = (int)pc[i][2];
            if (is && !prev_match && w > 0) pc[np - w][0] = pc[i][0];
            else pc[np - ++w][0] = pc[i][0], pc[np - w][1] = pc[i][1], pc[np - w][2] = 0;
            prev_match = is;
        }
        memmove(pc, pc + (np - w), w * sizeof *pc);
    } else {
        for (size_t i = 0; i < np; i++) {
            int is = (int)pc[i][2];
            int extend = st->mode == TOK_SPLIT_MERGED_PREV ? is && !prev_match : st->mode == TOK_SPLIT_CONTIGUOUS && is == prev_match;
            if (st->mode == TOK_SPLIT_REMOVED && is) continue;
            if (extend && w > 0 && st->mode != TOK_SPLIT_ISOLATED) pc[w - 1][1] = pc[i][1];
            else pc[w][0] = pc[i][0], pc[w][1] = pc[i][1], pc[w++][2] = (size_t)is;
            prev_match = is;
        }
    }
    llx_status r = LLX_OK;
    for (size_t i = 0; i < w && r == LLX_OK; i++)
        if (pc[i][1] > pc[i][0]) r = pretok(c, k + 1, s + pc[i][0], pc[i][1] - pc[i][0]);
    free(pc);
    return r;
}

static llx_status pretok(hf_enc *c, int k, const char *s, size_t n)
{
    if (n == 0) return LLX_OK;
    if (k == c->t->n_steps) return bpe(c, s, n);
    const tok_step *st = &c->t->steps[k];
    if (st->prefix_space && s[0] != ' ') {
        char *p = malloc(n + 1);
        if (!p) return llx_fail(LLX_ERR_NOMEM, "tokenize: out of memory");
        p[0] = ' ';
        memcpy(p + 1, s, n);
        tok_step plain = *st;
        plain.prefix_space = 0;
        llx_status r = plain.has_re ? split_step(c, &plain, k, p, n + 1) : pretok(c, k + 1, p, n + 1);
        free(p);
        return r;
    }
    return st->has_re ? split_step(c, st, k, s, n) : pretok(c, k + 1, s, n);
}

/* ---- added tokens ---- */

/* Longest added token of tr at s[0..n) allowed by the flags: its id, and
 * its length in *len; -1 when none. */
static int added_at(const hf_enc *c, const tok_trie *tr, const char *s, size_t n, size_t *len)
{
    int best = -1;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t ch = tr->child[node];
        while (ch >= 0 && tr->byte[ch] != (uint8_t)s[i]) ch = tr->sibling[ch];
        if (ch < 0) break;
        node = ch;
        int id = tr->id[node];
        if (id >= 0 && !((c->flags & LLX_TOK_SPECIAL_AS_TEXT) && c->t->special[id])) best = id, *len = i + 1;
    }
    return best;
}

/* Take the added tokens of trie k (and then k + 1) out of s; the rest goes
 * to the pre-tokenizer. */
static llx_status added_split(hf_enc *c, int k, const char *s, size_t n)
{
    if (k == 2) return pretok(c, 0, s, n);
    const tok_trie *tr = &c->t->added[k];
    if (!tr->child) return added_split(c, k + 1, s, n);
    size_t start = 0, i = 0;
    while (i < n) {
        size_t len = 0;
        int id = tr->first[(uint8_t)s[i]] ? added_at(c, tr, s + i, n - i, &len) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        LLX_TRY(added_split(c, k + 1, s + start, i - start));
        LLX_TRY(push_id(c, id));
        i += len;
        start = i;
    }
    return added_split(c, k + 1, s + start, n - start);
}

llx_status tok_hf_encode(const llx_tokenizer *t, const char *text, size_t len, unsigned flags, int **ids, int *n)
{
    hf_enc c = {.t = t, .flags = flags};
    const unsigned char *p = (const unsigned char *)text;
    llx_status st = LLX_OK;
    for (int i = 0; (flags & LLX_TOK_ADD_SPECIAL) && i < t->n_pre && st == LLX_OK; i++) st = push_id(&c, t->frame_pre[i]);
    size_t i = 0;
    while (i < len && st == LLX_OK) {
        size_t j = tok_valid_run_end(p, len, i);
        if (j > i) st = added_split(&c, 0, text + i, j - i);
        for (; st == LLX_OK && j < len && tok_utf8_len(p + j, len - j) == 0; j++) st = push_id(&c, t->byte_id[p[j]]);
        i = j;
    }
    for (int k = 0; (flags & LLX_TOK_ADD_SPECIAL) && k < t->n_post && st == LLX_OK; k++) st = push_id(&c, t->frame_post[k]);
    tok_bpe_free(&c.m);
    if (st == LLX_OK && c.out.n > INT_MAX) st = llx_fail(LLX_ERR_ARG, "tokenize: too many tokens");
    if (st != LLX_OK) {
        free(c.out.v);
        return st;
    }
    *ids = c.out.v;
    *n = (int)c.out.n;
    return LLX_OK;
}
