/* kernels/hadamard.h - Hadamard matrices of order n = m * 2^k and the fast
 * Walsh-Hadamard transform (FWHT) that applies them.
 *
 * H_n = H_m (x) H_p, p = 2^k (Sylvester), m = 1 or the order of a Paley
 * matrix: Paley I for a prime q = 3 mod 4 (order q + 1: 4, 8, 12, 20, 24,
 * 32, 44, 48, ...) or Paley II for a prime q = 1 mod 4 (order 2(q + 1): 12,
 * 28, 36, 60, ...).  m is the smallest such order that makes n = m * 2^k,
 * so 768 = 12 * 64, 640 = 20 * 32, 3072 = 12 * 256.  Sizes with no such
 * factorisation (e.g. 172 * 2^k) are refused.
 *
 * The normalised transform y = (H_n / sqrt(n)) x is orthogonal.  For a
 * vector x of n values read as m rows of p (x[i*p + j]):
 *   1. every row: FWHT stages h = 1, 2, 4, ..., p/2; each stage replaces
 *      (x[j], x[j+h]) by (x[j] + x[j+h], x[j] - x[j+h]) for j with bit h clear;
 *   2. if m > 1, every column j: y[i][j] = sum over l = 0 .. m-1, in order,
 *      of H_m[i][l] * x[l][j] (the first term taken with its sign, then one
 *      add or subtract per l);
 *   3. every value times `scale` = (float)(1 / sqrt(n)).
 * Each step is a fixed sequence of fp32 adds and one multiply per element,
 * so any vectorisation that keeps the steps gives identical results.
 * `transpose` uses H_m^T in step 2 (H_p is symmetric): the inverse. */
#ifndef LLX_KERNELS_HADAMARD_H
#define LLX_KERNELS_HADAMARD_H

#include <stdint.h>

#define LLX_HAD_MAX_M 128 /* largest Paley factor used */

typedef struct llx_hadamard {
    int n, m, p, log2p;
    int transpose;
    float scale;                               /* (float)(1 / sqrt(n)) */
    int8_t hm[LLX_HAD_MAX_M * LLX_HAD_MAX_M]; /* H_m (or H_m^T), +1 / -1, row-major */
} llx_hadamard;

/* Smallest Paley order m (or 1) with n = m * 2^k; 0 when there is none. */
int llx_hadamard_factor(int n);

/* Fill h for size n (transpose: the inverse).  Returns 0 when n < 1 or n
 * has no factorisation (llx_hadamard_factor), 1 otherwise. */
int llx_hadamard_init(llx_hadamard *h, int n, int transpose);

/* H_m of a Paley order m (or m = 1, 2) into out[m*m]; 0 if m is not one.
 * Rows are orthogonal: H_m H_m^T = m I (checked when built). */
int llx_hadamard_small(int m, int8_t *out);

/* The reference transform of T vectors, x[t*ld .. t*ld + n), in place. */
void llx_fwht_f32_ref(float *x, int T, int ld, const llx_hadamard *h);

#endif
