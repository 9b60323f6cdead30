/* quant/linalg.h - the dense linear algebra of GPTQ on n x n doubles,
 * row-major: the Cholesky factor, the inverse of a lower factor and the
 * upper Cholesky factor of an inverse.
 *
 * Each routine gives every output element exactly the operations of the
 * plain loop written in its comment, in the same order (each product and
 * each sum rounded as there: nothing is reassociated), so the results are
 * bit-identical to those loops; tests/test_linalg.c keeps the plain loops
 * as the reference.  What changes is the order in which the elements are
 * visited: blocks that stay in cache and inner loops over contiguous,
 * independent elements in register tiles (linalg_tile.h), where the plain
 * loops walk columns of an n x n matrix or chain every step on the one
 * before.  For the widths of a
 * real model (Llama-3.2-1B's down_proj: n = 8192) that is the difference
 * between minutes and seconds per matrix.  The upper factor of an inverse
 * is built from the first two on a reordered copy: the same values as the
 * plain route through H^-1 up to rounding, not the same bits. */
#ifndef LLX_QUANT_LINALG_H
#define LLX_QUANT_LINALG_H

#include "quant/linalg_tile.h"
#include "util/pool.h"

/* Cholesky factorisation in place: a (n x n, symmetric positive definite)
 * becomes its lower factor L (a = L L^T; the upper triangle is left as it
 * was).  Returns 1, or 0 when a is not positive definite (a is then partly
 * overwritten), or -1 when memory runs out (a unchanged). */
int llx_cholesky(double *a, int n);
/* The same with its rows shared by the members of pool (NULL: this
 * thread); each row is computed whole by one member, so the result does
 * not depend on the pool.  The trailing updates run in the register tiles
 * of `tier` (NULL: the best this CPU has, linalg_tile.h); every tier gives
 * the same bits. */
int llx_cholesky_pool(double *a, int n, llx_pool *pool, const llx_la_tier *tier);

/* L (lower triangle of a) -> L^-1 in place (lower triangle); the upper
 * triangle is left as it was.  Returns -1 when memory runs out (a
 * unchanged), else 0.  Rows shared by pool as above. */
int llx_invert_lower(double *a, int n, llx_pool *pool, const llx_la_tier *tier);

/* u = the upper Cholesky factor of a^-1 (u upper triangular with a
 * positive diagonal, u^T u = a^-1, zeros below the diagonal): what GPTQ
 * moves each column's quantization error with.  a (n x n, symmetric
 * positive definite) is read in its lower triangle only and left as it
 * is; u must not overlap it.  One Cholesky factorisation and one
 * triangular inverse, of a with its order reversed, rows shared by pool as
 * above.  Returns 1, 0 when a is not positive definite, -1 when memory
 * runs out. */
int llx_inverse_upper_factor(const double *a, int n, double *u, llx_pool *pool, const llx_la_tier *tier);

/* y[j] += v x[j] for j < n (each element one product and one sum, as the
 * plain loop; y and x do not overlap). */
void llx_axpy(double *y, const double *x, double v, int n);

/* d[r][k] = sum_i e[r][i] u[i][k] for r < nr, k < nk (B rows of u, ld
 * apart; d's rows ldd apart, e's lde), each sum from 0 in ascending i:
 * GPTQ's lazy update of the columns after a block, for nr rows of W at
 * once (register tiles of `tier`, NULL: the best). */
void llx_lazy_sums(double *d, size_t ldd, const double *e, size_t lde, const double *u, size_t ld, int nr, int B,
                   int nk, const llx_la_tier *tier);

#endif
