/* tests/test_kernels_gemm.c - every tier's int8 GEMM against the scalar
 * reference, bit for bit: its own weight packing, the raw int32 products,
 * each epilogue of the quantization unit (kernels.h), sub-ranges of a
 * packed matrix, shapes with every kind of tail; and the fp32 GEMM's order
 * contract (avx2 and avx512 give the same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecops.h"
#include "test.h"
#include "tiers.h"
#include "util/rng.h"

/* pack w (R x K) with k's packer into a buffer with a guard after it */
static int8_t *packed(const llx_kernels *k, const int8_t *w, int R, int K)
{
    const size_t n = (size_t)R * llx_i8_ld(k, K);
    int8_t *p = malloc(n + 64);
    memset(p + n, 0x5a, 64);
    k->pack_i8(p, w, (size_t)K, R, K);
    return p;
}

static void raw_products(const llx_kernels *k)
{
    llx_rng r;
    llx_rng_seed(&r, 1);
    static const int Ks[] = {1, 3, 4, 7, 31, 32, 33, 64, 65, 100, 255, 256, 1029};
    static const int Rs[] = {1, 2, 3, 5, 15, 16, 17, 31, 33, 64, 66, 131};
    static const int Ts[] = {1, 2, 5, 12, 13, 17, 33};
    for (int mode = 0; mode < 4; mode++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
            for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++)
                for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++) {
                    const int K = Ks[ki], R = Rs[ri], T = Ts[ti], ldx = K + 5;
                    if (mode && (ti > 2 || ri % 3)) continue; /* extremes: fewer shapes */
                    int8_t *x = malloc((size_t)T * ldx), *w = malloc((size_t)R * K);
                    int32_t *want = malloc(sizeof(int32_t) * T * R), *got = malloc(sizeof(int32_t) * T * R);
                    tier_fill_i8(x, (size_t)T * ldx, &r, mode);
                    /* mode 1: weights of the opposite sign give -127*127*K everywhere */
                    tier_fill_i8(w, (size_t)R * K, &r, mode == 1 ? 2 : mode);
                    int8_t *wp = packed(k, w, R, K);
                    llx_matmul_i8_ref(want, R, x, ldx, w, K, T, R, K);
                    memset(got, 0x55, sizeof(int32_t) * T * R);
                    k->matmul_i8p(got, R, x, ldx, wp, T, R, K);
                    CHECK_MSG(!memcmp(want, got, sizeof(int32_t) * T * R), "%s matmul_i8p mode %d K %d R %d T %d",
                              k->name, mode, K, R, T);
                    if (mode == 1) CHECK_EQ_INT(want[0], -127 * 127 * K);
                    const int a = k->i8_rows;
                    if (R > a) { /* rows [a, R) of a packed matrix are a packed matrix */
                        k->matmul_i8p(got, R, x, ldx, wp + (size_t)a * llx_i8_ld(k, K), T, R - a, K);
                        int same = 1;
                        for (int t = 0; t < T; t++)
                            same &= !memcmp(got + (size_t)t * R, want + (size_t)t * R + a, sizeof(int32_t) * (R - a));
                        CHECK_MSG(same, "%s packed sub-range: K %d R %d T %d", k->name, K, R, T);
                    }
                    const size_t n = (size_t)R * llx_i8_ld(k, K);
                    for (int i = 0; i < 64; i++) CHECK(wp[n + i] == 0x5a); /* the packer stays in its size */
                    free(x), free(w), free(wp), free(want), free(got);
                }
}
TIER_TEST(gemm_i8_raw_bit_exact) { raw_products(k); }
TEST(kernels_ref_gemm_i8_pairs_layout, LLX_T_ASAN) { raw_products(&llx_kernels_ref); }

/* Many tokens (the avx2 tier's blocked GEMM from 8 tokens on): several
 * column blocks (K > 1024, tails of K % 32), row blocks of 12 with every
 * remainder, token counts around the threshold and not multiples of the
 * register tile, extreme weights and activations (a pair sum of the masked
 * product at -2 * 127 * 128), and row sub-ranges that start inside a block. */
