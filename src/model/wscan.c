/* model/wscan.c - the scalar load passes with the NaN/Inf check fused in
 * (the specification the vector tiers match), and the run-time choice of a
 * tier.  Built without ISA flags.
 *
 * The check: a float is NaN or Inf exactly when its exponent bits are all
 * set, and then (bits & exponent) + one exponent step reaches the bit above
 * the exponent (the sign bit's place) - for no other value.  So the check
 * is an AND, an ADD and an OR per element into an accumulator, branch-free,
 * tested once per run. */
#include "model/wscan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/half.h"

#ifdef LLX_WSCAN_NO_CHECK
#define NF(acc, expr) ((void)sizeof(expr)) /* expr is not evaluated */
#else
#define NF(acc, expr) ((acc) |= (expr))
#endif

int llx_wscan_f32_ref(const void *src, size_t n, float *dst)
{
    const uint8_t *p = src;
    uint32_t acc = 0;
    size_t k = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; k + 16 <= n; k += 16, p += 64) {
        uint32_t u[16];
        memcpy(u, p, sizeof u);
        for (int j = 0; j < 16; j++) NF(acc, (u[j] & 0x7f800000u) + 0x00800000u);
        memcpy(dst + k, u, sizeof u);
    }
#endif
    for (; k < n; k++, p += 4) {
        const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        NF(acc, (u & 0x7f800000u) + 0x00800000u);
        dst[k] = llx_bits_to_f32(u);
    }
    return (acc & 0x80000000u) != 0;
}

/* The tile passes: element by element, one value at a time (the same
 * check and the same fp32 as the passes over a run). */
int llx_wscan_tile_f32_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    uint32_t acc = 0;
    for (size_t k = 0; k < kn; k++) {
        const uint8_t *p = (const uint8_t *)src + k * stride;
        for (size_t r = 0; r < rn; r++, p += 4) {
            const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            NF(acc, (u & 0x7f800000u) + 0x00800000u);
            dst[r * ld + k] = llx_bits_to_f32(u);
        }
    }
    return (acc & 0x80000000u) != 0;
}

static int tile16_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld, int bf16)
{
    const uint32_t ex = bf16 ? 0x7f80u : 0x7c00u, step = bf16 ? 0x0080u : 0x0400u;
    uint32_t acc = 0;
    for (size_t k = 0; k < kn; k++) {
        const uint8_t *p = (const uint8_t *)src + k * stride;
        for (size_t r = 0; r < rn; r++, p += 2) {
            const uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            NF(acc, (h & ex) + step);
            dst[r * ld + k] = bf16 ? llx_bf16_to_f32(h) : llx_f16_to_f32(h);
        }
    }
    return (acc & 0x8000u) != 0;
}

/* The F16 and BF16 passes over a run: the tile pass over one column of n rows. */
int llx_wscan_f16_ref(const void *src, size_t n, float *dst)
{
    return tile16_ref(src, 0, 1, n, dst, 1, 0);
}

int llx_wscan_bf16_ref(const void *src, size_t n, float *dst)
{
    return tile16_ref(src, 0, 1, n, dst, 1, 1);
}

int llx_wscan_tile_f16_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    return tile16_ref(src, stride, kn, rn, dst, ld, 0);
}

int llx_wscan_tile_bf16_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld)
{
    return tile16_ref(src, stride, kn, rn, dst, ld, 1);
}

/* Per-lane masks of the 64-bit words the hash reads (two F32 or four F16
 * lanes per little-endian word): exponent bits, one exponent step, the
 * lane's top bit.  The step never carries into the next lane. */
static const uint64_t nf_exp[2] = {0x7f8000007f800000ull, 0x7c007c007c007c00ull};
static const uint64_t nf_step[2] = {0x0080000000800000ull, 0x0400040004000400ull};
static const uint64_t nf_top[2] = {0x8000000080000000ull, 0x8000800080008000ull};

uint64_t llx_wscan_hash_tail(const uint8_t *p, size_t i, size_t n, const uint64_t l[4], uint64_t nf, int f16,
                             int *bad)
{
    const uint64_t ex = nf_exp[f16 != 0], step = nf_step[f16 != 0];
    uint64_t h = llx_hash_mix(llx_hash_mix(llx_hash_mix(llx_hash_mix((uint64_t)n, l[0]), l[1]), l[2]), l[3]);
    for (size_t j = i; j + 2 <= n; j += f16 ? 2 : 4) {
        uint32_t u = 0;
        memcpy(&u, p + j, f16 || j + 4 > n ? 2 : 4);
        NF(nf, ((u & ex) + step) & (f16 ? 0xffffu : 0xffffffffu));
    }
    for (; i < n; i++) h = llx_hash_mix(h, p[i] | 0x100u);
    *bad = (nf & nf_top[f16 != 0]) != 0;
    return h ^ (h >> 29);
}

