/* model/hf.c - HuggingFace GPT-2 checkpoint folders: open and validate,
 * then convert tensors to fp32 on read (undoing the Conv1D [in, out] layout).
 * The handle is immutable after open, so reads may run concurrently from
 * any number of threads.  Writing checkpoints lives in synth.c. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/half.h"
#include "model/hf_internal.h"
#include "util/file.h"
#include "util/mem.h"
#include "util/status.h"

enum { P_LN1_G, P_LN1_B, P_QKV_W, P_QKV_B, P_PROJ_W, P_PROJ_B, P_LN2_G, P_LN2_B,
       P_FC1_W, P_FC1_B, P_FC2_W, P_FC2_B, P_COUNT };

struct llx_hf {
    char *dir;
    llx_config cfg;
    llx_st st;
    const char *dtype;
    const llx_st_tensor *wte, *wpe, *lm_head, *lnf_g, *lnf_b;
    const llx_st_tensor **layer; /* [n_layer][P_COUNT] */
};

/* Per-layer tensors: name suffix and shape in units of C, 3C, F. */
enum { D_C, D_3C, D_F };
static const struct {
    const char *suffix;
    int ndim, d0, d1;
} parts[P_COUNT] = {
    [P_LN1_G] = {"ln_1.weight", 1, D_C, 0},         [P_LN1_B] = {"ln_1.bias", 1, D_C, 0},
    [P_QKV_W] = {"attn.c_attn.weight", 2, D_C, D_3C}, [P_QKV_B] = {"attn.c_attn.bias", 1, D_3C, 0},
    [P_PROJ_W] = {"attn.c_proj.weight", 2, D_C, D_C}, [P_PROJ_B] = {"attn.c_proj.bias", 1, D_C, 0},
    [P_LN2_G] = {"ln_2.weight", 1, D_C, 0},         [P_LN2_B] = {"ln_2.bias", 1, D_C, 0},
    [P_FC1_W] = {"mlp.c_fc.weight", 2, D_C, D_F},     [P_FC1_B] = {"mlp.c_fc.bias", 1, D_F, 0},
    [P_FC2_W] = {"mlp.c_proj.weight", 2, D_F, D_C},   [P_FC2_B] = {"mlp.c_proj.bias", 1, D_C, 0},
};

static llx_status check_finite(const llx_hf *m, const llx_st_tensor *t);

static uint64_t dim_of(const llx_config *c, int d)
{
    return d == D_C ? (uint64_t)c->n_embd : d == D_3C ? 3 * (uint64_t)c->n_embd : (uint64_t)c->n_inner;
}

static void fmt_shape(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Find `name` (or "transformer." + name), check dtype and shape. */
static llx_status bind(const llx_st *st, const char *name, int ndim, uint64_t d0, uint64_t d1, int optional,
                       const llx_st_tensor **out)
{
    *out = llx_st_find(st, name);
    char full[128];
    if (!*out) {
        snprintf(full, sizeof full, "transformer.%s", name);
        *out = llx_st_find(st, full);
    }
    const llx_st_tensor *t = *out;
    if (!t) {
        if (optional) return LLX_OK;
        return llx_fail(LLX_ERR_FORMAT, "%s: missing tensor '%s'", st->what, name);
    }
    if (t->dtype != LLX_ST_F32 && t->dtype != LLX_ST_F16 && t->dtype != LLX_ST_BF16)
        return llx_fail(LLX_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (supported: F32, F16, BF16)", st->what,
                        t->name, llx_st_dtype_name(t->dtype));
    const uint64_t want[2] = {d0, d1};
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char got_s[96], want_s[64];
        fmt_shape(got_s, sizeof got_s, t->ndim, t->shape);
        fmt_shape(want_s, sizeof want_s, ndim, want);
        return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' has shape %s but config.json implies %s", st->what, t->name,
                        got_s, want_s);
    }
    return LLX_OK;
}

/* Layer index of a per-layer tensor name ("h.7.attn.bias" -> 7, *rest ->
 * "attn.bias"), or -1. */
