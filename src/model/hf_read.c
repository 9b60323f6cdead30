/* model/hf_read.c - reading an open checkpoint (llx_hf_read_*): tensors are
 * converted to fp32 on the fly, matrices come out in [out][in] orientation
 * (the Conv1D transpose of GPT-2 files undone in cache-sized tiles), and a
 * matrix the model stores in several tensors (Llama's q | k | v) is read
 * across them by row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/half.h"
#include "model/hf_internal.h"
#include "model/wscan.h"
#include "util/mem.h"
#include "util/status.h"

/* n elements from element index i of t, to fp32, by this machine's tier of
 * the load pass (model/wscan.h).  Returns 1 when one of them is NaN or
 * infinite, checked here, in the one pass that reads every weight at load. */
static int convert_run(const llx_st_tensor *t, uint64_t i, size_t n, float *dst)
{
    const llx_wscan *w = llx_wscan_get();
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case LLX_ST_F32: return w->f32(p + i * 4, n, dst);
    case LLX_ST_F16: return w->f16(p + i * 2, n, dst);
    case LLX_ST_BF16: return w->bf16(p + i * 2, n, dst);
    default: /* bind() admits nothing else */
        for (size_t k = 0; k < n; k++) dst[k] = 0.0f;
        return 0;
    }
}

/* Index of the first NaN/Inf among elements [i, i + n) of t, or -1. */
static int64_t first_nonfinite(const llx_st_tensor *t, uint64_t i, uint64_t n, int *nan)
{
    const int es = t->dtype == LLX_ST_F32 ? 4 : 2;
    if (t->dtype != LLX_ST_F32 && t->dtype != LLX_ST_F16 && t->dtype != LLX_ST_BF16) return -1;
    const int64_t at = llx_wscan_first_bad((const uint8_t *)t->data + i * (uint64_t)es, (size_t)n, es,
                                           t->dtype == LLX_ST_BF16, nan);
    return at < 0 ? -1 : (int64_t)i + at;
}

/* The one-line refusal naming the file, the tensor and the element. */
static llx_status nonfinite_error(const llx_hf *m, const llx_st_tensor *t, uint64_t i, uint64_t n)
{
    int nan = 0;
    int64_t at = first_nonfinite(t, i, n, &nan);
    if (at < 0) at = (int64_t)i; /* cannot happen: convert_run saw one */
    char name[96], where[96] = "";
    llx_st_printable(name, sizeof name, t->name);
    if (t->ndim == 2)
        snprintf(where, sizeof where, " [%llu, %llu]", (unsigned long long)((uint64_t)at / t->shape[1]),
                 (unsigned long long)((uint64_t)at % t->shape[1]));
    return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' holds %s at element %lld%s; a checkpoint with NaN or Inf "
                                    "weights cannot be used", m->st.what, name, nan ? "NaN" : "Inf",
                    (long long)at, where);
}

/* convert_run for the readers: a non-finite value is an error. */
static llx_status convert_checked(const llx_hf *m, const llx_st_tensor *t, uint64_t i, size_t n, float *dst)
{
    return convert_run(t, i, n, dst) ? nonfinite_error(m, t, i, n) : LLX_OK;
}

llx_status llx_hf_check_tensor(const llx_hf *m, const llx_st_tensor *t)
{
    if (!t) return LLX_OK;
    const llx_wscan *w = llx_wscan_get();
    const llx_wscan_conv_fn f = t->dtype == LLX_ST_F32 ? w->f32 : t->dtype == LLX_ST_F16 ? w->f16 : w->bf16;
    if (t->dtype != LLX_ST_F32 && t->dtype != LLX_ST_F16 && t->dtype != LLX_ST_BF16) return LLX_OK;
    const size_t es = t->dtype == LLX_ST_F32 ? 4 : 2;
    return llx_wscan_any_bad(f, t->data, (size_t)t->numel, es) ? nonfinite_error(m, t, 0, t->numel) : LLX_OK;
}

llx_status llx_hf_check_finite(const llx_hf *m)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_check_finite: NULL handle");
    const llx_st_tensor *g[5] = {m->wte, m->wpe, m->lm_head, m->lnf_g, m->lnf_b};
    for (int i = 0; i < 5; i++) LLX_TRY(llx_hf_check_tensor(m, g[i]));
    for (size_t i = 0; i < (size_t)m->cfg.n_layer * (size_t)m->arch->n_parts; i++)
        LLX_TRY(llx_hf_check_tensor(m, m->layer[i]));
    return LLX_OK;
}

