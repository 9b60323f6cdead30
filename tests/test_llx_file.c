/* tests/test_llx_file.c - the .llx container: the writer round-trips every
 * tensor exactly (from a file and from memory), rewriting a quantized model
 * reproduces it byte for byte, and every kind of damaged file is refused
 * with one clear line by the library, by `looplynx generate` and by
 * `looplynx info`: bad magic, newer version, truncation, any single flipped
 * byte, wrong tensor shape, missing tensor. */
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "llx/engine.h"
#include "model/llx_file.h"
#include "test.h"

static const llx_config small_cfg = {.n_vocab = 256, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8, .ln_eps = 1e-5f};

static void *copy_of(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (n) memcpy(d, p, n);
    return d;
}

/* a container with every dtype, a matrix, vectors and an empty tensor */
static const char *write_container(const char *name)
{
    static const float a[5] = {1.0f, -2.5f, 3e-7f, 1e30f, -0.0f};
    static const signed char b[6] = {-127, -1, 0, 1, 64, 127};
    static const char c[] = "hello, world";
    const llx_qinfo q = {.act_mode = LLX_ACT_DYNAMIC, .alpha = 0.25f, .calib_tokens = 777, .smooth_v = 1};
    llx_llx_writer *w = NULL;
    if (llx_llx_writer_create(&w, &small_cfg, &q) != LLX_OK) return NULL;
    CHECK(llx_llx_add(w, "a", LLX_DT_F32, 5, 0, copy_of(a, sizeof a)) == LLX_OK);
    CHECK(llx_llx_add(w, "matrix.b", LLX_DT_I8, 2, 3, copy_of(b, sizeof b)) == LLX_OK);
    CHECK(llx_llx_add(w, "text", LLX_DT_U8, (long long)strlen(c), 0, copy_of(c, strlen(c))) == LLX_OK);
    CHECK(llx_llx_add(w, "empty", LLX_DT_F32, 0, 7, NULL) == LLX_OK);
    char longest[LLX_NAME_MAX];
    memset(longest, 'n', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    CHECK(llx_llx_add(w, longest, LLX_DT_U8, 1, 0, copy_of("x", 1)) == LLX_OK);
    const char *path = llx_test_tmpfile(name);
    return llx_llx_write(w, path) == LLX_OK ? path : NULL;
}

static void check_container(const llx_llx *f)
{
    CHECK_EQ_INT(llx_llx_count(f), 5);
    const llx_config *c = llx_llx_config(f);
    CHECK(memcmp(c, &small_cfg, sizeof *c) == 0);
    const llx_qinfo *q = llx_llx_qinfo(f);
    CHECK(q->act_mode == LLX_ACT_DYNAMIC && q->alpha == 0.25f && q->calib_tokens == 777 && q->smooth_v == 1);
    CHECK_EQ_INT(llx_llx_file_bytes(f) % 64, 0);
    static const char *const names[5] = {"a", "matrix.b", "text", "empty", NULL};
    static const llx_dtype dts[5] = {LLX_DT_F32, LLX_DT_I8, LLX_DT_U8, LLX_DT_F32, LLX_DT_U8};
    static const long long rows[5] = {5, 2, 12, 0, 1}, cols[5] = {0, 3, 0, 7, 0}, bytes[5] = {20, 6, 12, 0, 1};
    for (int i = 0; i < 5; i++) {
        llx_llx_desc d;
        CHECK(llx_llx_entry(f, i, &d) == LLX_OK);
        if (names[i]) CHECK(strcmp(d.name, names[i]) == 0);
        else CHECK_EQ_INT(strlen(d.name), LLX_NAME_MAX - 1);
        CHECK(d.dtype == dts[i] && d.rows == rows[i] && d.cols == cols[i] && (long long)d.bytes == bytes[i]);
        CHECK(llx_llx_tensor(f, d.name, d.dtype, d.rows, d.cols) == d.data);
        CHECK_EQ_INT(((uintptr_t)d.data) % 64, 0);
    }
    const float *a = llx_llx_tensor(f, "a", LLX_DT_F32, 5, 0);
    CHECK(a && a[0] == 1.0f && a[1] == -2.5f && a[2] == 3e-7f && a[3] == 1e30f && a[4] == 0.0f);
    const signed char *b = llx_llx_tensor(f, "matrix.b", LLX_DT_I8, 2, 3);
    CHECK(b && b[0] == -127 && b[5] == 127 && b[2] == 0);
    const char *t = llx_llx_tensor(f, "text", LLX_DT_U8, 12, 0);
    CHECK(t && memcmp(t, "hello, world", 12) == 0);
    /* lookups with the wrong dtype or shape, or a missing name, fail with a message */
    CHECK(llx_llx_tensor(f, "a", LLX_DT_I8, 5, 0) == NULL && strstr(llx_errmsg(), "tensor 'a' is f32 [5, 0]"));
    CHECK(llx_llx_tensor(f, "matrix.b", LLX_DT_I8, 3, 2) == NULL && strstr(llx_errmsg(), "expected i8 [3, 2]"));
    CHECK(llx_llx_tensor(f, "nope", LLX_DT_F32, 1, 0) == NULL && strstr(llx_errmsg(), "missing tensor 'nope'"));
    llx_llx_desc d;
    CHECK(llx_llx_entry(f, 5, &d) != LLX_OK && llx_llx_entry(f, -1, &d) != LLX_OK);
    /* a container is not a model */
    CHECK(llx_llx_check_model(f) == LLX_ERR_FORMAT && strstr(llx_errmsg(), "missing tensor 'h.0.qkv.w'"));
}

static char *aligned_copy(const char *src, size_t n)
{
    char *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (p && n) memcpy(p, src, n);
    return p;
}

TEST(llxfile_writer_roundtrip, LLX_T_ASAN)
{
    const char *path = write_container("container.llx");
    CHECK(path != NULL);
    if (!path) return;
    llx_llx *f = NULL;
    CHECK(llx_llx_open(&f, path) == LLX_OK);
    if (f) check_container(f);
    llx_llx_close(f);
    llx_llx_close(NULL);
    /* the same image from memory gives the same answers */
    size_t n = 0;
    char *img = llx_test_read(path, &n), *buf = img ? aligned_copy(img, n) : NULL;
    CHECK(buf != NULL);
    f = NULL;
    if (buf) CHECK(llx_llx_open_mem(&f, buf, n, "mem.llx") == LLX_OK);
    if (f) {
        check_container(f);
        llx_llx_desc d;
        CHECK(llx_llx_entry(f, 0, &d) == LLX_OK && (const char *)d.data >= buf && (const char *)d.data < buf + n);
    }
    llx_llx_close(f);
    free(buf);
    free(img);
}

/* A file with no tensors is a valid (empty) container. */
TEST(llxfile_writer_empty, LLX_T_ASAN)
{
    llx_llx_writer *w = NULL;
    const llx_qinfo q = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f, .calib_tokens = 1};
    CHECK(llx_llx_writer_create(&w, &small_cfg, &q) == LLX_OK);
    const char *path = llx_test_tmpfile("empty.llx");
    CHECK(llx_llx_write(w, path) == LLX_OK);
    llx_llx *f = NULL;
    CHECK(llx_llx_open(&f, path) == LLX_OK);
    if (f) {
        CHECK_EQ_INT(llx_llx_count(f), 0);
        CHECK_EQ_INT(llx_llx_file_bytes(f), 256); /* the header and the scheme record */
    }
    llx_llx_close(f);
}

