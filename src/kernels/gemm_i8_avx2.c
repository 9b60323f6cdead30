/* kernels/gemm_i8_avx2.c - the avx2 tier's multi-token int8 GEMM (prefill,
 * and decode of several sequences at once: T >= MULTI_MIN_T tokens, see
 * kernels_avx2.c) on the pair layout (kernels.h).  Built with AVX2 flags;
 * entered only after the CPU check of kernels_select.c.
 *
 * The int8 idiom of the decode GEMV, vpsignb + vpmaddubsw + vpmaddwd +
 * vpaddd per 32 products, puts three operations on Zen 4's two pipes
 * that multiply (vpsignb is one of theirs): about 0.57 of the avx2 peak
 * however the tiles were blocked.  Here each weight block is prepared
 * once for all tokens: |w| and the mask m of w < 0 (0 or -1 per byte)
 * into a buffer on the stack that stays in L1, and corr = the sum of |w|
 * over the negative w.  Then maddubs(|w|, x ^ m) is w x where w >= 0 and
 * |w| (-x - 1) = w x - |w| where w < 0; corr adds the |w| back.  x ^ m is
 * a plain logic operation (any pipe), |w| <= 127 and x ^ m in [-128,
 * 127], so no pair sum saturates (2 * 127 * 128 < 32768), and int32 sums
 * are the same in any order: bit for bit the reference's products.
 *
 * Blocking: rows in blocks of RB (each pair's bytes are read once per
 * block, sequentially), columns in blocks of KC (the block buffer: RB x
 * KC x 2 bytes = 24 KiB), every group of 3 tokens passing over the block
 * in register tiles of 3 rows x 3 tokens (9 accumulators of 8 lanes,
 * summed horizontally into acc at the end of the column block).  Each
 * pair's last K % 32 columns (stored after its chunks) are added in
 * scalar code.  The epilogue runs on the int32 tile afterwards
 * (llx_gemm_i8_tiled, as before). */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

#define RB 12 /* rows per weight block */
#define KC 1024 /* columns per weight block (a multiple of 32) */
#define NCH (KC / 32)

void llx_matmul_i8p_multi_avx2(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R,
                               int K);

