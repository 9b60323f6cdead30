/* kernels/vecops.c - see vecops.h. */
#include "kernels/vecops.h"

#include <math.h>

void llx_layernorm_f32(float *out, const float *x, const float *g, const float *b, int C, float eps)
{
    float mean = 0.0f;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= (float)C;
    float var = 0.0f;
    for (int i = 0; i < C; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)C;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

/* 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)) exactly; one expf is several
 * times cheaper than tanhf. */
float llx_gelu1(float x)
{
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x); /* sqrt(2/pi) (x + 0.044715 x^3) */
    return x / (1.0f + expf(-2.0f * u));
}

void llx_gelu_f32(float *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = llx_gelu1(x[i]);
}

void llx_softmax_f32(float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    const float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void llx_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += x[i];
}