typedef struct edit {
    const char *skip;    /* leave this tensor out */
    const char *reshape; /* give this tensor rows x cols (data truncated or zero-filled) */
    long long rows, cols;
} edit;

static size_t dt_size(llx_dtype dt) { return dt == LLX_DT_F32 ? 4 : 1; }

/* Copy a .llx file tensor by tensor through the writer, applying e. */
static const char *rewrite(const char *src, const char *name, const edit *e)
{
    llx_llx *f = NULL;
    if (llx_llx_open(&f, src) != LLX_OK) {
        llx_test_note("rewrite: %s", llx_errmsg());
        return NULL;
    }
    llx_llx_writer *w = NULL;
    llx_status st = llx_llx_writer_create(&w, llx_llx_config(f), llx_llx_qinfo(f));
    for (int i = 0; st == LLX_OK && i < llx_llx_count(f); i++) {
        llx_llx_desc d;
        st = llx_llx_entry(f, i, &d);
        if (st != LLX_OK || (e && e->skip && !strcmp(d.name, e->skip))) continue;
        long long rows = d.rows, cols = d.cols;
        if (e && e->reshape && !strcmp(d.name, e->reshape)) rows = e->rows, cols = e->cols;
        const size_t bytes = (size_t)rows * (size_t)(cols ? cols : 1) * dt_size(d.dtype);
        char *data = calloc(bytes ? bytes : 1, 1);
        memcpy(data, d.data, bytes < d.bytes ? bytes : d.bytes);
        st = llx_llx_add(w, d.name, d.dtype, rows, cols, data);
    }
    const char *out = llx_test_tmpfile(name);
    if (st == LLX_OK) st = llx_llx_write(w, out);
    else llx_llx_writer_free(w);
    llx_llx_close(f);
    if (st != LLX_OK) llx_test_note("rewrite: %s", llx_errmsg());
    return st == LLX_OK ? out : NULL;
}

