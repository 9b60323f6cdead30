/* quant/fmodel.c - the in-memory fp32 model, its rotation and its fp32
 * .llx image (fmodel.h). */
#include "quant/fmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/llx_file.h"
#include "model/llx_model.h"
#include "quant/lowbit.h"
#include "quant/rotate.h"
#include "util/file.h"
#include "util/status.h"

static float *take(llx_status *st, size_t n)
{
    float *p = *st == LLX_OK ? malloc((n ? n : 1) * sizeof *p) : NULL;
    if (!p && *st == LLX_OK) *st = llx_fail(LLX_ERR_NOMEM, "out of memory (%zu MB)", n * 4 >> 20);
    return p;
}

static float *filled(llx_status *st, size_t n, float v)
{
    float *p = take(st, n);
    for (size_t i = 0; p && i < n; i++) p[i] = v;
    return p;
}

static llx_status load_layer(llx_fmodel *fm, const llx_hf *hf, int l)
{
    static const llx_vec g[2] = {LLX_VEC_LN1_G, LLX_VEC_LN2_G}, b[2] = {LLX_VEC_LN1_B, LLX_VEC_LN2_B};
    const llx_config *c = &fm->cfg;
    const int bias = llx_hf_has_bias(hf); /* GPT-2; Llama has neither biases nor norm biases */
    fm_layer *L = &fm->l[l];
    llx_status st = LLX_OK;
    for (int m = 0; m < LLX_MAT_LAYER_COUNT && st == LLX_OK; m++) {
        int rows, cols;
        llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
        if (!rows) continue;
        L->w[m] = take(&st, (size_t)rows * cols);
        if (bias) L->b[m] = take(&st, (size_t)rows);
        if (st == LLX_OK) st = llx_hf_read_rows(hf, l, (llx_matrix)m, 0, rows, L->w[m]);
        if (st == LLX_OK && bias) st = llx_hf_read_bias(hf, l, (llx_matrix)m, 0, rows, L->b[m]);
    }
    for (int i = 0; i < 2 && st == LLX_OK; i++) {
        L->g[i] = take(&st, (size_t)c->n_embd);
        if (bias) L->nb[i] = take(&st, (size_t)c->n_embd);
        if (st == LLX_OK) st = llx_hf_read_vec(hf, l, g[i], L->g[i]);
        if (st == LLX_OK && bias) st = llx_hf_read_vec(hf, l, b[i], L->nb[i]);
    }
    return st;
}

llx_status llx_fmodel_load(llx_fmodel *fm, const llx_model *m)
{
    memset(fm, 0, sizeof *fm);
    fm->cfg = m->cfg;
    const llx_config *c = &fm->cfg;
    const size_t V = (size_t)c->n_vocab, C = (size_t)c->n_embd;
    llx_status st = LLX_OK;
    fm->l = calloc((size_t)c->n_layer, sizeof *fm->l);
    if (!fm->l) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    for (int l = 0; l < c->n_layer && st == LLX_OK; l++) st = load_layer(fm, m->hf, l);
    const int gpt2 = c->arch == LLX_ARCH_GPT2;
    fm->wte = take(&st, V * C);
    if (gpt2) fm->wpe = take(&st, (size_t)c->n_ctx * C);
    fm->gf = take(&st, C);
    if (gpt2) fm->nbf = take(&st, C);
    fm->lm = take(&st, V * C);
    if (st == LLX_OK) st = llx_hf_read_wte(m->hf, 0, c->n_vocab, fm->wte);
    if (st == LLX_OK && gpt2) st = llx_hf_read_wpe(m->hf, 0, c->n_ctx, fm->wpe);
    if (st == LLX_OK) st = llx_hf_read_vec(m->hf, -1, LLX_VEC_LNF_G, fm->gf);
    if (st == LLX_OK && gpt2) st = llx_hf_read_vec(m->hf, -1, LLX_VEC_LNF_B, fm->nbf);
    if (st == LLX_OK) st = llx_hf_read_rows(m->hf, -1, LLX_MAT_LM_HEAD, 0, c->n_vocab, fm->lm);
    return st;
}

void llx_fmodel_free(llx_fmodel *fm)
{
    for (int l = 0; fm->l && l < fm->cfg.n_layer; l++) {
        fm_layer *L = &fm->l[l];
        for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) free(L->w[m]), free(L->b[m]);
        for (int i = 0; i < 2; i++) free(L->g[i]), free(L->nb[i]);
    }
    free(fm->l);
    free(fm->wte), free(fm->wpe), free(fm->gf), free(fm->nbf), free(fm->lm), free(fm->lmb), free(fm->down_signs);
    memset(fm, 0, sizeof *fm);
}

/* the norm (g, nb) folded into the rows of w (R x C) and its bias; then 1, 0 */
static void fold(float *w, int R, int C, float *bias, float *g, float *nb)
{
    llx_fold_norm(w, R, C, bias, g, nb);
    for (int i = 0; i < C; i++) g[i] = 1.0f, nb[i] = 0.0f;
}

