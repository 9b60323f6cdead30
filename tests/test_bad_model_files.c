/* tests/test_bad_model_files.c - model files that parse but must not be
 * used: NaN or Inf in any tensor (HuggingFace folder or .llx file), a
 * vocab.json that cannot decode every id, a config.json whose n_layer
 * leaves layers of the checkpoint unused, a stray tensor.  Every command
 * that loads a model (info, generate, ppl, quantize, bench) refuses them
 * with one line naming the file and the problem, exit 1, nothing on stdout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_util.h"
#include "clitest.h"
#include "llx/checkpoint.h"
#include "model/llx_file.h"
#include "test.h"

/* Every model-loading command on `model`: exit 1, one error line containing
 * want, no output; quantize leaves no file behind. */
static void every_command_refuses(const char *model, const char *want, int is_llx)
{
    const char *calib = llx_tiny_calib(), *out = llx_test_tmpfile("refused.llx");
    REQUIRE(calib);
    const char *cmds[5][12] = {
        {"info", "-m", model},
        {"generate", "-m", model, "-p", "the ring", "-n", "3", "--greedy"},
        {"ppl", "-m", model, "-f", calib, "--ctx", "8", "--max-tokens", "64"},
        {"bench", "-m", model, "--prompt", "4", "--gen", "2", "--reps", "1"},
        {"quantize", "-m", model, "--calib", calib, "--calib-tokens", "64", "-o", out},
    };
    for (int c = 0; c < (is_llx ? 4 : 5); c++) {
        char *argv[16] = {(char *)llx_test_bin()};
        int n = 1;
        for (int k = 0; k < 12 && cmds[c][k]; k++) argv[n++] = (char *)cmds[c][k];
        llx_proc_result r;
        llx_run_proc(argv, NULL, 120, &r);
        CHECK_MSG(llx_cli_failed(&r, 1, want), "looplynx %s", cmds[c][0]);
        llx_proc_free(&r);
    }
    if (!is_llx) CHECK_MSG(!llx_test_exists(out), "a refused quantize left %s", out);
}

/* A copy of a fresh tiny checkpoint (dtype) with element `at` of tensor
 * `name` set to the float `v` (stored in that dtype). */
static const char *poisoned(const char *tag, const char *dtype, const char *name, size_t at, float v)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make(tag, &c, dtype, 3);
    ckpt_img img;
    if (!dir || !ckpt_img_load(dir, &img)) return NULL;
    size_t len;
    uint8_t *p = (uint8_t *)ckpt_img_raw(&img, name, &len);
    uint32_t u;
    memcpy(&u, &v, 4);
    if (p && !strcmp(dtype, "F32") && (at + 1) * 4 <= len) {
        memcpy(p + at * 4, &u, 4);
    } else if (p && (at + 1) * 2 <= len) { /* F16 / BF16 of an Inf or NaN */
        const uint16_t h = !strcmp(dtype, "BF16") ? (uint16_t)(u >> 16)
                                                  : (uint16_t)((u >> 16 & 0x8000u) | 0x7c00u | (isnan(v) ? 0x200u : 0));
        p[at * 2] = (uint8_t)h, p[at * 2 + 1] = (uint8_t)(h >> 8);
    } else {
        p = NULL;
    }
    const int ok = p && ckpt_img_save(dir, &img);
    ckpt_img_free(&img);
    return ok ? dir : NULL;
}

/* Before: `generate` on a checkpoint holding a NaN printed "!!!!!" and
 * exited 0.  Now each tensor kind (matrix, bias, LayerNorm, the tied
 * embedding read as the LM head, the position table read row by row) in
 * each storage type is refused at load by every command. */
