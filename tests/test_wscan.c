/* tests/test_wscan.c - the vector tiers of the load passes (model/wscan.h)
 * against the scalar specification: the same fp32 bits for every finite
 * input, and a NaN/Inf reported exactly when the scalar pass reports one,
 * wherever it sits (head, vector body, tail, unaligned source), whatever it
 * is (NaN payloads quiet and signalling, +-Inf), and never for -0,
 * subnormals or the largest finite values.  The .llx checksum of each tier
 * equals llx_hash64. */
#include <stdlib.h>
#include <string.h>

#include "model/llx_file.h"
#include "model/wscan.h"
#include "test.h"

enum { F32, F16, BF16 };

static int esize(int dt) { return dt == F32 ? 4 : 2; }

/* finite specials and non-finite values of each dtype */
static const uint32_t fin32[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00800000u,
                                 0x7f7fffffu, 0xff7fffffu, 0x3f800000u, 0xc0490fdbu};
static const uint32_t bad32[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x7fa5a5a5u};
static const uint16_t fin16[] = {0x0000u, 0x8000u, 0x0001u, 0x83ffu, 0x0400u, 0x7bffu, 0xfbffu, 0x3c00u, 0x0200u};
static const uint16_t bad16[] = {0x7c00u, 0xfc00u, 0x7e00u, 0x7c01u, 0xffffu, 0x7d55u};
static const uint16_t finbf[] = {0x0000u, 0x8000u, 0x0001u, 0x807fu, 0x0080u, 0x7f7fu, 0xff7fu, 0x3f80u, 0xc049u};
static const uint16_t badbf[] = {0x7f80u, 0xff80u, 0x7fc0u, 0x7f81u, 0xffffu, 0x7fa5u};

static void put(uint8_t *p, int dt, size_t k, uint32_t v)
{
    for (int b = 0; b < esize(dt); b++) p[(size_t)esize(dt) * k + (size_t)b] = (uint8_t)(v >> (8 * b));
}

/* a finite element: mostly ordinary values, with the specials sprinkled in */
static uint32_t finite_val(int dt, uint32_t r)
{
    if (r % 5 == 0) {
        const size_t i = r / 5 % 9;
        return dt == F32 ? fin32[i] : dt == F16 ? fin16[i] : finbf[i];
    }
    const uint32_t m = r * 2654435761u;
    if (dt == F32) return (m & 0x807fffffu) | ((0x30u + (m >> 9) % 0x90u) << 23);
    if (dt == F16) return (m & 0x83ffu) | ((1u + (m >> 7) % 30u) << 10);
    return (m & 0x807fu) | ((0x30u + (m >> 9) % 0x90u) << 7);
}

static llx_wscan_conv_fn conv(const llx_wscan *w, int dt) { return dt == F32 ? w->f32 : dt == F16 ? w->f16 : w->bf16; }

/* The reference and tier w on n elements at src; 0 when they disagree. */
static int same(const llx_wscan *w, int dt, const uint8_t *src, size_t n, int *bad_out)
{
    float *a = malloc(n * sizeof *a + 4), *b = malloc(n * sizeof *b + 4);
    const int ra = conv(llx_wscan_tier(LLX_WSCAN_REF), dt)(src, n, a);
    const int rb = conv(w, dt)(src, n, b);
    int ok = ra == rb && (ra || memcmp(a, b, n * sizeof *a) == 0);
    *bad_out = ra;
    free(a);
    free(b);
    return ok;
}

TEST(wscan_tiers_convert_like_the_reference, LLX_T_ASAN)
{
    uint8_t *buf = malloc(4 * 300 + 8);
    REQUIRE(buf);
    int tiers = 0;
    for (int t = LLX_WSCAN_AVX2; t < LLX_WSCAN_COUNT; t++) {
        const llx_wscan *w = llx_wscan_tier(t);
        if (!w) continue;
        tiers++;
        for (int dt = F32; dt <= BF16; dt++)
            for (size_t n = 0; n <= 90; n++)
                for (size_t off = 0; off < 4; off++) {
                    uint8_t *src = buf + off;
                    for (size_t k = 0; k < n; k++) put(src, dt, k, finite_val(dt, (uint32_t)(k * 7 + n * 13 + off)));
                    int bad = 1;
                    CHECK_MSG(same(w, dt, src, n, &bad) && !bad, "%s dtype %d n %zu off %zu (finite)", w->name, dt,
                              n, off);
                    /* one non-finite value at every position */
                    for (size_t at = 0; at < n; at++) {
                        const size_t v = (at + n) % 6;
                        uint8_t saved[4];
                        memcpy(saved, src + at * (size_t)esize(dt), (size_t)esize(dt));
                        put(src, dt, at, dt == F32 ? bad32[v] : dt == F16 ? bad16[v] : badbf[v]);
                        bad = 0;
                        CHECK_MSG(same(w, dt, src, n, &bad) && bad, "%s dtype %d n %zu off %zu bad at %zu", w->name,
                                  dt, n, off, at);
                        int nan = -1;
                        CHECK(llx_wscan_first_bad(src, n, esize(dt), dt == BF16, &nan) == (int64_t)at);
                        CHECK(nan == (v >= 2));
                        memcpy(src + at * (size_t)esize(dt), saved, (size_t)esize(dt));
                    }
                }
    }
    free(buf);
    if (!tiers) SKIP("no vector tier on this CPU");
}

