/* kernels/gemm_amx_body.h - the amx tier's int8 GEMM, written once against
 * the tile layer of amx_tile.h and compiled twice: on the real tile unit
 * (kernels_amx.c) and on emulated tiles (amxemu_avx512.c).  The includer
 * defines AMX_GEMM (the name of its gemm_i8) and, for the emulation,
 * LLX_AMX_EMULATE; amx_matmul_i8p is the raw-int32 entry.
 *
 * Tiles: 0-3 accumulate C (int32, 16 tokens x 16 rows each), 4-5 hold A
 * (16 tokens x 64 columns of x, signed), 6-7 hold B (one 1 KiB block of a
 * panel: 16 groups x 16 rows x 4 bytes, w + 128 unsigned, kernels.h).  A
 * block of 32 tokens x 32 rows walks K in steps of 64 columns: two A, two
 * B, four tdpbsud.  The panel layout is the B tile layout, so B loads
 * straight from the packed weights with a 64-byte stride; x loads straight
 * from its rows.  Edges (tokens past T, rows of a short last panel,
 * columns past K) go through zero-padded 1 KiB staging tiles.  The C tiles
 * then pass through the AVX-512 epilogue (epi_avx512.h) row by row, minus
 * 128 * sum(x) per token.  Decode (one token) uses the avx512 GEMV. */
#include <string.h>

#include "kernels/amx_tile.h"
#include "kernels/epi_avx512.h"
#include "kernels/gemm_avx512.h"

/* A block's operands: token rows [t0, t0 + nt) (nt <= 32), panels p0 and
 * p0 + 1 (np <= 2, rows of the last: prow). */
typedef struct amx_blk {
    const int8_t *x;
    size_t ldx;
    const int8_t *w; /* panel p0 */
    size_t ps;       /* bytes per full panel */
    int K, nt, np, prow;
} amx_blk;

/* A tile i (tokens 16i ..) of column block kb: straight from x when all 16
 * rows and 64 columns exist, else staged with zeros. */
static inline const int8_t *a_src(const amx_blk *b, int i, int kb, int8_t *stage, size_t *ld)
{
    const int rows = b->nt - 16 * i < 16 ? b->nt - 16 * i : 16, k0 = 64 * kb;
    const int8_t *src = b->x + (size_t)(16 * i) * b->ldx + k0;
    if (rows == 16 && k0 + 64 <= b->K) {
        *ld = b->ldx;
        return src;
    }
    const int cols = b->K - k0 < 64 ? b->K - k0 : 64;
    memset(stage, 0, 1024);
    for (int r = 0; r < rows; r++) memcpy(stage + 64 * r, src + (size_t)r * b->ldx, (size_t)cols);
    *ld = 64;
    return stage;
}

/* B tile j (panel p0 + j) of column block kb: straight from the panel when
 * it is full and the block has 16 groups, else staged with zeros. */
static inline const int8_t *b_src(const amx_blk *b, int j, int kb, int8_t *stage)
{
    const int rows = j == b->np - 1 ? b->prow : 16, groups = (b->K + 3) / 4 - 16 * kb;
    const int8_t *panel = b->w + (size_t)j * b->ps;
    if (rows == 16 && groups >= 16) return panel + (size_t)kb * 1024;
    memset(stage, 0, 1024);
    const int ng = groups < 16 ? groups : 16;
    for (int g = 0; g < ng; g++) memcpy(stage + 64 * g, panel + (size_t)(16 * kb + g) * rows * 4, (size_t)rows * 4);
    return stage;
}

/* C tile (i, j) stored at c, 16 x 16 int32, through the epilogue */
static inline void c_out(const llx_epilogue *ep, const amx_blk *b, const int32_t *c, const int32_t *xs, int t0,
                         int r0, int i, int j)
{
    const int rows = j == b->np - 1 ? b->prow : 16, nt = b->nt - 16 * i < 16 ? b->nt - 16 * i : 16;
    const llx_epi16 e = llx_epi16_rows(ep, r0 + 16 * j, rows);
    for (int m = 0; m < nt; m++) {
        const int t = t0 + 16 * i + m;
        const __m512i corr = _mm512_slli_epi32(_mm512_set1_epi32(xs[t]), 7);
        llx_epi16_store(ep, &e, t, r0 + 16 * j, _mm512_sub_epi32(_mm512_loadu_si512(c + 16 * m), corr));
    }
}

