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

#endif