TEST(weights_bad_nonfinite_checkpoint, LLX_T_ASAN)
{
    static const struct {
        const char *dtype, *tensor;
        size_t at;
        float v;
        const char *want;
    } cases[] = {
        {"F32", "h.1.mlp.c_fc.weight", 37, NAN, "tensor 'h.1.mlp.c_fc.weight' holds NaN at element 37 [0, 37]"},
        {"F32", "h.0.attn.c_attn.bias", 5, INFINITY, "tensor 'h.0.attn.c_attn.bias' holds Inf at element 5"},
        {"F16", "h.0.ln_2.weight", 31, -INFINITY, "tensor 'h.0.ln_2.weight' holds Inf at element 31"},
        {"BF16", "wte.weight", 32 * 299 + 1, NAN, "tensor 'wte.weight' holds NaN at element 9569 [299, 1]"},
        {"F32", "wpe.weight", 32 * 15, INFINITY, "tensor 'wpe.weight' holds Inf at element 480 [15, 0]"},
        {"F16", "ln_f.bias", 0, NAN, "tensor 'ln_f.bias' holds NaN at element 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "nonfinite-%zu", i);
        const char *dir = poisoned(tag, cases[i].dtype, cases[i].tensor, cases[i].at, cases[i].v);
        REQUIRE(dir);
        every_command_refuses(dir, cases[i].want, 0);
        /* the library: open succeeds for tensors read at load, the read refuses */
        llx_hf *m = NULL;
        const llx_status st = llx_hf_open(&m, dir);
        if (st == LLX_OK) {
            CHECK(llx_hf_check_finite(m) == LLX_ERR_FORMAT && strstr(llx_errmsg(), cases[i].want));
            llx_hf_close(m);
        } else {
            CHECK_MSG(strstr(llx_errmsg(), cases[i].want), "%s", llx_errmsg());
        }
    }
}

/* A .llx file whose float tensors (biases, scales, embeddings) hold NaN or
 * Inf is refused when it is opened, naming the tensor. */
TEST(weights_bad_nonfinite_llx, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    REQUIRE(src);
    size_t n;
    char *img = llx_test_read(src, &n);
    REQUIRE(img);
    llx_llx *f = NULL;
    /* the buffer from llx_test_read is malloc'd: 16-byte aligned */
    REQUIRE(llx_llx_open_mem(&f, img, n, "tiny") == LLX_OK);
    static const struct { const char *name; size_t at; float v; const char *what; } cases[] = {
        {"h.1.fc1.b", 3, NAN, "NaN at element 3"},
        {"h.0.qkv.s", 0, INFINITY, "Inf at element 0"},
        {"wte", 1000, -INFINITY, "Inf at element 1000"},
        {"h.0.ln2.g", 31, NAN, "NaN at element 31"},
    };
    size_t offs[4];
    for (size_t c = 0; c < 4; c++) {
        offs[c] = 0;
        for (int i = 0; i < llx_llx_count(f); i++) {
            llx_llx_desc d;
            if (llx_llx_entry(f, i, &d) == LLX_OK && !strcmp(d.name, cases[c].name))
                offs[c] = (size_t)((const char *)d.data - img) + cases[c].at * 4;
        }
        CHECK_MSG(offs[c] > 0, "tensor %s not in the file", cases[c].name);
    }
    llx_llx_close(f);
    for (size_t c = 0; c < 4; c++) {
        if (!offs[c]) continue;
        char *copy = malloc(n);
        memcpy(copy, img, n);
        memcpy(copy + offs[c], &cases[c].v, 4);
        llx_llx_fix_checksums(copy, n);
        char name[32], want[128];
        snprintf(name, sizeof name, "nonfinite-%zu.llx", c);
        const char *path = llx_test_tmpfile(name);
        CHECK(llx_test_write(path, copy, n));
        snprintf(want, sizeof want, "tensor '%s' holds %s", cases[c].name, cases[c].what);
        every_command_refuses(path, want, 1);
        free(copy);
    }
    free(img);
}

/* Any float tensor of a .llx container, F32 or F16, at any position
 * (inside the hash's 32-byte blocks or in the tail), is checked at open. */
TEST(llxfile_bad_nonfinite_container, LLX_T_ASAN)
{
    const llx_config c = {.n_vocab = 300, .n_ctx = 16, .n_embd = 32, .n_layer = 1, .n_head = 4, .n_inner = 64, .ln_eps = 1e-5f};
    const llx_qinfo q = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f};
    static const struct { llx_dtype dt; int n, at; uint32_t bits; const char *what; } cases[] = {
        {LLX_DT_F32, 9, 8, 0x7f800000u, "Inf at element 8"},  /* the tail after the 32-byte blocks */
        {LLX_DT_F32, 16, 3, 0xffc00000u, "NaN at element 3"},
        {LLX_DT_F16, 20, 17, 0xfc00u, "Inf at element 17"},
        {LLX_DT_F16, 16, 0, 0x7e01u, "NaN at element 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int poison = 0; poison < 2; poison++) {
            const size_t es = cases[i].dt == LLX_DT_F16 ? 2 : 4;
            uint8_t *data = calloc((size_t)cases[i].n, es); /* zeros are finite */
            if (poison) memcpy(data + (size_t)cases[i].at * es, &cases[i].bits, es);
            llx_llx_writer *w = NULL;
            REQUIRE(llx_llx_writer_create(&w, &c, &q) == LLX_OK);
            CHECK(llx_llx_add(w, "x", cases[i].dt, cases[i].n, 0, data) == LLX_OK);
            char name[32];
            snprintf(name, sizeof name, "nf-container-%zu-%d.llx", i, poison);
            const char *path = llx_test_tmpfile(name);
            CHECK(llx_llx_write(w, path) == LLX_OK);
            llx_llx *f = NULL;
            const llx_status st = llx_llx_open(&f, path);
            if (!poison) {
                CHECK_MSG(st == LLX_OK, "case %zu clean: %s", i, llx_errmsg());
            } else {
                char want[96];
                snprintf(want, sizeof want, "tensor 'x' holds %s", cases[i].what);
                CHECK_MSG(st == LLX_ERR_FORMAT && strstr(llx_errmsg(), want), "case %zu: %s", i, llx_errmsg());
            }
            llx_llx_close(f);
        }
    }
    /* int8 tensors are integers: bytes that would spell a float NaN/Inf
     * (00 00 80 7f, ff ff ff ff) are not checked */
    for (int dt = 0; dt < 2; dt++) {
        uint8_t *data = malloc(64);
        REQUIRE(data);
        for (int k = 0; k < 64; k += 8) memcpy(data + k, "\x00\x00\x80\x7f\xff\xff\xff\xff", 8);
        llx_llx_writer *w = NULL;
        REQUIRE(llx_llx_writer_create(&w, &c, &q) == LLX_OK);
        CHECK(llx_llx_add(w, "x", dt ? LLX_DT_U8 : LLX_DT_I8, 8, 8, data) == LLX_OK);
        const char *path = llx_test_tmpfile("nf-container-int.llx");
        CHECK(llx_llx_write(w, path) == LLX_OK);
        llx_llx *f = NULL;
        CHECK_MSG(llx_llx_open(&f, path) == LLX_OK, "an int8 tensor was checked as floats: %s", llx_errmsg());
        llx_llx_close(f);
    }
}