static inline __m256i ld(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Rows [r0, r0 + nr), columns [k0, k0 + kc) of the pair-packed wp (kc a
 * multiple of 32 within K & ~31) into the block buffer: for row i, chunk c,
 * |w| (32 bytes) then the mask of w < 0 (32 bytes) at s + (i NCH + c) 64;
 * corr[i] = the sum of |w| over the row's negative w. */
static void prep(int8_t *s, int32_t *corr, const int8_t *wp, int r0, int nr, int k0, int kc, int K)
{
    const __m256i zero = _mm256_setzero_si256();
    for (int i = 0; i < nr; i++) {
        const int r = r0 + i;
        const int8_t *g = wp + (size_t)(r & ~1) * K + 32 * (r & 1) + 2 * (size_t)k0;
        int8_t *d = s + (size_t)i * NCH * 64;
        __m256i sum = zero;
        for (int c = 0; c < kc / 32; c++) {
            const __m256i w = ld(g + 64 * (size_t)c), m = _mm256_cmpgt_epi8(zero, w);
            const __m256i aw = _mm256_sub_epi8(_mm256_xor_si256(w, m), m);
            _mm256_storeu_si256((__m256i *)(d + 64 * c), aw);
            _mm256_storeu_si256((__m256i *)(d + 64 * c + 32), m);
            sum = _mm256_add_epi64(sum, _mm256_sad_epu8(_mm256_and_si256(aw, m), zero));
        }
        int64_t q[4];
        _mm256_storeu_si256((__m256i *)q, sum);
        corr[i] = (int32_t)(q[0] + q[1] + q[2] + q[3]);
    }
}

static inline int32_t hsum8(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* The accumulators are named variables (c<row><token>): GCC keeps an array
 * of vectors in memory across the loop. */
#define MAC(i, j)                                                                                                  \
    if (NR > i && NT > j)                                                                                          \
        c##i##j = _mm256_add_epi32(                                                                                \
            c##i##j, _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_xor_si256(x##j, m)), ones));
#define ROW(i)                                                                                                     \
    if (NR > i) {                                                                                                  \
        const __m256i aw = ld(s##i + 64 * (size_t)c), m = ld(s##i + 64 * (size_t)c + 32);                         \
        MAC(i, 0) MAC(i, 1) MAC(i, 2)                                                                              \
    }
#define OUT(i, j)                                                                                                  \
    if (NR > i && NT > j) acc[(size_t)j * lda + i] += hsum8(c##i##j) + corr[i];

/* NR (<= 3) rows of the block buffer at s x NT (<= 3) tokens at x (the
 * block's first column), nch chunks: acc (by token, lda apart) += the
 * products.  maddubs(|w|, x ^ mask) is w x where w >= 0 and w x - |w|
 * where w < 0 (~x = -x - 1; |w| |~x| <= 127 * 128, so no pair sum
 * saturates): corr adds the |w| back. */
static inline __attribute__((always_inline)) void tile(int32_t *acc, size_t lda, const int8_t *x, size_t ldx,
                                                       const int8_t *s, const int32_t *corr, int nch, const int NR,
                                                       const int NT)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00,
            c21 = c00, c22 = c00;
    const int8_t *s0 = s, *s1 = s + NCH * 64, *s2 = s + 2 * NCH * 64;
    const int8_t *p0 = x, *p1 = x + ldx, *p2 = x + 2 * ldx;
    for (int c = 0; c < nch; c++) {
        const __m256i x0 = ld(p0 + 32 * (size_t)c);
        const __m256i x1 = NT > 1 ? ld(p1 + 32 * (size_t)c) : x0;
        const __m256i x2 = NT > 2 ? ld(p2 + 32 * (size_t)c) : x0;
        ROW(0) ROW(1) ROW(2)
    }
    OUT(0, 0) OUT(0, 1) OUT(0, 2) OUT(1, 0) OUT(1, 1) OUT(1, 2) OUT(2, 0) OUT(2, 1) OUT(2, 2)
}

/* The full 3 x 3 tile (nch >= 1 chunks) in assembly: GCC kept five of its
 * nine accumulators on the stack (a store and a reload per step in each
 * chain; 0.61 of the peak against 0.70 here).  ymm0-8 accumulate
 * c<row><token>, ymm9-11 hold the tokens' chunk, ymm12 |w|, ymm13 the
 * mask, ymm14 a product, ymm15 the int16 ones. */
#define ASM_MAC(X, A)                                                                                              \
    "vpxor %%ymm13, %%" X ", %%ymm14\n\t"                                                                         \
    "vpmaddubsw %%ymm14, %%ymm12, %%ymm14\n\t"                                                                    \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                                      \
    "vpaddd %%ymm14, %%" A ", %%" A "\n\t"
#define ASM_ROW(W, M, A0, A1, A2)                                                                                  \
    "vmovdqu " W ", %%ymm12\n\t"                                                                                 \
    "vmovdqu " M ", %%ymm13\n\t" ASM_MAC("ymm9", A0) ASM_MAC("ymm10", A1) ASM_MAC("ymm11", A2)

static void tile33(int32_t *acc, size_t lda, const int8_t *x, size_t ldx, const int8_t *s, const int32_t *corr,
                   int nch)
{
    _Alignas(32) int32_t v[9][8];
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *p = x;
    long n = nch;
    __asm__ volatile("vmovdqu %[ones], %%ymm15\n\t"
                     "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
                     "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\tvmovdqa %%ymm0, %%ymm3\n\t"
                     "vmovdqa %%ymm0, %%ymm4\n\tvmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm6\n\t"
                     "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\t"
                     "1:\n\t"
                     "vmovdqu (%[p]), %%ymm9\n\t"
                     "vmovdqu (%[p],%[ldx]), %%ymm10\n\t"
                     "vmovdqu (%[p],%[ldx],2), %%ymm11\n\t"
                     ASM_ROW("(%[s])", "32(%[s])", "ymm0", "ymm1", "ymm2")
                     ASM_ROW("(%[s],%[rs])", "32(%[s],%[rs])", "ymm3", "ymm4", "ymm5")
                     ASM_ROW("(%[s],%[rs],2)", "32(%[s],%[rs],2)", "ymm6", "ymm7", "ymm8")
                     "add $32, %[p]\n\t"
                     "add $64, %[s]\n\t"
                     "dec %[n]\n\t"
                     "jnz 1b\n\t"
                     "vmovdqa %%ymm0, 0(%[v])\n\tvmovdqa %%ymm1, 32(%[v])\n\tvmovdqa %%ymm2, 64(%[v])\n\t"
                     "vmovdqa %%ymm3, 96(%[v])\n\tvmovdqa %%ymm4, 128(%[v])\n\tvmovdqa %%ymm5, 160(%[v])\n\t"
                     "vmovdqa %%ymm6, 192(%[v])\n\tvmovdqa %%ymm7, 224(%[v])\n\tvmovdqa %%ymm8, 256(%[v])\n\t"
                     : [p] "+r"(p), [s] "+r"(s), [n] "+r"(n)
                     : [ldx] "r"(ldx), [rs] "r"((size_t)NCH * 64), [v] "r"(v), [ones] "m"(ones)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            acc[(size_t)j * lda + i] += hsum8(_mm256_load_si256((const __m256i *)v[3 * i + j])) + corr[i];
}

#define TILE(NR, NT) tile(a, lda, xt, ldx, s, corr, nch, NR, NT)

/* nr (1 .. 3) rows x nt (1 .. 3) tokens */
static void tile_any(int32_t *a, size_t lda, const int8_t *xt, size_t ldx, const int8_t *s, const int32_t *corr,
                     int nch, int nr, int nt)
{
    if (nr == 3) {
        if (nt == 3) tile33(a, lda, xt, ldx, s, corr, nch);
        else if (nt == 2) TILE(3, 2);
        else TILE(3, 1);
    } else if (nr == 2) {
        if (nt == 3) TILE(2, 3);
        else if (nt == 2) TILE(2, 2);
        else TILE(2, 1);
    } else {
        if (nt == 3) TILE(1, 3);
        else if (nt == 2) TILE(1, 2);
        else TILE(1, 1);
    }
}

/* the K % 32 columns each pair stores after its chunks */
static void pair_tails(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    const int K32 = K & ~31, n = K - K32;
    for (int r = 0; r < R; r++) {
        const int8_t *w = wp + (size_t)(r & ~1) * K + 2 * (size_t)K32 + (size_t)(r & 1) * n;
        for (int t = 0; t < T; t++) {
            const int8_t *xt = x + (size_t)t * ldx + K32;
            int32_t s = 0;
            for (int k = 0; k < n; k++) s += (int32_t)w[k] * (int32_t)xt[k];
            acc[(size_t)t * lda + r] += s;
        }
    }
}

/* acc = the products of the T tokens of x with rows [0, R) of the
 * pair-packed wp, R even (the pair layout's odd last row is the caller's). */
void llx_matmul_i8p_multi_avx2(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R,
                               int K)
{
    _Alignas(32) int8_t s[RB * NCH * 64];
    int32_t corr[RB];
    const int K32 = K & ~31;
    for (int t = 0; t < T; t++) memset(acc + (size_t)t * lda, 0, sizeof(int32_t) * (size_t)R);
    for (int r0 = 0; r0 < R; r0 += RB) {
        const int nr = R - r0 < RB ? R - r0 : RB;
        for (int k0 = 0; k0 < K32; k0 += KC) {
            const int kc = K32 - k0 < KC ? K32 - k0 : KC;
            prep(s, corr, wp, r0, nr, k0, kc, K);
            for (int t = 0; t < T; t += 3) {
                const int nt = T - t < 3 ? T - t : 3;
                for (int i = 0; i < nr; i += 3)
                    tile_any(acc + (size_t)t * lda + r0 + i, (size_t)lda, x + (size_t)t * ldx + k0, (size_t)ldx,
                             s + (size_t)i * NCH * 64, corr + i, kc / 32, nr - i < 3 ? nr - i : 3, nt);
            }
        }
    }
    if (K32 < K) pair_tails(acc, lda, x, ldx, wp, T, R, K);
}
