/* kernels/kernels_ref.c - scalar reference kernels: the specification every
 * optimised kernel is tested against.  Plain loops, no ISA assumptions. */
#include "kernels/kernels.h"

static void matmul_f32_ref(float *out, int ldo, const float *x, int ldx, const float *w, const float *bias, int T,
                           int R, int K)
{
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        for (int r = 0; r < R; r++) {
            const float *wr = w + (size_t)r * K;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += wr[k] * xt[k];
            out[(size_t)t * ldo + r] = bias ? s + bias[r] : s;
        }
    }
}

static void matmul_i8_ref(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *w, int T, int R, int K)
{
    for (int t = 0; t < T; t++) {
        const int8_t *xt = x + (size_t)t * ldx;
        for (int r = 0; r < R; r++) {
            const int8_t *wr = w + (size_t)r * K;
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)wr[k] * (int32_t)xt[k];
            acc[(size_t)t * lda + r] = s;
        }
    }
}

static float dot_f32_ref(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static int32_t dot_i8_ref(const int8_t *a, const int8_t *b, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static void axpy_f32_ref(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

const llx_kernels llx_kernels_ref = {
    .name = "ref",
    .matmul_f32 = matmul_f32_ref,
    .matmul_i8 = matmul_i8_ref,
    .dot_f32 = dot_f32_ref,
    .dot_i8 = dot_i8_ref,
    .axpy_f32 = axpy_f32_ref,
};
