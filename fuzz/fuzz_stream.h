/* fuzz/fuzz_stream.h - a check both tokenizer fuzzers make: streaming the
 * bytes of ids through llx_utf8_stream gives back exactly want[0..size),
 * holding at most 3 bytes at a time.  Traps otherwise. */
#ifndef LLX_FUZZ_STREAM_H
#define LLX_FUZZ_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llx/tokenizer.h"

static inline void fuzz_check_stream(const llx_tokenizer *t, const int *ids, int n, const void *want, size_t size)
{
    llx_utf8_stream st = {0};
    char *out = malloc(size + 8);
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *b = llx_token_bytes(t, ids[i], &len);
        if (!b || w + len > size) __builtin_trap();
        w += llx_utf8_stream_push(&st, b, len, out + w);
        if (st.npend < 0 || st.npend > 3 || w + (size_t)st.npend > size) __builtin_trap();
    }
    w += llx_utf8_stream_flush(&st, out + w);
    if (w != size || memcmp(out, want, size) != 0) __builtin_trap();
    free(out);
}

#endif
