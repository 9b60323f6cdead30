/* model/hf.c - HuggingFace checkpoint folders (GPT2LMHeadModel,
 * LlamaForCausalLM): open and validate config.json and every tensor the
 * architecture's descriptor (hf_arch.c) names.  Reading: hf_read.c.  The
 * handle is immutable after open, so reads may run concurrently from any
 * number of threads.  Writing checkpoints lives in synth.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/half.h"
#include "model/hf_internal.h"
#include "util/file.h"
#include "util/mem.h"
#include "util/status.h"

static void fmt_shape(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Find `name` (or the architecture's alternative prefix + name), check
 * dtype and shape. */
static llx_status bind(const llx_hf *m, const char *name, int ndim, uint64_t d0, uint64_t d1, int optional,
                       const llx_st_tensor **out)
{
    const llx_st *st = &m->st;
    *out = llx_st_find(st, name);
    char full[160];
    if (!*out && m->arch->alt_prefix && strcmp(name, m->arch->lm_head) != 0) {
        snprintf(full, sizeof full, "%s%s", m->arch->alt_prefix, name);
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

static llx_status bind_layers(llx_hf *m)
{
    const llx_config *c = &m->cfg;
    const hf_arch *a = m->arch;
    for (int l = 0; l < c->n_layer; l++)
        for (int p = 0; p < a->n_parts; p++) {
            char name[160];
            snprintf(name, sizeof name, "%s%d.%s", a->layer_prefix, l, a->parts[p].suffix);
            const hf_part *d = &a->parts[p];
            LLX_TRY(bind(m, name, d->ndim, llx_hf_dim(c, d->d0), llx_hf_dim(c, d->d1), 0,
                         &m->layer[(size_t)l * a->n_parts + (size_t)p]));
        }
    return LLX_OK;
}

/* Layer index of a per-layer tensor name ("h.7.attn.bias" -> 7, *rest ->
 * "attn.bias"), or -1. */
static int layer_of(const hf_arch *a, const char *name, const char **rest)
{
    const size_t alt = a->alt_prefix ? strlen(a->alt_prefix) : 0, lp = strlen(a->layer_prefix);
    if (alt && !strncmp(name, a->alt_prefix, alt)) name += alt;
    if (strncmp(name, a->layer_prefix, lp) || name[lp] < '0' || name[lp] > '9') return -1;
    char *end;
    const long l = strtol(name + lp, &end, 10);
    if (*end != '.' || l > 1000000) return -1;
    *rest = end + 1;
    return (int)l;
}

/* A tensor the model does not use but that is known to be harmless: HF's
 * per-layer buffers (GPT-2's causal masks, old Llama files' rotary
 * inv_freq) and a Llama lm_head.weight beside tie_word_embeddings true
 * (HF ties it to the embedding, so its values never count). */
static int harmless(const hf_arch *a, const char *name, int layer, int n_layer, const char *rest)
{
    if (layer < 0) return !strcmp(name, a->lm_head);
    if (layer >= n_layer) return 0;
    for (int i = 0; i < HF_MAX_BUFFERS && a->buffers[i]; i++)
        if (!strcmp(rest, a->buffers[i])) return 1;
    return 0;
}

/* Every tensor of the file must be one config.json uses: a checkpoint with
 * more layers than n_layer (or a stray tensor) means the two files do not
 * belong together. */
static llx_status check_unused(const llx_hf *m)
{
    const llx_st *st = &m->st;
    const hf_arch *a = m->arch;
    const int L = m->cfg.n_layer;
    char *used = calloc((size_t)st->n + 1, 1);
    if (!used) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const llx_st_tensor *g[5] = {m->wte, m->wpe, m->lm_head, m->lnf_g, m->lnf_b};
    for (int i = 0; i < 5; i++)
        if (g[i]) used[g[i] - st->t] = 1;
    for (size_t i = 0; i < (size_t)L * (size_t)a->n_parts; i++) used[m->layer[i] - st->t] = 1;
    int max_layer = -1;
    const llx_st_tensor *extra = NULL;
    for (int i = 0; i < st->n; i++) {
        const char *rest = NULL;
        const int l = layer_of(a, st->t[i].name, &rest);
        if (l > max_layer) max_layer = l;
        if (used[i] || harmless(a, st->t[i].name, l, L, rest)) continue;
        if (!extra) extra = &st->t[i];
    }
    free(used);
    if (!extra) return LLX_OK;
    char name[96];
    llx_st_printable(name, sizeof name, extra->name);
    if (max_layer >= L)
        return llx_fail(LLX_ERR_FORMAT, "%s: holds %d layers but config.json sets %s %d (tensor '%s' would go "
                                        "unused)", st->what, max_layer + 1, a->n_layer_key, L, name);
    return llx_fail(LLX_ERR_FORMAT, "%s: tensor '%s' is not part of the %s model config.json describes", st->what,
                    name, a->title);
}

/* The storage type reported is the matrices'; "mixed" when they differ. */
static void set_dtype(llx_hf *m)
{
    const hf_arch *a = m->arch;
    const llx_st_dtype d = m->layer[a->mat_parts[LLX_MAT_QKV][0]]->dtype;
    m->dtype = llx_st_dtype_name(d);
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int p = 0; p < a->n_parts; p++)
            if (a->parts[p].ndim == 2 && m->layer[(size_t)l * a->n_parts + (size_t)p]->dtype != d) m->dtype = "mixed";
}

static llx_status bind_all(llx_hf *m, int tied)
{
    const llx_config *c = &m->cfg;
    const hf_arch *a = m->arch;
    const uint64_t V = (uint64_t)c->n_vocab, C = (uint64_t)c->n_embd;
    LLX_TRY(bind(m, a->wte, 2, V, C, 0, &m->wte));
    if (a->wpe) LLX_TRY(bind(m, a->wpe, 2, (uint64_t)c->n_ctx, C, 0, &m->wpe));
    LLX_TRY(bind_layers(m));
    LLX_TRY(bind(m, a->norm_g, 1, C, 0, 0, &m->lnf_g));
    if (a->norm_b) LLX_TRY(bind(m, a->norm_b, 1, C, 0, 0, &m->lnf_b));
    /* GPT-2: lm_head.weight when the file has it; Llama: when untied */
    if (c->arch == LLX_ARCH_GPT2 || !tied) LLX_TRY(bind(m, a->lm_head, 2, V, C, 1, &m->lm_head));
    if (!m->lm_head && !tied)
        return llx_fail(LLX_ERR_FORMAT, "%s: config.json sets tie_word_embeddings false but there is no lm_head.weight",
                        m->st.what);
    LLX_TRY(check_unused(m));
    set_dtype(m);
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
        m->arch = llx_hf_arch(cfg->arch);
        m->layer = calloc((size_t)cfg->n_layer * (size_t)m->arch->n_parts, sizeof *m->layer);
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
    if (s == LLX_OK) s = llx_hf_check_tensor(m, m->wpe);
    if (s == LLX_OK && m->lm_head) s = llx_hf_check_tensor(m, m->wte);
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
                                    "or a sharded index, and vocab.json and merges.txt (GPT-2) or a tokenizer.json)",
                        *path);
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
    llx_config cfg = {0};
    int tied = 1;
    llx_status s = need_file(dir, names[0], &paths[0]);
    if (s == LLX_OK) s = load_config(paths[0], &cfg, &tied);
    if (s == LLX_OK && cfg.arch == LLX_ARCH_LLAMA) tied = !cfg.untied; /* LlamaConfig's default is untied */
    /* the tokenizer: a GPT-2 folder's vocab.json + merges.txt, or a
     * tokenizer.json (a Llama folder's; llx_tokenizer_load_dir checks it) */
    char *tj = llx_path_join(dir, "tokenizer.json");
    const int n_need = cfg.arch == LLX_ARCH_GPT2 && !(tj && llx_is_file(tj)) ? 3 : 1;
    free(tj);
    for (int i = 1; i < n_need && s == LLX_OK; i++) s = need_file(dir, names[i], &paths[i]);
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
