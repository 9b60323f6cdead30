/* tests/rotfile_util.h - rotation files for tests (docs/formats.md): random
 * orthogonal R1/R2 for a model's config, as bytes or as a file, and W4A4
 * models quantized with them, or with the online R4 alone (rotfile_util.c). */
#ifndef LLX_TEST_ROTFILE_UTIL_H
#define LLX_TEST_ROTFILE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "llx/config.h"

/* A random orthogonal n x n matrix (row-major) of seed (Gram-Schmidt on
 * Gaussian columns); keep_ones: Q 1 = 1 as well (GPT-2's R1). */
void llx_test_random_orthogonal(double *q, int n, uint64_t seed, int keep_ones);
/* A rotation file for config c: R1 random orthogonal (keeping the ones for
 * GPT-2), each layer's R2 random orthogonal of another seed; values fp64
 * (f64) or fp32.  malloc'ed; *size its bytes. */
uint8_t *llx_test_rotfile_image(const llx_config *c, uint64_t seed, int f64, size_t *size);
/* That image written to the run's tmpdir as name (NULL on failure). */
const char *llx_test_rotfile_write(const char *name, const llx_config *c, uint64_t seed);
/* W4A4 RTN per row rotated by such a file (seed 3), int8 KV, an int4 LM
 * head, activations clipped at 0.875 (low-bit variant 2's options
 * otherwise): of the small serve GPT-2 (llama 0) or of the synthetic Llama
 * of Paley widths (llama 1).  *rot gets the rotation file's path. */
const char *llx_fixture_rotfile_lowbit(int llama, const char **rot);
/* RTN with the online R4 alone (--rotate r4; norms unfolded, no R1/R2):
 * v 0 W4A4 per row, int8 KV, an int4 LM head, clipped at 0.875 (variant
 * 2's options otherwise); v 1 W4A8 groups of 32, fp16 scales, dynamic,
 * fp32 KV (variant 1's, rounded to nearest); of the small serve GPT-2
 * (llama 0) or the Paley Llama (llama 1).  *what gets a description. */
const char *llx_fixture_r4_lowbit(int llama, int v, const char **what);

#endif
