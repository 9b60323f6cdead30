/* tests/test_llx_lowbit.c - the .llx element types of the low-bit schemes:
 * q4 (two int4 per byte) and f16 round-trip with the byte counts of their
 * shapes, and shapes q4 cannot hold are refused by the writer and, in a
 * hand-edited file, by the reader. */
#include <stdlib.h>
#include <string.h>

#include "model/llx_file.h"
#include "test.h"

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
