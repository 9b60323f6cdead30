/* engine/seqs.c - continuous batching (llx/engine.h): the KV block pool,
 * sequences that hold blocks of it, and steps that run tokens of several
 * sequences in one pass.
 *
 * Every node's cache is a pool of blocks of LLX_KV_BLOCK positions with
 * the same numbering; the host decides which blocks a sequence holds (the
 * lowest free ones, so a lone sequence is one contiguous stretch) and hands
 * the nodes a token table per pass: each token's position, sequence and
 * that sequence's blocks (internal.h).  A step orders its tokens so that
 * every sequence's last token comes at the end of the pass, in item order:
 * the LM head then runs on exactly those rows.  Matrix stages see the step
 * as one batch of tokens (one pass of the weights for all sequences);
 * every output element is still computed in an order that depends on that
 * element alone, and attention reads only the token's own sequence, so a
 * sequence's results do not depend on what else is in the step. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "util/status.h"

int llx_engine_kv_block(void) { return LLX_KV_BLOCK; }
int llx_engine_max_seqs(const llx_engine *e) { return e->kv.slots - 1; }
int llx_engine_kv_free(const llx_engine *e) { return e->kv.free; }

llx_status llx_engine_kv_init(llx_engine *e)
{
    engine_kv *k = &e->kv;
    k->bps = (e->opt.max_ctx + LLX_KV_BLOCK - 1) / LLX_KV_BLOCK;
    k->slots = e->opt.max_seqs + 1;
    k->blocks = e->opt.kv_blocks > 0 ? e->opt.kv_blocks : e->opt.max_seqs * k->bps;
    k->free = k->blocks;
    const size_t S = (size_t)k->slots, B = (size_t)e->opt.max_batch;
    k->used = calloc((size_t)k->blocks, 1);
    k->table = calloc(S * (size_t)k->bps, sizeof *k->table);
    k->held = calloc(S, sizeof *k->held);
    k->pos = calloc(S, sizeof *k->pos);
    k->cap = calloc(S, sizeof *k->cap);
    k->tok_ids = calloc(B, sizeof *k->tok_ids);
    k->tok_pos = calloc(B, sizeof *k->tok_pos);
    k->tok_slot = calloc(B, sizeof *k->tok_slot);
    if (!k->used || !k->table || !k->held || !k->pos || !k->cap || !k->tok_ids || !k->tok_pos || !k->tok_slot)
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    k->map = (llx_pass_map){k->tok_pos, k->tok_slot, k->table, k->bps};
    return LLX_OK;
}

void llx_engine_kv_free_all(llx_engine *e)
{
    engine_kv *k = &e->kv;
    free(k->used), free(k->table), free(k->held), free(k->pos), free(k->cap);
    free(k->tok_ids), free(k->tok_pos), free(k->tok_slot);
    memset(k, 0, sizeof *k);
}

llx_status llx_engine_kv_take(llx_engine *e, int slot, int positions)
{
    engine_kv *k = &e->kv;
    const int need = (positions + LLX_KV_BLOCK - 1) / LLX_KV_BLOCK;
    if (need > k->free)
        return llx_fail(LLX_ERR_BUSY, "the KV pool has %d free blocks, %d positions need %d", k->free, positions, need);
    int *row = k->table + (size_t)slot * k->bps;
    for (int b = 0, got = 0; got < need; b++)
        if (!k->used[b]) k->used[b] = 1, row[got++] = b;
    k->free -= need;
    k->held[slot] = need;
    k->cap[slot] = positions;
    k->pos[slot] = 0;
    return LLX_OK;
}

static void kv_release(llx_engine *e, int slot)
{
    engine_kv *k = &e->kv;
    const int *row = k->table + (size_t)slot * k->bps;
    for (int i = 0; i < k->held[slot]; i++) k->used[row[i]] = 0;
    k->free += k->held[slot];
    k->held[slot] = 0;
}

llx_status llx_seq_open(llx_engine *e, int positions, int *seq)
{
    *seq = -1;
    if (positions < 1 || positions > e->opt.max_ctx)
        return llx_fail(LLX_ERR_ARG, "a sequence of %d positions does not fit the context of %d", positions,
                        e->opt.max_ctx);
    if ((long)(positions + LLX_KV_BLOCK - 1) / LLX_KV_BLOCK > e->kv.blocks)
        return llx_fail(LLX_ERR_ARG, "a sequence of %d positions needs more than the pool's %d blocks", positions,
                        e->kv.blocks);
    int s = 0;
    while (s < e->kv.slots - 1 && e->kv.held[s]) s++;
    if (s == e->kv.slots - 1) return llx_fail(LLX_ERR_BUSY, "all %d sequence slots are in use", s);
    LLX_TRY(llx_engine_kv_take(e, s, positions));
    *seq = s;
    return LLX_OK;
}

void llx_seq_close(llx_engine *e, int seq)
{
    if (seq >= 0 && seq < e->kv.slots - 1 && e->kv.held[seq]) kv_release(e, seq);
}

int llx_seq_pos(const llx_engine *e, int seq)
{
    return seq >= 0 && seq < e->kv.slots - 1 && e->kv.held[seq] ? e->kv.pos[seq] : 0;
}

static llx_status check_items(const llx_engine *e, const llx_seq_tokens *items, int n_items, int *total)
{
    const engine_kv *k = &e->kv;
    const int V = llx_model_config(e->model)->n_vocab;
    if (n_items < 1) return llx_fail(LLX_ERR_ARG, "a step needs at least one sequence");
    if (n_items > k->slots - 1 || n_items > e->opt.max_batch)
        return llx_fail(LLX_ERR_ARG, "%d sequences in one step: the engine holds %d", n_items, k->slots - 1);
    if (e->broken) return llx_fail(LLX_ERR_RING, "the engine stopped after an earlier ring failure");
    *total = 0;
    for (int i = 0; i < n_items; i++) {
        const llx_seq_tokens *it = &items[i];
        if (it->seq < 0 || it->seq >= k->slots - 1 || !k->held[it->seq])
            return llx_fail(LLX_ERR_ARG, "step item %d: sequence %d is not open", i, it->seq);
        for (int j = 0; j < i; j++)
            if (items[j].seq == it->seq) return llx_fail(LLX_ERR_ARG, "sequence %d appears twice in one step", it->seq);
        if (it->n < 1 || (long)k->pos[it->seq] + it->n > k->cap[it->seq])
            return llx_fail(LLX_ERR_ARG, "step item %d: %d tokens at position %d exceed the sequence's %d positions", i,
                            it->n, k->pos[it->seq], k->cap[it->seq]);
        for (int t = 0; t < it->n; t++)
            if (it->tokens[t] < 0 || it->tokens[t] >= V)
                return llx_fail(LLX_ERR_ARG, "token id %d is outside the vocabulary [0, %d)", it->tokens[t], V);
        *total += it->n;
    }
    return LLX_OK;
}

/* Token j of the step's order: every item's tokens but its last, item by
 * item, then the items' last tokens. */
