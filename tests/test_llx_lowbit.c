/* tests/test_llx_lowbit.c - the .llx element types of the low-bit schemes:
 * q4 (two int4 per byte) and f16 round-trip with the byte counts of their
 * shapes, and shapes q4 cannot hold are refused by the writer and, in a
 * hand-edited file, by the reader; scheme records that are corrupt or do
 * not describe the file's tensors, and bad values in the tensors a scheme
 * adds, are refused with one line naming what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "model/llx_file.h"
#include "serveutil.h"
#include "test.h"
#include "w8a8_fixtures.h"

static const llx_config cfg = {.n_vocab = 256, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8, .ln_eps = 1e-5f};

TEST(llxfile_q4_f16_roundtrip, LLX_T_ASAN)
{
    const llx_qinfo q = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f, .calib_tokens = 10};
    llx_llx_writer *w = NULL;
    REQUIRE(llx_llx_writer_create(&w, &cfg, &q) == LLX_OK);
    uint8_t *q4 = malloc(6);
    for (int i = 0; i < 6; i++) q4[i] = (uint8_t)(0x10 * i + 15 - i);
    uint16_t *h = malloc(10);
    for (int i = 0; i < 5; i++) h[i] = (uint16_t)(0x3c00 + i);
    CHECK(llx_llx_add(w, "m.w", LLX_DT_Q4, 3, 4, q4) == LLX_OK);
    CHECK(llx_llx_add(w, "m.s", LLX_DT_F16, 5, 0, h) == LLX_OK);
    /* an odd number of int4 columns does not fill whole bytes */
    CHECK(llx_llx_add(w, "odd", LLX_DT_Q4, 2, 3, malloc(3)) == LLX_ERR_ARG && strstr(llx_errmsg(), "bad shape"));
    CHECK(llx_llx_add(w, "vec", LLX_DT_Q4, 4, 0, malloc(2)) == LLX_ERR_ARG);
    const char *path = llx_test_tmpfile("lowbit.llx");
    REQUIRE(llx_llx_write(w, path) == LLX_OK);
    llx_llx *f = NULL;
    REQUIRE(llx_llx_open(&f, path) == LLX_OK);
    llx_llx_desc d;
    CHECK(llx_llx_entry(f, 0, &d) == LLX_OK && d.dtype == LLX_DT_Q4 && d.bytes == 6 && d.rows == 3 && d.cols == 4);
    const uint8_t *p = llx_llx_tensor(f, "m.w", LLX_DT_Q4, 3, 4);
    CHECK(p && p[0] == 15 && p[5] == 0x5a);
    CHECK(llx_llx_entry(f, 1, &d) == LLX_OK && d.dtype == LLX_DT_F16 && d.bytes == 10);
    const uint16_t *hp = llx_llx_tensor(f, "m.s", LLX_DT_F16, 5, 0);
    CHECK(hp && hp[4] == 0x3c04);
    CHECK(!llx_llx_tensor(f, "m.s", LLX_DT_F32, 5, 0) && strstr(llx_errmsg(), "is f16 [5, 0], expected f32"));
    llx_llx_close(f);
}

/* ---- corrupt or mismatched files of the low-bit schemes ---- */

static char *image_of(const char *path, size_t *n)
{
    char *img = llx_test_read(path, n), *buf = NULL;
    if (img && posix_memalign((void **)&buf, 64, *n ? *n : 1) == 0) memcpy(buf, img, *n);
    free(img);
    return buf;
}

/* where tensor `name`'s data lies in the image (-1: absent) */
static long long data_at(char *buf, size_t n, const char *name)
{
    llx_llx *f = NULL;
    long long at = -1;
    if (llx_llx_open_mem(&f, buf, n, "probe.llx") != LLX_OK) return -1;
    for (int i = 0; i < llx_llx_count(f); i++) {
        llx_llx_desc d;
        if (llx_llx_entry(f, i, &d) == LLX_OK && !strcmp(d.name, name)) at = (const char *)d.data - buf;
    }
    llx_llx_close(f);
    return at;
}

/* the scheme record's i-th 4-byte field set to v (an int, or a float's bits) */
static void set_field(char *buf, int i, const void *v) { memcpy(buf + 128 + 4 * i, v, 4); }

