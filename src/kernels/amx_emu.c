/* kernels/amx_emu.c - scalar emulation of the AMX tile operations of
 * amx_tile.h, after Intel's documented semantics (SDM vol. 2, LDTILECFG,
 * TILELOADD, TILESTORED, TILEZERO, TDPBSUD, TILERELEASE):
 *   - ldtilecfg takes palette 1 (or 0: release), at most 16 rows and 64
 *     bytes per row per tile, and zeroes every tile;
 *   - tileloadd reads rows x colsb bytes, row i from base + i * stride, and
 *     zeroes the rest of the 16 x 64 tile;
 *   - tdpbsud needs rows(C) = rows(A), colsb(A) = 4 rows(B) and colsb(C) =
 *     colsb(B); it adds to each int32 C[m][n] the products of A's signed
 *     and B's unsigned bytes, without saturation, and zeroes C past its
 *     configured shape.
 * State is per thread, as the tile registers are.  Built without ISA
 * flags: it is plain C. */
#define LLX_AMX_EMULATE 1
#include "kernels/amx_tile.h"

#include <stdatomic.h>
#include <string.h>

static _Thread_local struct {
    int valid;
    llx_tilecfg cfg;
    uint8_t t[8][16][64];
} emu;

static atomic_long faults;

long llx_amx_emu_faults(void) { return atomic_load(&faults); }

static int fault(void)
{
    atomic_fetch_add(&faults, 1);
    return 0;
}

/* tile t is configured with a usable shape */
static int usable(int t)
{
    if (!emu.valid || t < 0 || t > 7) return fault();
    if (!emu.cfg.rows[t] || !emu.cfg.colsb[t]) return fault();
    return 1;
}

void llx_emu_tile_config(const llx_tilecfg *cfg)
{
    memset(&emu, 0, sizeof emu);
    if (cfg->palette == 0) return; /* palette 0: the init state */
    if (cfg->palette != 1 || cfg->start_row) {
        fault();
        return;
    }
    for (int i = 0; i < 8; i++)
        if (cfg->rows[i] > 16 || cfg->colsb[i] > 64) {
            fault();
            return;
        }
    for (int i = 8; i < 16; i++)
        if (cfg->rows[i] || cfg->colsb[i]) {
            fault();
            return;
        }
    emu.cfg = *cfg;
    emu.valid = 1;
}

void llx_emu_tile_release(void) { memset(&emu, 0, sizeof emu); }

void llx_emu_tile_zero(int t)
{
    if (usable(t)) memset(emu.t[t], 0, sizeof emu.t[t]);
}

void llx_emu_tile_load(int t, const void *base, long stride)
{
    if (!usable(t)) return;
    memset(emu.t[t], 0, sizeof emu.t[t]);
    for (int i = 0; i < emu.cfg.rows[t]; i++) memcpy(emu.t[t][i], (const uint8_t *)base + i * stride, emu.cfg.colsb[t]);
}

void llx_emu_tile_store(int t, void *base, long stride)
{
    if (!usable(t)) return;
    for (int i = 0; i < emu.cfg.rows[t]; i++) memcpy((uint8_t *)base + i * stride, emu.t[t][i], emu.cfg.colsb[t]);
}

void llx_emu_tile_dpbsud(int c, int a, int b)
{
    if (!usable(c) || !usable(a) || !usable(b)) return;
    const int M = emu.cfg.rows[c], N = emu.cfg.colsb[c] / 4, Kd = emu.cfg.colsb[a] / 4;
    if (emu.cfg.colsb[c] % 4 || emu.cfg.colsb[a] % 4 || M != emu.cfg.rows[a] || Kd != emu.cfg.rows[b] ||
        emu.cfg.colsb[c] != emu.cfg.colsb[b] || c == a || c == b || a == b) {
        fault();
        return;
    }
    uint8_t out[16][64] = {{0}};
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            uint32_t acc;
            memcpy(&acc, &emu.t[c][m][4 * n], 4);
            for (int k = 0; k < Kd; k++)
                for (int i = 0; i < 4; i++)
                    acc += (uint32_t)((int32_t)(int8_t)emu.t[a][m][4 * k + i] * (int32_t)emu.t[b][k][4 * n + i]);
            memcpy(&out[m][4 * n], &acc, 4);
        }
    memcpy(emu.t[c], out, sizeof out);
}