/* Rows [r0, r1) of the [rows][cols] matrix stored transposed as t = [cols][rows],
 * in tiles so both sides are touched in cache-sized pieces, each widened,
 * checked and transposed by this machine's tier of the tile pass
 * (model/wscan.h).  Returns 1 when a value was NaN or infinite. */
enum { TILE = 64 };
static int read_transposed(const llx_st_tensor *t, int rows, int cols, int r0, int r1, float *dst)
{
    const llx_wscan *w = llx_wscan_get();
    const llx_wscan_tile_fn f = t->dtype == LLX_ST_F32 ? w->tile_f32 : t->dtype == LLX_ST_F16 ? w->tile_f16
                                : t->dtype == LLX_ST_BF16 ? w->tile_bf16 : NULL;
    if (!f) { /* bind() admits nothing else */
        memset(dst, 0, (size_t)(r1 - r0) * (size_t)cols * sizeof *dst);
        return 0;
    }
    const size_t es = t->dtype == LLX_ST_F32 ? 4 : 2, stride = (size_t)rows * es;
    const uint8_t *p = t->data;
    int bad = 0;
    for (int kb = 0; kb < cols; kb += TILE) {
        const int kn = cols - kb < TILE ? cols - kb : TILE;
        for (int rb = r0; rb < r1; rb += TILE) {
            const int rn = r1 - rb < TILE ? r1 - rb : TILE;
            bad |= f(p + (size_t)kb * stride + (size_t)rb * es, stride, (size_t)kn, (size_t)rn,
                     dst + (size_t)(rb - r0) * (size_t)cols + (size_t)kb, (size_t)cols);
        }
    }
    return bad;
}

static llx_status check_read(const llx_hf *m, const char *fn, int layer, llx_matrix mat, int r0, int r1, int rows,
                             const float *dst)
{
    if (!m || !dst) return llx_fail(LLX_ERR_ARG, "%s: NULL argument", fn);
    if (mat != LLX_MAT_LM_HEAD && (layer < 0 || layer >= m->cfg.n_layer))
        return llx_fail(LLX_ERR_ARG, "%s: layer %d out of range [0, %d)", fn, layer, m->cfg.n_layer);
    if (r0 < 0 || r1 < r0 || r1 > rows)
        return llx_fail(LLX_ERR_ARG, "%s: rows [%d, %d) of %s out of range [0, %d)", fn, r0, r1, llx_matrix_name(mat),
                        rows);
    return LLX_OK;
}

static const llx_st_tensor *part(const llx_hf *m, int layer, int p)
{
    return m->layer[(size_t)layer * (size_t)m->arch->n_parts + (size_t)p];
}

llx_status llx_hf_read_rows(const llx_hf *m, int layer, llx_matrix mat, int r0, int r1, float *dst)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_read_rows: NULL handle");
    if (mat < 0 || mat >= LLX_MAT_COUNT) return llx_fail(LLX_ERR_ARG, "llx_hf_read_rows: bad matrix id %d", (int)mat);
    int rows, cols;
    llx_matrix_shape(&m->cfg, mat, &rows, &cols);
    LLX_TRY(check_read(m, "llx_hf_read_rows", layer, mat, r0, r1, rows, dst));
    if (r0 == r1) return LLX_OK;
    if (mat == LLX_MAT_LM_HEAD) {
        const llx_st_tensor *t = m->lm_head ? m->lm_head : m->wte;
        return convert_checked(m, t, (uint64_t)r0 * (uint64_t)cols, (size_t)(r1 - r0) * (size_t)cols, dst);
    }
    /* the matrix is its parts stacked by rows */
    const hf_arch *a = m->arch;
    int base = 0;
    for (int s = 0; s < a->mat_nparts[mat] && r0 < r1; s++) {
        const llx_st_tensor *t = part(m, layer, a->mat_parts[mat][s]);
        const int prow = (int)(a->transposed ? t->shape[1] : t->shape[0]);
        const int b = r0 > base ? r0 : base, e = r1 < base + prow ? r1 : base + prow;
        if (b < e) {
            float *d = dst + (size_t)(b - r0) * (size_t)cols;
            if (a->transposed) {
                if (read_transposed(t, prow, cols, b - base, e - base, d)) return nonfinite_error(m, t, 0, t->numel);
            } else {
                LLX_TRY(convert_checked(m, t, (uint64_t)(b - base) * (uint64_t)cols, (size_t)(e - b) * (size_t)cols, d));
            }
        }
        base += prow;
    }
    return LLX_OK;
}

