/* kernels/vecops.h - element-wise and row-wise float operations of the
 * LN&Res and MHA kernels.  Scalar only: they touch O(C) data per token, far
 * off the weight-streaming critical path, and libm keeps them exact and
 * portable (the same bits on every node and every ISA). */
#ifndef LLX_VECOPS_H
#define LLX_VECOPS_H

/* out (C) = (x - mean) / sqrt(var + eps) * g + b, two-pass mean/variance. */
void llx_layernorm_f32(float *out, const float *x, const float *g, const float *b, int C, float eps);

/* tanh approximation of GELU (GPT-2's gelu_new), in place over n values,
 * computed as x / (1 + expf(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
void llx_gelu_f32(float *x, int n);
float llx_gelu1(float x);

/* x (n) = softmax(x) in place; returns nothing, max-subtracted. */
void llx_softmax_f32(float *x, int n);

/* y (n) += x (n) */
void llx_add_f32(float *y, const float *x, int n);

#endif
