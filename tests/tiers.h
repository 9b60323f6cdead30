/* tests/tiers.h - one test per kernel tier above the reference.
 *
 *   TIER_TEST(gemm_i8_bit_exact) { ... uses k, the tier's table ... }
 *
 * registers kernels_avx2_gemm_i8_bit_exact, kernels_avx512_..., kernels_amx_...
 * and kernels_amxemu_... (the amx tier's code on emulated tiles), all run
 * again under ASan+UBSan; a tier
 * this machine cannot run is reported as skipped, with the reason.  A test
 * also fails if the AMX tile emulation counted a fault during it. */
#ifndef LLX_TESTS_TIERS_H
#define LLX_TESTS_TIERS_H

#include "kernels/amx_tile.h"
#include "kernels/kernels.h"
#include "test.h"
#include "util/rng.h"

/* n int8 values: mode 0 random in [-127, 127], 1 all 127, 2 all -127,
 * 3 alternating 127 / -127 */
static inline void tier_fill_i8(int8_t *p, size_t n, llx_rng *r, int mode)
{
    for (size_t i = 0; i < n; i++) {
        if (mode == 1) p[i] = 127;
        else if (mode == 2) p[i] = -127;
        else if (mode == 3) p[i] = (i & 1) ? 127 : -127;
        else p[i] = (int8_t)((int)(llx_rng_u64(r) % 255) - 127);
    }
}

/* the tier's kernels, and no operation the tile emulation refused */
#define TIER_RUN(t, fn)                                                                                            \
    do {                                                                                                           \
        const llx_kernels *k_ = llx_kernels_tier(t);                                                               \
        if (!k_) SKIP("tier %s: %s", llx_tier_name(t), llx_tier_missing(t));                                       \
        const long faults_ = llx_amx_emu_faults();                                                                 \
        fn(k_);                                                                                                    \
        CHECK_EQ_INT(llx_amx_emu_faults(), faults_);                                                               \
    } while (0)

#define TIER_TEST(name)                                                                                            \
    static void name(const llx_kernels *k);                                                                        \
    TEST(kernels_avx2_##name, LLX_T_ASAN) { TIER_RUN(LLX_TIER_AVX2, name); }                                       \
    TEST(kernels_avx512_##name, LLX_T_ASAN) { TIER_RUN(LLX_TIER_AVX512, name); }                                   \
    TEST(kernels_amx_##name, LLX_T_ASAN) { TIER_RUN(LLX_TIER_AMX, name); }                                         \
    TEST(kernels_amxemu_##name, LLX_T_ASAN) { TIER_RUN(LLX_TIER_AMX_EMU, name); }                                  \
    static void name(const llx_kernels *k)

#endif
