/* kernels/kernels_avx512.c - the avx512 tier's table: AVX-512 + VNNI
 * kernels over the panel layout (gemm_i8_avx512.c), the order-keeping fp32
 * GEMM (matmul_f32_avx512.c), and the elementwise kernels in 16 lanes.
 * Built with AVX-512 flags; entered only after the CPU check of
 * kernels_select.c. */
#include <immintrin.h>

#include "kernels/epi_avx512.h"
#include "kernels/gemm_avx512.h"
#include "kernels/kernels.h"

void llx_matmul_f32_fill_avx512(llx_kernels *k); /* matmul_f32_avx512.c */
void llx_attn_fill_avx512(llx_kernels *k);       /* attn_avx512.c */

void llx_kernels_fill_avx512(llx_kernels *k)
{
    llx_matmul_f32_fill_avx512(k);
    llx_attn_fill_avx512(k);
    k->name = "avx512";
    k->tier = LLX_TIER_AVX512;
    k->i8_rows = 16;
    k->i8_kalign = 4;
    k->pack_i8 = llx_pack_i8_panels;
    k->matmul_i8p = llx_matmul_i8p_avx512;
    k->gemm_i8 = llx_gemm_i8_avx512;
    k->q4_rows = 16;
    k->gemm_q4 = llx_gemm_q4_avx512;
}
