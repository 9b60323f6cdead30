/* quant/linalg_tile_avx512.c - the AVX-512 tier of linalg_tile.h: tiles
 * of 8 rows x 16 columns (16 accumulators of 8 doubles, two loads of x
 * and eight broadcasts of v per step of k).  Built with the AVX-512
 * flags; linalg_tile.c hands it out only when the CPU has them. */
#include "quant/linalg_tile.h"

#define LA_LANES 8
#define LA_ROWS 8
#define LA_VECS 2
#define LA_SUB tile_sub_avx512
#define LA_ADD tile_add_avx512
#define LA_SUB_F32 sub_f32_avx512
#include "quant/linalg_tile_body.h"

const llx_la_tier llx_la_tier_avx512_table = {"avx512", LA_ROWS, LA_LANES * LA_VECS, LA_SUB, LA_ADD, LA_SUB_F32};