/* One block: C (i, j) for i < ceil(nt/16), j < np, over all of K. */
static void amx_block(const llx_epilogue *ep, const amx_blk *b, const int32_t *xs, int t0, int r0)
{
    _Alignas(64) int8_t sa[2][1024], sb[2][1024];
    _Alignas(64) int32_t c[4][256];
    const int na = b->nt > 16 ? 2 : 1, kbs = (b->K + 63) / 64;
    LLX_TILE_ZERO(0);
    LLX_TILE_ZERO(1);
    LLX_TILE_ZERO(2);
    LLX_TILE_ZERO(3);
    for (int kb = 0; kb < kbs; kb++) {
        size_t la0, la1 = 64;
        const int8_t *a0 = a_src(b, 0, kb, sa[0], &la0), *a1 = na > 1 ? a_src(b, 1, kb, sa[1], &la1) : NULL;
        LLX_TILE_LOAD(4, a0, la0);
        if (na > 1) LLX_TILE_LOAD(5, a1, la1);
        LLX_TILE_LOAD(6, b_src(b, 0, kb, sb[0]), 64);
        LLX_TILE_DPBSUD(0, 4, 6);
        if (na > 1) LLX_TILE_DPBSUD(2, 5, 6);
        if (b->np > 1) {
            LLX_TILE_LOAD(7, b_src(b, 1, kb, sb[1]), 64);
            LLX_TILE_DPBSUD(1, 4, 7);
            if (na > 1) LLX_TILE_DPBSUD(3, 5, 7);
        }
    }
    LLX_TILE_STORE(0, c[0], 64);
    if (b->np > 1) LLX_TILE_STORE(1, c[1], 64);
    if (na > 1) LLX_TILE_STORE(2, c[2], 64);
    if (na > 1 && b->np > 1) LLX_TILE_STORE(3, c[3], 64);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < b->np; j++) c_out(ep, b, c[2 * i + j], xs, t0, r0, i, j);
}

static void AMX_GEMM(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    if (T == 1) { /* decode: a bandwidth-bound GEMV, the avx512 kernel */
        llx_gemm_i8_avx512(ep, x, ldx, wp, T, R, K);
        return;
    }
    enum { TC = 1024 }; /* tokens per chunk: the sums of x live on the stack */
    int32_t xs[TC];
    llx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) cfg.rows[i] = 16, cfg.colsb[i] = 64;
    LLX_TILE_CONFIG(&cfg);
    const size_t ps = 16 * (((size_t)K + 3) & ~(size_t)3);
    for (int c = 0; c < T; c += TC) {
        const int nc = T - c < TC ? T - c : TC;
        llx_xsum_i8(xs, x + (size_t)c * ldx, ldx, nc, K);
        const llx_epilogue e = llx_epilogue_at(ep, c, 0);
        /* two panels (32 rows) at a time, their blocks reused by every token block */
        for (int r0 = 0; r0 < R; r0 += 32) {
            const int rows = R - r0 < 32 ? R - r0 : 32;
            for (int t0 = 0; t0 < nc; t0 += 32) {
                const amx_blk b = {.x = x + (size_t)(c + t0) * ldx, .ldx = (size_t)ldx, .w = wp + (size_t)(r0 / 16) * ps,
                                   .ps = ps, .K = K, .nt = nc - t0 < 32 ? nc - t0 : 32, .np = (rows + 15) / 16,
                                   .prow = rows > 16 ? rows - 16 : rows};
                amx_block(&e, &b, xs, t0, r0);
            }
        }
    }
    LLX_TILE_RELEASE();
}

static void amx_matmul_i8p(int32_t *acc, int lda, const int8_t *x, int ldx, const int8_t *wp, int T, int R, int K)
{
    const llx_epilogue ep = {.scale = LLX_EPI_I32, .out = acc, .ldo = (size_t)lda};
    AMX_GEMM(&ep, x, ldx, wp, T, R, K);
}