/* Reading a quantized model through the reader and writing it back gives
 * the same bytes; the copy runs. */
TEST(llxfile_writer_rewrite_identical, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    if (!src) {
        CHECK(src != NULL);
        return;
    }
    const char *copy = rewrite(src, "rewrite-same.llx", NULL);
    CHECK(copy != NULL);
    if (!copy) return;
    size_t n = 0;
    char *a = llx_test_read(src, &n);
    CHECK(a && llx_test_same_bytes(copy, a, n));
    free(a);
    llx_model *m = NULL;
    CHECK(llx_model_open(&m, copy) == LLX_OK);
    if (!m) return;
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 1;
    o.precision = LLX_PREC_W8A8_STATIC;
    llx_engine *e = NULL;
    CHECK_MSG(llx_engine_create(&e, m, &o) == LLX_OK, "%s", llx_errmsg());
    float logits[300];
    const int ids[3] = {1, 2, 3};
    if (e) CHECK(llx_engine_forward(e, ids, 3, logits, 0) == LLX_OK);
    int finite = 1;
    for (int i = 0; e && i < 300; i++) finite &= logits[i] == logits[i];
    CHECK(finite);
    llx_engine_free(e);
    llx_model_close(m);
}

/* The library, `generate`, `info` and `tokenize` all refuse path with one
 * line that names it and contains want. */
static void expect_refused(const char *path, const char *want)
{
    llx_model *m = NULL;
    const llx_status st = llx_model_open(&m, path);
    const char *msg = llx_errmsg();
    CHECK(st != LLX_OK && m == NULL);
    CHECK_MSG(strstr(msg, want) && strstr(msg, path) && !strchr(msg, '\n'), "library said '%s', wanted '%s'", msg,
              want);
    llx_model_close(m);
    llx_proc_result r;
    llx_cli(&r, "generate", "-m", path, "-p", "hi", "-n", "2", NULL);
    CHECK(llx_cli_failed(&r, 1, want));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", path, NULL);
    CHECK(llx_cli_failed(&r, 1, want));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", path, "--json", NULL);
    CHECK(llx_cli_failed(&r, 1, want));
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", path, "-p", "hi", NULL);
    CHECK(llx_cli_failed(&r, 1, want));
    llx_proc_free(&r);
}