TIER_TEST(gemm_i8_many_tokens_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 7);
    static const struct { int T, R, K; } shapes[] = {{7, 26, 2100}, {8, 26, 2100}, {9, 37, 1056}, {10, 12, 3077},
                                                      {11, 2, 64}, {16, 40, 1024}, {40, 25, 2048}, {97, 13, 33},
                                                      {130, 50, 96}};
    for (int mode = 0; mode < 4; mode++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            const int T = shapes[i].T, R = shapes[i].R, K = shapes[i].K, ldx = K + 3, lda = R + 1;
            int8_t *x = malloc((size_t)T * ldx), *w = malloc((size_t)R * K);
            int32_t *want = malloc(sizeof(int32_t) * T * lda), *got = malloc(sizeof(int32_t) * T * lda);
            /* mode 1: x = 127, w = -127 (|w| times ~x = -128 everywhere) */
            tier_fill_i8(x, (size_t)T * ldx, &r, mode);
            tier_fill_i8(w, (size_t)R * K, &r, mode == 1 ? 2 : mode == 3 ? 0 : mode);
            int8_t *wp = packed(k, w, R, K);
            memset(want, 0x11, sizeof(int32_t) * T * lda), memset(got, 0x11, sizeof(int32_t) * T * lda);
            llx_matmul_i8_ref(want, lda, x, ldx, w, K, T, R, K);
            k->matmul_i8p(got, lda, x, ldx, wp, T, R, K);
            CHECK_MSG(!memcmp(want, got, sizeof(int32_t) * T * lda), "%s matmul_i8p mode %d T %d R %d K %d", k->name,
                      mode, T, R, K);
            if (mode == 1) CHECK_EQ_INT(got[0], -127 * 127 * K);
            const int a = 2 * k->i8_rows; /* a sub-range from a packed row boundary */
            if (R > a) {
                k->matmul_i8p(got, lda, x, ldx, wp + (size_t)a * llx_i8_ld(k, K), T, R - a, K);
                int same = 1;
                for (int t = 0; t < T; t++)
                    same &= !memcmp(got + (size_t)t * lda, want + (size_t)t * lda + a, sizeof(int32_t) * (R - a));
                CHECK_MSG(same, "%s sub-range from row %d: T %d R %d K %d", k->name, a, T, R, K);
            }
            free(x), free(w), free(wp), free(want), free(got);
        }
}

/* The spec of an epilogue: the reference products, then llx_epilogue_row
 * with the reference's element kernels. */
static void epilogue_ref(const llx_epilogue *ep, const int8_t *x, int ldx, const int8_t *w, int T, int R, int K)
{
    int32_t *acc = malloc(sizeof(int32_t) * T * R);
    float *y = malloc(sizeof(float) * R);
    llx_matmul_i8_ref(acc, R, x, ldx, w, K, T, R, K);
    for (int t = 0; t < T; t++) llx_epilogue_row(&llx_kernels_ref, ep, t, acc + (size_t)t * R, R, y);
    free(acc), free(y);
}

TIER_TEST(gemm_i8_epilogues_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 2);
    static const int Ks[] = {5, 64, 260};
    /* 4133 rows: a decode GEMV in more than one chunk of its int32 buffer
     * (gemm_i8_avx512.c), a partial panel last */
    static const int Rs[] = {3, 16, 40, 97, 4133};
    static const int Ts[] = {1, 3, 14, 29};
    enum { KINDS = 9 };
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
                for (int kind = 0; kind < KINDS; kind++) {
                    const int K = Ks[ki], R = Rs[ri], T = Ts[ti], ldo = R + 3;
                    if (R > 1000 && T > 3) continue;
                    int8_t *x = malloc((size_t)T * K), *w = malloc((size_t)R * K);
                    float *ws = malloc(sizeof(float) * R), *b = malloc(sizeof(float) * R), *s_in = malloc(sizeof(float) * T);
                    tier_fill_i8(x, (size_t)T * K, &r, 0);
                    tier_fill_i8(w, (size_t)R * K, &r, 0);
                    for (int i = 0; i < R; i++) ws[i] = (float)llx_rng_double(&r) * 2e-3f, b[i] = (float)llx_rng_normal(&r);
                    for (int t = 0; t < T; t++) s_in[t] = 0.01f + (float)llx_rng_double(&r) * 0.05f;
                    /* three q|k|v-like segments of unequal rows (GQA), the call starting mid-segment */
                    float *aux = malloc(sizeof(float) * T * (R + 2));
                    for (int i = 0; i < T * (R + 2); i++) aux[i] = (float)llx_rng_normal(&r);
                    llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = ws, .bias = b, .s_in = s_in, .s = 0.0071f,
                                       .row0 = 5, .nseg = 3, .seg_end = {5 + R / 2, 5 + R / 2 + R / 4, 1 << 30},
                                       .seg_inv = {0.9f, 2.5f, 0.35f}, .lda = (size_t)R + 2, .ldo = (size_t)ldo};
                    switch (kind) {
                    case 0: ep.scale = LLX_EPI_I32; break;
                    case 1: break;                  /* dequant, fp32 out (PROJ, FC2) */
                    case 2: ep.bias = NULL; break;  /* the LM head */
                    case 3: ep.out_i8 = 1; break;   /* QKV */
                    case 4: ep.act = LLX_EPI_GELU; break;     /* FC1, dynamic mode */
                    case 5: ep.act = LLX_EPI_GELU, ep.out_i8 = 1; break; /* FC1, static mode */
                    case 6: ep.scale = LLX_EPI_SCALE, ep.out_i8 = 1; break; /* attention context */
                    case 7: ep.aux = aux, ep.out_i8 = 1; break; /* a gated MLP's product */
                    case 8: ep.act = LLX_EPI_GELU, ep.aux = aux; break;
                    }
                    const size_t esz = kind == 0 ? 4 : ep.out_i8 ? 1 : 4, bytes = (size_t)T * ldo * esz;
                    void *want = malloc(bytes), *got = malloc(bytes);
                    memset(want, 0x33, bytes), memset(got, 0x33, bytes);
                    ep.out = want;
                    epilogue_ref(&ep, x, K, w, T, R, K);
                    int8_t *wp = packed(k, w, R, K);
                    ep.out = got;
                    k->gemm_i8(&ep, x, K, wp, T, R, K);
                    CHECK_MSG(!memcmp(want, got, bytes), "%s gemm_i8 epilogue %d K %d R %d T %d", k->name, kind, K, R, T);
                    free(x), free(w), free(ws), free(b), free(s_in), free(want), free(got), free(wp), free(aux);
                }
}

