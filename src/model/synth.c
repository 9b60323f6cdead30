/* model/synth.c - write a random-weight checkpoint folder in the
 * HuggingFace layout: GPT-2 (config.json, model.safetensors, vocab.json,
 * merges.txt) or Llama (config.json, model.safetensors, tokenizer.json;
 * synth_llama.c).  Weights follow GPT-2's initialisation (normal, std 0.02,
 * residual projections scaled by 1/sqrt(2L), norms 1, biases 0) and are
 * a function of the seed alone: every run, thread count and dtype draws the
 * same fp32 values (F16/BF16 store them rounded).  The tensor data is
 * generated in parallel chunks and streamed to disk; it is never held whole. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llx/checkpoint.h"
#include "model/bpe_vocab.h"
#include "model/half.h"
#include "model/safetensors.h"
#include "model/synth_internal.h"
#include "util/file.h"
#include "util/pool.h"
#include "util/rng.h"
#include "util/status.h"

#define TOKENIZER_MAX_BYTES (64u << 20)

void llx_synth_add(synth_tensor *t, int *n, const char *name, int ndim, uint64_t d0, uint64_t d1, int init, float std)
{
    synth_tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->ndim = ndim;
    x->shape[0] = d0;
    x->shape[1] = d1;
    x->init = init;
    x->std = std;
    x->numel = ndim == 1 ? d0 : d0 * d1;
}

/* The tensors of cfg in file order (HF names, no prefix, Conv1D [in, out]). */
static synth_tensor *tensor_list(const llx_config *c, int *count)
{
    if (c->arch == LLX_ARCH_LLAMA) return llx_synth_llama_tensors(c, count);
    synth_tensor *t = calloc((size_t)c->n_layer * 12 + 4, sizeof *t);
    if (!t) return NULL;
    const uint64_t V = (uint64_t)c->n_vocab, C = (uint64_t)c->n_embd, F = (uint64_t)c->n_inner;
    const float std = 0.02f, res_std = (float)(0.02 / sqrt(2.0 * c->n_layer));
    int n = 0;
    llx_synth_add(t, &n, "wte.weight", 2, V, C, INIT_NORMAL, std);
    llx_synth_add(t, &n, "wpe.weight", 2, (uint64_t)c->n_ctx, C, INIT_NORMAL, std);
    for (int l = 0; l < c->n_layer; l++) {
        char nm[64];
#define T(suffix, nd, d0, d1, init, s)                                                                      \
    snprintf(nm, sizeof nm, "h.%d.%s", l, suffix);                                                         \
    llx_synth_add(t, &n, nm, nd, d0, d1, init, s)
        T("ln_1.weight", 1, C, 0, INIT_ONES, 0);
        T("ln_1.bias", 1, C, 0, INIT_ZEROS, 0);
        T("attn.c_attn.weight", 2, C, 3 * C, INIT_NORMAL, std);
        T("attn.c_attn.bias", 1, 3 * C, 0, INIT_ZEROS, 0);
        T("attn.c_proj.weight", 2, C, C, INIT_NORMAL, res_std);
        T("attn.c_proj.bias", 1, C, 0, INIT_ZEROS, 0);
        T("ln_2.weight", 1, C, 0, INIT_ONES, 0);
        T("ln_2.bias", 1, C, 0, INIT_ZEROS, 0);
        T("mlp.c_fc.weight", 2, C, F, INIT_NORMAL, std);
        T("mlp.c_fc.bias", 1, F, 0, INIT_ZEROS, 0);
        T("mlp.c_proj.weight", 2, F, C, INIT_NORMAL, res_std);
        T("mlp.c_proj.bias", 1, C, 0, INIT_ZEROS, 0);
#undef T
    }
    llx_synth_add(t, &n, "ln_f.weight", 1, C, 0, INIT_ONES, 0);
    llx_synth_add(t, &n, "ln_f.bias", 1, C, 0, INIT_ZEROS, 0);
    *count = n;
    return t;
}

/* ---- header ---- */

