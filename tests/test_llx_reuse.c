/* tests/test_llx_reuse.c - what the quantizer's step-by-step images rely
 * on: a writer that borrows another writer's tensors (llx_llx_add_refs)
 * writes the same bytes as one that owns copies and leaves the lender's
 * data alone, also when it refuses them; borrowing with replacements
 * (llx_llx_add_refs_over) keeps the lender's order and takes the
 * replacement's bytes, refusing a replacement that does not fit; an image written into a reused
 * buffer (llx_llx_write_mem_reuse) is the image write_mem gives, and a
 * failed write frees the buffer; and a
 * model opened as an internal image runs every check but has no tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "model/llx_file.h"
#include "model/llx_model.h"
#include "test.h"

static const llx_config cfg = {.n_vocab = 256, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8, .ln_eps = 1e-5f};
static const llx_qinfo qi = {.act_mode = LLX_ACT_STATIC, .alpha = 0.5f, .calib_tokens = 3};

static void *dup_bytes(const void *p, size_t n)
{
    void *d = malloc(n);
    memcpy(d, p, n);
    return d;
}

static const float g1[6] = {1.5f, -2.0f, 0.25f, 3e-5f, -7.0f, 1e9f};
static const char g2[] = "borrowed text";

/* the lender: two tensors it owns */
static llx_llx_writer *lender(void)
{
    llx_llx_writer *w = NULL;
    if (llx_llx_writer_create(&w, &cfg, &qi) != LLX_OK) return NULL;
    CHECK(llx_llx_add(w, "g1", LLX_DT_F32, 2, 3, dup_bytes(g1, sizeof g1)) == LLX_OK);
    CHECK(llx_llx_add(w, "g2", LLX_DT_U8, (long long)strlen(g2), 0, dup_bytes(g2, strlen(g2))) == LLX_OK);
    return w;
}

/* an image with one tensor of its own (value v, n floats) and then g1, g2:
 * borrowed from gw, or copies when gw is NULL */
static llx_llx_writer *image_writer(const llx_llx_writer *gw, float v, int n)
{
    llx_llx_writer *w = NULL;
    if (llx_llx_writer_create(&w, &cfg, &qi) != LLX_OK) return NULL;
    float *own = malloc((size_t)n * sizeof *own);
    for (int i = 0; i < n; i++) own[i] = v + (float)i;
    CHECK(llx_llx_add(w, "own", LLX_DT_F32, n, 0, own) == LLX_OK);
    if (gw) {
        CHECK(llx_llx_add_refs(w, gw) == LLX_OK);
    } else {
        CHECK(llx_llx_add(w, "g1", LLX_DT_F32, 2, 3, dup_bytes(g1, sizeof g1)) == LLX_OK);
        CHECK(llx_llx_add(w, "g2", LLX_DT_U8, (long long)strlen(g2), 0, dup_bytes(g2, strlen(g2))) == LLX_OK);
    }
    return w;
}

/* the lender's tensors are still its own, unchanged */
static void lender_intact(llx_llx_writer *gw)
{
    void *img = NULL;
    size_t n = 0;
    llx_llx *f = NULL;
    CHECK(llx_llx_write_mem(gw, &img, &n) == LLX_OK);
    CHECK(img && llx_llx_open_mem(&f, img, n, "lender") == LLX_OK);
    const float *a = f ? llx_llx_tensor(f, "g1", LLX_DT_F32, 2, 3) : NULL;
    const char *b = f ? llx_llx_tensor(f, "g2", LLX_DT_U8, (long long)strlen(g2), 0) : NULL;
    CHECK(a && memcmp(a, g1, sizeof g1) == 0);
    CHECK(b && memcmp(b, g2, strlen(g2)) == 0);
    llx_llx_close(f);
    free(img);
}