/* The tiny model's bytes, edited by the caller and written to name. */
static char *model_image(size_t *n)
{
    const char *src = llx_tiny_llx(1);
    char *img = src ? llx_test_read(src, n) : NULL;
    CHECK(img != NULL);
    return img;
}

static const char *write_image(const char *name, const char *img, size_t n)
{
    const char *path = llx_test_tmpfile(name);
    CHECK(llx_test_write(path, img, n));
    return path;
}

/* the control: the undamaged file passes everywhere */
TEST(llxfile_valid_model_accepted, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    if (!src) {
        CHECK(src != NULL);
        return;
    }
    llx_proc_result r;
    llx_cli(&r, "info", "-m", src, NULL);
    CHECK(r.status == 0 && strstr(r.out, "W8A8") && r.err_len == 0);
    llx_proc_free(&r);
    llx_cli(&r, "generate", "-m", src, "-p", "hi", "-n", "2", "--greedy", NULL);
    CHECK(r.status == 0 && strncmp(r.out, "hi", 2) == 0);
    llx_proc_free(&r);
}

TEST(llxfile_bad_magic, LLX_T_ASAN)
{
    size_t n;
    char *img = model_image(&n);
    if (!img) return;
    memcpy(img, "LOOPLYNY", 8);
    expect_refused(write_image("bad-magic.llx", img, n), "not a .llx file (bad magic)");
    /* a HuggingFace weights file is not a .llx file either */
    const char *hf = llx_tiny_hf();
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", hf ? hf : ".");
    if (hf) expect_refused(st, "bad magic");
    free(img);
}

TEST(llxfile_bad_version, LLX_T_ASAN)
{
    size_t n;
    char *img = model_image(&n);
    if (!img) return;
    img[8] = 4;
    expect_refused(write_image("bad-version.llx", img, n), "file format version 4 is newer than this looplynx reads");
    memset(img + 8, 0xff, 4);
    expect_refused(write_image("bad-version2.llx", img, n), "version 4294967295 is newer");
    memset(img + 8, 0, 4);
    llx_llx_fix_checksums(img, n);
    expect_refused(write_image("bad-version0.llx", img, n), "bad format version 0");
    free(img);
}

TEST(llxfile_bad_truncated, LLX_T_ASAN)
{
    size_t n;
    char *img = model_image(&n);
    if (!img) return;
    /* every cut through the header and table, and a spread over the data */
    int refused = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += cut < 8192 ? 1 : 997) {
        llx_llx *f = NULL;
        char *buf = aligned_copy(img, cut ? cut : 1);
        const llx_status st = llx_llx_open_mem(&f, buf, cut, "cut.llx");
        refused += st == LLX_ERR_FORMAT && f == NULL;
        tried++;
        llx_llx_close(f);
        free(buf);
    }
    CHECK_EQ_INT(refused, tried);
    expect_refused(write_image("trunc-empty.llx", img, 0), "is empty");
    expect_refused(write_image("trunc-100.llx", img, 100), "too short for a .llx file");
    expect_refused(write_image("trunc-half.llx", img, n / 2), "truncated or padded");
    expect_refused(write_image("trunc-1.llx", img, n - 1), "truncated or padded");
    char *longer = calloc(n + 64, 1);
    memcpy(longer, img, n);
    expect_refused(write_image("padded.llx", longer, n + 64), "truncated or padded");
    free(longer);
    free(img);
}

/* Flip one byte at each position of img; every variant must be refused. */
static int flips_refused(const char *img, size_t n, size_t step, size_t dense_until)
{
    char *buf = aligned_copy(img, n);
    int bad = 0;
    for (size_t i = 0; i < n; i += i < dense_until ? 1 : step) {
        const unsigned char mask = (unsigned char)(1u << (i % 8));
        buf[i] ^= (char)mask;
        llx_llx *f = NULL;
        const llx_status st = llx_llx_open_mem(&f, buf, n, "flip.llx");
        if (st == LLX_OK && llx_llx_check_model(f) == LLX_OK && bad++ < 5)
            llx_test_note("byte %zu (mask %02x) flipped: not detected", i, mask);
        else if (st != LLX_OK && (strchr(llx_errmsg(), '\n') || !*llx_errmsg()))
            bad++;
        llx_llx_close(f);
        buf[i] ^= (char)mask;
    }
    free(buf);
    return bad;
}

