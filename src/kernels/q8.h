/* kernels/q8.h - the arithmetic primitives of the W8A8 datapath, shared by
 * the engine, the quantizer and the tests.  docs/quantization.md states the
 * exact formulas; these functions are their single definition. */
#ifndef LLX_KERNELS_Q8_H
#define LLX_KERNELS_Q8_H

#include <math.h>
#include <stdint.h>

/* round half to even, clamp to [-127, 127] (NaN -> -127, as the vector
 * conversion's integer-indefinite result clamps) */
static inline int8_t llx_q8(float v)
{
    float r = rintf(v);
    if (!(r >= -127.0f)) r = -127.0f;
    if (r > 127.0f) r = 127.0f;
    return (int8_t)r;
}

/* Per-token (dynamic) quantization of n values: amax = max |x|,
 * q = q8(x * 127/amax), *scale = amax/127 (all zero: q = 0, scale = 0). */
static inline void llx_quantize_dynamic(const float *x, int n, int8_t *q, float *scale)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < n; i++) q[i] = llx_q8(x[i] * inv);
    *scale = amax / 127.0f;
}

/* Per-token asymmetric int4 (the W4A4 activations): the range [mn, mx]
 * of the n values widened to include 0, then clipped by the ratio `clip`
 * in (0, 1] (mn = clip * mn, mx = clip * mx; 1 leaves it unchanged, bit
 * for bit), s = (mx - mn) / 15, inv = 15 / (mx - mn), the zero point z =
 * rint(-mn * inv) in [0, 15], the 4-bit code c = clamp(rint(x * inv) + z,
 * 0, 15) (NaN -> 0; values beyond the clipped range saturate), and q = c -
 * z in [-15, 15] is what the int4 GEMM multiplies, so s * q stands for x.
 * All zero: q = 0, *scale = 0.  Sets *zero to z (the code of 0.0). */
static inline void llx_quantize_a4(const float *x, int n, float clip, int8_t *q, float *scale, int *zero)
{
    float mn = 0.0f, mx = 0.0f;
    for (int i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    mn *= clip;
    mx *= clip;
    const float range = mx - mn;
    const float inv = range > 0.0f ? 15.0f / range : 0.0f;
    const float z = rintf(-mn * inv);
    for (int i = 0; i < n; i++) {
        float c = rintf(x[i] * inv) + z;
        if (!(c >= 0.0f)) c = 0.0f;
        if (c > 15.0f) c = 15.0f;
        q[i] = (int8_t)((int)c - (int)z);
    }
    *scale = range / 15.0f;
    *zero = (int)z;
}

#endif
