/* tests/test_amx_emu.c - the scalar AMX tile emulation (kernels/amx_emu.c)
 * against Intel's documented semantics, computed here independently: a
 * tdpbsud on random tiles, loads that zero the unconfigured part, and the
 * shapes and states the hardware would fault on (counted, not executed). */
#include <string.h>

#define LLX_AMX_EMULATE 1
#include "kernels/amx_tile.h"
#include "test.h"
#include "util/rng.h"

static llx_tilecfg config(int m, int kbytes, int n)
{
    llx_tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    c.rows[0] = (uint8_t)m, c.colsb[0] = (uint16_t)(4 * n);     /* C: m x n int32 */
    c.rows[1] = (uint8_t)m, c.colsb[1] = (uint16_t)kbytes;      /* A: m x kbytes int8 */
    c.rows[2] = (uint8_t)(kbytes / 4), c.colsb[2] = (uint16_t)(4 * n); /* B: kbytes/4 x 4n */
    return c;
}

TEST(amx_emu_dpbsud_semantics, LLX_T_ASAN)
{
    llx_rng r;
    llx_rng_seed(&r, 31);
    static const int shapes[][3] = {{16, 64, 16}, {5, 12, 3}, {1, 4, 1}, {16, 8, 16}, {7, 64, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int M = shapes[s][0], KB = shapes[s][1], N = shapes[s][2];
        uint8_t a[16][64], b[16][64];
        int32_t c0[16][16], c[16][16];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 64; j++) a[i][j] = (uint8_t)llx_rng_u64(&r), b[i][j] = (uint8_t)llx_rng_u64(&r);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) c0[i][j] = (int32_t)llx_rng_u64(&r);
        a[0][0] = 0x80, b[0][0] = 0xff; /* -128 x 255: sign of A, no sign of B */
        const llx_tilecfg cfg = config(M, KB, N);
        const long before = llx_amx_emu_faults();
        llx_emu_tile_config(&cfg);
        llx_emu_tile_load(0, c0, 64);
        llx_emu_tile_load(1, a, 64);
        llx_emu_tile_load(2, b, 64);
        llx_emu_tile_dpbsud(0, 1, 2);
        memset(c, 0x77, sizeof c);
        llx_emu_tile_store(0, c, 64);
        llx_emu_tile_release();
        CHECK_EQ_INT(llx_amx_emu_faults(), before);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                long long want = c0[m][n];
                for (int k = 0; k < KB; k++) want += (long long)(int8_t)a[m][k] * (long long)b[k / 4][4 * n + k % 4];
                CHECK_MSG(c[m][n] == (int32_t)(uint32_t)(unsigned long long)want, "shape %zu m %d n %d", s, m, n);
            }
        for (int n = N; n < 16; n++) CHECK(c[0][n] == 0x77777777); /* a store writes only the configured columns */
    }
}

/* The sums wrap in 32 bits, without saturation. */
TEST(amx_emu_dpbsud_wraps, LLX_T_ASAN)
{
    uint8_t a[16][64], b[16][64];
    int32_t c[16][16];
    memset(a, 0x7f, sizeof a), memset(b, 0xff, sizeof b);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) c[i][j] = 0x7fffffff;
    const llx_tilecfg cfg = config(16, 64, 16);
    llx_emu_tile_config(&cfg);
    llx_emu_tile_load(0, c, 64);
    llx_emu_tile_load(1, a, 64);
    llx_emu_tile_load(2, b, 64);
    llx_emu_tile_dpbsud(0, 1, 2);
    llx_emu_tile_store(0, c, 64);
    llx_emu_tile_release();
    CHECK(c[3][5] == (int32_t)(0x7fffffffu + 64u * 127u * 255u));
}

TEST(amx_emu_counts_what_hardware_faults_on, LLX_T_ASAN)
{
    uint8_t buf[16][64] = {{0}};
    long n = llx_amx_emu_faults();
    llx_emu_tile_release();
    llx_emu_tile_load(1, buf, 64); /* no configuration */
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 1);
    llx_tilecfg cfg = config(16, 64, 16);
    llx_emu_tile_config(&cfg);
    llx_emu_tile_dpbsud(0, 1, 1); /* the same tile twice */
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 2);
    llx_emu_tile_load(5, buf, 64); /* tile 5 is not configured */
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 3);
    cfg.rows[2] = 8; /* B's rows do not match A's columns */
    llx_emu_tile_config(&cfg);
    llx_emu_tile_dpbsud(0, 1, 2);
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 4);
    cfg = config(16, 64, 16);
    cfg.rows[0] = 17; /* more than 16 rows */
    llx_emu_tile_config(&cfg);
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 5);
    cfg = config(16, 64, 16);
    cfg.palette = 2;
    llx_emu_tile_config(&cfg);
    CHECK_EQ_INT(llx_amx_emu_faults(), n + 6);
    llx_emu_tile_release();
}

/* A load fills only the configured rows and columns and zeroes the rest. */
TEST(amx_emu_load_zeroes_the_rest, LLX_T_ASAN)
{
    uint8_t src[16][64], out[16][64];
    memset(src, 0xab, sizeof src);
    llx_tilecfg cfg = config(3, 8, 2);
    llx_emu_tile_config(&cfg);
    llx_emu_tile_load(1, src, 64);
    memset(out, 0xcd, sizeof out);
    cfg.rows[1] = 16, cfg.colsb[1] = 64, cfg.rows[2] = 16; /* look at the whole tile */
    llx_emu_tile_store(1, out, 64); /* still the 3 x 8 shape */
    CHECK(out[2][7] == 0xab && out[2][8] == 0xcd && out[3][0] == 0xcd);
    llx_emu_tile_release();
}
