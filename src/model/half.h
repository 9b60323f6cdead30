/* model/half.h - exact conversions between fp32 and the 16-bit float formats
 * stored in checkpoints (IEEE binary16 "F16" and bfloat16 "BF16").
 *
 * Widening is exact for every bit pattern (subnormals, infinities, NaN
 * payloads).  Narrowing rounds to nearest, ties to even; NaNs stay NaN. */
#ifndef LLX_MODEL_HALF_H
#define LLX_MODEL_HALF_H

#include <stdint.h>
#include <string.h>

static inline float llx_bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t llx_f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float llx_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return llx_bits_to_f32(sign | 0x7f800000u | (man << 13)); /* inf, nan */
    if (exp != 0) return llx_bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
    if (man == 0) return llx_bits_to_f32(sign); /* +-0 */
    /* subnormal: man * 2^-24, normalised */
    int e = 113; /* biased fp32 exponent of 2^-14 */
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return llx_bits_to_f32(sign | ((uint32_t)e << 23) | ((man & 0x3ffu) << 13));
}

static inline uint16_t llx_f32_to_f16(float f)
{
    uint32_t u = llx_f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0)); /* inf, nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    uint32_t m;
    int shift;
    if (e >= 1) { /* normal result: 10 mantissa bits from 23 */
        m = man;
        shift = 13;
    } else { /* subnormal (or zero) result */
        if (e < -10) return sign; /* below half the smallest subnormal */
        m = man | 0x800000u;
        shift = 14 - e;
        e = 0;
    }
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    /* a rounding carry out of the mantissa rolls into the exponent, which is
     * the right answer (up to and including overflow to inf) */
    return (uint16_t)(sign | (((uint32_t)e << 10) + q));
}

static inline float llx_bf16_to_f32(uint16_t h) { return llx_bits_to_f32((uint32_t)h << 16); }

static inline uint16_t llx_f32_to_bf16(float f)
{
    uint32_t u = llx_f32_to_bits(f);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif
