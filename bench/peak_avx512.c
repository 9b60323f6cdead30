/* bench/peak_avx512.c - peak loops of the avx512 tier (bench/peak.h): one
 * vpdpbusd (AVX-512 VNNI, the GEMM's inner step) and the 16-lane FMA, in
 * assembly as in peak_avx2.c.  Built with AVX-512 flags; run only when the
 * tier is. */
#include <immintrin.h>
#include <string.h>

#include "peak.h"

#define ACC_OUT                                                                                                        \
    [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5), [a6] "+v"(a6),          \
        [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9), [a10] "+v"(a10), [a11] "+v"(a11)
#define ALL(S) S("a0") S("a1") S("a2") S("a3") S("a4") S("a5") S("a6") S("a7") S("a8") S("a9") S("a10") S("a11")
#define DP(A) "vpdpbusd %[x], %[w], %[" A "]\n\t"
#define FMA(A) "vfmadd231ps %[x], %[w], %[" A "]\n\t"

static uint32_t fold(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i a4, __m512i a5, __m512i a6, __m512i a7,
                     __m512i a8, __m512i a9, __m512i a10, __m512i a11)
{
    __m512i s = _mm512_xor_si512(_mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)),
                                 _mm512_xor_si512(_mm512_xor_si512(a4, a5), _mm512_xor_si512(a6, a7)));
    s = _mm512_xor_si512(s, _mm512_xor_si512(_mm512_xor_si512(a8, a9), _mm512_xor_si512(a10, a11)));
    uint32_t v[16];
    memcpy(v, &s, sizeof v);
    return v[0] ^ v[15];
}

uint32_t llx_peak_vnni512(long iters, int seed)
{
    const __m512i w = _mm512_set1_epi32(seed | 0x01010101), x = _mm512_set1_epi32(seed ^ 0x02030405);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++) __asm__ volatile(ALL(DP) : ACC_OUT : [w] "v"(w), [x] "v"(x));
    return fold(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
}

uint32_t llx_peak_fma512(long iters, int seed)
{
    const __m512 w = _mm512_set1_ps(1.0f + 1e-7f * (float)(seed & 7)), x = _mm512_set1_ps(0.5f);
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
           a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++) __asm__ volatile(ALL(FMA) : ACC_OUT : [w] "v"(w), [x] "v"(x));
    return fold(_mm512_castps_si512(a0), _mm512_castps_si512(a1), _mm512_castps_si512(a2), _mm512_castps_si512(a3),
                _mm512_castps_si512(a4), _mm512_castps_si512(a5), _mm512_castps_si512(a6), _mm512_castps_si512(a7),
                _mm512_castps_si512(a8), _mm512_castps_si512(a9), _mm512_castps_si512(a10), _mm512_castps_si512(a11));
}
