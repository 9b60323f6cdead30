/* kernels/kernels.h - the compute kernels behind every stage, in tiers.
 *
 * A tier is one table of kernels for one instruction set:
 *   ref      scalar C: the specification every other tier is tested against
 *   avx2     AVX2+FMA (kernels_avx2.c)
 *   avx512   AVX-512F/BW/VL/DQ + VNNI (kernels_avx512.c, gemm_i8_avx512.c, ...)
 *   amx      AMX-INT8 tiles for the int8 GEMM, AVX-512 for the rest (kernels_amx.c)
 *   amx-emu  the amx tier's code on tiles emulated in scalar C (amxemu_avx512.c):
 *            a test tier that runs wherever avx512 does
 * A tier's table starts as a copy of the tier below it and overrides what
 * it implements (kernels_select.c), so a new kernel needs a reference and
 * may get faster versions tier by tier.  Only files named *_avx2.c,
 * *_avx512.c and *_amx.c are built with ISA flags; they are entered only
 * after the run-time check of their tier (CPUID, XGETBV and, for AMX, the
 * kernel's permission to use tile data).
 *
 * Integer kernels equal the reference bit for bit in every tier.  For
 * float kernels every output element's summation order depends only on
 * that element's inputs (never on which row block, token tile or thread
 * computes it): that is what makes results identical for any node count,
 * chunking or thread count.  matmul_f32 has two orders: the reference's
 * (k in order) and the vector tiers' (8 lanes, below), which avx2 and
 * avx512 share, so those two tiers give identical fp32 results.
 *
 * Kernels never allocate and never fail; shapes are the caller's contract.
 */
#ifndef LLX_KERNELS_H
#define LLX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/hadamard.h"

typedef enum llx_tier {
    LLX_TIER_REF,
    LLX_TIER_AVX2,
    LLX_TIER_AVX512,
    LLX_TIER_AMX,
    LLX_TIER_AMX_EMU,
    LLX_TIER_COUNT
} llx_tier;

/* What the fused int8 GEMM does with each int32 dot product acc (token t,
 * row r of the call), in this order, bit-exact in every tier:
 *   scale: LLX_EPI_I32      out is int32 acc, nothing else applies
 *          LLX_EPI_DEQUANT  y = (float)acc * (s_in[t] * ws[r]) + (bias ? bias[r] : 0.0f)
 *          LLX_EPI_SCALE    y = (float)acc * s
 *   act:   LLX_EPI_GELU     y = gelu(y) (vecops.h)
 *   aux:   y = y * aux[t * lda + r] when aux is set (a gated MLP's product)
 *   out_i8: out = q8(y * seg_inv[i]) as int8, i the first segment with
 *          row0 + r < seg_end[i] (rows are global: row0 is the call's first
 *          row; q | k | v have their own scales), else y as fp32
 * out[t * ldo + r] (elements of the output type).
 * gemm_q4 (int4 weights) with ng = K/G > 1 groups of columns replaces the
 * DEQUANT step by y = sum over groups g, in order, of (float)acc_g *
 * (s_in[t] * ws_g[r]) (the first product, then one add per group), then
 * + (bias ? bias[r] : 0.0f); with ng = 1 it is DEQUANT itself.  Group
 * scales are panel-major (llx_q4_scale_at), so a panel's scales are one
 * sequential stream beside its weights. */
enum { LLX_EPI_I32, LLX_EPI_DEQUANT, LLX_EPI_SCALE };
enum { LLX_EPI_ACT_NONE, LLX_EPI_GELU };
#define LLX_EPI_SEGS 4

typedef struct llx_epilogue {
    int scale, act, out_i8;
    const float *ws, *bias, *s_in; /* DEQUANT: per row, per row or NULL, per token */
    float s;                       /* SCALE */
    const float *aux;              /* NULL or [t][r] with row stride lda */
    size_t lda;
    int row0, nseg;                /* out_i8: segments of global rows */
    int seg_end[LLX_EPI_SEGS];
    float seg_inv[LLX_EPI_SEGS];
    void *out;
    size_t ldo;
    int ng;                        /* gemm_q4: groups per row (0 or 1: one scale per row) */
} llx_epilogue;