TEST(llxfile_bad_flipped_byte, LLX_T_ASAN)
{
    /* every byte of a small container, each of the 8 bits */
    const char *cpath = write_container("flip-container.llx");
    size_t cn = 0;
    char *cimg = cpath ? llx_test_read(cpath, &cn) : NULL;
    CHECK(cimg != NULL);
    if (cimg) {
        char *buf = aligned_copy(cimg, cn);
        int missed = 0;
        for (size_t i = 0; i < cn; i++)
            for (int bit = 0; bit < 8; bit++) {
                buf[i] ^= (char)(1 << bit);
                llx_llx *f = NULL;
                missed += llx_llx_open_mem(&f, buf, cn, "flip.llx") == LLX_OK;
                llx_llx_close(f);
                buf[i] ^= (char)(1 << bit);
            }
        CHECK_EQ_INT(missed, 0);
        free(buf);
        free(cimg);
    }
    /* the tiny model: header and table densely, the data every 61st byte */
    size_t n;
    char *img = model_image(&n);
    if (!img) return;
    llx_llx *f = NULL;
    char *buf = aligned_copy(img, n);
    CHECK(llx_llx_open_mem(&f, buf, n, "tiny.llx") == LLX_OK);
    size_t table_end = 0, wte = 0, gap = 0;
    for (int i = 0; f && i < llx_llx_count(f); i++) {
        llx_llx_desc d;
        llx_llx_entry(f, i, &d);
        const size_t off = (size_t)((const char *)d.data - buf);
        if (!table_end || off < table_end) table_end = off;
        if (!strcmp(d.name, "wte")) wte = off + d.bytes / 2;
        if (d.bytes % 64) gap = off + d.bytes; /* a padding byte after this tensor */
    }
    llx_llx_close(f);
    free(buf);
    CHECK(table_end > 128 && wte > 0 && gap > 0);
    CHECK_EQ_INT(flips_refused(img, n, 61, table_end), 0);
    /* and through the CLI: header field, table entry, tensor data, padding */
    const struct { size_t at; const char *want; } cases[] = {
        {44, "header checksum mismatch"},   {128 + 104 + 70, "header checksum mismatch"},
        {wte, "checksum mismatch in tensor 'wte'"}, {gap, "non-zero padding"},
        {34, "header checksum mismatch"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char name[32];
        snprintf(name, sizeof name, "flip-%zu.llx", k);
        img[cases[k].at] ^= 0x20;
        expect_refused(write_image(name, img, n), cases[k].want);
        img[cases[k].at] ^= 0x20;
    }
    free(img);
}

TEST(llxfile_bad_wrong_shape, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    if (!src) {
        CHECK(src != NULL);
        return;
    }
    const edit swap = {NULL, "h.1.fc1.w", 32, 128};
    expect_refused(rewrite(src, "shape-swap.llx", &swap), "tensor 'h.1.fc1.w' is i8 [32, 128], expected i8 [128, 32]");
    const edit shorter = {NULL, "h.0.ln1.g", 31, 0};
    expect_refused(rewrite(src, "shape-short.llx", &shorter), "tensor 'h.0.ln1.g' is f32 [31, 0], expected f32 [32, 0]");
    const edit wte = {NULL, "wte", 300, 33};
    expect_refused(rewrite(src, "shape-wte.llx", &wte), "tensor 'wte' is f32 [300, 33]");
    const edit act = {NULL, "h.1.act", 7, 0};
    expect_refused(rewrite(src, "shape-act.llx", &act), "tensor 'h.1.act' is f32 [7, 0], expected f32 [8, 0]");
}

TEST(llxfile_bad_missing_tensor, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    if (!src) {
        CHECK(src != NULL);
        return;
    }
    static const char *const names[] = {"h.1.proj.s", "h.0.qkv.w", "lm_head.w", "wpe", "h.1.ln2.b", "h.0.act"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char file[64], want[64];
        snprintf(file, sizeof file, "missing-%zu.llx", i);
        snprintf(want, sizeof want, "missing tensor '%s'", names[i]);
        const edit e = {names[i], NULL, 0, 0};
        expect_refused(rewrite(src, file, &e), want);
    }
    const edit tok = {"tokenizer.merges", NULL, 0, 0};
    expect_refused(rewrite(src, "missing-merges.llx", &tok), "missing embedded tokenizer");
}

TEST(llxfile_bad_writer_args, LLX_T_ASAN)
{
    llx_llx_writer *w = NULL;
    const llx_qinfo q = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f, .calib_tokens = 1}, badq = {.act_mode = 3, .alpha = 0.5f, .calib_tokens = 1};
    llx_config badc = small_cfg;
    badc.n_head = 3;
    CHECK(llx_llx_writer_create(&w, &badc, &q) != LLX_OK && w == NULL);
    CHECK(llx_llx_writer_create(&w, &small_cfg, &badq) == LLX_ERR_ARG && w == NULL);
    CHECK(llx_llx_writer_create(&w, &small_cfg, &q) == LLX_OK);
    if (!w) return;
    char longname[LLX_NAME_MAX + 1];
    memset(longname, 'x', LLX_NAME_MAX);
    longname[LLX_NAME_MAX] = 0;
    CHECK(llx_llx_add(w, "", LLX_DT_F32, 1, 0, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, longname, LLX_DT_F32, 1, 0, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, "t", (llx_dtype)7, 1, 0, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, -1, 0, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 1, -2, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 1ll << 40, 1ll << 40, malloc(4)) == LLX_ERR_ARG);
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 2, 0, NULL) == LLX_ERR_ARG && strstr(llx_errmsg(), "no data"));
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 1, 0, calloc(1, 4)) == LLX_OK);
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 1, 0, calloc(1, 4)) == LLX_ERR_ARG && strstr(llx_errmsg(), "added twice"));
    /* a folder that does not exist: an IO error naming the path, nothing written */
    const char *dir = llx_test_tmpfile("writer-dir");
    char path[600];
    snprintf(path, sizeof path, "%s/nope/out.llx", dir);
    CHECK(llx_llx_write(w, path) == LLX_ERR_IO && strstr(llx_errmsg(), "nope/out.llx"));
    CHECK(llx_test_count_entries(dir) == -1);
    /* writing over an existing file replaces it and leaves no temporary behind */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/out.llx", dir);
    CHECK(llx_test_write(path, "old", 3));
    CHECK(llx_llx_writer_create(&w, &small_cfg, &q) == LLX_OK);
    CHECK(llx_llx_add(w, "t", LLX_DT_U8, 3, 0, copy_of("new", 3)) == LLX_OK);
    CHECK(llx_llx_write(w, path) == LLX_OK);
    CHECK_EQ_INT(llx_test_count_entries(dir), 1);
    llx_llx *f = NULL;
    CHECK(llx_llx_open(&f, path) == LLX_OK && f && llx_llx_tensor(f, "t", LLX_DT_U8, 3, 0));
    llx_llx_close(f);
    llx_llx_writer_free(NULL);
}