/* open + model check of the edited image (checksums recomputed): must fail with `want` */
static void refused(char *orig, size_t n, void (*edit)(char *, size_t, const void *), const void *arg, const char *want)
{
    char *buf = NULL;
    REQUIRE(posix_memalign((void **)&buf, 64, n) == 0);
    memcpy(buf, orig, n);
    edit(buf, n, arg);
    llx_llx_fix_checksums(buf, n);
    llx_llx *f = NULL;
    llx_status st = llx_llx_open_mem(&f, buf, n, "edited.llx");
    if (st == LLX_OK) st = llx_llx_check_model(f);
    CHECK_MSG(st != LLX_OK && strstr(llx_errmsg(), want), "wanted '%s', got '%s'", want,
              st == LLX_OK ? "accepted" : llx_errmsg());
    llx_llx_close(f);
    free(buf);
}

typedef struct field_edit { int field; int32_t v; } field_edit;
static void edit_field(char *buf, size_t n, const void *a)
{
    (void)n;
    const field_edit *e = a;
    set_field(buf, e->field, &e->v);
}

typedef struct data_edit { const char *tensor; long long at; int bytes; uint32_t v; } data_edit;
static void edit_data(char *buf, size_t n, const void *a)
{
    const data_edit *e = a;
    const long long at = data_at(buf, n, e->tensor);
    if (at >= 0) memcpy(buf + at + e->at, &e->v, (size_t)e->bytes);
}

enum { F_SCHEME, F_GROUP, F_F16, F_GPTQ, F_DAMP, F_ORDER, F_ROTATE, F_SEED, F_KV8, F_KVHEAD, F_LMBITS, F_HAD, F_LMBIAS, F_CLIP };

/* the images of a family's low-bit variants 0 (w4a8 per row, int8 KV),
 * 1 (groups of 32, fp16 scales), 2 (w4a4 rotated, int4 LM head) and 4
 * (w4a4, the online R4 alone: --rotate r4) */
enum { V_W4A8, V_G32, V_W4A4, V_R4, N_IMAGES };
static const int variant_of[N_IMAGES] = {0, 1, 2, 4};
typedef struct lowbit_images { char *buf[N_IMAGES]; size_t n[N_IMAGES]; } lowbit_images;

/* a scheme record field set to v, or bytes of a tensor's data overwritten,
 * in variant img: refused with `want` */
typedef struct field_case { int img, field; int32_t v; const char *want; } field_case;
typedef struct data_case { int img; data_edit e; const char *want; } data_case;

static int load_images(lowbit_images *im, const char *(*variant)(int, const char **))
{
    int ok = 1;
    for (int v = 0; v < N_IMAGES; v++) {
        const char *path = variant(variant_of[v], NULL);
        im->buf[v] = path ? image_of(path, &im->n[v]) : NULL;
        ok &= im->buf[v] != NULL;
    }
    return ok;
}

static void refuse_all(const lowbit_images *im, const field_case *fc, size_t nf, const data_case *dc, size_t nd)
{
    for (size_t i = 0; i < nf; i++) {
        const field_edit e = {fc[i].field, fc[i].v};
        refused(im->buf[fc[i].img], im->n[fc[i].img], edit_field, &e, fc[i].want);
    }
    for (size_t i = 0; i < nd; i++) refused(im->buf[dc[i].img], im->n[dc[i].img], edit_data, &dc[i].e, dc[i].want);
}

/* the untouched images are models */
static void accepted_and_freed(lowbit_images *im)
{
    for (int i = 0; i < N_IMAGES; i++) {
        llx_llx *f = NULL;
        CHECK_MSG(llx_llx_open_mem(&f, im->buf[i], im->n[i], "ok.llx") == LLX_OK && llx_llx_check_model(f) == LLX_OK,
                  "%s", llx_errmsg());
        llx_llx_close(f);
        free(im->buf[i]);
    }
}

#define COUNT(a) (sizeof a / sizeof *a)