int llx_hf_has_bias(const llx_hf *m) { return m && m->arch->mat_bias[LLX_MAT_QKV] >= 0; }

llx_status llx_hf_read_bias(const llx_hf *m, int layer, llx_matrix mat, int r0, int r1, float *dst)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_read_bias: NULL handle");
    if (mat < 0 || mat >= LLX_MAT_COUNT) return llx_fail(LLX_ERR_ARG, "llx_hf_read_bias: bad matrix id %d", (int)mat);
    int rows, cols;
    llx_matrix_shape(&m->cfg, mat, &rows, &cols);
    LLX_TRY(check_read(m, "llx_hf_read_bias", layer, mat, r0, r1, rows, dst));
    if (r0 == r1) return LLX_OK;
    const int bp = mat == LLX_MAT_LM_HEAD ? -1 : m->arch->mat_bias[mat];
    if (bp >= 0) return convert_checked(m, part(m, layer, bp), (uint64_t)r0, (size_t)(r1 - r0), dst);
    memset(dst, 0, (size_t)(r1 - r0) * sizeof *dst); /* no bias: zeros */
    return LLX_OK;
}

llx_status llx_hf_read_vec(const llx_hf *m, int layer, llx_vec v, float *dst)
{
    if (!m || !dst) return llx_fail(LLX_ERR_ARG, "llx_hf_read_vec: NULL argument");
    const llx_st_tensor *t;
    if (v == LLX_VEC_LNF_G || v == LLX_VEC_LNF_B) {
        if (layer != -1) return llx_fail(LLX_ERR_ARG, "llx_hf_read_vec: ln_f belongs to layer -1, not %d", layer);
        t = v == LLX_VEC_LNF_G ? m->lnf_g : m->lnf_b;
    } else if (v >= LLX_VEC_LN1_G && v <= LLX_VEC_LN2_B) {
        if (layer < 0 || layer >= m->cfg.n_layer)
            return llx_fail(LLX_ERR_ARG, "llx_hf_read_vec: layer %d out of range [0, %d)", layer, m->cfg.n_layer);
        const int p = m->arch->vec_part[v];
        t = p >= 0 ? part(m, layer, p) : NULL;
    } else {
        return llx_fail(LLX_ERR_ARG, "llx_hf_read_vec: bad vector id %d", (int)v);
    }
    if (t) return convert_checked(m, t, 0, (size_t)m->cfg.n_embd, dst);
    memset(dst, 0, (size_t)m->cfg.n_embd * sizeof *dst); /* RMSNorm: no bias */
    return LLX_OK;
}

static llx_status read_table(const llx_hf *m, const char *fn, const llx_st_tensor *t, int n, int r0, int r1, float *dst)
{
    if (!m || !dst) return llx_fail(LLX_ERR_ARG, "%s: NULL argument", fn);
    if (!t) return llx_fail(LLX_ERR_ARG, "%s: the model has no such table", fn);
    if (r0 < 0 || r1 < r0 || r1 > n)
        return llx_fail(LLX_ERR_ARG, "%s: rows [%d, %d) out of range [0, %d)", fn, r0, r1, n);
    const uint64_t C = (uint64_t)m->cfg.n_embd;
    return convert_checked(m, t, (uint64_t)r0 * C, (size_t)(r1 - r0) * (size_t)C, dst);
}

llx_status llx_hf_read_wte(const llx_hf *m, int r0, int r1, float *dst)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_read_wte: NULL handle");
    return read_table(m, "llx_hf_read_wte", m->wte, m->cfg.n_vocab, r0, r1, dst);
}

llx_status llx_hf_read_wpe(const llx_hf *m, int r0, int r1, float *dst)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_read_wpe: NULL handle");
    return read_table(m, "llx_hf_read_wpe", m->wpe, m->cfg.n_ctx, r0, r1, dst);
}

void llx_hf_release_pages(const llx_hf *m)
{
    if (m) llx_st_release_pages(&m->st);
}