static char *build_header(const synth_tensor *t, int n, int esize, const char *dtype, size_t *len)
{
    size_t cap = 256 + (size_t)n * 160, k = 0;
    char *h = malloc(cap + 8);
    if (!h) return NULL;
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const uint64_t end = off + t[i].numel * (uint64_t)esize;
        char shape[64];
        if (t[i].ndim == 1) snprintf(shape, sizeof shape, "%llu", (unsigned long long)t[i].shape[0]);
        else snprintf(shape, sizeof shape, "%llu,%llu", (unsigned long long)t[i].shape[0],
                      (unsigned long long)t[i].shape[1]);
        k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                              t[i].name, dtype, shape, (unsigned long long)off, (unsigned long long)end);
        off = end;
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    while (k % 8) h[k++] = ' '; /* the data section starts 8-byte aligned */
    h[k] = 0;
    *len = k;
    return h;
}

/* ---- data ---- */

enum { CHUNK = 1 << 16 };             /* elements per independently seeded chunk */
enum { BATCH_CHUNKS = 64 };           /* chunks generated per write */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct gen_job {
    const synth_tensor *t;
    uint64_t seed;
    int tensor_index;
    uint64_t first_chunk; /* chunk index of the batch start within the tensor */
    int nchunks;
    int esize;            /* 4, or 2 for F16/BF16 */
    int bf16;
    uint8_t *out;
    float *tmp;           /* CHUNK floats per pool member */
} gen_job;

static void fill_chunk(const gen_job *j, uint64_t chunk, float *v, size_t n)
{
    const synth_tensor *t = j->t;
    if (t->init != INIT_NORMAL) {
        const float x = t->init == INIT_ONES ? 1.0f : 0.0f;
        for (size_t i = 0; i < n; i++) v[i] = x;
        return;
    }
    llx_rng r;
    llx_rng_seed(&r, mix64(mix64(j->seed + 0x9e3779b97f4a7c15ull * (uint64_t)(j->tensor_index + 1)) + chunk));
    const float std = t->std;
    for (size_t i = 0; i < n; i += 2) { /* Marsaglia's polar method, both outputs */
        float a, b, s;
        do {
            const uint64_t x = llx_rng_u64(&r);
            a = (float)(int32_t)(uint32_t)(x >> 32) * (1.0f / 2147483648.0f);
            b = (float)(int32_t)(uint32_t)x * (1.0f / 2147483648.0f);
            s = a * a + b * b;
        } while (s >= 1.0f || s == 0.0f);
        const float f = sqrtf(-2.0f * logf(s) / s) * std;
        v[i] = a * f;
        if (i + 1 < n) v[i + 1] = b * f;
    }
}

static void store(const gen_job *j, const float *v, size_t n, uint8_t *out)
{
    if (j->esize == 4) {
        for (size_t i = 0; i < n; i++) {
            const uint32_t u = llx_f32_to_bits(v[i]);
            out[4 * i] = (uint8_t)u, out[4 * i + 1] = (uint8_t)(u >> 8);
            out[4 * i + 2] = (uint8_t)(u >> 16), out[4 * i + 3] = (uint8_t)(u >> 24);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const uint16_t u = j->bf16 ? llx_f32_to_bf16(v[i]) : llx_f32_to_f16(v[i]);
            out[2 * i] = (uint8_t)u, out[2 * i + 1] = (uint8_t)(u >> 8);
        }
    }
}

static void gen_worker(void *ctx, int ith, int nth)
{
    const gen_job *j = ctx;
    float *tmp = j->tmp + (size_t)ith * CHUNK;
    for (int c = ith; c < j->nchunks; c += nth) {
        const uint64_t chunk = j->first_chunk + (uint64_t)c, start = chunk * CHUNK;
        const size_t n = (size_t)(j->t->numel - start < CHUNK ? j->t->numel - start : CHUNK);
        fill_chunk(j, chunk, tmp, n);
        store(j, tmp, n, j->out + (size_t)c * CHUNK * (size_t)j->esize);
    }
}