/* All finite bit patterns of the 16-bit formats, in one run each. */
TEST(wscan_tiers_every_16bit_pattern, LLX_T_ASAN)
{
    uint16_t *all = malloc(65536 * sizeof *all);
    float *a = malloc(65536 * sizeof *a), *b = malloc(65536 * sizeof *b);
    REQUIRE(all && a && b);
    int tiers = 0;
    for (int t = LLX_WSCAN_AVX2; t < LLX_WSCAN_COUNT; t++) {
        const llx_wscan *w = llx_wscan_tier(t);
        if (!w) continue;
        tiers++;
        for (int dt = F16; dt <= BF16; dt++) {
            const uint16_t ex = dt == F16 ? 0x7c00u : 0x7f80u;
            size_t n = 0;
            for (uint32_t h = 0; h < 65536; h++)
                if ((h & ex) != ex) all[n++] = (uint16_t)h;
            CHECK(conv(llx_wscan_tier(LLX_WSCAN_REF), dt)(all, n, a) == 0);
            CHECK(conv(w, dt)(all, n, b) == 0);
            CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "%s dtype %d", w->name, dt);
        }
    }
    free(all);
    free(a);
    free(b);
    if (!tiers) SKIP("no vector tier on this CPU");
}

TEST(wscan_tiers_hash_like_the_reference, LLX_T_ASAN)
{
    uint8_t *buf = malloc(4 * 160 + 8);
    REQUIRE(buf);
    for (int t = LLX_WSCAN_REF; t < LLX_WSCAN_COUNT; t++) {
        const llx_wscan *w = llx_wscan_tier(t);
        if (!w) continue;
        for (int f16 = 0; f16 <= 1; f16++) {
            const int dt = f16 ? F16 : F32;
            for (size_t n = 0; n <= 150; n++)
                for (size_t off = 0; off < 4; off += 3) {
                    uint8_t *src = buf + off;
                    for (size_t k = 0; k < n; k++) put(src, dt, k, finite_val(dt, (uint32_t)(k * 5 + n)));
                    const size_t bytes = n * (size_t)esize(dt);
                    int bad = 1;
                    CHECK_MSG(w->hash_float(src, bytes, n * 3, f16, &bad) == llx_hash64(src, bytes, n * 3) && !bad,
                              "%s f16 %d n %zu off %zu", w->name, f16, n, off);
                    for (size_t at = 0; at < n; at++) {
                        uint8_t saved[4];
                        memcpy(saved, src + at * (size_t)esize(dt), (size_t)esize(dt));
                        put(src, dt, at, f16 ? bad16[at % 6] : bad32[at % 6]);
                        bad = 0;
                        CHECK_MSG(w->hash_float(src, bytes, 1, f16, &bad) == llx_hash64(src, bytes, 1) && bad,
                                  "%s f16 %d n %zu bad at %zu", w->name, f16, n, at);
                        memcpy(src + at * (size_t)esize(dt), saved, (size_t)esize(dt));
                    }
                }
        }
    }
    free(buf);
}

/* LLX_KERNELS=ref pins the scalar passes (tiers_* runs use it). */
TEST(wscan_best_tier_is_usable, LLX_T_ASAN)
{
    const llx_wscan *w = llx_wscan_get();
    REQUIRE(w && w->f32 && w->f16 && w->bf16 && w->hash_float);
    const char *env = getenv("LLX_KERNELS");
    if (env && !strcmp(env, "ref")) CHECK(w == llx_wscan_tier(LLX_WSCAN_REF));
    else CHECK(w == llx_wscan_tier(LLX_WSCAN_AVX512) || w == llx_wscan_tier(LLX_WSCAN_AVX2) ||
               !llx_wscan_tier(LLX_WSCAN_AVX2));
}
