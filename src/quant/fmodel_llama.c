/* quant/fmodel_llama.c - the rotations of a Llama model in fp32
 * (fmodel.h): RMSNorm weights folded into the matrices they feed, the
 * residual stream rotated by a signed Hadamard rotation (RMSNorm commutes
 * with any orthogonal Q: rms(Q x) = rms(x)), V and o_proj per head (GQA:
 * the V rows of each KV head, and o_proj's columns of every query head,
 * all by the same rotation), and down_proj's input by the rotation the
 * engine applies online.  q and k are not rotated per head, so the rotary
 * step sees them unchanged.  The embedding rows get Q too; the LM head
 * (tied or not) is its own matrix afterwards, with the final norm folded
 * in, so the two stay consistent.  R1 and R2 may come from a rotation
 * file instead (any orthogonal matrices: RMSNorm commutes with all). */
#include <stdlib.h>
#include <string.h>

#include "quant/fmodel.h"
#include "quant/rotate.h"
#include "util/status.h"

static void fold_rms(float *w, int R, int C, float *g)
{
    llx_fold_norm(w, R, C, NULL, g, NULL);
}

static llx_status rotate_layer(const llx_config *c, fm_layer *L, const llx_rotation *rc, const llx_rotation *rd,
                               const llx_rotation *rf)
{
    const int C = c->n_embd, F = c->n_inner, d = llx_config_head_dim(c), NH = c->n_head, KV = llx_config_kv_heads(c);
    const int QKV = (NH + 2 * KV) * d;
    float *qkv = L->w[LLX_MAT_QKV], *o = L->w[LLX_MAT_PROJ], *gate = L->w[LLX_MAT_GATE], *up = L->w[LLX_MAT_FC1];
    float *down = L->w[LLX_MAT_FC2];
    fold_rms(qkv, QKV, C, L->g[0]);
    fold_rms(gate, F, C, L->g[1]);
    fold_rms(up, F, C, L->g[1]);
    for (int i = 0; i < C; i++) L->g[0][i] = L->g[1][i] = 1.0f;
    /* the residual stream: readers' rows, writers' columns */
    LLX_TRY(llx_rot_rows(qkv, QKV, rc));
    LLX_TRY(llx_rot_rows(gate, F, rc));
    LLX_TRY(llx_rot_rows(up, F, rc));
    LLX_TRY(llx_rot_cols(o, NH * d, rc));
    LLX_TRY(llx_rot_cols(down, F, rc));
    /* V per KV head; o_proj's columns of every query head follow (a query
     * head's context is a mix of its KV head's V rows) */
    for (int k = 0; k < KV; k++) LLX_TRY(llx_rot_cols(qkv + (size_t)((NH + KV + k) * d) * C, C, rd));
    LLX_TRY(llx_rot_row_segments(o, C, NH * d, rd));
    /* down_proj's input, rotated online by the engine */
    return llx_rot_rows(down, C, rf);
}

llx_status llx_fmodel_rotate_llama(llx_fmodel *fm, uint64_t seed, const llx_rotfile *rf)
{
    const llx_config *c = &fm->cfg;
    const int C = c->n_embd, V = c->n_vocab;
    llx_status st;
    llx_rotation *r = llx_fmodel_rotations(c, seed, 0, rf, &st);
    if (!r) return st;
    for (int l = 0; l < c->n_layer && st == LLX_OK; l++) st = rotate_layer(c, &fm->l[l], &r[0], &r[2 + l], &r[1]);
    if (st == LLX_OK) {
        fold_rms(fm->lm, V, C, fm->gf);
        for (int i = 0; i < C; i++) fm->gf[i] = 1.0f;
        st = llx_rot_rows(fm->lm, V, &r[0]);
    }
    if (st == LLX_OK) st = llx_rot_rows(fm->wte, V, &r[0]);
    if (st == LLX_OK && rf) fm->rotate_hash = rf->hash;
    return llx_fmodel_rotated(fm, r, st);
}
