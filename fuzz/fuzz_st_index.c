/* fuzz/fuzz_st_index.c - sharded safetensors: model.safetensors.index.json
 * parsing and the cross-checks that merge shards into one tensor set.
 * Input: a little-endian u16 length L, L bytes of index JSON, then up to 4
 * shard images, each a little-endian u32 length and that many bytes; the
 * index names them "s0" ... "s3".  A merged set must list every tensor once,
 * sorted, each found by name and pointing inside its shard's bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/safetensors.h"

int llx_fuzz_st_index(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t L = (size_t)data[0] | (size_t)data[1] << 8, pos = 2;
    if (L > size - pos) L = size - pos;
    llx_st_index ix;
    if (llx_st_index_parse(&ix, (const char *)data + pos, L, "fuzz.index.json") != LLX_OK) return 0;
    pos += L;
    const uint8_t *img[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4 && size - pos >= 4; k++) {
        size_t n = (size_t)data[pos] | (size_t)data[pos + 1] << 8 | (size_t)data[pos + 2] << 16 | (size_t)data[pos + 3] << 24;
        pos += 4;
        if (n > size - pos) n = size - pos;
        img[k] = data + pos, len[k] = n;
        pos += n;
    }
    llx_st *shards = calloc((size_t)ix.n_files, sizeof *shards);
    int ok = shards != NULL;
    for (int f = 0; ok && f < ix.n_files; f++) {
        const char *nm = ix.files[f];
        int k = nm[0] == 's' && nm[1] >= '0' && nm[1] <= '3' && !nm[2] ? nm[1] - '0' : -1;
        ok = k >= 0 && img[k] && llx_st_parse(&shards[f], img[k], len[k], nm) == LLX_OK;
    }
    if (!ok) {
        for (int f = 0; shards && f < ix.n_files; f++) llx_st_close(&shards[f]);
    } else {
        llx_st set;
        if (llx_st_merge(&set, shards, &ix, "fuzz.index.json") == LLX_OK) {
            if (set.n != ix.n) __builtin_trap();
            for (int i = 0; i < set.n; i++) {
                const llx_st_tensor *t = &set.t[i];
                if ((i && strcmp(set.t[i - 1].name, t->name) >= 0) || llx_st_find(&set, t->name) != t) __builtin_trap();
                if (t->data < data || t->data + (t->end - t->begin) > data + size) __builtin_trap();
            }
            llx_st_close(&set);
        }
    }
    free(shards);
    llx_st_index_free(&ix);
    return 0;
}
