/* kernels/amxemu_avx512.c - the amx-emu test tier: the amx tier's GEMM
 * (gemm_amx_body.h, the same source as kernels_amx.c) on the scalar tile
 * emulation of amx_emu.c, with the AVX-512 epilogue.  Built with AVX-512
 * flags only, so the AMX code paths run and are tested bit for bit on any
 * machine with the avx512 tier.  Slow: it is for tests, not for use. */
#define LLX_AMX_EMULATE 1
#define AMX_GEMM gemm_amx_emu
#include "kernels/gemm_amx_body.h"

void llx_kernels_fill_amx_emu(llx_kernels *k)
{
    k->name = "amx-emu";
    k->tier = LLX_TIER_AMX_EMU;
    k->matmul_i8p = amx_matmul_i8p;
    k->gemm_i8 = gemm_amx_emu;
}