static int layer_of(const char *name, const char **rest)
{
    if (!strncmp(name, "transformer.", 12)) name += 12;
    if (strncmp(name, "h.", 2) || name[2] < '0' || name[2] > '9') return -1;
    char *end;
    const long l = strtol(name + 2, &end, 10);
    if (*end != '.' || l > 1000000) return -1;
    *rest = end + 1;
    return (int)l;
}

/* Every tensor of the file must be one config.json uses: a checkpoint with
 * more layers than n_layer (or a stray tensor) means the two files do not
 * belong together.  HF's causal-mask buffers (h.N.attn.bias,
 * h.N.attn.masked_bias) are known to be harmless and accepted. */
static llx_status check_unused(const llx_hf *m)
{
    const llx_st *st = &m->st;
    const int L = m->cfg.n_layer;
    char *used = calloc((size_t)st->n + 1, 1);
    if (!used) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const llx_st_tensor *g[5] = {m->wte, m->wpe, m->lm_head, m->lnf_g, m->lnf_b};
    for (int i = 0; i < 5; i++)
        if (g[i]) used[g[i] - st->t] = 1;
    for (size_t i = 0; i < (size_t)L * P_COUNT; i++) used[m->layer[i] - st->t] = 1;
    int max_layer = -1;
    const llx_st_tensor *extra = NULL;
    for (int i = 0; i < st->n; i++) {
        const char *rest = NULL;
        const int l = layer_of(st->t[i].name, &rest);
        if (l > max_layer) max_layer = l;
        if (used[i] || (l >= 0 && l < L && (!strcmp(rest, "attn.bias") || !strcmp(rest, "attn.masked_bias"))))
            continue;
        if (!extra) extra = &st->t[i];
    }
    free(used);
    if (!extra) return LLX_OK;
    char name[96];
    llx_st_printable(name, sizeof name, extra->name);
    if (max_layer >= L)
        return llx_fail(LLX_ERR_FORMAT, "%s: holds %d layers but config.json sets n_layer %d (tensor '%s' would go "
                                        "unused)", st->what, max_layer + 1, L, name);
    return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' is not part of the GPT-2 model config.json describes", st->what,
                    name);
}

static llx_status bind_all(llx_hf *m, int tied)
{
    const llx_config *c = &m->cfg;
    const llx_st *st = &m->st;
    const uint64_t V = (uint64_t)c->n_vocab, C = (uint64_t)c->n_embd;
    LLX_TRY(bind(st, "wte.weight", 2, V, C, 0, &m->wte));
    LLX_TRY(bind(st, "wpe.weight", 2, (uint64_t)c->n_ctx, C, 0, &m->wpe));
    for (int l = 0; l < c->n_layer; l++) {
        for (int p = 0; p < P_COUNT; p++) {
            char name[96];
            snprintf(name, sizeof name, "h.%d.%s", l, parts[p].suffix);
            LLX_TRY(bind(st, name, parts[p].ndim, dim_of(c, parts[p].d0), dim_of(c, parts[p].d1), 0,
                         &m->layer[(size_t)l * P_COUNT + (size_t)p]));
        }
    }
    LLX_TRY(bind(st, "ln_f.weight", 1, C, 0, 0, &m->lnf_g));
    LLX_TRY(bind(st, "ln_f.bias", 1, C, 0, 0, &m->lnf_b));
    LLX_TRY(bind(st, "lm_head.weight", 2, V, C, 1, &m->lm_head));
    if (!m->lm_head && !tied)
        return llx_fail(LLX_ERR_FORMAT, "%s: config.json sets tie_word_embeddings false but there is no lm_head.weight",
                        st->what);
    LLX_TRY(check_unused(m));
    /* the storage type reported is the matrices'; "mixed" when they differ */
    llx_st_dtype d = m->layer[P_QKV_W]->dtype;
    m->dtype = llx_st_dtype_name(d);
    for (int l = 0; l < c->n_layer; l++)
        for (int p = P_QKV_W; p <= P_FC2_W; p += 2)
            if (m->layer[(size_t)l * P_COUNT + (size_t)p]->dtype != d) m->dtype = "mixed";
    return LLX_OK;
}