/* The segment of global row R (out_i8). */
static inline int llx_epi_seg(const llx_epilogue *ep, int R)
{
    int i = 0;
    while (i + 1 < ep->nseg && R >= ep->seg_end[i]) i++;
    return i;
}

typedef struct llx_kernels {
    const char *name;
    llx_tier tier;

    /* out (T, ldo) f32, x (T, ldx) f32, w (R, ldw) f32 row-major, bias (R) or NULL:
     * out[t*ldo + r] = bias[r] + sum_{k<K} w[r*ldw + k] * x[t*ldx + k].
     * Vector order (avx2, avx512): one 8-lane accumulator per element over
     * k < K8 = K & ~7 (lane j sums k = j mod 8 in increasing k, each step a
     * fused multiply-add), the lanes combined as
     * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then k = K8 .. K-1 in order
     * (multiply, then add), then the bias. */
    void (*matmul_f32)(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, const float *bias,
                       int T, int R, int K);
    /* Optional (NULL: T calls of matmul_f32 with T = 1): the causal product
     * of a block of 1 <= T <= 16 tokens, token t summing its first K0 + t
     * columns (K0 >= 1): out[t*ldo + r] = sum_{k < K0+t} w[r*ldw + k] *
     * x[t*ldx + k], each element the bits of matmul_f32(T = 1, K = K0 + t,
     * no bias).  Row t of x is read up to column K0 + T - 2 (the values
     * past its own K0 + t are not used). */
    void (*matmul_f32_causal)(float *out, int ldo, const float *x, int ldx, const float *w, int ldw, int T, int R,
                              int K0);

    /* ---- int8 weights in this tier's packed layout ----
     * A packed R x K matrix takes R * llx_i8_ld(k, K) bytes; rows [a, R)
     * with a a multiple of i8_rows are themselves a packed matrix, at byte
     * a * llx_i8_ld(k, K).  ref and avx2 use the pair layout
     * (llx_pack_i8_pairs), avx512 and amx the panel layout
     * (llx_pack_i8_panels). */
    int i8_rows, i8_kalign;
    void (*pack_i8)(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K);

    /* acc (T, lda) i32 = x (T, ldx) i8 times the packed w (R x K) transposed;
     * x and w in [-127, 127] (or x in [0, 127]):
     * acc[t*lda + r] = sum_{k<K} w[r][k] * x[t*ldx + k] */
    void (*matmul_i8p)(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K);
    /* The same products through the epilogue (the quantization unit fused
     * into the GEMM): the int32 results never reach memory. */
    void (*gemm_i8)(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K);

    /* The quantization unit's steps, bit-exact across tables:
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
     * KV head they want (j0*hd, j0*32*hd) and H query heads from there;
     * query head h reads KV head h / group (grouped-query attention; group 1:
     * one KV head per query head). */

    /* Scores: s[h*lds + p] = sum_{d<hd} q[h*hd + d] * K[p][h/group][d], p < n. */
    void (*attn_qk_i8)(int32_t *s, int lds, const int8_t *q, const int8_t *k, int ldk, int H, int group, int n,
                       int hd);
    /* Context: acc[h*hd + d] = sum_{s<n} p[h*ldp + s] * V_{h/group}[s][d], p
     * in [0, 127]; p is read in whole chunks, so p[h*ldp + n .. 32*ceil(n/32))
     * must be 0. */
    void (*attn_pv_i8)(int32_t *acc, const int8_t *p, int ldp, const int8_t *v, size_t cs, int H, int group, int n,
                       int hd);

    /* the formulas of vecops.h, bit-exact across tables */
    void (*layernorm_f32)(float *out, const float *x, const float *g, const float *b, int C, float eps);
    void (*rmsnorm_f32)(float *out, const float *x, const float *g, int C, float eps);
    void (*silu_f32)(float *x, int n); /* in place */
    /* rotary embedding of one head of 2*half values in place: the pairs
     * (x[i], x[i + half]) turned by the angle whose cos and sin are
     * cs[i], cs[half + i] */
    void (*rope_f32)(float *x, const float *cs, int half);
    void (*gelu_f32)(float *x, int n); /* in place */
    void (*softmax_f32)(float *x, int n);

    /* index of the largest of n > 0 values, NaN read as -inf; ties go to
     * the lowest index */
    int (*argmax_f32)(const float *x, int n);

    /* sum_i a[i] * b[i], int8 in [-127, 127] */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, int n);
    /* Read n bytes (n % 128 == 0) as four concurrent sequential streams from
     * the quarters of the span; returns the sum of its 64-bit words so the
     * reads cannot be optimised away (the memory bandwidth probe). */
    uint64_t (*read_bytes)(const void *p, size_t n);
    /* The same reads and checksum as one sequential stream, two cache lines
     * per step, no software prefetch (the probe's other pattern). */
    uint64_t (*read_seq)(const void *p, size_t n);

    /* ---- int4 weights in this tier's panel layout (llx_pack_q4_panels,
     * q4_rows rows per panel) ----
     * acc_g = sum over the columns k of group g (G columns, K % G == 0,
     * G % 8 == 0) of w[r][k] * x[t*ldx + k], exact in int32, w in [-8, 7],
     * x any int8; then the epilogue (DEQUANT, with groups as stated above).
     * Rows [a, R) with a a multiple of q4_rows are a packed matrix at byte
     * a * K / 2. */
    int q4_rows;
    void (*gemm_q4)(const llx_epilogue *ep, const int8_t *x, int ldx, const uint8_t *wp, int T, int R, int K, int G);

    /* The normalised Hadamard transform of hadamard.h on T vectors of h->n
     * at x + t*ld, in place (the online rotation before down_proj), bit-exact
     * with llx_fwht_f32_ref. */
    void (*fwht_f32)(float *x, int T, int ld, const llx_hadamard *h);
} llx_kernels;