TEST(llxfile_bad_mem_args, LLX_T_ASAN)
{
    static _Alignas(64) char buf[256];
    llx_llx *f = (llx_llx *)buf;
    CHECK(llx_llx_open_mem(&f, buf + 4, 128, "odd.llx") == LLX_ERR_ARG && f == NULL);
    CHECK(strstr(llx_errmsg(), "odd.llx: buffer is not 8-byte aligned"));
    CHECK(llx_llx_open_mem(&f, NULL, 128, "null.llx") == LLX_ERR_ARG && f == NULL);
    CHECK(llx_llx_open_mem(&f, buf, 0, "zero.llx") == LLX_ERR_FORMAT && strstr(llx_errmsg(), "too short"));
    CHECK(llx_llx_open_mem(&f, buf, sizeof buf, "zeros.llx") == LLX_ERR_FORMAT && strstr(llx_errmsg(), "bad magic"));
    /* llx_llx_fix_checksums stays inside tiny or garbage buffers */
    llx_llx_fix_checksums(buf, 0);
    llx_llx_fix_checksums(buf, 100);
    memset(buf, 0xff, sizeof buf);
    llx_llx_fix_checksums(buf, sizeof buf);
    CHECK(llx_llx_open_mem(&f, buf, sizeof buf, "ff.llx") == LLX_ERR_FORMAT);
}

