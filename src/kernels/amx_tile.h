/* kernels/amx_tile.h - the few AMX tile operations the amx tier uses, as
 * one thin layer with two builds:
 *   - hardware (kernels_amx.c, built with -mamx-tile -mamx-int8): each
 *     macro is the intrinsic (ldtilecfg, tilezero, tileloadd, tdpbsud,
 *     tilestored, tilerelease);
 *   - emulation (LLX_AMX_EMULATE, amxemu_avx512.c): scalar C implementing
 *     Intel's documented semantics of the same instructions (Intel SDM,
 *     "Intel AMX Instruction Set Reference"), on eight thread-local tiles
 *     of 16 rows x 64 bytes.  The amx tier's tiling, packing and loop code
 *     is then the same code on both, and runs and is tested on any machine
 *     with AVX-512 (the tier's epilogue).
 * The emulation checks what the hardware would fault on (an unconfigured
 * tile, shapes that do not fit a tdpbsud, a palette other than 1) and
 * counts it instead (llx_amx_emu_faults) so tests can assert none. */
#ifndef LLX_KERNELS_AMX_TILE_H
#define LLX_KERNELS_AMX_TILE_H

#include <stdint.h>

/* The 64-byte tile configuration of palette 1 (ldtilecfg's operand). */
typedef struct llx_tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16]; /* bytes per row of tile i (8 tiles used) */
    uint8_t rows[16];
} llx_tilecfg;

#ifdef LLX_AMX_EMULATE

void llx_emu_tile_config(const llx_tilecfg *cfg);
void llx_emu_tile_release(void);
void llx_emu_tile_zero(int t);
void llx_emu_tile_load(int t, const void *base, long stride);
void llx_emu_tile_store(int t, void *base, long stride);
/* C[m][n] += sum_k sum_i sext(A[m][4k+i]) * zext(B[k][4n+i]), int32 wrapping */
void llx_emu_tile_dpbsud(int c, int a, int b);

#define LLX_TILE_CONFIG(cfg) llx_emu_tile_config(cfg)
#define LLX_TILE_RELEASE() llx_emu_tile_release()
#define LLX_TILE_ZERO(t) llx_emu_tile_zero(t)
#define LLX_TILE_LOAD(t, p, s) llx_emu_tile_load(t, p, (long)(s))
#define LLX_TILE_STORE(t, p, s) llx_emu_tile_store(t, p, (long)(s))
#define LLX_TILE_DPBSUD(c, a, b) llx_emu_tile_dpbsud(c, a, b)

#else

#include <immintrin.h>

#define LLX_TILE_CONFIG(cfg) _tile_loadconfig(cfg)
#define LLX_TILE_RELEASE() _tile_release()
#define LLX_TILE_ZERO(t) _tile_zero(t)
#define LLX_TILE_LOAD(t, p, s) _tile_loadd(t, p, s)
#define LLX_TILE_STORE(t, p, s) _tile_stored(t, p, s)
#define LLX_TILE_DPBSUD(c, a, b) _tile_dpbsud(c, a, b)

#endif

/* Operations the emulation refused (a real tile unit would have faulted). */
long llx_amx_emu_faults(void);

#endif