static llx_status write_data(llx_atomic_file *a, const synth_tensor *t, int n, uint64_t seed, const char *dtype)
{
    llx_pool *pool = NULL;
    int nth = llx_cpu_count();
    if (nth > 8) nth = 8;
    LLX_TRY(llx_pool_create(&pool, nth, 0));
    nth = llx_pool_size(pool);
    gen_job j = {.seed = seed, .esize = strcmp(dtype, "F32") ? 2 : 4, .bf16 = !strcmp(dtype, "BF16")};
    j.out = malloc((size_t)BATCH_CHUNKS * CHUNK * 4);
    j.tmp = malloc((size_t)nth * CHUNK * sizeof(float));
    llx_status st = (j.out && j.tmp) ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory writing weights");
    for (int i = 0; i < n && st == LLX_OK; i++) {
        j.t = &t[i];
        j.tensor_index = i;
        const uint64_t chunks = (t[i].numel + CHUNK - 1) / CHUNK;
        for (uint64_t c = 0; c < chunks && st == LLX_OK; c += BATCH_CHUNKS) {
            j.first_chunk = c;
            j.nchunks = (int)(chunks - c < BATCH_CHUNKS ? chunks - c : BATCH_CHUNKS);
            llx_pool_run(pool, gen_worker, &j);
            const uint64_t elems = (c + (uint64_t)j.nchunks) * CHUNK < t[i].numel ? (uint64_t)j.nchunks * CHUNK
                                                                                  : t[i].numel - c * CHUNK;
            st = llx_atomic_write(a, j.out, (size_t)elems * (size_t)j.esize);
        }
    }
    free(j.out);
    free(j.tmp);
    llx_pool_free(pool);
    return st;
}

static llx_status write_safetensors(const char *path, const llx_config *cfg, uint64_t seed, const char *dtype)
{
    int n = 0;
    synth_tensor *t = tensor_list(cfg, &n);
    if (!t) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    size_t hlen = 0;
    char *h = build_header(t, n, strcmp(dtype, "F32") ? 2 : 4, dtype, &hlen);
    llx_atomic_file a = {0};
    llx_status st = h ? llx_atomic_open(&a, path) : llx_fail(LLX_ERR_NOMEM, "out of memory");
    if (st == LLX_OK) {
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
        st = llx_atomic_write(&a, len8, 8);
        if (st == LLX_OK) st = llx_atomic_write(&a, h, hlen);
        if (st == LLX_OK) st = write_data(&a, t, n, seed, dtype);
        if (st == LLX_OK) st = llx_atomic_commit(&a);
        else llx_atomic_abort(&a);
    }
    free(h);
    free(t);
    return st;
}

/* ---- tokenizer files ---- */

/* vocab.json must map strings to ids inside [0, n_vocab); *eot gets the id of
 * <|endoftext|> or -1. */
static llx_status check_vocab(const char *json, size_t len, const char *path, int n_vocab, int *eot)
{
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return llx_fail(LLX_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, err.line, err.text);
    llx_status st = json_is_object(root) ? LLX_OK : llx_fail(LLX_ERR_FORMAT, "%s: must be a JSON object", path);
    const char *k;
    json_t *v;
    *eot = -1;
    json_object_foreach(root, k, v)
    {
        if (st != LLX_OK) break;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab)
            st = llx_fail(LLX_ERR_FORMAT, "%s: token ids must be integers in [0, vocab_size %d)", path, n_vocab);
        else if (!strcmp(k, "<|endoftext|>"))
            *eot = (int)json_integer_value(v);
    }
    /* every id the model can emit must decode */
    if (st == LLX_OK && json_object_size(root) < (size_t)n_vocab)
        st = llx_fail(LLX_ERR_FORMAT, "%s: %zu entries but vocab_size is %d: ids %zu..%d could not be decoded", path,
                      json_object_size(root), n_vocab, json_object_size(root), n_vocab - 1);
    json_decref(root);
    return st;
}

static llx_status copy_tokenizer(const char *from, const char *out_dir, int n_vocab, int *eot)
{
    static const char *const names[2] = {"vocab.json", "merges.txt"};
    llx_status st = LLX_OK;
    for (int i = 0; i < 2 && st == LLX_OK; i++) {
        char *src = llx_path_join(from, names[i]), *dst = llx_path_join(out_dir, names[i]), *buf = NULL;
        size_t len = 0;
        if (!src || !dst) st = llx_fail(LLX_ERR_NOMEM, "out of memory");
        if (st == LLX_OK) st = llx_read_file(src, TOKENIZER_MAX_BYTES, &buf, &len);
        if (st == LLX_OK && i == 0) st = check_vocab(buf, len, src, n_vocab, eot);
        if (st == LLX_OK && !llx_same_file(src, dst)) st = llx_write_file_atomic(dst, buf, len);
        free(buf);
        free(src);
        free(dst);
    }
    return st;
}

llx_status llx_synth_write_file(const char *out_dir, const char *name, const char *buf, size_t len)
{
    char *p = llx_path_join(out_dir, name);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = llx_write_file_atomic(p, buf, len);
    free(p);
    return st;
}

