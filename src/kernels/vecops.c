/* kernels/vecops.c - see vecops.h for the exact formulas. */
#include "kernels/vecops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* the 8-lane blocked sum of vecops.h */
static float lanes_sum(const float *l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

void llx_layernorm_f32(float *out, const float *x, const float *g, const float *b, int C, float eps)
{
    const int C8 = C & ~7;
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < C8; i++) l[i & 7] += x[i];
    float s = lanes_sum(l);
    for (int i = C8; i < C; i++) s += x[i];
    const float mean = s / (float)C;
    for (int k = 0; k < 8; k++) l[k] = 0.0f;
    for (int i = 0; i < C8; i++) {
        const float d = x[i] - mean;
        l[i & 7] += d * d;
    }
    float v = lanes_sum(l);
    for (int i = C8; i < C; i++) {
        const float d = x[i] - mean;
        v += d * d;
    }
    const float rstd = 1.0f / sqrtf(v / (float)C + eps);
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

void llx_rmsnorm_f32(float *out, const float *x, const float *g, int C, float eps)
{
    const int C8 = C & ~7;
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < C8; i++) l[i & 7] += x[i] * x[i];
    float s = lanes_sum(l);
    for (int i = C8; i < C; i++) s += x[i] * x[i];
    const float rstd = 1.0f / sqrtf(s / (float)C + eps);
    for (int i = 0; i < C; i++) out[i] = x[i] * rstd * g[i];
}

void llx_rope_f32(float *x, const float *cs, int half)
{
    for (int i = 0; i < half; i++) {
        const float a = x[i], b = x[i + half], c = cs[i], s = cs[half + i];
        const float ac = a * c, bs = b * s, bc = b * c, as = a * s;
        x[i] = ac - bs;
        x[i + half] = bc + as;
    }
}

float llx_exp_ref(float x)
{
    if (x != x) return x;
    if (x < -87.0f) x = -87.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = rintf(x * 1.44269504088896341f);
    float r = fmaf(n, -0.693145751953125f, x);
    r = fmaf(n, -1.428606765330187e-06f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float llx_gelu1(float x)
{
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + llx_exp_ref(-2.0f * u));
}

void llx_gelu_f32(float *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = llx_gelu1(x[i]);
}

float llx_silu1(float x) { return x / (1.0f + llx_exp_ref(-x)); }

void llx_silu_f32(float *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = llx_silu1(x[i]);
}

void llx_softmax_f32(float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int n8 = n & ~7;
    for (int i = 0; i < n8; i++) l[i & 7] += x[i] = llx_exp_ref(x[i] - m);
    float s = lanes_sum(l);
    for (int i = n8; i < n; i++) s += x[i] = llx_exp_ref(x[i] - m);
    const float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void llx_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += x[i];
}