uint64_t llx_wscan_hash_float_ref(const void *data, size_t n, uint64_t seed, int f16, int *bad)
{
    const uint8_t *p = data;
    static const uint64_t s[4] = {LLX_HASH_SEEDS};
    uint64_t l[4] = {seed ^ s[0], seed ^ s[1], seed ^ s[2], seed ^ s[3]};
    const uint64_t ex = nf_exp[f16 != 0], step = nf_step[f16 != 0];
    uint64_t nf = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        NF(nf, ((w[0] & ex) + step) | ((w[1] & ex) + step) | ((w[2] & ex) + step) | ((w[3] & ex) + step));
        for (int j = 0; j < 4; j++) l[j] = llx_hash_mix(l[j], w[j]);
    }
    return llx_wscan_hash_tail(p, i, n, l, nf, f16, bad);
}

int llx_wscan_any_bad(llx_wscan_conv_fn f, const void *src, size_t n, size_t esize)
{
#ifndef LLX_WSCAN_NO_CHECK
    float buf[1024];
    const uint8_t *p = src;
    for (size_t k = 0; k < n; k += 1024)
        if (f(p + k * esize, n - k < 1024 ? n - k : 1024, buf)) return 1;
#endif
    return 0;
}

int64_t llx_wscan_first_bad(const void *src, size_t n, int dtype_bytes, int bf16, int *nan)
{
    const uint8_t *p = src;
    for (size_t k = 0; k < n; k++) {
        if (dtype_bytes == 4) {
            const uint32_t u = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 | (uint32_t)p[4 * k + 2] << 16 |
                               (uint32_t)p[4 * k + 3] << 24;
            if ((u & 0x7f800000u) != 0x7f800000u) continue;
            *nan = (u & 0x7fffffu) != 0;
        } else {
            const uint16_t h = (uint16_t)(p[2 * k] | p[2 * k + 1] << 8);
            const uint16_t ex = bf16 ? 0x7f80u : 0x7c00u;
            if ((h & ex) != ex) continue;
            *nan = (h & (uint16_t)~(ex | 0x8000u)) != 0;
        }
        return (int64_t)k;
    }
    return -1;
}

/* ---- tiers ---- */

static llx_wscan tiers[LLX_WSCAN_COUNT];
static int usable[LLX_WSCAN_COUNT];
static int best;

static void build(void)
{
    tiers[LLX_WSCAN_REF] = (llx_wscan){"ref",
                                       llx_wscan_f32_ref,
                                       llx_wscan_f16_ref,
                                       llx_wscan_bf16_ref,
                                       llx_wscan_hash_float_ref,
                                       llx_wscan_tile_f32_ref,
                                       llx_wscan_tile_f16_ref,
                                       llx_wscan_tile_bf16_ref};
    usable[LLX_WSCAN_REF] = 1;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init(); /* its AVX/AVX-512 flags include the OS's XCR0 state */
    if (__builtin_cpu_supports("avx2")) {
        tiers[LLX_WSCAN_AVX2] = tiers[LLX_WSCAN_REF];
        llx_wscan_fill_avx2(&tiers[LLX_WSCAN_AVX2]);
        usable[LLX_WSCAN_AVX2] = 1;
        best = LLX_WSCAN_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl")) {
            tiers[LLX_WSCAN_AVX512] = tiers[LLX_WSCAN_AVX2];
            llx_wscan_fill_avx512(&tiers[LLX_WSCAN_AVX512]);
            usable[LLX_WSCAN_AVX512] = 1;
            best = LLX_WSCAN_AVX512;
        }
    }
#endif
    /* the kernels' override: ref and avx2 pin the tier, anything else is the best */
    const char *env = getenv("LLX_KERNELS");
    if (env && !strcmp(env, "ref")) best = LLX_WSCAN_REF;
    if (env && !strcmp(env, "avx2") && usable[LLX_WSCAN_AVX2]) best = LLX_WSCAN_AVX2;
}

static void built(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build);
}

const llx_wscan *llx_wscan_tier(int t)
{
    if (t < 0 || t >= LLX_WSCAN_COUNT) return NULL;
    built();
    return usable[t] ? &tiers[t] : NULL;
}

const llx_wscan *llx_wscan_get(void)
{
    built();
    return &tiers[best];
}