/* Bytes per packed row: K rounded up to the tier's i8_kalign. */
static inline size_t llx_i8_ld(const llx_kernels *k, int K)
{
    const size_t a = (size_t)k->i8_kalign;
    return ((size_t)K + a - 1) / a * a;
}

/* The pair layout (ref, avx2): rows are grouped in pairs from the first
 * row.  A pair stores, for each 32-column chunk c < K/32, the chunk's 32
 * bytes of its first row then of its second (64 bytes, one cache line), then
 * each row's last K%32 bytes; an odd last row is stored as it is.  Each pair
 * is one sequential stream; the AVX2 decode kernel reads four at once. */
void llx_pack_i8_pairs(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K);
/* Byte offset of element (r, k) in a pair-packed R x K matrix. */
size_t llx_packed_index(int r, int k, int R, int K);

/* The panel layout (avx512, amx): rows in panels of 16 from the first row
 * (the last panel may hold fewer, p rows), each row padded to K4 =
 * ceil(K/4)*4 columns with zeros.  A panel stores, for each group of four
 * columns g < K4/4, the four bytes of each of its rows in row order, every
 * byte XOR 0x80 (w + 128 as an unsigned byte): 64 bytes per group, so one
 * group is one vpdpbusd operand for 16 outputs, and 16 groups are one AMX
 * B tile (K4/4 rows of 16 x 4 bytes).  The kernels subtract 128 * sum(x). */
void llx_pack_i8_panels(int8_t *dst, const int8_t *src, size_t ldsrc, int R, int K);
/* Byte offset of element (r, k) in a panel-packed R x K matrix. */
size_t llx_panel_index(int r, int k, int R, int K);

/* int4 weights as stored (.llx): row-major, two per byte, w + 8 in [0, 15];
 * column k of row r is in byte r*K/2 + k/2, the low nibble for even k. */
static inline int llx_q4_stored(const uint8_t *w, int r, int k, int K)
{
    const uint8_t b = w[(size_t)r * (size_t)(K / 2) + (size_t)(k / 2)];
    return (k & 1 ? b >> 4 : b & 15) - 8;
}

/* The q4 panel layout, P rows per panel (8: ref, avx2; 16: avx512): the
 * last panel is padded with zero weights to P rows.  For each octet o of
 * columns a panel stores 4P bytes; byte 4i + j holds row i's column 8o + j
 * (low nibble) and 8o + 4 + j (high nibble), each as w + 8.  One 32-byte
 * (P = 8) or 64-byte (P = 16) load therefore unpacks into two
 * vpdpbusd / maddubs operands of P rows x 4 columns, one int32 lane per
 * row.  The matrix takes llx_q4_bytes(R, K, P) bytes. */
