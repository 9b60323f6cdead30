/* kernels/attn_prefill.h - attention for a prompt as a blocked causal
 * kernel: one head, T query tokens at once, on any tier's int8 GEMM.
 *
 * The head's K cache rows (positions) are packed once as the weights of a
 * GEMM in the tier's layout; the scores of a block of query tokens are one
 * GEMM over the positions the block's last token sees (causal: later
 * positions are not computed), scaled in its epilogue; each token's
 * softmax runs over exactly the positions it sees; its int8 probabilities
 * are zero past them; V is packed once, transposed, and the context of
 * the block is a second GEMM whose epilogue applies the context scale and
 * the int8 rounding.  Every step is the decode path's formula (kernels.h:
 * attn_qk_i8, scale_i32, softmax_f32, quant_i8 x 127, attn_pv_i8, then
 * scale_i32 and quant_i8), and the integer products are exact, so the
 * results equal token-by-token attention bit for bit. */
#ifndef LLX_KERNELS_ATTN_PREFILL_H
#define LLX_KERNELS_ATTN_PREFILL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

typedef struct llx_attn_prefill {
    const int8_t *q; /* token t's hd query bytes at q + t * ldq */
    size_t ldq;
    const int8_t *k; /* K cache of the head: position p's hd bytes at k + p * ldk */
    size_t ldk;
    const int8_t *v; /* V cache of the head, chunked (kernels.h): chunk c at v + c * cs */
    size_t cs;
    int T, pos0, hd;   /* token t is at position pos0 + t and sees pos0 + t + 1 positions */
    float score_scale; /* scores: (float)(q . k) * score_scale */
    float ctx_scale;   /* context: y = (float)(p . v) * ctx_scale, */
    int out_i8;        /* then q8(y * inv_ctx) as int8, else y as fp32 */
    float inv_ctx;
    void *out; /* token t's hd outputs at out + t * ldo (elements) */
    size_t ldo;
} llx_attn_prefill;

/* Scratch bytes llx_attn_prefill_i8 needs for up to n positions (pos0 + T). */
size_t llx_attn_prefill_scratch(const llx_kernels *k, int n, int hd);
void llx_attn_prefill_i8(const llx_kernels *k, const llx_attn_prefill *a, void *scratch);

#endif