/* Extreme accumulators through the quantization unit: clamping, and
 * values that round exactly at .5 after scaling. */
TIER_TEST(gemm_i8_epilogue_extremes)
{
    enum { K = 256, R = 48, T = 5 };
    static int8_t x[T * K], w[R * K];
    static float ws[R], s_in[T], want[T * R], got[T * R];
    static int8_t qw[T * R], qg[T * R];
    for (int i = 0; i < T * K; i++) x[i] = (int8_t)(i % 3 == 0 ? 127 : i % 3 == 1 ? -127 : 1);
    for (int i = 0; i < R * K; i++) w[i] = (int8_t)((i / K) % 2 ? 127 : -127);
    for (int i = 0; i < R; i++) ws[i] = i < 16 ? 1.0f : i < 32 ? 1e-5f : 3.0f / (float)(1 << 20);
    for (int t = 0; t < T; t++) s_in[t] = t == 4 ? 0.0f : 1.0f;
    llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = ws, .s_in = s_in, .nseg = 1, .seg_inv = {0.5f}, .ldo = R};
    int8_t *wp = packed(k, w, R, K);
    ep.out = want;
    epilogue_ref(&ep, x, K, w, T, R, K);
    ep.out = got;
    k->gemm_i8(&ep, x, K, wp, T, R, K);
    CHECK(!memcmp(want, got, sizeof want));
    ep.out_i8 = 1, ep.act = LLX_EPI_GELU;
    ep.out = qw;
    epilogue_ref(&ep, x, K, w, T, R, K);
    ep.out = qg;
    k->gemm_i8(&ep, x, K, wp, T, R, K);
    CHECK(!memcmp(qw, qg, sizeof qw));
    int clamped = 0;
    for (int i = 0; i < T * R; i++) clamped += qw[i] == 127 || qw[i] == -127;
    CHECK(clamped > 0);
    free(wp);
}

/* fp32: the vector tiers keep one order per element (kernels.h), so a
 * row's bits do not depend on its tile, and avx2 and avx512 agree. */
