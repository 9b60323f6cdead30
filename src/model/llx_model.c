/* model/llx_model.c - llx_model: a HuggingFace folder (fp32 weights read
 * from model.safetensors) or a .llx file (W8A8), with its tokenizer. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/hf_internal.h"
#include "model/llx_model.h"
#include "util/file.h"
#include "util/status.h"

/* Every id the model can emit must decode: the tokenizer needs an entry
 * for each of vocab_size ids. */
static llx_status check_vocab_covers(const llx_model *m, const char *vocab_file)
{
    const int have = llx_tokenizer_vocab_size(m->tok), need = m->cfg.n_vocab;
    if (have >= need) return LLX_OK;
    return llx_fail(LLX_ERR_FORMAT, "%s: %d entries but vocab_size is %d: ids %d..%d could not be decoded",
                    vocab_file, have, need, have, need - 1);
}

static llx_status open_hf(llx_model *m, const char *dir)
{
    LLX_TRY(llx_hf_open(&m->hf, dir));
    m->cfg = *llx_hf_config(m->hf);
    /* GPT-2: vocab.json + merges.txt, else tokenizer.json; Llama: tokenizer.json */
    LLX_TRY(m->cfg.arch == LLX_ARCH_LLAMA ? llx_tokenizer_load_hf(&m->tok, dir) : llx_tokenizer_load_dir(&m->tok, dir));
    char *f = llx_path_join(dir, llx_tokenizer_is_hf(m->tok) ? "tokenizer.json" : "vocab.json");
    llx_status st = f ? check_vocab_covers(m, f) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    free(f);
    return st;
}

static llx_status open_llx(llx_model *m, const char *path)
{
    LLX_TRY(llx_llx_open(&m->qf, path));
    LLX_TRY(llx_llx_check_model(m->qf));
    m->cfg = *llx_llx_config(m->qf);
    LLX_TRY(llx_llx_tokenizer(m->qf, &m->tok));
    char what[1100];
    snprintf(what, sizeof what, "%s: embedded vocab.json", path);
    return check_vocab_covers(m, what);
}

static llx_status open_mem(llx_model **out, const void *data, size_t size, const char *name, int tokenizer)
{
    *out = NULL;
    llx_model *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    m->kind = LLX_MODEL_LLX;
    m->path = strdup(name);
    llx_status st = m->path ? llx_llx_open_mem(&m->qf, data, size, name) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) st = llx_llx_check_model(m->qf);
    if (st == LLX_OK) {
        m->cfg = *llx_llx_config(m->qf);
        if (tokenizer) st = llx_llx_tokenizer(m->qf, &m->tok);
    }
    if (st != LLX_OK) {
        llx_model_close(m);
        return st;
    }
    *out = m;
    return LLX_OK;
}

llx_status llx_model_open_mem(llx_model **out, const void *data, size_t size, const char *name)
{
    return open_mem(out, data, size, name, 1);
}

llx_status llx_model_open_image(llx_model **out, const void *data, size_t size, const char *name)
{
    return open_mem(out, data, size, name, 0);
}

llx_status llx_model_open(llx_model **out, const char *path)
{
    *out = NULL;
    llx_model *m = calloc(1, sizeof *m);
    if (!m) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    m->path = strdup(path);
    llx_status st;
    if (!m->path) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
    else if (llx_is_dir(path)) {
        m->kind = LLX_MODEL_HF;
        st = open_hf(m, path);
    } else if (llx_is_file(path)) {
        m->kind = LLX_MODEL_LLX;
        st = open_llx(m, path);
    } else if (access(path, F_OK) == 0) {
        st = llx_fail(LLX_ERR_IO, "model '%s' is neither a folder nor a regular file (expected a HuggingFace folder "
                                     "or a .llx file)", path);
    } else {
        st = llx_fail(LLX_ERR_IO, "model '%s' not found: the path does not exist (expected a HuggingFace folder or "
                                     "a .llx file)", path);
    }
    if (st != LLX_OK) {
        llx_model_close(m);
        return st;
    }
    *out = m;
    return LLX_OK;
}

void llx_model_close(llx_model *m)
{
    if (!m) return;
    llx_tokenizer_free(m->tok);
    llx_hf_close(m->hf);
    llx_llx_close(m->qf);
    free(m->path);
    free(m);
}

llx_status llx_model_check_weights(const llx_model *m)
{
    if (!m) return llx_fail(LLX_ERR_ARG, "llx_model_check_weights: NULL model");
    /* a .llx file's float tensors were checked when it was opened */
    return m->kind == LLX_MODEL_HF ? llx_hf_check_finite(m->hf) : LLX_OK;
}

const llx_hf *llx_model_checkpoint(const llx_model *m) { return m && m->kind == LLX_MODEL_HF ? m->hf : NULL; }

const llx_config *llx_model_config(const llx_model *m) { return &m->cfg; }
const llx_tokenizer *llx_model_tokenizer(const llx_model *m) { return m->tok; }
llx_model_kind llx_model_kind_of(const llx_model *m) { return m->kind; }
const char *llx_model_path(const llx_model *m) { return m->path; }

void llx_model_release_pages(const llx_model *m)
{
    if (m->kind == LLX_MODEL_HF) llx_hf_release_pages(m->hf);
    else llx_llx_release_pages(m->qf);
}

uint64_t llx_model_bytes(const llx_model *m)
{
    return m->kind == LLX_MODEL_LLX ? llx_llx_file_bytes(m->qf) : llx_hf_data_bytes(m->hf);
}

void llx_model_quant_info(const llx_model *m, llx_quant_info *q)
{
    memset(q, 0, sizeof *q);
    if (m->kind != LLX_MODEL_LLX) return;
    const llx_qinfo *i = llx_llx_qinfo(m->qf);
    q->act_mode = i->act_mode;
    q->alpha = i->alpha;
    q->calib_tokens = i->calib_tokens;
    q->smooth_v = i->smooth_v;
    q->smooth_down = i->smooth_down;
    q->s = i->s;
}

const char *llx_scheme_name(llx_scheme s)
{
    static const char *const n[] = {"?", "w8a8", "w4a8", "w4a4", "f32"};
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "?";
}
