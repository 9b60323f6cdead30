/* kernels/cpu.c - what this CPU and OS let the kernel tiers use.
 * Built without ISA flags, so it is safe to call on any x86-64.
 *
 * A tier needs three things: the CPU has its instructions (CPUID), the OS
 * saves their registers on a context switch (XCR0, read with XGETBV, after
 * CPUID says OSXSAVE), and, for AMX, Linux has granted this process the
 * tile data state (arch_prctl ARCH_REQ_XCOMP_PERM; without it the first
 * tile instruction faults). */
#include "kernels/cpu.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long xcr0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/* Ask Linux for the AMX tile data state; 1 when this process has it. */
static int amx_permission(void)
{
#if defined(__linux__) && defined(__x86_64__)
    unsigned long bits = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) == 0 && (bits >> XFEATURE_XTILEDATA & 1)) return 1;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    bits = 0;
    return syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) == 0 && (bits >> XFEATURE_XTILEDATA & 1);
#else
    return 0;
#endif
}

void llx_cpu_detect(llx_cpu *c)
{
    memset(c, 0, sizeof *c);
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    const int osxsave = cx >> 27 & 1, fma = cx >> 12 & 1, avx = cx >> 28 & 1;
    if (!osxsave) return;
    const unsigned long long x = xcr0();
    const int ymm_os = (x & 0x6) == 0x6, zmm_os = (x & 0xe6) == 0xe6, tile_os = (x & 0x60000) == 0x60000;
    unsigned int a7 = 0, b7 = 0, c7 = 0, d7 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 0, a7, b7, c7, d7);
    c->avx2 = ymm_os && avx && fma && (b7 >> 5 & 1);
    c->avx512 = zmm_os && c->avx2 && (b7 >> 16 & 1) /* F */ && (b7 >> 17 & 1) /* DQ */ && (b7 >> 30 & 1) /* BW */ &&
                (b7 >> 31 & 1) /* VL */ && (c7 >> 11 & 1) /* VNNI */;
    c->amx_cpu = (d7 >> 24 & 1) /* AMX-TILE */ && (d7 >> 25 & 1) /* AMX-INT8 */;
    c->amx_os = tile_os;
    if (c->avx512 && c->amx_cpu && c->amx_os) c->amx = c->amx_perm = amx_permission();
#endif
}

static llx_cpu cpu_found;
static void detect_once(void) { llx_cpu_detect(&cpu_found); }

const llx_cpu *llx_cpu_get(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect_once);
    return &cpu_found;
}
