/* kernels/fwht_avx2.c - the fast Walsh-Hadamard transform (hadamard.h) in
 * 8 lanes: butterflies of stride 8 and more between vectors, strides 4, 2
 * and 1 inside one vector (each lane still one add or subtract of the same
 * two values), the Paley factor's column mixing 8 columns at a time, then
 * the scale.  Same operations as llx_fwht_f32_ref, so the same bits.  Built
 * with AVX2 flags; the avx512 tier uses it as well. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

void llx_fwht_f32_avx2(float *x, int T, int ld, const llx_hadamard *h);

/* stride hs in {1, 2, 4}: lanes with bit hs clear get a + b, the others a - b */
static inline __m256 inlane(__m256 v, int hs)
{
    __m256 a, b;
    int blend;
    if (hs == 4) {
        a = _mm256_permute2f128_ps(v, v, 0x00), b = _mm256_permute2f128_ps(v, v, 0x11), blend = 0xf0;
    } else if (hs == 2) {
        a = _mm256_permute_ps(v, 0x44), b = _mm256_permute_ps(v, 0xee), blend = 0xcc;
    } else {
        a = _mm256_permute_ps(v, 0xa0), b = _mm256_permute_ps(v, 0xf5), blend = 0xaa;
    }
    const __m256 s = _mm256_add_ps(a, b), d = _mm256_sub_ps(a, b);
    switch (blend) {
    case 0xf0: return _mm256_blend_ps(s, d, 0xf0);
    case 0xcc: return _mm256_blend_ps(s, d, 0xcc);
    default: return _mm256_blend_ps(s, d, 0xaa);
    }
}

static void fwht_row(float *r, int p)
{
    for (int j = 0; j < p; j += 8) {
        __m256 v = _mm256_loadu_ps(r + j);
        v = inlane(v, 1), v = inlane(v, 2), v = inlane(v, 4);
        _mm256_storeu_ps(r + j, v);
    }
    for (int hs = 8; hs < p; hs *= 2)
        for (int j0 = 0; j0 < p; j0 += 2 * hs)
            for (int j = j0; j < j0 + hs; j += 8) {
                const __m256 a = _mm256_loadu_ps(r + j), b = _mm256_loadu_ps(r + j + hs);
                _mm256_storeu_ps(r + j, _mm256_add_ps(a, b));
                _mm256_storeu_ps(r + j + hs, _mm256_sub_ps(a, b));
            }
}

static void mix_columns(float *x, const llx_hadamard *h)
{
    const int m = h->m, p = h->p;
    __m256 col[LLX_HAD_MAX_M];
    for (int j = 0; j < p; j += 8) {
        for (int l = 0; l < m; l++) col[l] = _mm256_loadu_ps(x + (size_t)l * p + j);
        for (int i = 0; i < m; i++) {
            const int8_t *hi = h->hm + i * m;
            __m256 acc = hi[0] > 0 ? col[0] : _mm256_xor_ps(col[0], _mm256_set1_ps(-0.0f)); /* exact negation */
            for (int l = 1; l < m; l++) acc = hi[l] > 0 ? _mm256_add_ps(acc, col[l]) : _mm256_sub_ps(acc, col[l]);
            _mm256_storeu_ps(x + (size_t)i * p + j, acc);
        }
    }
}

void llx_fwht_f32_avx2(float *x, int T, int ld, const llx_hadamard *h)
{
    if (h->p < 8) { /* a factor of fewer than 8 columns: the reference */
        llx_fwht_f32_ref(x, T, ld, h);
        return;
    }
    const __m256 sc = _mm256_set1_ps(h->scale);
    for (int t = 0; t < T; t++) {
        float *v = x + (size_t)t * ld;
        for (int i = 0; i < h->m; i++) fwht_row(v + (size_t)i * h->p, h->p);
        if (h->m > 1) mix_columns(v, h);
        for (int i = 0; i < h->n; i += 8) _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), sc));
    }
}