/* vocab.json of 280 tokens for a model whose vocab_size is 300: ids
 * 280..299 could not be decoded. */
TEST(checkpoint_bad_vocab_short, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("vocab-short", &c, "F32", 4);
    c.n_vocab = 280;
    const char *small = ckpt_make("vocab-280", &c, "F32", 4);
    REQUIRE(dir && small);
    static const char *const files[2] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", small, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        size_t n;
        char *buf = llx_test_read(a, &n);
        REQUIRE(buf);
        CHECK(llx_test_write(b, buf, n));
        free(buf);
    }
    every_command_refuses(dir, "vocab.json: 280 entries but vocab_size is 300: ids 280..299 could not be decoded", 0);
    /* synth copying that vocabulary into a 300-token model refuses too */
    llx_config big = ckpt_tiny_config();
    CHECK(llx_synth_write(llx_test_tmpfile("vocab-from-short"), &big, 1, "F32", small) == LLX_ERR_FORMAT);
    CHECK_MSG(strstr(llx_errmsg(), "vocab.json: 280 entries but vocab_size is 300"), "%s", llx_errmsg());
}

/* config.json says 1 layer, the checkpoint holds 2. */
TEST(checkpoint_bad_unused_layers, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("unused-layers", &c, "F32", 5);
    REQUIRE(dir && ckpt_config_set(dir, "n_layer", "1"));
    every_command_refuses(dir, "model.safetensors: holds 2 layers but config.json sets n_layer 1 (tensor 'h.1.", 0);
}

/* A tensor no GPT-2 part uses is refused; HF's mask buffers (attn.bias,
 * attn.masked_bias) are not. */
TEST(checkpoint_bad_stray_tensor, LLX_T_ASAN)
{
    llx_config c = ckpt_tiny_config();
    const char *dir = ckpt_make("stray", &c, "F32", 6);
    ckpt_img img;
    REQUIRE(dir && ckpt_img_load(dir, &img));
    float x[4] = {1, 2, 3, 4};
    const long long shape[1] = {4};
    ckpt_img_add(&img, "h.1.attn.masked_bias", "F32", 1, shape, x, sizeof x);
    /* the causal mask as transformers writes it: F32 [1, 1, n_ctx, n_ctx]
     * (older versions) or BOOL; its values are never read */
    static float mask[16 * 16];
    static uint8_t mask_bool[16 * 16];
    for (int i = 0; i < 16 * 16; i++) mask[i] = mask_bool[i] = i % 16 <= i / 16;
    const long long mask_shape[4] = {1, 1, 16, 16};
    ckpt_img_add(&img, "h.0.attn.bias", "F32", 4, mask_shape, mask, sizeof mask);
    ckpt_img_add(&img, "h.1.attn.bias", "BOOL", 4, mask_shape, mask_bool, sizeof mask_bool);
    CHECK(ckpt_img_save(dir, &img));
    llx_proc_result r;
    llx_cli(&r, "info", "-m", dir, NULL);
    CHECK_MSG(r.status == 0, "a mask buffer was refused: %s", r.err);
    llx_proc_free(&r);
    llx_cli(&r, "generate", "-m", dir, "-p", "the ring", "-n", "2", "--greedy", NULL);
    CHECK_MSG(r.status == 0 && r.out_len > 8, "generate with mask buffers: exit %d, %s", r.status, r.err);
    llx_proc_free(&r);
    ckpt_img_add(&img, "score.weight", "F32", 1, shape, x, sizeof x);
    CHECK(ckpt_img_save(dir, &img));
    ckpt_img_free(&img);
    every_command_refuses(dir, "tensor 'score.weight' is not part of the GPT-2 model config.json describes", 0);
}
