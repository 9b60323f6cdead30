/* tests/test_checkpoint.c - HuggingFace checkpoint folders: the shared
 * shakespeare model reads back the bytes on disk (Conv1D transpose undone,
 * tied LM head), reads are range-checked and thread-safe, name variants are
 * accepted, and every kind of broken folder is refused with one clear line,
 * both by the library and by `looplynx info`. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "llx/checkpoint.h"
#include "model/hf_internal.h"
#include "test.h"

TEST(checkpoint_shakespeare_open, LLX_T_ASAN)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    llx_hf *m = NULL;
    CHECK(llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    const llx_config *c = llx_hf_config(m);
    CHECK_EQ_INT(c->n_vocab, 50257);
    CHECK_EQ_INT(c->n_ctx, 512);
    CHECK_EQ_INT(c->n_embd, 256);
    CHECK_EQ_INT(c->n_layer, 6);
    CHECK_EQ_INT(c->n_head, 8);
    CHECK_EQ_INT(c->n_inner, 1024);
    CHECK(strcmp(llx_hf_dtype(m), "F32") == 0);
    CHECK_EQ_INT(llx_hf_data_bytes(m), 17735936ll * 4);
    CHECK_EQ_INT(llx_config_params(c), 17735936);
    CHECK(strcmp(llx_hf_dir(m), dir) == 0);
    llx_hf_close(m);
    llx_hf_close(NULL);
}

TEST(checkpoint_shakespeare_values, LLX_T_ASAN)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    llx_hf *m = NULL;
    ckpt_img img;
    CHECK(llx_hf_open(&m, dir) == LLX_OK);
    CHECK(ckpt_img_load(dir, &img));
    if (!m || !img.hdr) return;
    const int C = 256, F = 1024, V = 50257;
    float *dst = malloc(sizeof(float) * 1024 * 1024);
    /* QKV of layer 2, rows [100, 140): dst[r][k] = stored[k][r] with stored [C, 3C] */
    const uint8_t *w = ckpt_img_raw(&img, "h.2.attn.c_attn.weight", NULL);
    CHECK(llx_hf_read_rows(m, 2, LLX_MAT_QKV, 100, 140, dst) == LLX_OK);
    int bad = 0;
    for (int r = 100; r < 140; r++)
        for (int k = 0; k < C; k++) bad += dst[(r - 100) * C + k] != ckpt_f32_at(w, (size_t)k * 3 * C + (size_t)r);
    CHECK_EQ_INT(bad, 0);
    /* FC2 of layer 5: [C rows][F cols] from stored [F, C] */
    w = ckpt_img_raw(&img, "h.5.mlp.c_proj.weight", NULL);
    CHECK(llx_hf_read_rows(m, 5, LLX_MAT_FC2, 0, C, dst) == LLX_OK);
    bad = 0;
    for (int r = 0; r < C; r++)
        for (int k = 0; k < F; k++) bad += dst[(size_t)r * F + (size_t)k] != ckpt_f32_at(w, (size_t)k * C + (size_t)r);
    CHECK_EQ_INT(bad, 0);
    /* FC1 of layer 0, an odd slice (partial tiles) */
    w = ckpt_img_raw(&img, "h.0.mlp.c_fc.weight", NULL);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_FC1, 77, 1000, dst) == LLX_OK);
    bad = 0;
    for (int r = 77; r < 1000; r++)
        for (int k = 0; k < C; k++)
            bad += dst[(size_t)(r - 77) * C + (size_t)k] != ckpt_f32_at(w, (size_t)k * F + (size_t)r);
    CHECK_EQ_INT(bad, 0);
    /* PROJ is square: make sure it is transposed, not copied */
    w = ckpt_img_raw(&img, "h.1.attn.c_proj.weight", NULL);
    CHECK(llx_hf_read_rows(m, 1, LLX_MAT_PROJ, 3, 4, dst) == LLX_OK);
    CHECK(dst[5] == ckpt_f32_at(w, 5 * C + 3));
    CHECK(dst[5] != ckpt_f32_at(w, 3 * C + 5));
    /* biases and LayerNorm vectors */
    w = ckpt_img_raw(&img, "h.1.mlp.c_fc.bias", NULL);
    CHECK(llx_hf_read_bias(m, 1, LLX_MAT_FC1, 10, 20, dst) == LLX_OK);
    for (int i = 0; i < 10; i++) CHECK(dst[i] == ckpt_f32_at(w, 10 + (size_t)i));
    w = ckpt_img_raw(&img, "h.3.ln_2.weight", NULL);
    CHECK(llx_hf_read_vec(m, 3, LLX_VEC_LN2_G, dst) == LLX_OK);
    for (int i = 0; i < C; i++) CHECK(dst[i] == ckpt_f32_at(w, (size_t)i));
    w = ckpt_img_raw(&img, "ln_f.bias", NULL);
    CHECK(llx_hf_read_vec(m, -1, LLX_VEC_LNF_B, dst) == LLX_OK);
    for (int i = 0; i < C; i++) CHECK(dst[i] == ckpt_f32_at(w, (size_t)i));
    /* LM head is wte (tied), rows in [V][C] orientation without transpose */
    w = ckpt_img_raw(&img, "wte.weight", NULL);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_LM_HEAD, V - 257, V, dst) == LLX_OK);
    bad = 0;
    for (size_t i = 0; i < 257u * C; i++) bad += dst[i] != ckpt_f32_at(w, (size_t)(V - 257) * C + i);
    CHECK_EQ_INT(bad, 0);
    float *wte = malloc(sizeof(float) * 257 * C);
    CHECK(llx_hf_read_wte(m, V - 257, V, wte) == LLX_OK);
    CHECK(memcmp(wte, dst, sizeof(float) * 257 * C) == 0);
    free(wte);
    CHECK(llx_hf_read_bias(m, 0, LLX_MAT_LM_HEAD, 0, 100, dst) == LLX_OK);
    for (int i = 0; i < 100; i++) CHECK(dst[i] == 0.0f);
    w = ckpt_img_raw(&img, "wpe.weight", NULL);
    CHECK(llx_hf_read_wpe(m, 500, 512, dst) == LLX_OK);
    for (int i = 0; i < 12 * C; i++) CHECK(dst[i] == ckpt_f32_at(w, 500u * C + (size_t)i));
    free(dst);
    ckpt_img_free(&img);
    llx_hf_close(m);
}

