/* engine/norm.c - the NORM stage's arithmetic on one token (residual add,
 * then RMSNorm or LayerNorm through the node's kernel tier), which the
 * fp32 and the quantized datapaths share; what each does with the output
 * (the quantized one rounds it to int8) stays in its executor. */
#include "engine/internal.h"
#include "kernels/vecops.h"

int llx_norm_token(const node *nd, const llx_stage *st, float *x, const float *in, float *out, float *const ng[3],
                   float *const nb[3])
{
    const int C = nd->cfg->n_embd;
    if (in) llx_add_f32(x, in, C);
    if (st->norm == LLX_NORM_NONE) return 0;
    if (st->norm == LLX_NORM_RMS) nd->k->rmsnorm_f32(out, x, ng[st->normw], C, nd->cfg->ln_eps);
    else nd->k->layernorm_f32(out, x, ng[st->normw], nb[st->normw], C, nd->cfg->ln_eps);
    return 1;
}
