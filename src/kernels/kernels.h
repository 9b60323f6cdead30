/* kernels/kernels.h - the compute kernels behind every stage.
 *
 * kernels_ref.c holds the scalar reference of each kernel: it is the
 * specification.  kernels_avx2.c holds AVX2+FMA versions (the only file
 * built with -mavx2 -mfma).  llx_kernels_select() picks one table at run
 * time.  Integer kernels must equal the reference bit for bit.  For float
 * kernels, every output element's summation order depends only on that
 * element's inputs (never on which row block, token tile or thread it is
 * computed in): that is what makes results identical for any node count.
 *
 * Kernels never allocate and never fail; shapes are the caller's contract.
 */
#ifndef LLX_KERNELS_H
#define LLX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct llx_kernels {
    const char *name;

    /* out (T, ldo) f32, x (T, ldx) f32, w (R, ldw) f32 row-major, bias (R) or NULL:
     * out[t*ldo + r] = bias[r] + sum_{k<K} w[r*ldw + k] * x[t*ldx + k] */
    void (*matmul_f32)(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, const float *bias,
                       int T, int R, int K);

    /* acc (T, lda) i32, x (T, ldx) i8, w (R, ldw) i8; x in [-127, 127], w in [-127, 127]
     * (or x in [0, 127] and w in [-127, 127]):
     * acc[t*lda + r] = sum_{k<K} w[r*ldw + k] * x[t*ldx + k] */
    void (*matmul_i8)(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *w, int ldw, int T, int R, int K);

    /* The same product with w in the packed layout below (R rows of K). */
    void (*matmul_i8p)(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K);

    /* The quantization unit, bit-exact across tables:
     * y[i] = (float)acc[i] * (s * ws[i]) + (b ? b[i] : 0.0f)   (mul, then add) */
    void (*dequant_f32)(float *y, const int32_t *acc, const float *ws, const float *b, float s, int n);
    /* y[i] = (float)a[i] * s */
    void (*scale_i32)(float *y, const int32_t *a, float s, int n);
    /* q[i] = q8(y[i] * inv): round half to even, clamp to [-127, 127] (NaN -> -127) */
    void (*quant_i8)(int8_t *q, const float *y, float inv, int n);

    /* The int8 KV cache of one layer holds the node's H heads position by
     * position, so a decode step streams each layer's cache front to back.
     * K: row s (ldk bytes apart) holds the H heads' hd bytes side by side.
     * V: positions in chunks of 32; chunk c (cs bytes apart) holds, per head
     * h, a block at h*32*hd that stores for each d < hd the 32 bytes
     * V_h[32c .. 32c+31][d].  Callers pass k, v already offset to the first
     * head they want (h0*hd, h0*32*hd) and H heads from there. */

    /* Scores: s[h*lds + p] = sum_{d<hd} q[h*hd + d] * K[p][h][d], p < n. */
    void (*attn_qk_i8)(int32_t *s, int lds, const int8_t *q, const int8_t *k, int ldk, int H, int n, int hd);
    /* Context: acc[h*hd + d] = sum_{s<n} p[h*ldp + s] * V_h[s][d], p in
     * [0, 127]; p is read in whole chunks, so p[h*ldp + n .. 32*ceil(n/32))
     * must be 0. */
    void (*attn_pv_i8)(int32_t *acc, const int8_t *p, int ldp, const int8_t *v, size_t cs, int H, int n, int hd);

    /* the formulas of vecops.h, bit-exact across tables */
    void (*layernorm_f32)(float *out, const float *x, const float *g, const float *b, int C, float eps);
    void (*gelu_f32)(float *x, int n); /* in place */
    void (*softmax_f32)(float *x, int n);

    /* index of the largest of n > 0 values, NaN read as -inf; ties go to
     * the lowest index */
    int (*argmax_f32)(const float *x, int n);

    /* sum_i a[i] * b[i], int8 in [-127, 127] */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, int n);
    /* Read n bytes (n % 128 == 0) as fast as possible, as four concurrent
     * sequential streams; returns a checksum so the reads cannot be optimised
     * away (the memory bandwidth probe). */
    uint64_t (*read_bytes)(const void *p, size_t n);
} llx_kernels;

/* Packed int8 weights: rows are grouped in pairs from the first row.  A
 * pair stores, for each 32-column chunk c < K/32, the chunk's 32 bytes of
 * its first row then of its second (64 bytes, one cache line), then each
 * row's last K%32 bytes; an odd last row is stored as it is.  The size is
 * R*K bytes, pair g starts at byte 2*g*K, so rows [2m, R) of a packed matrix
 * are a packed matrix at byte 2*m*K.  Each pair is one sequential stream;
 * the decode kernel reads four of them at once (one core reads memory
 * fastest from several streams: docs/performance.md). */
void llx_pack_i8(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K);
/* Byte offset of element (r, k) in a packed R x K matrix. */
size_t llx_packed_index(int r, int k, int R, int K);

extern const llx_kernels llx_kernels_ref;
extern const llx_kernels llx_kernels_avx2;

/* force: NULL or "auto" (best the CPU supports; env LLX_KERNELS overrides),
 * "ref", "avx2".  Returns NULL for an unknown name or an ISA this CPU lacks. */
const llx_kernels *llx_kernels_select(const char *force);

/* True when this CPU can run the AVX2+FMA kernels. */
int llx_cpu_has_avx2(void);

#endif
