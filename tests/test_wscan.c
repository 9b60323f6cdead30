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

static llx_wscan_tile_fn tile(const llx_wscan *w, int dt)
{
    return dt == F32 ? w->tile_f32 : dt == F16 ? w->tile_f16 : w->tile_bf16;
}

/* A kn x rn tile at src (source rows stride bytes apart) through the
 * reference and tier w into destinations with ld = kn + 3 floats per row,
 * pre-filled with a pattern the pass must leave alone outside the tile; 0
 * when they disagree (flag, or any destination bit for finite input). */
static int tile_same(const llx_wscan *w, int dt, const uint8_t *src, size_t stride, size_t kn, size_t rn, int *bad_out)
{
    const size_t ld = kn + 3, cells = (rn + 1) * ld + 1;
    float *a = malloc(cells * sizeof *a), *b = malloc(cells * sizeof *b);
    if (!a || !b) return 0;
    for (size_t i = 0; i < cells; i++) a[i] = b[i] = (float)i * 0.5f + 7.0f;
    const int ra = tile(llx_wscan_tier(LLX_WSCAN_REF), dt)(src, stride, kn, rn, a + 1, ld);
    const int rb = tile(w, dt)(src, stride, kn, rn, b + 1, ld);
    int ok = ra == rb && (ra || memcmp(a, b, cells * sizeof *a) == 0);
    *bad_out = ra;
    free(a);
    free(b);
    return ok;
}

/* The reference tile pass is the conversion, element by element, transposed. */
TEST(wscan_tile_reference_is_the_conversion_transposed, LLX_T_ASAN)
{
    const llx_wscan *ref = llx_wscan_tier(LLX_WSCAN_REF);
    uint8_t src[4 * 13 * 21];
    float t[13 * 21], row[21];
    for (int dt = F32; dt <= BF16; dt++) {
        const size_t kn = 13, rn = 21, stride = 21 * (size_t)esize(dt);
        for (size_t i = 0; i < kn * rn; i++) put(src, dt, i, finite_val(dt, (uint32_t)(i * 11 + 3)));
        CHECK(tile(ref, dt)(src, stride, kn, rn, t, kn) == 0);
        for (size_t k = 0; k < kn; k++) {
            CHECK(conv(ref, dt)(src + k * stride, rn, row) == 0);
            for (size_t r = 0; r < rn; r++) CHECK_MSG(!memcmp(&row[r], &t[r * kn + k], 4), "dtype %d [%zu][%zu]", dt, k, r);
        }
        put(src, dt, 5 * rn + 7, dt == F32 ? bad32[0] : dt == F16 ? bad16[2] : badbf[3]);
        CHECK(tile(ref, dt)(src, stride, kn, rn, t, kn) == 1);
    }
}

/* The tiers' tile passes against the reference: odd tile sizes, unaligned
 * sources, padded source rows, finite data with and without the specials
 * (F16 subnormals send a block to the scalar path); then one NaN/Inf at
 * every position of small tiles. */
TEST(wscan_tiers_tile_like_the_reference, LLX_T_ASAN)
{
    enum { MAXK = 27, MAXR = 27, PAD = 5 };
    uint8_t *buf = malloc(4 * (size_t)MAXK * (MAXR + PAD) + 8);
    REQUIRE(buf);
    int tiers = 0;
    for (int t = LLX_WSCAN_AVX2; t < LLX_WSCAN_COUNT; t++) {
        const llx_wscan *w = llx_wscan_tier(t);
        if (!w) continue;
        tiers++;
        for (int dt = F32; dt <= BF16; dt++)
            for (size_t kn = 0; kn <= MAXK; kn++)
                for (size_t rn = 0; rn <= MAXR; rn += 1 + (kn % 3)) {
                    const size_t off = (kn + rn) % 4, stride = (rn + (kn % 2 ? PAD : 0)) * (size_t)esize(dt);
                    uint8_t *src = buf + off;
                    for (int plain = 0; plain <= 1; plain++) {
                        for (size_t k = 0; k < kn; k++)
                            for (size_t r = 0; r < rn; r++) {
                                uint32_t v = (uint32_t)(k * 31 + r * 7 + kn * 3 + rn);
                                if (plain && v % 5 == 0) v++; /* no specials, no F16 subnormals */
                                put(src + k * stride, dt, r, finite_val(dt, v));
                            }
                        int bad = 1;
                        CHECK_MSG(tile_same(w, dt, src, stride, kn, rn, &bad) && !bad,
                                  "%s dtype %d kn %zu rn %zu plain %d (finite)", w->name, dt, kn, rn, plain);
                    }
                    if (kn > 17 || rn > 17) continue;
                    for (size_t at = 0; at < kn * rn; at++) {
                        const size_t k = at / rn, r = at % rn, v = (at + kn) % 6, es = (size_t)esize(dt);
                        uint8_t saved[4];
                        memcpy(saved, src + k * stride + r * es, es);
                        put(src + k * stride, dt, r, dt == F32 ? bad32[v] : dt == F16 ? bad16[v] : badbf[v]);
                        int bad = 0;
                        CHECK_MSG(tile_same(w, dt, src, stride, kn, rn, &bad) && bad,
                                  "%s dtype %d kn %zu rn %zu bad at [%zu][%zu]", w->name, dt, kn, rn, k, r);
                        memcpy(src + k * stride + r * es, saved, es);
                    }
                }
    }
    free(buf);
    if (!tiers) SKIP("no vector tier on this CPU");
}

/* LLX_KERNELS=ref pins the scalar passes (tiers_* runs use it). */
TEST(wscan_best_tier_is_usable, LLX_T_ASAN)
{
    const llx_wscan *w = llx_wscan_get();
    REQUIRE(w && w->f32 && w->f16 && w->bf16 && w->hash_float && w->tile_f32 && w->tile_f16 && w->tile_bf16);
    const char *env = getenv("LLX_KERNELS");
    if (env && !strcmp(env, "ref")) CHECK(w == llx_wscan_tier(LLX_WSCAN_REF));
    else CHECK(w == llx_wscan_tier(LLX_WSCAN_AVX512) || w == llx_wscan_tier(LLX_WSCAN_AVX2) ||
               !llx_wscan_tier(LLX_WSCAN_AVX2));
}