static llx_status rotate_layer(llx_fmodel *fm, fm_layer *L, const llx_rotation *rc, const llx_rotation *rd,
                               const llx_rotation *rf)
{
    const llx_config *c = &fm->cfg;
    const int C = c->n_embd, F = c->n_inner, d = llx_config_head_dim(c), NH = c->n_head;
    float *qkv = L->w[LLX_MAT_QKV], *proj = L->w[LLX_MAT_PROJ], *fc1 = L->w[LLX_MAT_FC1], *fc2 = L->w[LLX_MAT_FC2];
    fold(qkv, 3 * C, C, L->b[LLX_MAT_QKV], L->g[0], L->nb[0]);
    fold(fc1, F, C, L->b[LLX_MAT_FC1], L->g[1], L->nb[1]);
    /* the residual stream: readers' rows, writers' columns and biases */
    LLX_TRY(llx_rot_rows(qkv, 3 * C, rc));
    LLX_TRY(llx_rot_rows(fc1, F, rc));
    LLX_TRY(llx_rot_cols(proj, C, rc));
    LLX_TRY(llx_rot_vec(L->b[LLX_MAT_PROJ], rc));
    LLX_TRY(llx_rot_cols(fc2, F, rc));
    LLX_TRY(llx_rot_vec(L->b[LLX_MAT_FC2], rc));
    /* V and O per head: v_h -> H v_h, and O's columns of head h follow */
    for (int h = 0; h < NH; h++) {
        LLX_TRY(llx_rot_cols(qkv + (size_t)(2 * C + h * d) * C, C, rd));
        LLX_TRY(llx_rot_vec(L->b[LLX_MAT_QKV] + 2 * C + h * d, rd));
    }
    LLX_TRY(llx_rot_row_segments(proj, C, C, rd));
    /* the down projection's input, rotated online by the engine */
    return llx_rot_rows(fc2, C, rf);
}

/* The online transform before the down projection (R4): signed Hadamard
 * of seed + 2, in --rotate hadamard and --rotate r4 alike. */
static llx_status down_rotation(llx_rotation *r, const llx_config *c, uint64_t seed)
{
    return llx_rot_init(r, c->n_inner, seed + 2, 0);
}

/* R4's signs go into the file (down.signs) for the engine's online transform. */
static llx_status keep_down_signs(llx_fmodel *fm, const llx_rotation *r)
{
    fm->down_signs = malloc((size_t)fm->cfg.n_inner);
    if (!fm->down_signs) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    memcpy(fm->down_signs, r->d, (size_t)fm->cfg.n_inner);
    return LLX_OK;
}