static llx_status generate_tokenizer(const char *out_dir, int n_vocab, int *eot)
{
    char *vocab = NULL, *merges = NULL;
    size_t vlen = 0, mlen = 0;
    LLX_TRY(llx_bpe_vocab_generate(n_vocab, &vocab, &vlen, &merges, &mlen));
    llx_status st = llx_synth_write_file(out_dir, "vocab.json", vocab, vlen);
    if (st == LLX_OK) st = llx_synth_write_file(out_dir, "merges.txt", merges, mlen);
    free(vocab);
    free(merges);
    *eot = n_vocab >= 257 ? n_vocab - 1 : -1;
    return st;
}

/* ---- config.json ---- */

/* Shortest %g form that reads back as the same float. */
void llx_synth_fmt_float(char *buf, size_t cap, float x)
{
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, cap, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x) return;
    }
}

static llx_status write_config(const char *out_dir, const llx_config *c, const char *dtype, int eot)
{
    char eps[32], ids[96] = "";
    llx_synth_fmt_float(eps, sizeof eps, c->ln_eps);
    if (eot >= 0) snprintf(ids, sizeof ids, "  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n", eot, eot);
    const char *torch = !strcmp(dtype, "F32") ? "float32" : !strcmp(dtype, "F16") ? "float16" : "bfloat16";
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "{\n  \"activation_function\": \"gelu_new\",\n  \"architectures\": [\"GPT2LMHeadModel\"],\n"
                     "  \"attn_pdrop\": 0.1,\n%s  \"embd_pdrop\": 0.1,\n  \"initializer_range\": 0.02,\n"
                     "  \"layer_norm_epsilon\": %s,\n  \"model_type\": \"gpt2\",\n  \"n_ctx\": %d,\n"
                     "  \"n_embd\": %d,\n  \"n_head\": %d,\n  \"n_inner\": %d,\n  \"n_layer\": %d,\n"
                     "  \"n_positions\": %d,\n  \"reorder_and_upcast_attn\": false,\n  \"resid_pdrop\": 0.1,\n"
                     "  \"scale_attn_by_inverse_layer_idx\": false,\n  \"scale_attn_weights\": true,\n"
                     "  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"%s\",\n  \"use_cache\": true,\n"
                     "  \"vocab_size\": %d\n}\n",
                     ids, eps, c->n_ctx, c->n_embd, c->n_head, c->n_inner, c->n_layer, c->n_ctx, torch, c->n_vocab);
    if (n < 0 || (size_t)n >= sizeof buf) return llx_fail(LLX_ERR_INTERNAL, "config.json text too long");
    return llx_synth_write_file(out_dir, "config.json", buf, (size_t)n);
}

/* ---- folder ---- */

static llx_status make_dirs(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char saved = p[i];
        p[i] = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            llx_status st = llx_fail(LLX_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
            free(p);
            return st;
        }
        p[i] = saved;
    }
    free(p);
    if (!llx_is_dir(dir)) return llx_fail(LLX_ERR_IO, "'%s' exists and is not a folder", dir);
    return LLX_OK;
}

