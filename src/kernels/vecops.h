/* kernels/vecops.h - the float operations of the LN&Res and MHA kernels and
 * the MLP activation, as scalar reference code.
 *
 * exp, GELU and softmax are defined by explicit formulas (below) rather
 * than by libm, so the AVX2 versions in the kernel table reproduce them bit
 * for bit:
 *   llx_exp(x)  = p(r) * 2^n with x clamped to [-87, 88], n = rint(x log2 e),
 *                 r = x - n ln2 (two fused steps, ln2 split hi/lo) and p a
 *                 degree-7 polynomial in Horner form with fused multiply-adds;
 *                 about 1 ulp from e^x.
 *   gelu(x)     = x / (1 + llx_exp(-2u)), u = 0.7978845608 (x + 0.044715 x^3)
 *                 (== 0.5 x (1 + tanh(u)), GPT-2's gelu_new)
 *   softmax(x)  = e_i / S, e_i = llx_exp(x_i - max), S summed in 8 lanes
 *                 (lane j takes i = j mod 8 below n & ~7; lanes combined as
 *                 ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); then the tail in order);
 *                 the division is a multiply by 1/S.
 *   silu(x)     = x / (1 + llx_exp(-x))
 *   the LayerNorm and RMSNorm sums use the same 8-lane blocking. */
#ifndef LLX_VECOPS_H
#define LLX_VECOPS_H

/* out (C) = (x - mean) * rstd * g + b: mean = S(x)/C, var = S((x-mean)^2)/C,
 * rstd = 1/sqrt(var + eps), S the 8-lane blocked sum described above. */
void llx_layernorm_f32(float *out, const float *x, const float *g, const float *b, int C, float eps);

/* out (C) = (x * rstd) * g: rstd = 1/sqrt(S(x*x)/C + eps) (Llama's RMSNorm:
 * weight * (x * rsqrt(mean(x^2) + eps))), S the 8-lane blocked sum. */
void llx_rmsnorm_f32(float *out, const float *x, const float *g, int C, float eps);

/* Rotary embedding of one head (rotate_half on the halves): for i < half,
 * a = x[i], b = x[i + half], c = cs[i], s = cs[half + i]:
 * x[i] = a*c - b*s, x[i + half] = b*c + a*s (each product rounded, then the sum). */
void llx_rope_f32(float *x, const float *cs, int half);

float llx_exp_ref(float x);
float llx_gelu1(float x);
/* in place over n values (the reference kernels) */
void llx_gelu_f32(float *x, int n);
float llx_silu1(float x);
void llx_silu_f32(float *x, int n);
void llx_softmax_f32(float *x, int n);

/* y (n) += x (n) */
void llx_add_f32(float *y, const float *x, int n);

#endif
