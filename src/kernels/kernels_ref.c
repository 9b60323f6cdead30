/* kernels/kernels_ref.c - scalar reference kernels: the specification every
 * optimised kernel is tested against.  Plain loops, no ISA assumptions. */
#include <math.h>

#include <string.h>

#include "kernels/kernels.h"
#include "kernels/q4_ref.h"
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

void llx_matmul_i8_ref(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *w, int ldw, int T, int R,
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

void llx_pack_i8_pairs(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K)
{
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++) dst[llx_packed_index(r, k, R, K)] = src[(size_t)r * ldsrc + (size_t)k];
}

size_t llx_panel_index(int r, int k, int R, int K)
{
    const size_t K4 = ((size_t)K + 3) & ~(size_t)3;
    const int p0 = r & ~15, rows = R - p0 < 16 ? R - p0 : 16;
    return (size_t)p0 * K4 + (size_t)(k / 4) * (size_t)rows * 4 + (size_t)(r - p0) * 4 + (size_t)(k % 4);
}

/* the four bytes of a group, each + 128 (XOR 0x80), as one word */
static inline uint32_t group4(const int8_t *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v ^ 0x80808080u;
}

void llx_pack_i8_panels(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K)
{
    const int G = K / 4, K4 = (K + 3) & ~3;
    for (int p0 = 0; p0 < R; p0 += 16) {
        const int rows = R - p0 < 16 ? R - p0 : 16;
        int8_t *d = dst + (size_t)p0 * K4;
        for (int g = 0; g < G; g++, d += 4 * rows) /* one group: the rows' four bytes, row by row */
            for (int i = 0; i < rows; i++) {
                const uint32_t v = group4(src + (size_t)(p0 + i) * ldsrc + 4 * (size_t)g);
                memcpy(d + 4 * i, &v, 4);
            }
        if (G * 4 < K) /* the last, partial group: columns past K are w = 0 */
            for (int i = 0; i < rows; i++) {
                int8_t b[4] = {0, 0, 0, 0};
                memcpy(b, src + (size_t)(p0 + i) * ldsrc + 4 * (size_t)G, (size_t)(K - 4 * G));
                const uint32_t v = group4(b);
                memcpy(d + 4 * i, &v, 4);
            }
    }
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

void llx_epilogue_tail(const llx_kernels *k, const llx_epilogue *ep, int t, float *y, int R)
{
    if (ep->act == LLX_EPI_GELU) k->gelu_f32(y, R);
    if (ep->aux)
        for (int i = 0; i < R; i++) y[i] *= ep->aux[(size_t)t * ep->lda + (size_t)i];
    if (!ep->out_i8) return;
    int8_t *q = (int8_t *)ep->out + (size_t)t * ep->ldo;
    for (int i = 0; i < R;) { /* one quant_i8 per segment of the rows */
        const int seg = llx_epi_seg(ep, ep->row0 + i);
        const int end = seg + 1 < ep->nseg ? ep->seg_end[seg] - ep->row0 : R;
        const int len = end < R ? end - i : R - i;
        k->quant_i8(q + i, y + i, ep->seg_inv[seg], len);
        i += len;
    }
}

void llx_epilogue_row(const llx_kernels *k, const llx_epilogue *ep, int t, const int32_t *acc, int R, float *y)
{
    if (ep->scale == LLX_EPI_I32) {
        memcpy((int32_t *)ep->out + (size_t)t * ep->ldo, acc, (size_t)R * sizeof *acc);
        return;
    }
    y = llx_epilogue_y(ep, t, y);
    if (ep->scale == LLX_EPI_DEQUANT) k->dequant_f32(y, acc, ep->ws, ep->bias, ep->s_in[t], R);
    else k->scale_i32(y, acc, ep->s, R);
    llx_epilogue_tail(k, ep, t, y, R);
}

llx_epilogue llx_epilogue_at(const llx_epilogue *ep, int t, int r)
{
    llx_epilogue e = *ep;
    const size_t esz = ep->scale != LLX_EPI_I32 && ep->out_i8 ? 1 : 4;
    e.out = (char *)ep->out + ((size_t)t * ep->ldo + (size_t)r) * esz;
    if (e.s_in) e.s_in += t;
    if (e.ws) e.ws += (size_t)r * (size_t)(ep->ng > 1 ? ep->ng : 1);
    if (e.bias) e.bias += r;
    if (e.aux) e.aux += (size_t)t * ep->lda + (size_t)r;
    e.row0 += r;
    return e;
}

#define L2_TILE ((size_t)256 << 10) /* weight bytes per tile at prefill */

void llx_gemm_i8_tiled(const llx_kernels *k, const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp,
                       int T, int R, int K)
{
    enum { ACC = 16384, Y = 1024 };
    int32_t acc[ACC];
    float y[Y];
    const size_t ld = llx_i8_ld(k, K);
    const int tc = T < ACC / 8 ? T : ACC / 8, align = k->i8_rows > 8 ? k->i8_rows : 8;
    int rc = (ACC / tc) / align * align;
    /* with several tokens, no more rows per tile than fit the L2 cache, so
     * the kernel's passes over the tile for each group of tokens read the
     * weights from memory once (one token: whole matrices, long streams) */
    const int l2_rows = (int)(L2_TILE / ld) / align * align;
    if (T > 1 && l2_rows < rc) rc = l2_rows > align ? l2_rows : align;
    for (int t0 = 0; t0 < T; t0 += tc) {
        const int nt = T - t0 < tc ? T - t0 : tc;
        for (int r0 = 0; r0 < R; r0 += rc) {
            const int nr = R - r0 < rc ? R - r0 : rc;
            k->matmul_i8p(acc, nr, x + (size_t)t0 * ldx, ldx, wp + (size_t)r0 * ld, nt, nr, K);
            for (int a = 0; a < nr; a += Y) {
                const llx_epilogue e = llx_epilogue_at(ep, 0, r0 + a);
                for (int t = 0; t < nt; t++)
                    llx_epilogue_row(k, &e, t0 + t, acc + (size_t)t * nr + a, nr - a < Y ? nr - a : Y, y);
            }
        }
    }
}

static void gemm_i8_ref(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    llx_gemm_i8_tiled(&llx_kernels_ref, ep, x, ldx, wp, T, R, K);
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

static void attn_qk_i8_ref(int32_t *s, int lds, const int8_t *q, const int8_t *k, int ldk, int H, int group, int n,
                           int hd)
{
    for (int h = 0; h < H; h++)
        for (int p = 0; p < n; p++) {
            int32_t a = 0;
            const size_t kh = (size_t)(h / group) * hd;
            for (int d = 0; d < hd; d++) a += (int32_t)q[h * hd + d] * k[(size_t)p * ldk + kh + d];
            s[(size_t)h * lds + p] = a;
        }
}

static void attn_pv_i8_ref(int32_t *acc, const int8_t *p, int ldp, const int8_t *v, size_t cs, int H, int group,
                           int n, int hd)
{
    for (int h = 0; h < H; h++)
        for (int d = 0; d < hd; d++) {
            int32_t a = 0;
            for (int s = 0; s < n; s++)
                a += (int32_t)p[(size_t)h * ldp + s] *
                     v[(size_t)(s / 32) * cs + ((size_t)(h / group) * hd + d) * 32 + (size_t)(s % 32)];
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

static uint64_t read_seq_ref(const void *p, size_t n)
{
    const uint64_t *w = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n / 8; i++) s += w[i];
    return s;
}

const llx_kernels llx_kernels_ref = {
    .name = "ref",
    .tier = LLX_TIER_REF,
    .matmul_f32 = matmul_f32_ref,
    .i8_rows = 2,
    .i8_kalign = 1,
    .pack_i8 = llx_pack_i8_pairs,
    .matmul_i8p = matmul_i8p_ref,
    .gemm_i8 = gemm_i8_ref,
    .dequant_f32 = dequant_f32_ref,
    .scale_i32 = scale_i32_ref,
    .quant_i8 = quant_i8_ref,
    .attn_qk_i8 = attn_qk_i8_ref,
    .attn_pv_i8 = attn_pv_i8_ref,
    .layernorm_f32 = llx_layernorm_f32,
    .rmsnorm_f32 = llx_rmsnorm_f32,
    .silu_f32 = llx_silu_f32,
    .rope_f32 = llx_rope_f32,
    .argmax_f32 = argmax_f32_ref,
    .gelu_f32 = llx_gelu_f32,
    .softmax_f32 = llx_softmax_f32,
    .dot_i8 = dot_i8_ref,
    .read_bytes = read_bytes_ref,
    .read_seq = read_seq_ref,
    .q4_rows = 8,
    .gemm_q4 = llx_gemm_q4_ref,
    .fwht_f32 = llx_fwht_f32_ref,
};