static const char *canonical_dtype(const char *d)
{
    if (!d) return NULL;
    if (!strcasecmp(d, "F32")) return "F32";
    if (!strcasecmp(d, "F16")) return "F16";
    if (!strcasecmp(d, "BF16")) return "BF16";
    return NULL;
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The four files of a checkpoint, config.json last. */
static const char *const ckpt_files[4] = {"vocab.json", "merges.txt", "model.safetensors", "config.json"};

static llx_status write_all(const char *dir, const llx_config *cfg, uint64_t seed, const char *dt,
                            const char *vocab_from)
{
    int eot = -1;
    if (vocab_from) LLX_TRY(copy_tokenizer(vocab_from, dir, cfg->n_vocab, &eot));
    else LLX_TRY(generate_tokenizer(dir, cfg->n_vocab, &eot));
    char *path = llx_path_join(dir, "model.safetensors");
    if (!path) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    llx_status st = write_safetensors(path, cfg, seed, dt);
    free(path);
    if (st == LLX_OK) st = write_config(dir, cfg, dt, eot);
    return st;
}

/* A new empty folder beside out_dir (same file system, so it can be renamed
 * into place): "<out_dir>.synth-XXXXXX".  Parents are created. */
static llx_status make_temp_dir(const char *out_dir, char **tmp)
{
    size_t n = strlen(out_dir);
    while (n > 1 && out_dir[n - 1] == '/') n--;
    *tmp = malloc(n + 16);
    if (!*tmp) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    memcpy(*tmp, out_dir, n);
    (*tmp)[n] = 0;
    char *slash = strrchr(*tmp, '/');
    if (slash && slash != *tmp) {
        *slash = 0;
        const llx_status st = make_dirs(*tmp);
        *slash = '/';
        if (st != LLX_OK) return st;
    }
    memcpy(*tmp + n, ".synth-XXXXXX", 14);
    if (!mkdtemp(*tmp)) return llx_fail(LLX_ERR_IO, "cannot create a folder beside '%s': %s", out_dir, strerror(errno));
    return LLX_OK;
}

static void remove_temp_dir(const char *tmp)
{
    for (int i = 0; i < 4; i++) {
        char *p = llx_path_join(tmp, ckpt_files[i]);
        if (p) unlink(p);
        free(p);
    }
    rmdir(tmp);
}

/* Put the finished files in place: rename the folder when out_dir does not
 * exist yet; otherwise move the four files into it one by one (each rename
 * is atomic; the folder's other files are kept). */
static llx_status publish(const char *tmp, const char *out_dir)
{
    if (!path_exists(out_dir)) {
        if (rename(tmp, out_dir) == 0) return LLX_OK;
        return llx_fail(LLX_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, out_dir, strerror(errno));
    }
    for (int i = 0; i < 4; i++) {
        char *a = llx_path_join(tmp, ckpt_files[i]), *b = llx_path_join(out_dir, ckpt_files[i]);
        llx_status st = a && b ? LLX_OK : llx_fail(LLX_ERR_NOMEM, "out of memory");
        if (st == LLX_OK && rename(a, b) != 0)
            st = llx_fail(LLX_ERR_IO, "cannot move '%s' to '%s': %s", a, b, strerror(errno));
        free(a);
        free(b);
        if (st != LLX_OK) return st;
    }
    rmdir(tmp);
    return LLX_OK;
}

llx_status llx_synth_write(const char *out_dir, const llx_config *cfg, uint64_t seed, const char *dtype,
                           const char *vocab_from)
{
    if (!out_dir || !*out_dir || !cfg) return llx_fail(LLX_ERR_ARG, "llx_synth_write: missing folder or config");
    const char *dt = canonical_dtype(dtype);
    if (!dt) return llx_fail(LLX_ERR_ARG, "unsupported weight dtype '%s' (F32, F16 or BF16)", dtype ? dtype : "");
    llx_status st = llx_config_check(cfg);
    if (st != LLX_OK) {
        llx_errmsg_prefix("synth config");
        return st;
    }
    if (cfg->arch == LLX_ARCH_LLAMA) {
        if (vocab_from) return llx_fail(LLX_ERR_ARG, "a synthetic Llama writes its own tokenizer.json (no vocab copy)");
        if (cfg->n_vocab < 512)
            return llx_fail(LLX_ERR_ARG, "a synthetic Llama needs vocab_size >= 512 (256 bytes, 256 special tokens)");
        LLX_TRY(make_dirs(out_dir));
        LLX_TRY(llx_synth_llama_tokenizer(out_dir, cfg->n_vocab));
        char *p = llx_path_join(out_dir, "model.safetensors");
        if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
        st = write_safetensors(p, cfg, seed, dt);
        free(p);
        return st == LLX_OK ? llx_synth_llama_config(out_dir, cfg, dt) : st;
    }
    if (!vocab_from && cfg->n_vocab < 256)
        return llx_fail(LLX_ERR_ARG, "a generated byte-level vocabulary needs vocab_size >= 256 (got %d); "
                                     "use a larger vocabulary or copy one", cfg->n_vocab);
    if (path_exists(out_dir) && !llx_is_dir(out_dir))
        return llx_fail(LLX_ERR_IO, "'%s' exists and is not a folder", out_dir);
    char *tmp = NULL;
    st = make_temp_dir(out_dir, &tmp);
    if (st != LLX_OK) {
        free(tmp);
        return st;
    }
    st = write_all(tmp, cfg, seed, dt, vocab_from);
    if (st == LLX_OK) st = publish(tmp, out_dir);
    if (st != LLX_OK) remove_temp_dir(tmp);
    free(tmp);
    return st;
}
