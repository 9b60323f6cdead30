/* util/rng.h - small deterministic PRNG (xoshiro256**, seeded by splitmix64).
 * The same seed gives the same stream on every platform; used by sampling and
 * by the synthetic checkpoint writer. */
#ifndef LLX_UTIL_RNG_H
#define LLX_UTIL_RNG_H

#include <stdint.h>

typedef struct llx_rng {
    uint64_t s[4];
} llx_rng;

void llx_rng_seed(llx_rng *r, uint64_t seed);
uint64_t llx_rng_u64(llx_rng *r);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float llx_rng_float(llx_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double llx_rng_double(llx_rng *r);
/* Standard normal (Box-Muller). */
double llx_rng_normal(llx_rng *r);

#endif
