/* model/wscan_avx512.c - the AVX-512 tier of the load passes (model/wscan.h):
 * the .llx checksum of a float tensor with its four 64-bit lanes in one
 * ymm register (AVX-512DQ/VL's 64-bit multiply and rotate), the NaN/Inf
 * check an AND, an ADD and an OR per 32 bytes beside it.  The conversions
 * are the AVX2 tier's. */
#include <immintrin.h>

#include "model/wscan.h"

#ifdef LLX_WSCAN_NO_CHECK
#define NF(acc, expr) ((void)sizeof(expr)) /* expr is not evaluated */
#else
#define NF(acc, expr) ((acc) = _mm256_or_si256((acc), (expr)))
#endif

static uint64_t hash_float_avx512(const void *data, size_t n, uint64_t seed, int f16, int *bad)
{
    const char *p = data;
    const __m256i k1 = _mm256_set1_epi64x((long long)0x9E3779B97F4A7C15ull);
    const __m256i k2 = _mm256_set1_epi64x((long long)0xC2B2AE3D27D4EB4Full);
    const __m256i ex = _mm256_set1_epi64x((long long)(f16 ? 0x7c007c007c007c00ull : 0x7f8000007f800000ull));
    const __m256i step = _mm256_set1_epi64x((long long)(f16 ? 0x0400040004000400ull : 0x0080000000800000ull));
    static const uint64_t s[4] = {LLX_HASH_SEEDS};
    __m256i h = _mm256_xor_si256(_mm256_set1_epi64x((long long)seed), _mm256_loadu_si256((const __m256i *)s));
    __m256i nf = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(p + i));
        h = _mm256_xor_si256(h, _mm256_mullo_epi64(w, k1));
        h = _mm256_mullo_epi64(_mm256_rol_epi64(h, 31), k2);
        NF(nf, _mm256_add_epi64(_mm256_and_si256(w, ex), step));
    }
    uint64_t l[4], a[4];
    _mm256_storeu_si256((__m256i *)l, h);
    _mm256_storeu_si256((__m256i *)a, nf);
    return llx_wscan_hash_tail((const uint8_t *)p, i, n, l, a[0] | a[1] | a[2] | a[3], f16, bad);
}

void llx_wscan_fill_avx512(llx_wscan *w)
{
    w->name = "avx512";
    w->hash_float = hash_float_avx512;
}