llx_rotation *llx_fmodel_rotations(const llx_config *c, uint64_t seed, int mix, const llx_rotfile *rf,
                                   llx_status *st)
{
    const int n = 2 + c->n_layer, hd = llx_config_head_dim(c);
    llx_rotation *r = calloc((size_t)n, sizeof *r);
    if (!r) {
        *st = llx_fail(LLX_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *st = rf ? llx_rot_init_dense(&r[0], c->n_embd, rf->r1) : llx_rot_init(&r[0], c->n_embd, seed, mix);
    if (*st == LLX_OK) *st = down_rotation(&r[1], c, seed);
    for (int l = 0; l < c->n_layer && *st == LLX_OK; l++)
        *st = rf ? llx_rot_init_dense(&r[2 + l], hd, rf->r2 + (size_t)l * hd * hd)
                 : llx_rot_init(&r[2 + l], hd, seed + 1, 0);
    return r;
}

llx_status llx_fmodel_rotated(llx_fmodel *fm, llx_rotation *r, llx_status st)
{
    if (st == LLX_OK) st = keep_down_signs(fm, &r[1]);
    fm->rotated = st == LLX_OK;
    for (int i = 0; i < 2 + fm->cfg.n_layer; i++) llx_rot_free(&r[i]);
    free(r);
    return st;
}

llx_status llx_fmodel_rotate(llx_fmodel *fm, uint64_t seed, const llx_rotfile *rf)
{
    if (fm->cfg.arch == LLX_ARCH_LLAMA) return llx_fmodel_rotate_llama(fm, seed, rf);
    const llx_config *c = &fm->cfg;
    const int C = c->n_embd, V = c->n_vocab;
    llx_status st;
    llx_rotation *r = llx_fmodel_rotations(c, seed, 1, rf, &st);
    if (!r) return st;
    for (int l = 0; l < c->n_layer && st == LLX_OK; l++) st = rotate_layer(fm, &fm->l[l], &r[0], &r[2 + l], &r[1]);
    if (st == LLX_OK) fm->lmb = filled(&st, (size_t)V, 0.0f);
    if (st == LLX_OK) {
        fold(fm->lm, V, C, fm->lmb, fm->gf, fm->nbf);
        st = llx_rot_rows(fm->lm, V, &r[0]);
    }
    if (st == LLX_OK) st = llx_rot_rows(fm->wte, V, &r[0]);
    if (st == LLX_OK) st = llx_rot_rows(fm->wpe, c->n_ctx, &r[0]);
    if (st == LLX_OK && rf) fm->rotate_hash = rf->hash;
    return llx_fmodel_rotated(fm, r, st);
}

llx_status llx_fmodel_rotate_down(llx_fmodel *fm, uint64_t seed)
{
    const llx_config *c = &fm->cfg;
    llx_rotation r = {0};
    llx_status st = down_rotation(&r, c, seed);
    for (int l = 0; l < c->n_layer && st == LLX_OK; l++) st = llx_rot_rows(fm->l[l].w[LLX_MAT_FC2], c->n_embd, &r);
    if (st == LLX_OK) st = keep_down_signs(fm, &r);
    llx_rot_free(&r);
    return st;
}

/* add a tensor the writer takes from fm (the pointer is cleared) */
static llx_status give(llx_llx_writer *wr, const char *name, llx_dtype dt, long long r, long long c, float **p)
{
    float *d = *p;
    *p = NULL;
    return llx_llx_add(wr, name, dt, r, c, d);
}

static llx_status give_layers(llx_fmodel *fm, llx_llx_writer *wr)
{
    static const char *const norms[2][2] = {{"ln1.g", "ln1.b"}, {"ln2.g", "ln2.b"}};
    const llx_config *c = &fm->cfg;
    char name[64];
    for (int l = 0; l < c->n_layer; l++) {
        fm_layer *L = &fm->l[l];
        for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
            int rows, cols;
            llx_matrix_shape(c, (llx_matrix)m, &rows, &cols);
            if (!rows) continue;
            snprintf(name, sizeof name, "h.%d.%s.w", l, llx_matrix_name((llx_matrix)m));
            LLX_TRY(give(wr, name, LLX_DT_F32, rows, cols, &L->w[m]));
            if (!L->b[m]) continue; /* Llama */
            snprintf(name, sizeof name, "h.%d.%s.b", l, llx_matrix_name((llx_matrix)m));
            LLX_TRY(give(wr, name, LLX_DT_F32, rows, 0, &L->b[m]));
        }
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "h.%d.%s", l, norms[i][0]);
            LLX_TRY(give(wr, name, LLX_DT_F32, c->n_embd, 0, &L->g[i]));
            if (!L->nb[i]) continue;
            snprintf(name, sizeof name, "h.%d.%s", l, norms[i][1]);
            LLX_TRY(give(wr, name, LLX_DT_F32, c->n_embd, 0, &L->nb[i]));
        }
    }
    return LLX_OK;
}

llx_status llx_fmodel_image(llx_fmodel *fm, const char *dir, void **img, size_t *size)
{
    fm->cfg.untied = 0; /* lm_head.w is the LM head; no lm_head.f */
    const llx_config *c = &fm->cfg;
    llx_qinfo qi = {.act_mode = LLX_ACT_DYNAMIC};
    qi.s = (llx_scheme_info){.scheme = LLX_SCHEME_F32, .lm_bits = 32, .rotate = fm->rotated,
                             .had_down = fm->down_signs != NULL, .lm_bias = fm->lmb != NULL, .rotate_hash = fm->rotate_hash};
    llx_llx_writer *wr;
    llx_status st = llx_llx_writer_create(&wr, c, &qi);
    if (st == LLX_OK) st = give_layers(fm, wr);
    if (st == LLX_OK) st = give(wr, "wte", LLX_DT_F32, c->n_vocab, c->n_embd, &fm->wte);
    if (st == LLX_OK && fm->wpe) st = give(wr, "wpe", LLX_DT_F32, c->n_ctx, c->n_embd, &fm->wpe);
    if (st == LLX_OK) st = give(wr, "ln_f.g", LLX_DT_F32, c->n_embd, 0, &fm->gf);
    if (st == LLX_OK && fm->nbf) st = give(wr, "ln_f.b", LLX_DT_F32, c->n_embd, 0, &fm->nbf);
    if (st == LLX_OK) st = give(wr, "lm_head.w", LLX_DT_F32, c->n_vocab, c->n_embd, &fm->lm);
    if (st == LLX_OK && fm->lmb) st = give(wr, "lm_head.b", LLX_DT_F32, c->n_vocab, 0, &fm->lmb);
    if (st == LLX_OK && fm->down_signs) {
        st = llx_llx_add(wr, "down.signs", LLX_DT_I8, c->n_inner, 0, fm->down_signs);
        fm->down_signs = NULL;
    }
    if (st == LLX_OK) st = llx_quant_add_tokenizer(wr, c, dir);
    llx_fmodel_free(fm);
    if (st != LLX_OK) {
        if (wr) llx_llx_writer_free(wr);
        return st;
    }
    return llx_llx_write_mem(wr, img, size);
}