TEST(kernels_f32_vector_tiers_agree, LLX_T_ASAN)
{
    const llx_kernels *a = llx_kernels_tier(LLX_TIER_AVX2), *b = llx_kernels_tier(LLX_TIER_AVX512);
    if (!a || !b) SKIP("tier avx512: %s", llx_tier_missing(LLX_TIER_AVX512));
    llx_rng r;
    llx_rng_seed(&r, 3);
    /* K: below 8, tails, several of the 16-token kernel's column blocks */
    static const int Ks[] = {1, 7, 8, 13, 40, 64, 203, 768, 1024, 3100};
    /* T: the 16-token blocks, then a block of 8, then the avx2 tail */
    static const int Ts[] = {1, 3, 8, 9, 16, 21, 24, 37};
    /* 200 rows: several of the avx512 kernels' row chunks, the last partial;
     * row counts not a multiple of the tiles' 3 or 6 rows or the 8 stored at once */
    static const int Rs[] = {1, 5, 6, 12, 13, 31, 200};
    /* strides a multiple of 4 KiB and others (rows that alias in L1 or not) */
    for (int alias = 0; alias < 2; alias++)
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
            for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++) {
                const int K = Ks[ki], T = Ts[ti], R = Rs[ri], ldo = R + 2;
                const int ldx = alias ? (K + 1023) / 1024 * 1024 : K + 3, ldw = alias ? ldx : K + 1;
                float *x = malloc(sizeof(float) * T * ldx), *w = malloc(sizeof(float) * R * ldw);
                float *bias = malloc(sizeof(float) * R), *o1 = malloc(sizeof(float) * T * ldo),
                      *o2 = malloc(sizeof(float) * T * ldo), *o3 = malloc(sizeof(float) * T * ldo);
                for (int i = 0; i < T * ldx; i++) x[i] = (float)llx_rng_normal(&r);
                for (int i = 0; i < R * ldw; i++) w[i] = (float)llx_rng_normal(&r);
                for (int i = 0; i < R; i++) bias[i] = (float)llx_rng_normal(&r);
                memset(o1, 0, sizeof(float) * T * ldo), memset(o2, 0, sizeof(float) * T * ldo);
                a->matmul_f32(o1, ldo, x, ldx, w, ldw, bias, T, R, K);
                b->matmul_f32(o2, ldo, x, ldx, w, ldw, bias, T, R, K);
                CHECK_MSG(!memcmp(o1, o2, sizeof(float) * T * ldo), "avx2 vs avx512 K %d T %d R %d", K, T, R);
                llx_kernels_ref.matmul_f32(o3, ldo, x, ldx, w, ldw, bias, T, R, K);
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < R; i++)
                        CHECK_CLOSE(o2[t * ldo + i], o3[t * ldo + i], 1e-4 * sqrt(K), 1e-5);
                /* one element alone gives the same bits as inside the tile */
                float one;
                b->matmul_f32(&one, 1, x + (size_t)(T - 1) * ldx, ldx, w + (size_t)(R - 1) * ldw, ldw, bias + R - 1, 1,
                              1, K);
                CHECK(!memcmp(&one, &o2[(T - 1) * ldo + R - 1], sizeof one));
                free(x), free(w), free(bias), free(o1), free(o2), free(o3);
            }
}

/* The avx512 causal product (prompt attention's context): token t of the
 * block sums its first K0 + t columns with the bits of matmul_f32 token by
 * token; x past each token's own columns is NaN, so a lane that took a step
 * it should not have would show. */
TEST(kernels_f32_causal_equals_token_by_token, LLX_T_ASAN)
{
    const llx_kernels *b = llx_kernels_tier(LLX_TIER_AVX512);
    if (!b) SKIP("tier avx512: %s", llx_tier_missing(LLX_TIER_AVX512));
    CHECK(b->matmul_f32_causal != NULL);
    llx_rng r;
    llx_rng_seed(&r, 5);
    /* K0: below 8, around the step of 8, past the 384-column block */
    static const int K0s[] = {1, 2, 7, 8, 9, 63, 100, 380, 385, 800};
    static const int Ts[] = {1, 2, 7, 8, 9, 15, 16};
    /* rows: one, not a multiple of the 3-row tile, head sizes, past the 144-row chunk */
    static const int Rs[] = {1, 4, 64, 67, 150};
    for (size_t ki = 0; ki < sizeof K0s / sizeof *K0s; ki++)
        for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
            for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++) {
                const int K0 = K0s[ki], T = Ts[ti], R = Rs[ri], ldx = K0 + T + 5, ldw = K0 + T + 9, ldo = R + 3;
                float *x = malloc(sizeof(float) * T * ldx), *w = malloc(sizeof(float) * R * ldw);
                float *o1 = malloc(sizeof(float) * T * ldo), *o2 = malloc(sizeof(float) * T * ldo);
                for (int t = 0; t < T; t++)
                    for (int k = 0; k < ldx; k++) x[t * ldx + k] = k < K0 + t ? (float)llx_rng_normal(&r) : NAN;
                for (int i = 0; i < R * ldw; i++) w[i] = (float)llx_rng_normal(&r);
                memset(o1, 0, sizeof(float) * T * ldo), memset(o2, 0, sizeof(float) * T * ldo);
                for (int t = 0; t < T; t++)
                    b->matmul_f32(o1 + t * ldo, ldo, x + t * ldx, ldx, w, ldw, NULL, 1, R, K0 + t);
                b->matmul_f32_causal(o2, ldo, x, ldx, w, ldw, T, R, K0);
                CHECK_MSG(!memcmp(o1, o2, sizeof(float) * T * ldo), "causal K0 %d T %d R %d", K0, T, R);
                int finite = 1;
                for (int i = 0; i < T * ldo; i++) finite &= isfinite(o2[i]);
                CHECK_MSG(finite, "causal K0 %d T %d R %d: a NaN past a token's columns was used", K0, T, R);
                free(x), free(w), free(o1), free(o2);
            }
}