llx_status llx_hf_from_st(llx_hf **out, llx_st *st, const llx_config *cfg, int tied, const char *dir)
{
    *out = NULL;
    llx_hf *m = calloc(1, sizeof *m);
    if (m) {
        m->st = *st;
        memset(st, 0, sizeof *st);
        m->cfg = *cfg;
        m->dir = strdup(dir ? dir : "");
        m->layer = calloc((size_t)cfg->n_layer * P_COUNT, sizeof *m->layer);
    } else {
        llx_st_close(st);
    }
    if (!m || !m->dir || !m->layer) {
        llx_hf_close(m);
        return llx_fail(LLX_ERR_NOMEM, "out of memory opening checkpoint");
    }
    llx_status s = llx_config_check(cfg);
    if (s == LLX_OK) s = bind_all(m, tied);
    /* Every weight is checked for NaN/Inf as it is converted at load; wpe,
     * and wte when the LM head is untied, are only read row by row later,
     * so they are checked now. */
    if (s == LLX_OK) s = check_finite(m, m->wpe);
    if (s == LLX_OK && m->lm_head) s = check_finite(m, m->wte);
    if (s != LLX_OK) {
        llx_hf_close(m);
        return s;
    }
    *out = m;
    return LLX_OK;
}

/* tie_word_embeddings (default true); config.json was already validated. */
static llx_status read_tied(const char *json, size_t len, const char *path, int *tied)
{
    *tied = 1;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!root) return llx_fail(LLX_ERR_FORMAT, "%s: invalid JSON", path);
    json_t *v = json_object_get(root, "tie_word_embeddings");
    llx_status s = LLX_OK;
    if (v && !json_is_null(v)) {
        if (json_is_boolean(v)) *tied = json_is_true(v);
        else s = llx_fail(LLX_ERR_FORMAT, "%s: field 'tie_word_embeddings' must be true or false", path);
    }
    json_decref(root);
    return s;
}

static llx_status need_file(const char *dir, const char *name, char **path)
{
    *path = llx_path_join(dir, name);
    if (!*path) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (!llx_is_file(*path))
        return llx_fail(LLX_ERR_IO, "%s: missing (a checkpoint folder needs config.json, model.safetensors "
                                    "or a sharded index, and vocab.json and merges.txt or a tokenizer.json)", *path);
    return LLX_OK;
}

static llx_status load_config(const char *path, llx_config *cfg, int *tied)
{
    char *buf;
    size_t len;
    LLX_TRY(llx_read_file(path, 1u << 20, &buf, &len));
    llx_status s = llx_config_parse_json(buf, len, path, cfg);
    if (s == LLX_OK) s = read_tied(buf, len, path, tied);
    free(buf);
    return s;
}

llx_status llx_hf_open(llx_hf **out, const char *dir)
{
    if (!out) return llx_fail(LLX_ERR_ARG, "llx_hf_open: out is NULL");
    *out = NULL;
    if (!dir || !*dir) return llx_fail(LLX_ERR_ARG, "llx_hf_open: no folder given");
    if (!llx_is_dir(dir)) return llx_fail(LLX_ERR_IO, "model folder '%s' does not exist or is not a folder", dir);
    char *paths[3] = {NULL, NULL, NULL};
    static const char *const names[3] = {"config.json", "vocab.json", "merges.txt"};
    llx_status s = LLX_OK;
    /* the tokenizer: vocab.json + merges.txt, or tokenizer.json (llx_tokenizer_load_dir checks it) */
    char *tj = llx_path_join(dir, "tokenizer.json");
    const int n_need = tj && llx_is_file(tj) ? 1 : 3;
    free(tj);
    for (int i = 0; i < n_need && s == LLX_OK; i++) s = need_file(dir, names[i], &paths[i]);
    llx_config cfg;
    int tied = 1;
    if (s == LLX_OK) s = load_config(paths[0], &cfg, &tied);
    llx_st st;
    if (s == LLX_OK) s = llx_st_open_model(&st, dir); /* model.safetensors, or an index and its shards */
    if (s == LLX_OK) s = llx_hf_from_st(out, &st, &cfg, tied, dir);
    for (int i = 0; i < 3; i++) free(paths[i]);
    return s;
}