/* The hand-made fuzz seeds mean what their names say. */
TEST(llxfile_fuzz_seeds_classified, LLX_T_ASAN)
{
    static const struct { const char *file, *want; int model_ok; } seeds[] = {
        {"valid_model.llx", NULL, 1},
        {"valid_model_dynamic.llx", NULL, 1},
        {"valid_w4a4_rot.llx", NULL, 1},         /* version 3: w4a4 g32 f16, rotated, int4 LM head */
        {"valid_w4a8_gptq_fp32kv.llx", NULL, 1}, /* version 3: w4a8 GPTQ per row, fp32 KV */
        {"valid_llama.llx", NULL, 1},            /* version 3: Llama (GQA 2/1) W8A8 */
        {"valid_llama_w4a4_rot.llx", NULL, 1},   /* version 3: Llama w4a4 g32 f16, rotated, int4 LM head */
        {"valid_w4a4_clip.llx", NULL, 1},        /* valid_w4a4_rot.llx with an activation clip ratio of 0.9 */
        {"valid_container.llx", "missing tensor 'h.0.qkv.w'", 0},
        {"valid_no_tensors.llx", "missing tensor 'h.0.qkv.w'", 0},
        {"bad_magic.llx", "bad magic", 0},
        {"bad_version_newer.llx", "version 4 is newer", 0},
        {"bad_version_zero.llx", "bad format version 0", 0},
        {"bad_truncated.llx", "truncated or padded", 0},
        {"bad_short.llx", "too short", 0},
        {"bad_padded.llx", "truncated or padded", 0},
        {"bad_flip_header.llx", "header checksum mismatch", 0},
        {"bad_flip_table.llx", "header checksum mismatch", 0},
        {"bad_flip_data.llx", "checksum mismatch in tensor 'a'", 0},
        {"bad_flip_tail_padding.llx", "non-zero padding", 0},
        {"bad_padding_fixed.llx", "non-zero padding", 0},
        {"bad_dup_name.llx", "tensor 'a' appears twice", 0},
        {"bad_shape_overflow.llx", "size does not match its shape", 0},
        {"bad_overlap.llx", "overlap", 0},
        {"bad_outside.llx", "outside the data section", 0},
        {"bad_tensor_count.llx", "implausible tensor count", 0},
        {"bad_act_mode.llx", "unknown activation mode 5", 0},
        {"bad_config_embd.llx", "not a multiple of n_head", 0},
        {"bad_dtype.llx", "unknown dtype 9", 0},
        {"bad_missing_tensor.llx", "missing tensor 'wte'", 0},
        {"bad_wrong_shape.llx", "tensor 'h.0.qkv.w' is i8 [4, 12], expected i8 [12, 4]", 0},
        {"bad_act_scale.llx", "activation scale 2 is not positive", 0},
        {"bad_act_clip.llx", "activation clip ratio is not 0 or in [0.5, 1]", 0}, /* 1.5 */
        {"bad_rotate_no_had.llx", "rotations without the online transform", 0}, /* valid_w4a4_rot.llx, had_down 0 */
        {"bad_rotate_seed.llx", "a rotation seed without rotations", 0}, /* valid_w4a8_gptq_fp32kv.llx, seed 3 */
        {"bad_tokenizer_vocab.llx", "vocab.json", 0},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/llx/%s", seeds[i].file);
        size_t n = 0;
        char *img = llx_test_read(path, &n), *buf = img ? aligned_copy(img, n) : NULL;
        CHECK_MSG(buf != NULL, "missing seed %s", path);
        if (!buf) continue;
        llx_llx *f = NULL;
        llx_tokenizer *t = NULL;
        llx_status st = llx_llx_open_mem(&f, buf, n, seeds[i].file);
        if (st == LLX_OK) st = llx_llx_check_model(f);
        if (st == LLX_OK) st = llx_llx_tokenizer(f, &t);
        if (seeds[i].model_ok) CHECK_MSG(st == LLX_OK, "%s: %s", seeds[i].file, llx_errmsg());
        else
            CHECK_MSG(st != LLX_OK && strstr(llx_errmsg(), seeds[i].want), "%s: got '%s', wanted '%s'",
                      seeds[i].file, st == LLX_OK ? "accepted" : llx_errmsg(), seeds[i].want);
        llx_tokenizer_free(t);
        llx_llx_close(f);
        free(buf);
        free(img);
    }
}