TEST(llxfile_bad_lowbit_scheme_records, LLX_T_ASAN)
{
    lowbit_images im = {0};
    REQUIRE(load_images(&im, llx_serve_model_small_lowbit));
    static const field_case fields[] = {
        {V_W4A8, F_SCHEME, 9, "bad quantization scheme: unknown scheme"},
        {V_W4A8, F_SCHEME, 0, "bad quantization scheme: unknown scheme"},
        {V_W4A8, F_GROUP, 48, "group is not 0, 32, 64 or 128"},
        {V_W4A8, F_ROTATE, 2, "a flag is not 0 or 1"},
        {V_W4A8, F_KV8, 0, "per-head KV scales without an int8 KV cache"},
        {V_W4A8, F_LMBITS, 5, "LM head bits are not 8 or 4"},
        {V_W4A8, F_DAMP, 0x7fc00000, "GPTQ damping outside [0, 1]"}, /* a NaN's bits */
        {V_W4A8, 20, 1, "non-zero reserved bytes in the scheme record"},
        /* a record that does not describe the tensors */
        {V_W4A8, F_SCHEME, 1, "tensor 'h.0.qkv.w' is q4"}, /* int4 weights said to be int8 */
        {V_W4A8, F_GROUP, 32, "tensor 'h.0.qkv.s' is f32 [192, 0], expected f32 [192, 2]"}, /* per-row scales said to be grouped */
        {V_W4A8, F_F16, 1, "tensor 'h.0.qkv.s' is f32 [192, 0], expected f16"},
        {V_W4A8, F_HAD, 1, "missing tensor 'down.signs'"},
        {V_W4A8, F_LMBIAS, 1, "missing tensor 'lm_head.b'"},
        {V_W4A4, F_LMBITS, 8, "tensor 'lm_head.w' is q4"}, /* the int4 LM head said to be int8 */
        {V_W4A4, F_SCHEME, 1, "an int4 LM head needs an int4 scheme"}, /* W8A8 over an int4 LM head */
        {V_G32, F_GROUP, 0, "tensor 'h.0.qkv.s' is f16 [192, 2], expected f16 [192, 0]"}, /* grouped said to be per row */
        /* the activation clip ratio (a float's bits): out of range, NaN, or without int4 activations */
        {V_W4A4, F_CLIP, (int32_t)0x3fc00000, "activation clip ratio is not 0 or in [0.5, 1]"}, {V_W4A4, F_CLIP, (int32_t)0x3e800000, "activation clip ratio is not 0 or in [0.5, 1]"},
        {V_W4A4, F_CLIP, (int32_t)0xbf666666, "activation clip ratio is not 0 or in [0.5, 1]"}, {V_W4A4, F_CLIP, (int32_t)0x3efff2e5, "activation clip ratio is not 0 or in [0.5, 1]"},
        {V_W4A4, F_CLIP, (int32_t)0x7fc00000, "activation clip ratio is not 0 or in [0.5, 1]"},
        {V_W4A8, F_CLIP, (int32_t)0x3f666666, "activation clipping without int4 activations"},
        /* R1/R2 without R4, a seed without rotations, an R4-only file said to have R1 (unfolded norms) */
        {V_W4A4, F_HAD, 0, "rotations without the online transform before the down projection"},
        {V_W4A8, F_SEED, 5, "a rotation seed without rotations"},
        {V_R4, F_HAD, 0, "a rotation seed without rotations"},
        {V_R4, F_ROTATE, 1, "a rotated GPT-2 file without the LM-head bias"},
    };
    /* bad values in the tensors the scheme adds */
    static const data_case data[] = {
        {V_W4A4, {"down.signs", 5, 1, 3}, "tensor 'down.signs': entry 5 is not +1 or -1"},
        {V_W4A4, {"ln_f.g", 4 * 3, 4, 0x40000000u}, "rotated, but the final norm's weight is not folded (ln_f.g[3] = 2)"},
        {V_R4, {"down.signs", 0, 1, 0}, "tensor 'down.signs': entry 0 is not +1 or -1"},
        {V_W4A4, {"h.1.kv", 4 * 3, 4, 0}, "tensor 'h.1.kv': activation scale 3 is not positive"},
        {V_W4A8, {"h.0.fc1.s", 4 * 7, 4, 0xbf800000u}, "tensor 'h.0.fc1.s': scale 7 is negative or not finite"},
        {V_G32, {"h.1.proj.s", 2 * 3, 2, 0x7c00u}, "tensor 'h.1.proj.s' holds Inf at element 3"},
        {V_W4A4, {"lm_head.s", 0, 4, 0x7f800000u}, "tensor 'lm_head.s' holds Inf at element 0"},
    };
    refuse_all(&im, fields, COUNT(fields), data, COUNT(data));
    accepted_and_freed(&im);
}

/* The same for Llama's low-bit files (grouped KV heads: QKV has 6 + 2 + 2
 * heads of 16 = 160 rows; no biases; a gate matrix; RMSNorm). */
