/* quant/rotate.h - function-preserving transforms of fp32 weights: folding
 * a norm's affine part into the linears it feeds, and orthogonal Hadamard
 * rotations (QuaRot / SpinQuant R1, R2, R4).  docs/quantization.md derives
 * each.
 *
 * Vectors are columns.  A rotation is an orthogonal n x n matrix Q built
 * from H_n, the Hadamard matrix of kernels/hadamard.h (H~ = H_n / sqrt(n)),
 * and random signs D = diag(d):
 *   signed: Q = H~ D (QuaRot's randomised Hadamard: V/O per head, and the
 *           online transform before the down projection).  The signs keep a
 *           vector's mean from landing in one coefficient (H~ 1 = sqrt(n)
 *           e_0): a GELU output's positive mean would otherwise become one
 *           outlier;
 *   mixing: Q = H~^T D H~ with d_k = +1 wherever
 *           (H~ 1)_k != 0, so Q 1 = Q^T 1 = 1: Q keeps the all-ones
 *           direction and therefore commutes with LayerNorm's mean
 *           subtraction, LN0(Q x) = Q LN0(x) (LN0: LayerNorm without weight
 *           and bias; RMSNorm commutes with any Q).  Its entries are sums
 *           of n random signs over n, of the order 1/sqrt(n): it spreads
 *           any channel over all of them.
 * Rotating the residual stream x -> Q x keeps the model's function when
 *   - rows of matrices that read the (normalised) stream, and embedding
 *     rows, become Q w (llx_rot_rows): W Q^T (Q x) = W x;
 *   - columns of matrices that write into the stream, and their biases,
 *     become Q w (llx_rot_cols): the branch arrives rotated;
 *   - the norms' weights and biases were folded into what they feed first
 *     (llx_fold_norm): diag(g) does not commute with Q.
 * A rotation may also be any orthogonal matrix given densely
 * (llx_rot_init_dense: a learned R1 or R2 from a rotation file).
 * Everything is computed in double precision and rounded once. */
#ifndef LLX_QUANT_ROTATE_H
#define LLX_QUANT_ROTATE_H

#include <stdint.h>

#include "kernels/hadamard.h"
#include "llx/status.h"

typedef struct llx_rotation {
    llx_hadamard h; /* h.n: the order (the only field set for a dense Q) */
    int8_t *d;      /* the signs */
    int mix;        /* Q = H~^T D H~ (else H~ D) */
    double *q;      /* a dense Q (n x n, row-major) from a rotation file, or NULL */
    double *tmp;    /* n values of scratch for a dense Q (one rotation: one thread) */
} llx_rotation;

/* A signed (mix 0) or mixing (mix 1) rotation of order n with the signs
 * of seed; LLX_ERR_UNSUPPORTED with one line when n has no Hadamard
 * matrix. */
llx_status llx_rot_init(llx_rotation *r, int n, uint64_t seed, int mix);
/* A dense rotation: a copy of the n x n row-major q (orthogonal: the
 * caller checked it, rotfile.h). */
llx_status llx_rot_init_dense(llx_rotation *r, int n, const double *q);
void llx_rot_free(llx_rotation *r);

/* v (n) <- Q v, in place. */
void llx_rot_apply_f64(const llx_rotation *r, double *v);

/* every row of w (R x n) <- Q row (LLX_ERR_NOMEM for the scratch vector) */
llx_status llx_rot_rows(float *w, int R, const llx_rotation *r);
/* every column of w (n x K) <- Q column */
llx_status llx_rot_cols(float *w, int K, const llx_rotation *r);
/* a vector of n values <- Q v */
llx_status llx_rot_vec(float *v, const llx_rotation *r);
/* in every row of w (R x K), each segment [s*n, (s+1)*n) <- Q segment
 * (K a multiple of n: per-head rotation of the attention output's columns) */
llx_status llx_rot_row_segments(float *w, int R, int K, const llx_rotation *r);

/* A norm y = g * xhat + b feeding y -> W y + c: W <- W diag(g), and
 * c <- c + W b (with the original W, summed in double) when b is given. */
void llx_fold_norm(float *w, int R, int K, float *c, const float *g, const float *b);

#endif
