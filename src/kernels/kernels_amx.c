/* kernels/kernels_amx.c - the amx tier: the int8 GEMM of gemm_amx_body.h
 * on the real tile unit (built with AVX-512 and AMX flags; entered only
 * after kernels_select.c found AMX-INT8, the OS tile state and Linux's
 * permission).  Everything else is the avx512 tier's. */
#define AMX_GEMM gemm_amx
#include "kernels/gemm_amx_body.h"

void llx_kernels_fill_amx(llx_kernels *k)
{
    k->name = "amx";
    k->tier = LLX_TIER_AMX;
    k->matmul_i8p = amx_matmul_i8p;
    k->gemm_i8 = gemm_amx;
}
