/* tests/test_rotfile.c - rotation files (quant/rotfile.h, docs/formats.md):
 * a file's random orthogonal R1 and R2 folded into a GPT-2 and a Llama
 * keep the fp32 function (and are the rotations used), every malformed or
 * mismatched file is refused with its own error text (library and
 * `quantize --rotate FILE`), and `info` shows where the rotation came
 * from. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "engine/engine_impl.h"
#include "model/llx_file.h"
#include "model/llx_model.h"
#include "quant/fmodel.h"
#include "quant/rotfile.h"
#include "rotfile_util.h"
#include "serveutil.h"
#include "test.h"
#include "w8a8_fixtures.h"

static const llx_config tiny_llama = {.n_vocab = 10, .n_ctx = 8, .n_embd = 8, .n_layer = 2, .n_head = 2, .n_inner = 16,
                                      .arch = LLX_ARCH_LLAMA, .n_kv_head = 1, .head_dim = 4};
static const llx_config tiny_gpt2 = {.n_vocab = 10, .n_ctx = 8, .n_embd = 8, .n_layer = 2, .n_head = 2, .n_inner = 32};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f32(uint8_t *p, float f) { memcpy(p, &f, 4); }

/* parse and check img; 1 when it fails with want in the message */
static int refused(const uint8_t *img, size_t n, const llx_config *c, const char *want)
{
    llx_rotfile rf;
    llx_status st = llx_rotfile_parse(&rf, img, n, "rot.bin");
    if (st == LLX_OK) {
        st = llx_rotfile_check(&rf, c, "rot.bin");
        llx_rotfile_free(&rf);
    }
    if (st == LLX_OK || !strstr(llx_errmsg(), want)) {
        llx_test_note("wanted '%s', got %s", want, st == LLX_OK ? "success" : llx_errmsg());
        return 0;
    }
    return 1;
}

TEST(rotfile_parse_and_refuse, LLX_T_ASAN)
{
    for (int f64 = 0; f64 <= 1; f64++)
        for (int gpt2 = 0; gpt2 <= 1; gpt2++) {
            const llx_config *c = gpt2 ? &tiny_gpt2 : &tiny_llama;
            size_t n;
            uint8_t *img = llx_test_rotfile_image(c, 5, f64, &n);
            REQUIRE(img && n == 32 + (size_t)(f64 ? 8 : 4) * (64 + 2 * 16));
            llx_rotfile rf;
            REQUIRE(llx_rotfile_parse(&rf, img, n, "rot.bin") == LLX_OK);
            CHECK(llx_rotfile_check(&rf, c, "rot.bin") == LLX_OK);
            CHECK(rf.n_embd == 8 && rf.head_dim == 4 && rf.n_layer == 2 && rf.hash == llx_hash64(img, n, 0));
            double e = 0; /* R2 of layer 1 read back */
            double q[16];
            llx_test_random_orthogonal(q, 4, 5 * 1000 + 2, 0);
            for (int i = 0; i < 16; i++) e = fmax(e, fabs(rf.r2[16 + i] - q[i]));
            CHECK(e < (f64 ? 1e-15 : 1e-7));
            llx_rotfile_free(&rf);
            free(img);
        }
    size_t n;
    uint8_t *img = llx_test_rotfile_image(&tiny_llama, 5, 0, &n), *bad = malloc(n + 8);
    REQUIRE(img && bad);
    const size_t r1 = 32, r2 = 32 + 4 * 64; /* the first value of R1, of layer 0's R2 */
    const struct { size_t at; int u32; uint32_t v; float f; const char *want; } cases[] = {
        {0, 1, 0x4f524c4c, 0, "bad magic"},
        {8, 1, 2, 0, "rotation file version 2"},
        {12, 1, 2, 0, "values of 2 bytes"},
        {16, 1, 0, 0, "n_embd 0 out of range"},
        {20, 1, 9, 0, "head_dim 9 above n_embd 8"},
        {24, 1, 100000, 0, "n_layer 100000 out of range"},
        {28, 1, 1, 0, "reserved field not zero"},
        {r2 + 4 * 20, 0, 0, NAN, "value 84 is not finite"},
        {r1 + 4 * 3, 0, 0, INFINITY, "value 3 is not finite"},
        {r1 + 4 * 9, 0, 0, 0.5f, "R1 is not orthogonal"},
        {r2 + 4 * 16 + 4 * 5, 0, 0, 2.0f, "R2 of layer 1 is not orthogonal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(bad, img, n);
        if (cases[i].u32) put_u32(bad + cases[i].at, cases[i].v);
        else put_f32(bad + cases[i].at, cases[i].f);
        CHECK_MSG(refused(bad, n, &tiny_llama, cases[i].want), "case %zu", i);
    }
    CHECK(refused(img, n - 1, &tiny_llama, "rotation file of 415 bytes, its dimensions need 416"));
    memcpy(bad, img, n), memset(bad + n, 0, 8);
    CHECK(refused(bad, n + 8, &tiny_llama, "rotation file of 424 bytes, its dimensions need 416"));
    CHECK(refused(img, 31, &tiny_llama, "shorter than its header"));
    llx_config other = tiny_llama;
    other.n_layer = 3;
    CHECK(refused(img, n, &other, "rotation file for n_embd 8, head_dim 4, 2 layers; the model has 8, 4, 3"));
    /* a Llama's R1 (any orthogonal Q) on a GPT-2: LayerNorm needs Q 1 = 1 */
    CHECK(refused(img, n, &tiny_gpt2, "R1 does not keep the all-ones direction"));
    free(bad), free(img);
}

/* the model of dir rotated by a random file keeps its fp32 logits, and its
 * embedding rows are the file's R1 times the original rows */
static void invariance(const char *dir)
{
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, dir) == LLX_OK);
    const llx_config *c = &m->cfg;
    size_t n;
    uint8_t *img = llx_test_rotfile_image(c, 11, 0, &n);
    llx_rotfile rf;
    REQUIRE(img && llx_rotfile_parse(&rf, img, n, "rot.bin") == LLX_OK);
    REQUIRE(llx_rotfile_check(&rf, c, "rot.bin") == LLX_OK);
    llx_fmodel fm;
    REQUIRE(llx_fmodel_load(&fm, m) == LLX_OK);
    const int C = c->n_embd;
    float *row = malloc(sizeof(float) * C);
    memcpy(row, fm.wte + (size_t)7 * C, sizeof(float) * C);
    REQUIRE(llx_fmodel_rotate(&fm, 7, &rf) == LLX_OK);
    double e = 0, mag = 0;
    for (int i = 0; i < C; i++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += rf.r1[(size_t)i * C + k] * row[k];
        e = fmax(e, fabs(s - fm.wte[(size_t)7 * C + i])), mag = fmax(mag, fabs(s));
    }
    CHECK(mag > 0.01 && e <= 1e-6 * mag);
    CHECK(fm.rotate_hash == rf.hash);
    void *fimg = NULL;
    size_t size = 0;
    REQUIRE(llx_fmodel_image(&fm, dir, &fimg, &size) == LLX_OK);
    llx_model *r = NULL;
    REQUIRE(llx_model_open_mem(&r, fimg, size, "rotated") == LLX_OK);
    CHECK(llx_llx_qinfo(r->qf)->s.rotate_hash == rf.hash);
    enum { N = 24 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 11) % c->n_vocab;
    float *a = llx_test_all_logits(m, LLX_PREC_FP32, ids, N), *b = llx_test_all_logits(r, LLX_PREC_W8A8_STATIC, ids, N);
    REQUIRE(a && b);
    double diff = 0;
    mag = 0;
    for (size_t i = 0; i < (size_t)N * c->n_vocab; i++) diff = fmax(diff, fabs(a[i] - b[i])), mag = fmax(mag, fabs(a[i]));
    llx_test_note("%s: max |logit| %.3g, max difference %.3g", dir, mag, diff);
    CHECK(mag > 0.1);
    CHECK(diff <= 1e-4 * mag);
    free(a), free(b), free(row), free(img), free(fimg);
    llx_rotfile_free(&rf);
    llx_model_close(r);
    llx_model_close(m);
}