static inline size_t llx_q4_bytes(int R, int K, int P) { return (size_t)((R + P - 1) / P) * (size_t)P * (size_t)K / 2; }
/* The value (in [-8, 7]) of (r, k) in a panel-packed matrix. */
static inline int llx_q4_panel(const uint8_t *wp, int r, int k, int K, int P)
{
    const size_t o = (size_t)(r / P) * (size_t)P * (size_t)K / 2 + (size_t)(k / 8) * 4 * (size_t)P +
                     (size_t)(r % P) * 4 + (size_t)(k % 4);
    return (k & 4 ? wp[o] >> 4 : wp[o] & 15) - 8;
}
/* Repack a stored R x K int4 matrix (K % 8 == 0) into P-row panels. */
void llx_pack_q4_panels(uint8_t *dst, const uint8_t *src, int R, int K, int P);
/* Group scales in the panel-major layout: row r's scale of group g is at
 * ws[(r / P * ng + g) * P + r % P] (ng = 1: ws[r]); rows [a, R) with a a
 * multiple of P start at ws + a * ng.  The last panel is padded to P rows. */
static inline size_t llx_q4_scale_at(int r, int g, int ng, int P)
{
    return ((size_t)(r / P) * (size_t)ng + (size_t)g) * (size_t)P + (size_t)(r % P);
}
static inline size_t llx_q4_scales(int R, int ng, int P) { return ng > 1 ? (size_t)((R + P - 1) / P) * P * ng : (size_t)R; }
/* Repack row-major scales src[r * ng + g] into the panel-major layout. */
void llx_pack_q4_scales(float *dst, const float *src, int R, int ng, int P);

/* The epilogue's steps after the scale (act, aux, out_i8) on the fp32 row
 * y of token t, rows [0, R) of ep; y is the output row itself when the
 * output is fp32 (llx_epilogue_y). */
void llx_epilogue_tail(const llx_kernels *k, const llx_epilogue *ep, int t, float *y, int R);
static inline float *llx_epilogue_y(const llx_epilogue *ep, int t, float *scratch)
{
    return ep->out_i8 ? scratch : (float *)ep->out + (size_t)t * ep->ldo;
}

/* The reference of every int8 product: acc = x . w^T with w row-major. */
void llx_matmul_i8_ref(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *w, int ldw, int T, int R,
                       int K);

/* ep for the part of a call that starts at token t and row r: the
 * token- and row-indexed arrays and out offset accordingly. */
llx_epilogue llx_epilogue_at(const llx_epilogue *ep, int t, int r);

/* The epilogue of rows [0, R) of one token, from its int32 results acc,
 * with the element kernels of k (how the ref and avx2 tiers apply it; y is
 * fp32 scratch of R). */
void llx_epilogue_row(const llx_kernels *k, const llx_epilogue *ep, int t, const int32_t *acc, int R, float *y);

/* gemm_i8 as matmul_i8p into an int32 tile on the stack, then
 * llx_epilogue_row per token (the ref and avx2 tiers' gemm_i8). */
void llx_gemm_i8_tiled(const llx_kernels *k, const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp,
                       int T, int R, int K);

extern const llx_kernels llx_kernels_ref;

/* Each tier's file overrides the entries it implements in a copy of the
 * table below it (kernels_select.c builds the chain once). */
void llx_kernels_fill_avx2(llx_kernels *k);
void llx_kernels_fill_avx512(llx_kernels *k);
void llx_kernels_fill_amx(llx_kernels *k);
void llx_kernels_fill_amx_emu(llx_kernels *k);

/* force: NULL or "auto" (the best tier the CPU supports; env LLX_KERNELS
 * overrides), or a tier name ("ref", "avx2", "avx512", "amx", "amx-emu").
 * Returns NULL for an unknown name or a tier this CPU (or OS) cannot run. */
const llx_kernels *llx_kernels_select(const char *force);
/* The table of one tier, or NULL when this machine cannot run it. */
const llx_kernels *llx_kernels_tier(llx_tier t);
const char *llx_tier_name(llx_tier t);
/* Why a tier cannot run here ("" when it can), e.g. "CPU lacks AMX-INT8". */
const char *llx_tier_missing(llx_tier t);

/* True when this CPU can run the AVX2+FMA kernels. */
int llx_cpu_has_avx2(void);

#endif
