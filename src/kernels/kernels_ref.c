/* kernels/kernels_ref.c - scalar reference kernels: the specification every
 * optimised kernel is tested against.  Plain loops, no ISA assumptions. */
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/vecops.h"
#include "kernels/q8.h"

static void matmul_f32_ref(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, const float *bias,
                           int T, int R, int K)
{
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        for (int r = 0; r < R; r++) {
            const float *wr = w + (size_t)r * ldw;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += wr[k] * xt[k];
            out[(size_t)t * ldo + r] = bias ? s + bias[r] : s;
        }
    }
}

static void matmul_i8_ref(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *w, int ldw, int T, int R,
                          int K)
{
    for (int t = 0; t < T; t++) {
        const int8_t *xt = x + (size_t)t * ldx;
        for (int r = 0; r < R; r++) {
            const int8_t *wr = w + (size_t)r * ldw;
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)wr[k] * (int32_t)xt[k];
            acc[(size_t)t * lda + r] = s;
        }
    }
}

size_t llx_packed_index(int r, int k, int R, int K)
{
    const int full = R & ~1, K32 = K & ~31;
    if (r >= full) return (size_t)r * K + (size_t)k; /* an odd last row: as it is */
    const size_t pair = (size_t)(r & ~1) * K;
    if (k < K32) return pair + (size_t)(k / 32) * 64 + (size_t)(r & 1) * 32 + (size_t)(k % 32);
    return pair + (size_t)K32 * 2 + (size_t)(r & 1) * (size_t)(K - K32) + (size_t)(k - K32);
}

void llx_pack_i8(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K)
{
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++) dst[llx_packed_index(r, k, R, K)] = src[(size_t)r * ldsrc + (size_t)k];
}

static void matmul_i8p_ref(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    for (int t = 0; t < T; t++) {
        const int8_t *xt = x + (size_t)t * ldx;
        for (int r = 0; r < R; r++) {
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)wp[llx_packed_index(r, k, R, K)] * (int32_t)xt[k];
            acc[(size_t)t * lda + r] = s;
        }
    }
}

static void dequant_f32_ref(float *y, const int32_t *acc, const float *ws, const float *b, float s, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)acc[i] * (s * ws[i]) + (b ? b[i] : 0.0f);
}

static void scale_i32_ref(float *y, const int32_t *a, float s, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)a[i] * s;
}

static void quant_i8_ref(int8_t *q, const float *y, float inv, int n)
{
    for (int i = 0; i < n; i++) q[i] = llx_q8(y[i] * inv);
}

static void attn_qk_i8_ref(int32_t *s, int lds, const int8_t *q, const int8_t *k, int ldk, int H, int n, int hd)
{
    for (int h = 0; h < H; h++)
        for (int p = 0; p < n; p++) {
            int32_t a = 0;
            for (int d = 0; d < hd; d++) a += (int32_t)q[h * hd + d] * k[(size_t)p * ldk + (size_t)h * hd + d];
            s[(size_t)h * lds + p] = a;
        }
}

static void attn_pv_i8_ref(int32_t *acc, const int8_t *p, int ldp, const int8_t *v, size_t cs, int H, int n, int hd)
{
    for (int h = 0; h < H; h++)
        for (int d = 0; d < hd; d++) {
            int32_t a = 0;
            for (int s = 0; s < n; s++)
                a += (int32_t)p[(size_t)h * ldp + s] *
                     v[(size_t)(s / 32) * cs + ((size_t)h * hd + d) * 32 + (size_t)(s % 32)];
            acc[h * hd + d] = a;
        }
}

static inline float clean(float v) { return v == v ? v : -INFINITY; }

static int argmax_f32_ref(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (clean(x[i]) > clean(x[best])) best = i;
    return best;
}

static int32_t dot_i8_ref(const int8_t *a, const int8_t *b, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static uint64_t read_bytes_ref(const void *p, size_t n)
{
    const size_t q = n / 4 / 8; /* four streams, as the AVX2 version */
    const uint64_t *w0 = p, *w1 = w0 + q, *w2 = w1 + q, *w3 = w2 + q;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < q; i++) s0 += w0[i], s1 += w1[i], s2 += w2[i], s3 += w3[i];
    return s0 + s1 + s2 + s3;
}

const llx_kernels llx_kernels_ref = {
    .name = "ref",
    .matmul_f32 = matmul_f32_ref,
    .matmul_i8 = matmul_i8_ref,
    .matmul_i8p = matmul_i8p_ref,
    .dequant_f32 = dequant_f32_ref,
    .scale_i32 = scale_i32_ref,
    .quant_i8 = quant_i8_ref,
    .attn_qk_i8 = attn_qk_i8_ref,
    .attn_pv_i8 = attn_pv_i8_ref,
    .layernorm_f32 = llx_layernorm_f32,
    .argmax_f32 = argmax_f32_ref,
    .gelu_f32 = llx_gelu_f32,
    .softmax_f32 = llx_softmax_f32,
    .dot_i8 = dot_i8_ref,
    .read_bytes = read_bytes_ref,
};