/* GPT-2 (C 64, 4 heads of 16, F 256): R1 keeps the ones, LayerNorm stays */
TEST(rotfile_invariance_gpt2, LLX_T_ASAN)
{
    const char *dir = llx_serve_model_small();
    REQUIRE(dir);
    invariance(dir);
}

/* Llama (C 96, GQA 6/2 of 16, F 192 = 12 * 16): any orthogonal R1 */
TEST(rotfile_invariance_llama, LLX_T_ASAN)
{
    const char *dir = llx_fixture_llama_paley();
    REQUIRE(dir);
    invariance(dir);
}

/* quantize --rotate FILE: the file's hash in the scheme record, shown by
 * info; bad files refused with one line */
TEST(rotfile_quantize_cli, LLX_T_ASAN)
{
    const char *rot = NULL, *p = llx_fixture_rotfile_lowbit(1, &rot);
    REQUIRE(p && rot);
    size_t n;
    char *bytes = llx_test_read(rot, &n);
    REQUIRE(bytes);
    const uint64_t h = llx_hash64(bytes, n, 0);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    llx_proc_result r;
    llx_cli(&r, "info", "-m", p, "--json", NULL);
    CHECK_MSG(r.status == 0, "info: exit %d, %.300s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL), *q = json_object_get(j, "quantization");
    REQUIRE(j && json_is_object(q));
    CHECK(!strcmp(json_string_value(json_object_get(q, "rotate")), "file"));
    CHECK(json_string_value(json_object_get(q, "rotate_hash")) && !strcmp(json_string_value(json_object_get(q, "rotate_hash")), hex));
    CHECK(json_is_true(json_object_get(q, "online_hadamard")));
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", p, NULL);
    CHECK(r.status == 0 && strstr(r.out, "R1, R2 from a rotation file") && strstr(r.out, hex));
    llx_proc_free(&r);
    /* a GPT-2's rotation file on the Llama; a truncated one; none at all */
    const char *dir = llx_fixture_llama_paley(), *calib = llx_fixture_calib_text(), *out = llx_test_tmpfile("rotbad.llx");
    const char *gpt2rot = NULL;
    REQUIRE(dir && calib && llx_fixture_rotfile_lowbit(0, &gpt2rot) && gpt2rot);
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "-o", out, "--scheme", "w4a4", "--rotate", gpt2rot, NULL);
    CHECK(llx_cli_failed(&r, 1, "rotation file for n_embd 64, head_dim 16, 2 layers; the model has 96, 16, 2"));
    llx_proc_free(&r);
    const char *cut = llx_test_tmpfile("rot-cut.bin");
    REQUIRE(llx_test_write(cut, bytes, n - 4));
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "-o", out, "--scheme", "w4a4", "--rotate", cut, NULL);
    CHECK(llx_cli_failed(&r, 1, "its dimensions need"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "-o", out, "--scheme", "w4a4", "--rotate", "no-such.bin", NULL);
    CHECK(llx_cli_failed(&r, 2, "--rotate: 'no-such.bin' is neither none, hadamard, r4 nor a readable rotation file"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "-o", rot, "--scheme", "w4a4", "--rotate", rot, NULL);
    CHECK(llx_cli_failed(&r, 2, "refusing to overwrite the rotation file"));
    llx_proc_free(&r);
    CHECK(!llx_test_exists(out));
    free(bytes);
}
