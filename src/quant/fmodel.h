/* quant/fmodel.h - a whole model's weights in fp32 in memory, transformed
 * before quantization (Hadamard rotations, rotate.h) and written as an
 * fp32 .llx image that the engine then runs for calibration.
 *
 * Matrices are [out][in]; norms have weights g and (GPT-2) biases nb.
 * After llx_fmodel_rotate the norms are g = 1, nb = 0 (folded into the
 * matrices they feed), the LM head is a matrix of its own with a bias (the
 * final norm's, GPT-2) and the embeddings are rotated. */
#ifndef LLX_QUANT_FMODEL_H
#define LLX_QUANT_FMODEL_H

#include "llx/model.h"
#include "llx/schedule.h"
#include "quant/rotate.h"
#include "quant/rotfile.h"

typedef struct fm_layer {
    float *w[LLX_MAT_LAYER_COUNT], *b[LLX_MAT_LAYER_COUNT]; /* b NULL when the model has none */
    float *g[2], *nb[2];                                    /* the two norms */
} fm_layer;

typedef struct llx_fmodel {
    llx_config cfg;
    fm_layer *l;
    float *wte, *wpe, *gf, *nbf; /* wpe, nbf: GPT-2 */
    float *lm, *lmb;             /* V x C; lmb NULL until a fold gives it one */
    int8_t *down_signs;          /* the online transform's signs (rotated, or R4 alone) */
    int rotated;                 /* norms folded, R1, R2 and R4 */
    uint64_t rotate_hash;        /* the rotation file's, when R1/R2 came from one */
} llx_fmodel;

/* All of an HF model's weights. */
llx_status llx_fmodel_load(llx_fmodel *fm, const llx_model *m);
void llx_fmodel_free(llx_fmodel *fm);

/* Fold the norms and rotate: the residual stream by the mixing rotation
 * of seed, V and O per head and the down projection's input by signed
 * rotations (seeds seed + 1, seed + 2; the last one is applied online by
 * the engine, its signs stored as "down.signs").  With a rotation file rf
 * (checked against the model, rotfile.h) its R1 and per-layer R2 replace
 * the first two; the online one stays the Hadamard of seed + 2.  The
 * model's function is unchanged (docs/quantization.md). */
llx_status llx_fmodel_rotate(llx_fmodel *fm, uint64_t seed, const llx_rotfile *rf);

/* The online rotation before the down projection alone (SpinQuant's R4,
 * `--rotate r4`): the down projection's (GPT-2 FC2, Llama down_proj) input
 * columns get the signed Hadamard rotation of seed + 2 (the one
 * llx_fmodel_rotate uses there), which the engine applies online; the
 * norms stay unfolded, no R1, no R2, no LM-head bias.  The function is
 * unchanged; fm is not marked rotated, only its signs are set. */
llx_status llx_fmodel_rotate_down(llx_fmodel *fm, uint64_t seed);

/* Llama's rotations (fmodel_llama.c; called by llx_fmodel_rotate): RMSNorm
 * weights folded, a signed (not mixing) rotation of the residual stream,
 * V per KV head with o_proj's columns, down_proj's input online; no LM
 * head bias (RMSNorm has none). */
llx_status llx_fmodel_rotate_llama(llx_fmodel *fm, uint64_t seed, const llx_rotfile *rf);

/* What both forms share: the rotations of a model (calloc'ed, 2 + n_layer;
 * NULL with *st set when out of memory, else *st tells whether they were
 * made): [0] the residual stream's (R1: mixing when mix, else signed, of
 * seed), [1] the down projection's input (R4, seed + 2), [2 + l] layer l's
 * per-head one (R2, seed + 1); R1 and R2 dense from rf when given.  And the
 * end of a rotation that reached st: on success r[1]'s signs become
 * fm->down_signs and fm is marked rotated; r is freed; returns the final
 * status. */
llx_rotation *llx_fmodel_rotations(const llx_config *c, uint64_t seed, int mix, const llx_rotfile *rf,
                                   llx_status *st);
llx_status llx_fmodel_rotated(llx_fmodel *fm, llx_rotation *r, llx_status st);

/* The model as an fp32 .llx image (scheme f32; the tokenizer files of the
 * HF folder dir; the LM head always a matrix of its own, untied = 0) in *img / *size (free()).  The weights move into the
 * image: fm is freed. */
llx_status llx_fmodel_image(llx_fmodel *fm, const char *dir, void **img, size_t *size);

#endif
