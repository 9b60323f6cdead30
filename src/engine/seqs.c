/* engine/seqs.c - the sequence API of continuous batching (llx/engine.h)
 * over the engine's one KV cache: one sequence at a time, a step of one
 * item is a forward pass.  The batched engine (several sequences per pass)
 * replaces this. */
#include <string.h>

#include "engine/engine_impl.h"
#include "util/status.h"

int llx_engine_max_seqs(const llx_engine *e) { return 1; }

llx_status llx_seq_open(llx_engine *e, int positions, int *seq)
{
    *seq = -1;
    if (positions < 1 || positions > e->opt.max_ctx)
        return llx_fail(LLX_ERR_ARG, "a sequence of %d positions does not fit the context of %d", positions,
                        e->opt.max_ctx);
    if (e->seq_open) return llx_fail(LLX_ERR_BUSY, "every sequence slot is in use");
    e->seq_open = 1;
    e->seq_cap = positions;
    e->pos = 0;
    *seq = 0;
    return LLX_OK;
}

void llx_seq_close(llx_engine *e, int seq)
{
    if (seq == 0) e->seq_open = 0;
}

int llx_seq_pos(const llx_engine *e, int seq) { return seq == 0 && e->seq_open ? e->pos : 0; }

llx_status llx_engine_step(llx_engine *e, const llx_seq_tokens *items, int n_items, float *logits)
{
    if (n_items != 1 || items[0].seq != 0 || !e->seq_open)
        return llx_fail(LLX_ERR_ARG, "a step needs exactly one item of an open sequence here");
    if ((long)e->pos + items[0].n > e->seq_cap)
        return llx_fail(LLX_ERR_ARG, "%d tokens at position %d exceed the sequence's %d positions", items[0].n,
                        e->pos, e->seq_cap);
    return llx_engine_forward(e, items[0].tokens, items[0].n, logits, 0);
}
