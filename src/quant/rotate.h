/* quant/rotate.h - function-preserving transforms of fp32 weights: folding
 * a norm's affine part into the linears it feeds, centring what GPT-2
 * writes into its residual stream, and orthogonal Hadamard rotations
 * (QuaRot / SpinQuant R1, R2, R4).  docs/quantization.md derives each.
 *
 * Vectors are columns.  A rotation is the orthogonal matrix
 *   Q = (H_n / sqrt(n)) S,  S = diag(signs) (signs NULL: S = I),
 * H_n the Hadamard matrix of kernels/hadamard.h, applied in double
 * precision.  Rotating the residual stream x -> Q x keeps the model's
 * function when
 *   - rows of matrices that read the (normalised) stream, and embedding
 *     rows, become Q w (llx_rot_rows): W Q^T (Q x) = W x;
 *   - columns of matrices that write into the stream, and their biases,
 *     become Q w (llx_rot_cols): the branch arrives rotated;
 *   - the norm commutes with Q: RMSNorm without weight does
 *     (|Q x| = |x|), so norm weights are folded first and GPT-2's
 *     LayerNorm mean subtraction is made a no-op by centring. */
#ifndef LLX_QUANT_ROTATE_H
#define LLX_QUANT_ROTATE_H

#include <stdint.h>

#include "kernels/hadamard.h"
#include "llx/status.h"

/* v (h->n) <- Q v, in place. */
void llx_rot_apply_f64(const llx_hadamard *h, const int8_t *signs, double *v);

/* every row of w (R x n) <- Q row (LLX_ERR_NOMEM for the scratch vector) */
llx_status llx_rot_rows(float *w, int R, const llx_hadamard *h, const int8_t *signs);
/* every column of w (n x K) <- Q column */
llx_status llx_rot_cols(float *w, int K, const llx_hadamard *h, const int8_t *signs);
/* a vector of n values <- Q v */
llx_status llx_rot_vec(float *v, const llx_hadamard *h, const int8_t *signs);
/* in every row of w (R x K), each segment [s*n, (s+1)*n) <- Q segment
 * (K a multiple of n: per-head rotation of the attention output's columns) */
llx_status llx_rot_row_segments(float *w, int R, int K, const llx_hadamard *h);

/* n random signs (+1 / -1) from seed. */
void llx_rot_signs(int8_t *signs, int n, uint64_t seed);

/* A norm y = g * xhat + b feeding y -> W y + c: W <- W diag(g), and
 * c <- c + W b (with the original W, summed in double) when b is given. */
void llx_fold_norm(float *w, int R, int K, float *c, const float *g, const float *b);

/* Make a matrix's outputs zero-mean: W <- (I - 1 1^T / R) W, and its bias
 * c <- c - mean(c) (c may be NULL). */
void llx_center_out(float *w, int R, int K, float *c);
/* Each of n rows of width C minus its mean (embedding tables). */
void llx_center_rows(float *x, int n, int C);

#endif