TEST(llxfile_bad_lowbit_llama_records, LLX_T_ASAN)
{
    lowbit_images im = {0};
    REQUIRE(load_images(&im, llx_fixture_llama_lowbit));
    static const field_case fields[] = {
        {V_W4A8, F_SCHEME, 9, "bad quantization scheme: unknown scheme"},
        {V_W4A8, F_GROUP, 48, "group is not 0, 32, 64 or 128"},
        {V_W4A8, F_KV8, 0, "per-head KV scales without an int8 KV cache"},
        {V_W4A8, F_SCHEME, 1, "tensor 'h.0.qkv.w' is q4"},
        {V_W4A8, F_GROUP, 32, "tensor 'h.0.qkv.s' is f32 [160, 0], expected f32 [160, 3]"},
        {V_W4A8, F_F16, 1, "tensor 'h.0.qkv.s' is f32 [160, 0], expected f16"},
        {V_W4A8, F_HAD, 1, "missing tensor 'down.signs'"},
        {V_W4A8, F_LMBIAS, 1, "missing tensor 'lm_head.b'"}, /* RMSNorm: the fold gives no LM-head bias */
        {V_W4A4, F_LMBITS, 8, "tensor 'lm_head.w' is q4"},
        {V_W4A4, F_SCHEME, 1, "an int4 LM head needs an int4 scheme"},
        {V_G32, F_GROUP, 0, "tensor 'h.0.qkv.s' is f16 [160, 3], expected f16 [160, 0]"},
        {V_W4A4, F_CLIP, (int32_t)0x40000000, "activation clip ratio is not 0 or in [0.5, 1]"},
        {V_G32, F_CLIP, (int32_t)0x3f666666, "activation clipping without int4 activations"},
        {V_W4A4, F_HAD, 0, "rotations without the online transform before the down projection"},
        {V_R4, F_HAD, 0, "a rotation seed without rotations"},
    };
    static const data_case data[] = {
        {V_W4A4, {"down.signs", 191, 1, 0}, "tensor 'down.signs': entry 191 is not +1 or -1"},
        {V_W4A4, {"ln_f.g", 4 * 7, 4, 0x3f000000u}, "rotated, but the final norm's weight is not folded (ln_f.g[7] = 0.5)"},
        {V_R4, {"down.signs", 4, 1, 2}, "tensor 'down.signs': entry 4 is not +1 or -1"},
        {V_W4A4, {"h.1.kv", 4 * 9, 4, 0}, "tensor 'h.1.kv': activation scale 9 is not positive"},
        {V_W4A8, {"h.0.gate.s", 4 * 5, 4, 0xbf800000u}, "tensor 'h.0.gate.s': scale 5 is negative or not finite"},
        {V_G32, {"h.1.gate.s", 2 * 7, 2, 0x7c00u}, "tensor 'h.1.gate.s' holds Inf at element 7"},
    };
    refuse_all(&im, fields, COUNT(fields), data, COUNT(data));
    accepted_and_freed(&im);
}

/* The W4A4 variant records its clip ratio (0.875); 0, as in files written
 * before the field existed, opens as no clipping; llx_llx_image_set_act_clip
 * refuses a ratio on a W4A8 image. */
TEST(llxfile_act_clip_field, LLX_T_ASAN)
{
    lowbit_images im = {0};
    REQUIRE(load_images(&im, llx_serve_model_small_lowbit));
    char *b = im.buf[V_W4A4];
    const size_t n4 = im.n[V_W4A4];
    for (int k = 0; k < 2; k++) { /* the fixture's 0.875, then 0 */
        llx_llx *f = NULL;
        CHECK_MSG(llx_llx_open_mem(&f, b, n4, "clip.llx") == LLX_OK, "%s", llx_errmsg());
        CHECK(f && llx_llx_qinfo(f)->s.act_clip == (k ? 0.0f : 0.875f));
        llx_llx_close(f);
        CHECK(llx_llx_image_set_act_clip(b, n4, 0.0f) == LLX_OK);
    }
    CHECK(llx_llx_image_set_act_clip(b, n4, 0.875f) == LLX_OK);
    CHECK(llx_llx_image_set_act_clip(im.buf[V_W4A8], im.n[V_W4A8], 0.9f) == LLX_ERR_ARG &&
          strstr(llx_errmsg(), "activation clipping without int4 activations"));
    accepted_and_freed(&im);
}