TEST(checkpoint_read_args, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("args", &c, "F32", 3);
    llx_hf *m = NULL;
    CHECK(dir && llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    float buf[300 * 32];
    CHECK(llx_hf_read_rows(m, 2, LLX_MAT_QKV, 0, 1, buf) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "layer 2") != NULL);
    CHECK(llx_hf_read_rows(m, -1, LLX_MAT_FC1, 0, 1, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, 0, 97, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, 5, 4, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, -1, 4, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_COUNT, 0, 1, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_NONE, 0, 1, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, 0, 1, NULL) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(NULL, 0, LLX_MAT_QKV, 0, 1, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, 96, 96, buf) == LLX_OK); /* empty range */
    CHECK(llx_hf_read_rows(m, 99, LLX_MAT_LM_HEAD, 0, 300, buf) == LLX_OK); /* layer ignored */
    CHECK(llx_hf_read_rows(m, 0, LLX_MAT_LM_HEAD, 0, 301, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_bias(m, 0, LLX_MAT_FC1, 0, 65, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_bias(m, 0, LLX_MAT_FC1, 0, 64, buf) == LLX_OK);
    CHECK(llx_hf_read_vec(m, 0, LLX_VEC_LNF_G, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_vec(m, -1, LLX_VEC_LN1_G, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_vec(m, 2, LLX_VEC_LN2_B, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_vec(m, 0, (llx_vec)17, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_vec(m, -1, LLX_VEC_LNF_G, buf) == LLX_OK);
    CHECK(llx_hf_read_wte(m, 0, 301, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_wpe(m, 0, 17, buf) == LLX_ERR_ARG);
    CHECK(llx_hf_read_wpe(m, 0, 16, buf) == LLX_OK);
    CHECK(llx_hf_open(NULL, dir) == LLX_ERR_ARG);
    llx_hf_close(m);
}

/* ---- concurrent reads ---- */

typedef struct reader {
    const llx_hf *m;
    const float *want;
    size_t n;
    int mismatches, failures;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    float *got = malloc(r->n * sizeof(float));
    for (int rep = 0; rep < 5; rep++) {
        memset(got, 0xff, r->n * sizeof(float));
        ckpt_read_all(r->m, got);
        r->mismatches += memcmp(got, r->want, r->n * sizeof(float)) != 0;
    }
    free(got);
    return NULL;
}

TEST(checkpoint_concurrent_reads, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_config c = ckpt_tiny_config();
    c.n_embd = 96, c.n_head = 3, c.n_inner = 200;
    const char *dir = ckpt_make("threads", &c, "BF16", 11);
    llx_hf *m = NULL;
    CHECK(dir && llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    size_t n = ckpt_read_all(m, NULL);
    float *want = malloc(n * sizeof(float));
    ckpt_read_all(m, want);
    pthread_t th[4];
    reader r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){.m = m, .want = want, .n = n};
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(r[i].mismatches, 0);
    }
    free(want);
    llx_hf_close(m);
}

/* "transformer." prefixes, mask buffers and an untied lm_head are accepted. */
TEST(checkpoint_prefix_extras_untied, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("prefixed", &c, "F32", 5);
    ckpt_img img;
    CHECK(dir && ckpt_img_load(dir, &img));
    if (!img.hdr) return;
    json_t *nh = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(img.hdr, k, v)
    {
        char name[128];
        snprintf(name, sizeof name, "%s%s", strcmp(k, "__metadata__") ? "transformer." : "", k);
        json_object_set(nh, name, v);
    }
    json_decref(img.hdr);
    img.hdr = nh;
    uint8_t mask[16 * 16];
    memset(mask, 1, sizeof mask);
    const long long mshape[4] = {1, 1, 16, 16}, scalar[1] = {0};
    ckpt_img_add(&img, "transformer.h.0.attn.bias", "BOOL", 4, mshape, mask, sizeof mask);
    float mb = -1e4f;
    ckpt_img_add(&img, "transformer.h.0.attn.masked_bias", "F32", 0, scalar, &mb, 4);
    float *head = malloc(300 * 32 * sizeof(float));
    for (int i = 0; i < 300 * 32; i++) head[i] = (float)i * 0.001f;
    const long long hshape[2] = {300, 32};
    ckpt_img_add(&img, "lm_head.weight", "F32", 2, hshape, head, 300 * 32 * 4);
    CHECK(ckpt_img_save(dir, &img));
    CHECK(ckpt_config_set(dir, "tie_word_embeddings", "false"));
    llx_hf *m = NULL;
    CHECK(llx_hf_open(&m, dir) == LLX_OK);
    if (m) {
        float got[32], wte[32];
        CHECK(llx_hf_read_rows(m, 0, LLX_MAT_LM_HEAD, 123, 124, got) == LLX_OK);
        CHECK(memcmp(got, head + 123 * 32, sizeof got) == 0);
        CHECK(llx_hf_read_wte(m, 123, 124, wte) == LLX_OK);
        CHECK(memcmp(got, wte, sizeof got) != 0);
        const uint8_t *g = ckpt_img_raw(&img, "transformer.h.1.ln_1.weight", NULL);
        CHECK(llx_hf_read_vec(m, 1, LLX_VEC_LN1_G, got) == LLX_OK);
        CHECK(got[7] == ckpt_f32_at(g, 7));
        llx_hf_close(m);
    }
    free(head);
    ckpt_img_free(&img);
}

/* ---- bad input: each case one clear line from the library and the CLI ---- */

static void expect_bad(const char *dir, llx_status want_st, const char *want)
{
    llx_hf *m = (llx_hf *)&m;
    llx_status st = llx_hf_open(&m, dir);
    CHECK_MSG(st == want_st, "status %s, want %s (%s)", llx_status_str(st), llx_status_str(want_st), llx_errmsg());
    CHECK(m == NULL);
    CHECK_MSG(strstr(llx_errmsg(), want) != NULL, "message lacks '%s': %s", want, llx_errmsg());
    CHECK(strchr(llx_errmsg(), '\n') == NULL);
    ckpt_expect_cli_error(dir, want);
}

static const char *fresh(const char *name)
{
    llx_config c = ckpt_tiny_config();
    return ckpt_make(name, &c, "F32", 9);
}

/* Load the header of a fresh checkpoint, let edit() change it, save. */
static const char *edited(const char *name, void (*edit)(json_t *hdr))
{
    const char *dir = fresh(name);
    ckpt_img img;
    if (!dir || !ckpt_img_load(dir, &img)) return NULL;
    edit(img.hdr);
    int ok = ckpt_img_save(dir, &img);
    ckpt_img_free(&img);
    return ok ? dir : NULL;
}

static void set_offsets(json_t *hdr, const char *name, long long b, long long e)
{
    json_object_set_new(json_object_get(hdr, name), "data_offsets", json_pack("[II]", (json_int_t)b, (json_int_t)e));
}

static long long offset_of(json_t *hdr, const char *name, int which)
{
    json_t *offs = json_object_get(json_object_get(hdr, name), "data_offsets");
    return json_integer_value(json_array_get(offs, (size_t)which));
}

TEST(checkpoint_bad_missing_folder, LLX_T_ASAN)
{
    expect_bad(llx_test_tmpfile("no-such-folder"), LLX_ERR_IO, "does not exist");
    const char *dir = fresh("file-not-folder");
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    llx_hf *m = NULL;
    CHECK(llx_hf_open(&m, path) == LLX_ERR_IO && m == NULL && strstr(llx_errmsg(), "is not a folder"));
    /* `info` reads a regular file as a .llx model */
    ckpt_expect_cli_error(path, "config.json: not a .llx file (bad magic)");
}

TEST(checkpoint_bad_missing_files, LLX_T_ASAN)
{
    static const char *const names[4] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};
    for (int i = 0; i < 4; i++) {
        char name[64], path[1024];
        snprintf(name, sizeof name, "missing-%d", i);
        const char *dir = fresh(name);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(unlink(path) == 0);
        char want[128];
        snprintf(want, sizeof want, "%s: missing", names[i]);
        expect_bad(dir, LLX_ERR_IO, want);
    }
}

static void truncate_model(const char *dir, long size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(truncate(path, size) == 0);
}

TEST(checkpoint_bad_truncated, LLX_T_ASAN)
{
    const char *dir = fresh("trunc-data");
    truncate_model(dir, 50000);
    expect_bad(dir, LLX_ERR_FORMAT, "run past the data section");
    dir = fresh("trunc-header");
    truncate_model(dir, 100);
    expect_bad(dir, LLX_ERR_FORMAT, "runs past the end of the file");
    dir = fresh("trunc-len");
    truncate_model(dir, 5);
    expect_bad(dir, LLX_ERR_FORMAT, "too short for the 8-byte header length");
    dir = fresh("trunc-empty");
    truncate_model(dir, 0);
    expect_bad(dir, LLX_ERR_FORMAT, "is empty");
}

TEST(checkpoint_bad_header_length, LLX_T_ASAN)
{
    const char *dir = fresh("hlen-past-end");
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    const uint8_t big[8] = {0x00, 0x00, 0x00, 0x40, 0, 0, 0, 0}; /* 1 GiB */
    CHECK(f && fwrite(big, 1, 8, f) == 8);
    if (f) fclose(f);
    expect_bad(dir, LLX_ERR_FORMAT, "header length 1073741824 runs past the end of the file");
    /* a 150 MB (sparse) file whose header claims 140 MB: over the limit */
    dir = fresh("hlen-limit");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    const uint8_t len[8] = {0x00, 0x4e, 0x57, 0x08, 0, 0, 0, 0}; /* 140,004,864 */
    CHECK(f && fwrite(len, 1, 8, f) == 8);
    if (f) fclose(f);
    truncate_model(dir, 150000000);
    expect_bad(dir, LLX_ERR_FORMAT, "exceeds the limit");
}

static void edit_overlap(json_t *h)
{
    long long b = offset_of(h, "h.0.attn.c_attn.weight", 0), e = offset_of(h, "h.0.attn.c_attn.weight", 1);
    set_offsets(h, "h.0.attn.c_attn.weight", 40, 40 + (e - b)); /* inside wte [0, 38400) */
}

TEST(checkpoint_bad_overlap, LLX_T_ASAN)
{
    const char *dir = edited("overlap", edit_overlap);
    expect_bad(dir, LLX_ERR_FORMAT,
               "tensor 'h.0.attn.c_attn.weight': data_offsets [40, 12328] overlap tensor 'wte.weight'");
}

static void edit_past_end(json_t *h)
{
    long long end = offset_of(h, "ln_f.bias", 1);
    set_offsets(h, "ln_f.bias", end + 8, end + 8 + 128);
}

static void edit_reversed(json_t *h) { set_offsets(h, "ln_f.bias", 200, 72); }

static void edit_not_pair(json_t *h)
{
    json_object_set_new(json_object_get(h, "ln_f.bias"), "data_offsets", json_pack("[i]", 3));
}

TEST(checkpoint_bad_offsets_range, LLX_T_ASAN)
{
    expect_bad(edited("offs-past", edit_past_end), LLX_ERR_FORMAT, "tensor 'ln_f.bias': data_offsets");
    CHECK(strstr(llx_errmsg(), "run past the data section") != NULL);
    expect_bad(edited("offs-reversed", edit_reversed), LLX_ERR_FORMAT, "[200, 72] end before they begin");
    expect_bad(edited("offs-pair", edit_not_pair), LLX_ERR_FORMAT, "data_offsets must be [begin, end]");
}

static void edit_dtype_unknown(json_t *h)
{
    json_object_set_new(json_object_get(h, "wte.weight"), "dtype", json_string("F12"));
}

static void edit_dtype_int(json_t *h)
{
    json_object_set_new(json_object_get(h, "h.1.mlp.c_fc.weight"), "dtype", json_string("I32"));
}

TEST(checkpoint_bad_dtype, LLX_T_ASAN)
{
    expect_bad(edited("dtype-unknown", edit_dtype_unknown), LLX_ERR_FORMAT, "tensor 'wte.weight': unknown dtype 'F12'");
    expect_bad(edited("dtype-int", edit_dtype_int), LLX_ERR_UNSUPPORTED,
               "tensor 'h.1.mlp.c_fc.weight' has dtype I32 (supported: F32, F16, BF16)");
}

static void edit_size(json_t *h)
{
    json_object_set_new(json_object_get(h, "wpe.weight"), "shape", json_pack("[ii]", 16, 33));
}

static void edit_size_dtype(json_t *h)
{
    json_object_set_new(json_object_get(h, "wpe.weight"), "dtype", json_string("F16"));
}

TEST(checkpoint_bad_size, LLX_T_ASAN)
{
    expect_bad(edited("size-shape", edit_size), LLX_ERR_FORMAT,
               "tensor 'wpe.weight': data_offsets [38400, 40448] hold 2048 bytes but shape and F32 need 2112");
    expect_bad(edited("size-dtype", edit_size_dtype), LLX_ERR_FORMAT, "but shape and F16 need 1024");
}

TEST(checkpoint_bad_shape_config, LLX_T_ASAN)
{
    const char *dir = fresh("shape-config");
    CHECK(ckpt_config_set(dir, "n_positions", "32"));
    expect_bad(dir, LLX_ERR_FORMAT, "tensor 'wpe.weight' has shape [16, 32] but config.json implies [32, 32]");
    dir = fresh("shape-inner");
    CHECK(ckpt_config_set(dir, "n_inner", "128"));
    expect_bad(dir, LLX_ERR_FORMAT,
               "tensor 'h.0.mlp.c_fc.weight' has shape [32, 64] but config.json implies [32, 128]");
}

static void edit_missing(json_t *h) { json_object_del(h, "h.1.mlp.c_fc.bias"); }
static void edit_missing_lnf(json_t *h) { json_object_del(h, "ln_f.weight"); }

TEST(checkpoint_bad_missing_tensor, LLX_T_ASAN)
{
    expect_bad(edited("missing-bias", edit_missing), LLX_ERR_FORMAT, "missing tensor 'h.1.mlp.c_fc.bias'");
    expect_bad(edited("missing-lnf", edit_missing_lnf), LLX_ERR_FORMAT, "missing tensor 'ln_f.weight'");
    const char *dir = fresh("untied");
    CHECK(ckpt_config_set(dir, "tie_word_embeddings", "false"));
    expect_bad(dir, LLX_ERR_FORMAT, "tie_word_embeddings false but there is no lm_head.weight");
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

TEST(checkpoint_bad_config_json, LLX_T_ASAN)
{
    const char *dir = fresh("config-malformed");
    write_text(dir, "config.json", "{\"n_embd\": 32, \"n_layer\": 2,");
    expect_bad(dir, LLX_ERR_FORMAT, "config.json: invalid JSON");
    dir = fresh("config-type");
    CHECK(ckpt_config_set(dir, "n_embd", "\"32\""));
    expect_bad(dir, LLX_ERR_FORMAT, "config.json: field 'n_embd' must be an integer");
    dir = fresh("config-tie-type");
    CHECK(ckpt_config_set(dir, "tie_word_embeddings", "\"yes\""));
    expect_bad(dir, LLX_ERR_FORMAT, "field 'tie_word_embeddings' must be true or false");
    dir = fresh("config-heads");
    CHECK(ckpt_config_set(dir, "n_head", "5"));
    expect_bad(dir, LLX_ERR_FORMAT, "n_embd 32 is not a multiple of n_head 5");
}

TEST(checkpoint_bad_activation, LLX_T_ASAN)
{
    const char *dir = fresh("activation");
    CHECK(ckpt_config_set(dir, "activation_function", "\"relu\""));
    expect_bad(dir, LLX_ERR_UNSUPPORTED, "activation_function 'relu' is not supported");
    dir = fresh("model-type");
    CHECK(ckpt_config_set(dir, "model_type", "\"mistral\""));
    expect_bad(dir, LLX_ERR_UNSUPPORTED, "model_type 'mistral' is not supported (gpt2 or llama)");
}

static void edit_extra_field(json_t *h)
{
    json_object_set_new(json_object_get(h, "wte.weight"), "offset", json_integer(0));
}

static void edit_meta(json_t *h) { json_object_set_new(h, "__metadata__", json_pack("{si}", "format", 1)); }

static void edit_shape_neg(json_t *h)
{
    json_object_set_new(json_object_get(h, "ln_f.bias"), "shape", json_pack("[i]", -32));
}

static void edit_shape_overflow(json_t *h)
{
    json_object_set_new(json_object_get(h, "ln_f.bias"), "shape",
                        json_pack("[III]", (json_int_t)1 << 32, (json_int_t)1 << 32, (json_int_t)1 << 32));
}

static void edit_entry_type(json_t *h) { json_object_set_new(h, "ln_f.bias", json_integer(3)); }

TEST(checkpoint_bad_header_fields, LLX_T_ASAN)
{
    expect_bad(edited("hdr-extra", edit_extra_field), LLX_ERR_FORMAT, "tensor 'wte.weight': unexpected field 'offset'");
    expect_bad(edited("hdr-meta", edit_meta), LLX_ERR_FORMAT, "'__metadata__' entry 'format' must be a string");
    expect_bad(edited("hdr-neg", edit_shape_neg), LLX_ERR_FORMAT, "shape entries must be non-negative integers");
    expect_bad(edited("hdr-overflow", edit_shape_overflow), LLX_ERR_FORMAT, "shape element count overflows");
    expect_bad(edited("hdr-entry", edit_entry_type), LLX_ERR_FORMAT, "tensor 'ln_f.bias': entry must be an object");
    /* not JSON, and duplicate keys */
    const char *dir = fresh("hdr-json");
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    static const char dup[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    FILE *f = fopen(path, "wb");
    const uint8_t len[8] = {sizeof dup - 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(f && fwrite(len, 1, 8, f) == 8 && fwrite(dup, 1, sizeof dup - 1, f) == sizeof dup - 1 &&
          fwrite("abcd", 1, 4, f) == 4);
    if (f) fclose(f);
    expect_bad(dir, LLX_ERR_FORMAT, "header is not valid JSON");
    CHECK(strstr(llx_errmsg(), "duplicate") != NULL);
    char notobj[sizeof dup];
    memset(notobj, ' ', sizeof notobj);
    memcpy(notobj, "[1,2]", 5);
    f = fopen(path, "wb");
    CHECK(f && fwrite(len, 1, 8, f) == 8 && fwrite(notobj, 1, sizeof dup - 1, f) == sizeof dup - 1);
    if (f) fclose(f);
    expect_bad(dir, LLX_ERR_FORMAT, "header must be a JSON object");
}

TEST(checkpoint_cli_info, LLX_T_ASAN)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    llx_proc_result r;
    llx_cli(&r, "info", "-m", dir, "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    CHECK(j != NULL);
    if (j) {
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "parameters")), 17735936);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_layer")), 6);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "file_bytes")), 70950408);
        CHECK(strcmp(json_string_value(json_object_get(j, "storage_dtype")), "F32") == 0);
        json_t *w = json_object_get(j, "weight_bytes");
        CHECK_EQ_INT(json_integer_value(json_object_get(w, "fp32")), 17735936ll * 4);
        CHECK_EQ_INT(json_integer_value(json_object_get(w, "fp16")), 17735936ll * 2);
        /* 6 layers: 3,145,728 matrix weights int8 + 6*(768+256+1024+256) fp32 row scales, rest fp32 */
        const long long mat = 6ll * (3 * 256 * 256 + 256 * 256 + 2 * 1024 * 256);
        CHECK_EQ_INT(json_integer_value(json_object_get(w, "int8")),
                     mat + 6ll * (768 + 256 + 1024 + 256) * 4 + (17735936ll - mat) * 4);
        json_decref(j);
    }
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", dir, NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "17,735,936") != NULL);
    CHECK(strstr(r.out, "F32") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "info", "--help", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "usage: looplynx info") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "info", NULL);
    CHECK_EQ_INT(r.status, 2);
    CHECK(strncmp(r.err, "looplynx: error: ", 17) == 0);
    llx_proc_free(&r);
}

/* The hand-made fuzz seeds mean what their names say: valid_* bind to the
 * fuzz config, bad_* are refused (parse or bind). */
TEST(checkpoint_fuzz_seeds_classified, LLX_T_ASAN)
{
    static const char *const valid[] = {"valid_f32.st", "valid_f16_unaligned.st", "valid_bf16_prefixed.st",
                                        "valid_lm_head_extras.st", "valid_mixed.st"};
    static const char *const bad[] = {"bad_overlap.st", "bad_dtype.st", "bad_dtype_int.st", "bad_truncated.st",
                                      "bad_size.st", "bad_range.st", "bad_meta.st", "bad_missing.st",
                                      "bad_shape_config.st", "bad_overflow.st", "bad_dup.st", "bad_hlen.st"};
    const llx_config c = {.n_vocab = 16, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8,
                          .ln_eps = 1e-5f};
    for (int i = 0; i < 17; i++) {
        const int ok = i < 5;
        const char *name = ok ? valid[i] : bad[i - 5];
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/safetensors/%s", name);
        size_t len;
        char *buf = llx_test_read(path, &len);
        CHECK_MSG(buf != NULL, "missing seed %s", path);
        if (!buf) continue;
        llx_st st;
        llx_hf *m = NULL;
        llx_status s = llx_st_parse(&st, (const uint8_t *)buf, len, name);
        if (s == LLX_OK) s = llx_hf_from_st(&m, &st, &c, 1, "seed");
        CHECK_MSG((s == LLX_OK) == ok, "%s: %s", name, s == LLX_OK ? "accepted" : llx_errmsg());
        if (m) {
            float v[64];
            CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, 0, 12, v) == LLX_OK);
            CHECK(isfinite(v[0]) && isfinite(v[47]));
        }
        llx_hf_close(m);
        free(buf);
    }
}