/* An empty tensor shares its offset with the next one; either table order
 * opens (the overlap check must not depend on how ties sort). */
TEST(llxfile_empty_tensor_shares_offset, LLX_T_ASAN)
{
    const llx_qinfo q = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f, .calib_tokens = 1};
    llx_llx_writer *w = NULL;
    CHECK(llx_llx_writer_create(&w, &small_cfg, &q) == LLX_OK);
    if (!w) return;
    for (int i = 0; i < 40; i++) { /* many ties */
        char name[16];
        snprintf(name, sizeof name, "z%d", i); /* names sort after the real tensors' */
        CHECK(llx_llx_add(w, name, LLX_DT_F32, 0, 0, NULL) == LLX_OK);
        snprintf(name, sizeof name, "a%d", i);
        CHECK(llx_llx_add(w, name, LLX_DT_U8, 3, 0, copy_of("abc", 3)) == LLX_OK);
    }
    const char *path = llx_test_tmpfile("empty-ties.llx");
    CHECK(llx_llx_write(w, path) == LLX_OK);
    size_t n = 0;
    char *img = llx_test_read(path, &n), *buf = img ? aligned_copy(img, n) : NULL;
    CHECK(buf != NULL);
    if (!buf) return;
    llx_llx *f = NULL;
    CHECK(llx_llx_open_mem(&f, buf, n, "ties.llx") == LLX_OK);
    llx_llx_desc a, b;
    CHECK(f && llx_llx_entry(f, 0, &a) == LLX_OK && llx_llx_entry(f, 1, &b) == LLX_OK && a.data == b.data);
    llx_llx_close(f);
    /* swap every pair in the table: the real tensor now comes first */
    for (int i = 0; i < 40; i++) {
        char tmp[104], *e = buf + 256 + (size_t)(2 * i) * 104; /* after the header and the scheme record */
        memcpy(tmp, e, 104);
        memcpy(e, e + 104, 104);
        memcpy(e + 104, tmp, 104);
    }
    llx_llx_fix_checksums(buf, n);
    f = NULL;
    CHECK_MSG(llx_llx_open_mem(&f, buf, n, "ties-swapped.llx") == LLX_OK, "%s", llx_errmsg());
    CHECK(f && llx_llx_tensor(f, "a7", LLX_DT_U8, 3, 0) && !memcmp(llx_llx_tensor(f, "a7", LLX_DT_U8, 3, 0), "abc", 3));
    llx_llx_close(f);
    free(buf);
    free(img);
}
