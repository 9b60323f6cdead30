/* kernels/kernels_select.c - the tier chain and the run-time choice of a
 * tier.  Built without ISA flags, so it is safe to call on any x86-64.
 *
 * Each tier's table is a copy of the one below it with the entries the
 * tier implements overridden: ref -> avx2 -> avx512 -> amx (and the test
 * tier amx-emu on top of avx512).  The chain is built once, from what
 * kernels/cpu.c found. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "llx/kernels.h"

static const char *const names[LLX_TIER_COUNT] = {"ref", "avx2", "avx512", "amx", "amx-emu"};
static llx_kernels tables[LLX_TIER_COUNT];
static int usable[LLX_TIER_COUNT];

static void build(void)
{
    const llx_cpu *c = llx_cpu_get();
    tables[LLX_TIER_REF] = llx_kernels_ref;
    usable[LLX_TIER_REF] = 1;
    if (!c->avx2) return;
    tables[LLX_TIER_AVX2] = tables[LLX_TIER_REF];
    llx_kernels_fill_avx2(&tables[LLX_TIER_AVX2]);
    usable[LLX_TIER_AVX2] = 1;
    if (!c->avx512) return;
    tables[LLX_TIER_AVX512] = tables[LLX_TIER_AVX2];
    llx_kernels_fill_avx512(&tables[LLX_TIER_AVX512]);
    usable[LLX_TIER_AVX512] = 1;
    tables[LLX_TIER_AMX_EMU] = tables[LLX_TIER_AVX512];
    llx_kernels_fill_amx_emu(&tables[LLX_TIER_AMX_EMU]);
    usable[LLX_TIER_AMX_EMU] = 1;
    if (!c->amx) return;
    tables[LLX_TIER_AMX] = tables[LLX_TIER_AVX512];
    llx_kernels_fill_amx(&tables[LLX_TIER_AMX]);
    usable[LLX_TIER_AMX] = 1;
}

static void built(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build);
}

int llx_cpu_has_avx2(void) { return llx_cpu_get()->avx2; }

const char *llx_tier_name(llx_tier t) { return t >= 0 && t < LLX_TIER_COUNT ? names[t] : "?"; }

const llx_kernels *llx_kernels_tier(llx_tier t)
{
    if (t < 0 || t >= LLX_TIER_COUNT) return NULL;
    if (t == LLX_TIER_REF) return &llx_kernels_ref;
    built();
    return usable[t] ? &tables[t] : NULL;
}

const char *llx_tier_missing(llx_tier t)
{
    const llx_cpu *c = llx_cpu_get();
    switch (t) {
    case LLX_TIER_REF: return "";
    case LLX_TIER_AVX2: return c->avx2 ? "" : "CPU or OS lacks AVX2+FMA";
    case LLX_TIER_AMX_EMU:
    case LLX_TIER_AVX512: return c->avx512 ? "" : "CPU or OS lacks AVX-512 F/DQ/BW/VL + VNNI";
    case LLX_TIER_AMX:
        if (!c->amx_cpu) return "CPU lacks AMX-TILE/AMX-INT8";
        if (!c->amx_os) return "OS has not enabled the AMX tile state (XCR0)";
        if (!c->avx512) return "CPU lacks the AVX-512 the AMX tier's epilogue needs";
        if (!c->amx_perm) return "Linux refused the AMX tile data permission (arch_prctl)";
        return "";
    default: return "unknown tier";
    }
}

const llx_kernels *llx_kernels_select(const char *force)
{
    if (!force || !*force || !strcmp(force, "auto")) {
        const char *env = getenv("LLX_KERNELS");
        force = env && *env ? env : "auto";
    }
    if (!strcmp(force, "auto")) {
        static const llx_tier best[] = {LLX_TIER_AMX, LLX_TIER_AVX512, LLX_TIER_AVX2};
        for (size_t i = 0; i < sizeof best / sizeof *best; i++)
            if (llx_kernels_tier(best[i])) return llx_kernels_tier(best[i]);
        return &llx_kernels_ref;
    }
    for (int t = 0; t < LLX_TIER_COUNT; t++)
        if (!strcmp(force, names[t])) return llx_kernels_tier((llx_tier)t);
    return NULL;
}

/* ---- the public view (llx/kernels.h) ---- */

int llx_kernel_tier_count(void) { return LLX_TIER_COUNT; }
const char *llx_kernel_tier_name(int i) { return llx_tier_name((llx_tier)i); }
const char *llx_kernel_tier_missing(int i) { return llx_tier_missing((llx_tier)i); }

const char *llx_kernels_resolve(const char *name)
{
    const llx_kernels *k = llx_kernels_select(name);
    return k ? k->name : NULL;
}
