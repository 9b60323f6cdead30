/* fuzz/fuzz_llx.c - any byte string as a .llx file image, read from memory.
 * Each input runs twice: as it is (the checksums must hold it back), and
 * with its checksums recomputed so mutations reach the table, padding,
 * model and tokenizer checks behind them.  An accepted file must keep the
 * reader's promises: every tensor lies inside the buffer and is found by
 * name with its own dtype and shape. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "llx/tokenizer.h"
#include "model/llx_file.h"

static void check_accepted(const llx_llx *f, const uint8_t *buf, size_t size)
{
    const int n = llx_llx_count(f);
    unsigned sink = 0;
    for (int i = 0; i < n; i++) {
        llx_llx_desc d;
        if (llx_llx_entry(f, i, &d) != LLX_OK) __builtin_trap();
        const uint8_t *p = d.data;
        if (p < buf || d.bytes > size || p + d.bytes > buf + size) __builtin_trap();
        if (llx_llx_tensor(f, d.name, d.dtype, d.rows, d.cols) != d.data) __builtin_trap();
        if (d.bytes) sink += p[0] + p[d.bytes - 1];
    }
    llx_llx_desc d;
    if (llx_llx_entry(f, n, &d) == LLX_OK || llx_llx_entry(f, -1, &d) == LLX_OK) __builtin_trap();
    if (llx_llx_file_bytes(f) != size) __builtin_trap();
    (void)sink;
    if (llx_llx_check_model(f) != LLX_OK) return;
    llx_tokenizer *t = NULL;
    if (llx_llx_tokenizer(f, &t) != LLX_OK) return;
    int *ids = NULL, n_ids = 0;
    static const char text[] = "Hello, world! \xe2\x82\xac 123";
    if (llx_tokenize(t, text, sizeof text - 1, &ids, &n_ids) == LLX_OK) {
        char *back = NULL;
        size_t len = 0;
        if (llx_detokenize(t, ids, n_ids, &back, &len) == LLX_OK) free(back);
        free(ids);
    }
    llx_tokenizer_free(t);
}

static void one(uint8_t *buf, size_t size)
{
    llx_llx *f = NULL;
    if (llx_llx_open_mem(&f, buf, size, "fuzz.llx") != LLX_OK) {
        if (f) __builtin_trap();
        return;
    }
    check_accepted(f, buf, size);
    llx_llx_close(f);
}

int llx_fuzz_llx(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1); /* malloc: 8-byte aligned, exact size for ASan */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    one(buf, size);
    llx_llx_fix_checksums(buf, size);
    one(buf, size);
    free(buf);
    return 0;
}