static void order_token(const llx_seq_tokens *items, int n_items, int j, int total, int *item, int *t)
{
    const int lead = total - n_items;
    if (j >= lead) {
        *item = j - lead;
        *t = items[*item].n - 1;
        return;
    }
    for (int i = 0;; i++) {
        if (j < items[i].n - 1) {
            *item = i, *t = j;
            return;
        }
        j -= items[i].n - 1;
    }
}

llx_status llx_engine_step(llx_engine *e, const llx_seq_tokens *items, int n_items, float *logits)
{
    int total = 0;
    LLX_TRY(check_items(e, items, n_items, &total));
    engine_kv *k = &e->kv;
    const int B = e->opt.max_batch;
    for (int done = 0; done < total;) {
        /* every pass is at most B tokens; the last one holds all the items' last tokens */
        const int left = total - done, n = left <= B ? left : (left - n_items < B ? left - n_items : B);
        const int last = n == left;
        for (int j = 0; j < n; j++) {
            int i, t;
            order_token(items, n_items, done + j, total, &i, &t);
            k->tok_ids[j] = items[i].tokens[t];
            k->tok_pos[j] = k->pos[items[i].seq] + t;
            k->tok_slot[j] = items[i].seq;
        }
        if (last) LLX_TRY(llx_engine_run_pass_into(e, n, 0, n_items, logits, n_items));
        else LLX_TRY(llx_engine_run_pass(e, n, 0, 1));
        done += n;
    }
    for (int i = 0; i < n_items; i++) k->pos[items[i].seq] += items[i].n;
    return LLX_OK;
}
