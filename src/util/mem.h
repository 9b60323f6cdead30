/* util/mem.h - allocations for large, streamed data (weights, KV caches).
 *
 * Large blocks are 2 MiB aligned and advised as transparent huge pages: the
 * decode loop streams weights at memory bandwidth, and with 4 KiB pages the
 * hardware prefetcher stops at every page boundary (measured in
 * docs/performance.md).  Blocks are zeroed, which also makes the calling
 * thread the one that first touches them. */
#ifndef LLX_UTIL_MEM_H
#define LLX_UTIL_MEM_H

#include <stddef.h>

/* Zeroed, 64-byte aligned (2 MiB aligned and huge-page advised from 4 MiB);
 * free with free().  NULL when out of memory. */
void *llx_alloc(size_t bytes);

/* One block carved into 64-byte aligned pieces (e.g. all weight slices of
 * a node); free the whole block with llx_arena_free. */
typedef struct llx_arena {
    unsigned char *base;
    size_t used, cap;
} llx_arena;

/* Reserve `bytes` (plus alignment slack for `pieces` pieces). */
int llx_arena_init(llx_arena *a, size_t bytes, size_t pieces);
/* The next piece; NULL when the arena is exhausted (a sizing bug). */
void *llx_arena_take(llx_arena *a, size_t bytes);
void llx_arena_free(llx_arena *a);

/* Drop this process's resident pages of a read-only file mapping (they
 * come back from the page cache if touched again). */
void llx_release_pages(const void *addr, size_t len);

#endif
