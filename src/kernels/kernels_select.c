/* kernels/kernels_select.c - run-time choice of the kernel table.
 * Built without ISA flags, so it is safe to call on any x86-64. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

int llx_cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const llx_kernels *llx_kernels_select(const char *force)
{
    if (!force || !*force || !strcmp(force, "auto")) {
        const char *env = getenv("LLX_KERNELS");
        force = env && *env ? env : "auto";
    }
    if (!strcmp(force, "ref")) return &llx_kernels_ref;
    if (!strcmp(force, "avx2")) return llx_cpu_has_avx2() ? &llx_kernels_avx2 : NULL;
    if (!strcmp(force, "auto")) return llx_cpu_has_avx2() ? &llx_kernels_avx2 : &llx_kernels_ref;
    return NULL;
}
