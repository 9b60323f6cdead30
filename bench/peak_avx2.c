/* bench/peak_avx2.c - peak loops of the avx2 tier (bench/peak.h): its int8
 * product step (vpmaddubsw, vpmaddwd by ones, vpaddd: the GEMM's inner
 * step) and the 8-lane FMA.  Built with AVX2 flags; run only when the tier
 * is.  In assembly: C would hoist the product of loop-invariant operands,
 * or keep the accumulators in memory.  One temporary (renamed by the core)
 * serves all the int8 chains. */
#include <immintrin.h>
#include <string.h>

#include "peak.h"

#define ACC_OUT                                                                                                        \
    [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4), [a5] "+x"(a5), [a6] "+x"(a6),          \
        [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9), [a10] "+x"(a10), [a11] "+x"(a11)
#define ALL(S) S("a0") S("a1") S("a2") S("a3") S("a4") S("a5") S("a6") S("a7") S("a8") S("a9") S("a10") S("a11")
#define I8(A) "vpmaddubsw %[x], %[w], %%ymm15\n\tvpmaddwd %[o], %%ymm15, %%ymm15\n\tvpaddd %%ymm15, %[" A "], %[" A "]\n\t"
#define FMA(A) "vfmadd231ps %[x], %[w], %[" A "]\n\t"

static uint32_t fold(__m256i a0, __m256i a1, __m256i a2, __m256i a3, __m256i a4, __m256i a5, __m256i a6, __m256i a7,
                     __m256i a8, __m256i a9, __m256i a10, __m256i a11)
{
    __m256i s = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)),
                                 _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7)));
    s = _mm256_xor_si256(s, _mm256_xor_si256(_mm256_xor_si256(a8, a9), _mm256_xor_si256(a10, a11)));
    uint32_t v[8];
    memcpy(v, &s, sizeof v);
    return v[0] ^ v[7];
}

uint32_t llx_peak_avx2_i8(long iters, int seed)
{
    const __m256i w = _mm256_set1_epi32(seed | 0x01010101), x = _mm256_set1_epi32(seed ^ 0x02030405);
    const __m256i o = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++)
        __asm__ volatile(ALL(I8) : ACC_OUT : [w] "x"(w), [x] "x"(x), [o] "x"(o) : "xmm15");
    return fold(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
}

uint32_t llx_peak_fma256(long iters, int seed)
{
    const __m256 w = _mm256_set1_ps(1.0f + 1e-7f * (float)(seed & 7)), x = _mm256_set1_ps(0.5f);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
           a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++) __asm__ volatile(ALL(FMA) : ACC_OUT : [w] "x"(w), [x] "x"(x));
    return fold(_mm256_castps_si256(a0), _mm256_castps_si256(a1), _mm256_castps_si256(a2), _mm256_castps_si256(a3),
                _mm256_castps_si256(a4), _mm256_castps_si256(a5), _mm256_castps_si256(a6), _mm256_castps_si256(a7),
                _mm256_castps_si256(a8), _mm256_castps_si256(a9), _mm256_castps_si256(a10), _mm256_castps_si256(a11));
}