TEST(llxfile_refs_write_as_copies, LLX_T_ASAN)
{
    llx_llx_writer *gw = lender();
    REQUIRE(gw != NULL);
    void *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    /* twice from the same lender, as the quantizer's steps do */
    for (int rep = 0; rep < 2; rep++) {
        free(a);
        a = NULL;
        CHECK(llx_llx_write_mem(image_writer(gw, 4.0f + rep, 5), &a, &na) == LLX_OK);
    }
    CHECK(llx_llx_write_mem(image_writer(NULL, 5.0f, 5), &b, &nb) == LLX_OK);
    CHECK(a && b && na == nb && na > 0 && memcmp(a, b, na) == 0);
    /* a refused borrow (a name the borrower has) frees nothing of the lender's */
    llx_llx_writer *clash = NULL;
    REQUIRE(llx_llx_writer_create(&clash, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add(clash, "g2", LLX_DT_U8, 1, 0, dup_bytes("x", 1)) == LLX_OK);
    CHECK(llx_llx_add_refs(clash, gw) == LLX_ERR_ARG && strstr(llx_errmsg(), "'g2' added twice"));
    llx_llx_writer_free(clash); /* frees its own g2 and the borrowed g1 is not its to free */
    lender_intact(gw);
    free(a), free(b);
}

TEST(llxfile_refs_over_replace_in_place, LLX_T_ASAN)
{
    llx_llx_writer *gw = lender(), *over = NULL, *w = NULL, *want = NULL;
    REQUIRE(gw != NULL);
    static const float r1[6] = {6, 5, 4, 3, 2, 1};
    REQUIRE(llx_llx_writer_create(&over, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add(over, "g1", LLX_DT_F32, 2, 3, dup_bytes(r1, sizeof r1)) == LLX_OK);
    /* g1 from over, g2 from the lender, in the lender's order: the bytes of
     * a writer that owns those two */
    REQUIRE(llx_llx_writer_create(&w, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add_refs_over(w, gw, over) == LLX_OK);
    REQUIRE(llx_llx_writer_create(&want, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add(want, "g1", LLX_DT_F32, 2, 3, dup_bytes(r1, sizeof r1)) == LLX_OK);
    CHECK(llx_llx_add(want, "g2", LLX_DT_U8, (long long)strlen(g2), 0, dup_bytes(g2, strlen(g2))) == LLX_OK);
    void *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(llx_llx_write_mem(w, &a, &na) == LLX_OK);
    CHECK(llx_llx_write_mem(want, &b, &nb) == LLX_OK);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    free(a), free(b);
    /* NULL replaces nothing: plain borrowing */
    REQUIRE(llx_llx_writer_create(&w, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add_refs_over(w, gw, NULL) == LLX_OK);
    llx_llx_writer_free(w);
    /* a replacement of another shape, and one that replaces nothing */
    llx_llx_writer *bad = NULL;
    REQUIRE(llx_llx_writer_create(&bad, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add(bad, "g1", LLX_DT_F32, 3, 2, dup_bytes(r1, sizeof r1)) == LLX_OK);
    REQUIRE(llx_llx_writer_create(&w, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add_refs_over(w, gw, bad) == LLX_ERR_ARG && strstr(llx_errmsg(), "'g1'") &&
          strstr(llx_errmsg(), "another dtype or shape"));
    llx_llx_writer_free(w);
    llx_llx_writer_free(bad);
    REQUIRE(llx_llx_writer_create(&bad, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add(bad, "g3", LLX_DT_F32, 2, 3, dup_bytes(r1, sizeof r1)) == LLX_OK);
    REQUIRE(llx_llx_writer_create(&w, &cfg, &qi) == LLX_OK);
    CHECK(llx_llx_add_refs_over(w, gw, bad) == LLX_ERR_ARG && strstr(llx_errmsg(), "'g3' replaces nothing"));
    llx_llx_writer_free(w); /* frees nothing of the lender's or of the replacements */
    llx_llx_writer_free(bad);
    llx_llx_writer_free(over);
    lender_intact(gw);
}

TEST(llxfile_write_mem_reuse, LLX_T_ASAN)
{
    llx_llx_writer *gw = lender();
    REQUIRE(gw != NULL);
    void *buf = NULL, *fresh = NULL;
    size_t n = 0, cap = 0, nf = 0;
    CHECK(llx_llx_write_mem_reuse(image_writer(gw, 1.0f, 5), &buf, &n, &cap) == LLX_OK);
    CHECK(buf != NULL && cap >= n && n > 0);
    void *first = buf;
    const size_t cap0 = cap;
    /* the same shape again goes into the same buffer, and is write_mem's image */
    CHECK(llx_llx_write_mem_reuse(image_writer(gw, 9.0f, 5), &buf, &n, &cap) == LLX_OK);
    CHECK(buf == first && cap == cap0);
    CHECK(llx_llx_write_mem(image_writer(gw, 9.0f, 5), &fresh, &nf) == LLX_OK);
    CHECK(fresh && nf == n && memcmp(buf, fresh, n) == 0);
    llx_llx *f = NULL;
    CHECK(llx_llx_open_mem(&f, buf, n, "reused") == LLX_OK);
    const float *own = f ? llx_llx_tensor(f, "own", LLX_DT_F32, 5, 0) : NULL;
    CHECK(own && own[0] == 9.0f && own[4] == 13.0f);
    llx_llx_close(f);
    /* a larger image does not fit: a new buffer of the new size */
    CHECK(llx_llx_write_mem_reuse(image_writer(gw, 2.0f, 4000), &buf, &n, &cap) == LLX_OK);
    CHECK(buf != NULL && cap > cap0 && cap >= n);
    f = NULL;
    CHECK(llx_llx_open_mem(&f, buf, n, "grown") == LLX_OK);
    own = f ? llx_llx_tensor(f, "own", LLX_DT_F32, 4000, 0) : NULL;
    CHECK(own && own[3999] == 4001.0f);
    llx_llx_close(f);
    /* a write that fails (cancelled between tensors) frees the buffer */
    static volatile sig_atomic_t stop = 1;
    llx_llx_writer *w = image_writer(gw, 3.0f, 5);
    REQUIRE(w != NULL);
    llx_llx_writer_set_cancel(w, &stop);
    CHECK(llx_llx_write_mem_reuse(w, &buf, &n, &cap) == LLX_ERR_CANCELLED);
    CHECK(buf == NULL && cap == 0 && n == 0);
    free(fresh);
    llx_llx_writer_free(gw);
}

TEST(llxmodel_open_image_no_tokenizer, LLX_T_ASAN)
{
    const char *src = llx_tiny_llx(1);
    REQUIRE(src != NULL);
    size_t n = 0;
    char *raw = llx_test_read(src, &n);
    REQUIRE(raw != NULL);
    char *img = aligned_alloc(64, (n + 63) / 64 * 64);
    memcpy(img, raw, n);
    llx_model *with = NULL, *without = NULL;
    CHECK(llx_model_open_mem(&with, img, n, "tiny") == LLX_OK);
    CHECK(llx_model_open_image(&without, img, n, "tiny") == LLX_OK);
    CHECK(with && llx_model_tokenizer(with) != NULL);
    CHECK(without && llx_model_tokenizer(without) == NULL);
    CHECK(with && without && memcmp(llx_model_config(with), llx_model_config(without), sizeof(llx_config)) == 0);
    llx_model_close(with);
    llx_model_close(without);
    /* the checks still run: one flipped byte in the last tensor is refused */
    img[n - 1] ^= 0x40;
    llx_model *bad = NULL;
    const llx_status st = llx_model_open_image(&bad, img, n, "flipped");
    CHECK(st == LLX_ERR_FORMAT && bad == NULL);
    CHECK_MSG(strstr(llx_errmsg(), "flipped") && (strstr(llx_errmsg(), "checksum") || strstr(llx_errmsg(), "padding")),
              "%s", llx_errmsg());
    free(img);
    free(raw);
}