void llx_hf_close(llx_hf *m)
{
    if (!m) return;
    llx_st_close(&m->st);
    free(m->layer);
    free(m->dir);
    free(m);
}

const llx_config *llx_hf_config(const llx_hf *m) { return &m->cfg; }
const char *llx_hf_dir(const llx_hf *m) { return m->dir; }
const char *llx_hf_dtype(const llx_hf *m) { return m->dtype; }
uint64_t llx_hf_data_bytes(const llx_hf *m) { return m->st.data_size; }

/* ---- reading ---- */

/* n elements from element index i of t, to fp32.  Returns 1 when one of
 * them is NaN or infinite (all exponent bits set), checked here, in the one
 * pass that reads every weight at load: (bits & exponent) + one exponent
 * step reaches the sign bit only then, so the test is an AND, an ADD and an
 * OR per element, branch-free (F32 runs 16 at a time, which the compiler
 * vectorises).  Loads go through memcpy or byte assembly: the mapping gives
 * no alignment guarantee. */
static int convert_run(const llx_st_tensor *t, uint64_t i, size_t n, float *dst)
{
    const uint8_t *p = t->data;
    uint32_t acc = 0;
    size_t k = 0;
    switch (t->dtype) {
    case LLX_ST_F32:
        p += i * 4;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        for (; k + 16 <= n; k += 16, p += 64) {
            uint32_t u[16];
            memcpy(u, p, sizeof u);
            for (int j = 0; j < 16; j++) acc |= (u[j] & 0x7f800000u) + 0x00800000u;
            memcpy(dst + k, u, sizeof u);
        }
#endif
        for (; k < n; k++, p += 4) {
            const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            acc |= (u & 0x7f800000u) + 0x00800000u;
            dst[k] = llx_bits_to_f32(u);
        }
        return (acc & 0x80000000u) != 0;
    case LLX_ST_F16:
        p += i * 2;
        for (; k < n; k++, p += 2) {
            const uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            acc |= (h & 0x7c00u) + 0x0400u;
            dst[k] = llx_f16_to_f32(h);
        }
        return (acc & 0x8000u) != 0;
    case LLX_ST_BF16:
        p += i * 2;
        for (; k < n; k++, p += 2) {
            const uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            acc |= (h & 0x7f80u) + 0x0080u;
            dst[k] = llx_bf16_to_f32(h);
        }
        return (acc & 0x8000u) != 0;
    default: /* bind() admits nothing else */
        for (; k < n; k++) dst[k] = 0.0f;
        return 0;
    }
}

/* Index of the first NaN/Inf among elements [i, i + n) of t, or -1. */
static int64_t first_nonfinite(const llx_st_tensor *t, uint64_t i, uint64_t n)
{
    float buf[1024];
    for (uint64_t k = 0; k < n; k += 1024) {
        const size_t m = n - k < 1024 ? (size_t)(n - k) : 1024;
        if (!convert_run(t, i + k, m, buf)) continue;
        for (size_t j = 0; j < m; j++)
            if (!isfinite(buf[j])) return (int64_t)(i + k + j);
    }
    return -1;
}

/* The one-line refusal naming the file, the tensor and the element. */
static llx_status nonfinite_error(const llx_hf *m, const llx_st_tensor *t, uint64_t i, uint64_t n)
{
    int64_t at = first_nonfinite(t, i, n);
    if (at < 0) at = (int64_t)i; /* cannot happen: convert_run saw one */
    float v;
    convert_run(t, (uint64_t)at, 1, &v);
    char name[96], where[96] = "";
    llx_st_printable(name, sizeof name, t->name);
    if (t->ndim == 2)
        snprintf(where, sizeof where, " [%llu, %llu]", (unsigned long long)((uint64_t)at / t->shape[1]),
                 (unsigned long long)((uint64_t)at % t->shape[1]));
    return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' holds %s at element %lld%s; a checkpoint with NaN or Inf "
                                    "weights cannot be used", m->st.what, name, isnan(v) ? "NaN" : "Inf",
                    (long long)at, where);
}

