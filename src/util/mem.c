/* util/mem.c - see mem.h. */
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_FROM ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *llx_alloc(size_t bytes)
{
    if (bytes < HUGE_FROM) {
        const size_t n = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, n ? n : 64);
        if (p) memset(p, 0, n ? n : 64);
        return p;
    }
    const size_t n = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, n);
    if (!p) return NULL;
    madvise(p, n, MADV_HUGEPAGE); /* advice only: no huge pages is still correct */
    memset(p, 0, n);
    return p;
}

void llx_release_pages(const void *addr, size_t len)
{
    const uintptr_t page = 4096, a = (uintptr_t)addr & ~(page - 1);
    if (addr && len) madvise((void *)a, len + ((uintptr_t)addr - a), MADV_DONTNEED);
}

int llx_arena_init(llx_arena *a, size_t bytes, size_t pieces)
{
    a->used = 0;
    a->cap = bytes + pieces * 64;
    a->base = llx_alloc(a->cap);
    return a->base != NULL;
}

void *llx_arena_take(llx_arena *a, size_t bytes)
{
    const size_t n = (bytes + 63) & ~(size_t)63;
    if (!a->base || a->used + n > a->cap) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    return p;
}

void llx_arena_free(llx_arena *a)
{
    free(a->base);
    a->base = NULL;
    a->used = a->cap = 0;
}