/* convert_run for the readers: a non-finite value is an error. */
static llx_status convert_checked(const llx_hf *m, const llx_st_tensor *t, uint64_t i, size_t n, float *dst)
{
    return convert_run(t, i, n, dst) ? nonfinite_error(m, t, i, n) : LLX_OK;
}

static llx_status check_finite(const llx_hf *m, const llx_st_tensor *t)
{
    return t && first_nonfinite(t, 0, t->numel) >= 0 ? nonfinite_error(m, t, 0, t->numel) : LLX_OK;
}

llx_status llx_hf_check_finite(const llx_hf *m)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_check_finite: NULL handle");
    const llx_st_tensor *g[5] = {m->wte, m->wpe, m->lm_head, m->lnf_g, m->lnf_b};
    for (int i = 0; i < 5; i++) LLX_TRY(check_finite(m, g[i]));
    for (size_t i = 0; i < (size_t)m->cfg.n_layer * P_COUNT; i++) LLX_TRY(check_finite(m, m->layer[i]));
    return LLX_OK;
}

/* Rows [r0, r1) of the [rows][cols] matrix stored transposed as t = [cols][rows],
 * in tiles so both sides are touched in cache-sized pieces. */
enum { TILE = 64 };
static int read_transposed(const llx_st_tensor *t, int rows, int cols, int r0, int r1, float *dst)
{
    float tile[TILE][TILE];
    int bad = 0;
    for (int kb = 0; kb < cols; kb += TILE) {
        const int kn = cols - kb < TILE ? cols - kb : TILE;
        for (int rb = r0; rb < r1; rb += TILE) {
            const int rn = r1 - rb < TILE ? r1 - rb : TILE;
            for (int k = 0; k < kn; k++)
                bad |= convert_run(t, (uint64_t)(kb + k) * (uint64_t)rows + (uint64_t)rb, (size_t)rn, tile[k]);
            for (int r = 0; r < rn; r++) {
                float *d = dst + (size_t)(rb - r0 + r) * (size_t)cols + (size_t)kb;
                for (int k = 0; k < kn; k++) d[k] = tile[k][r];
            }
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

static const int mat_part[LLX_MAT_LAYER_COUNT] = {P_QKV_W, P_PROJ_W, P_FC1_W, P_FC2_W, -1};

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
    const llx_st_tensor *t = m->layer[(size_t)layer * P_COUNT + (size_t)mat_part[mat]];
    if (read_transposed(t, rows, cols, r0, r1, dst)) return nonfinite_error(m, t, 0, t->numel);
    return LLX_OK;
}

llx_status llx_hf_read_bias(const llx_hf *m, int layer, llx_matrix mat, int r0, int r1, float *dst)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_hf_read_bias: NULL handle");
    if (mat < 0 || mat >= LLX_MAT_COUNT) return llx_fail(LLX_ERR_ARG, "llx_hf_read_bias: bad matrix id %d", (int)mat);
    int rows, cols;
    llx_matrix_shape(&m->cfg, mat, &rows, &cols);
    LLX_TRY(check_read(m, "llx_hf_read_bias", layer, mat, r0, r1, rows, dst));
    if (r0 == r1) return LLX_OK;
    if (mat == LLX_MAT_LM_HEAD) {
        memset(dst, 0, (size_t)(r1 - r0) * sizeof *dst);
        return LLX_OK;
    }
    return convert_checked(m, m->layer[(size_t)layer * P_COUNT + (size_t)mat_part[mat] + 1], (uint64_t)r0,
                           (size_t)(r1 - r0), dst);
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
        static const int part[4] = {P_LN1_G, P_LN1_B, P_LN2_G, P_LN2_B};
        t = m->layer[(size_t)layer * P_COUNT + (size_t)part[v]];
    } else {
        return llx_fail(LLX_ERR_ARG, "llx_hf_read_vec: bad vector id %d", (int)v);
    }
    return convert_checked(m, t, 0, (size_t)m->cfg.n_embd, dst);
}

static llx_status read_table(const llx_hf *m, const char *fn, const llx_st_tensor *t, int n, int r0, int r1, float *dst)
{
    if (!m || !dst) return llx_fail(LLX_ERR_ARG, "%s: NULL argument", fn);
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
