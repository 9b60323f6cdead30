/* tests/test_kernels_q4.c - the int4-weight GEMM: the reference against
 * products computed here from the stored nibbles (the epilogue's group
 * formula written out), and every tier against the reference bit for bit:
 * its own panel packing, per-row and per-group scales, every epilogue,
 * decode (one token) and prefill shapes, sub-ranges of a packed matrix,
 * extreme weights and activations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/q8.h"
#include "test.h"
#include "tiers.h"
#include "util/rng.h"

/* R x K int4 values in [-8, 7] stored two per byte (mode 0 random, 1 all
 * -8, 2 all 7) */
static uint8_t *stored_q4(int R, int K, llx_rng *r, int mode)
{
    uint8_t *w = calloc((size_t)R * K / 2, 1);
    for (int i = 0; i < R; i++)
        for (int k = 0; k < K; k++) {
            const int v = mode == 1 ? -8 : mode == 2 ? 7 : (int)(llx_rng_u64(r) % 16) - 8;
            w[(size_t)i * K / 2 + k / 2] |= (uint8_t)((v + 8) << (k & 1 ? 4 : 0));
        }
    return w;
}

static uint8_t *packed_q4(const llx_kernels *k, const uint8_t *w, int R, int K)
{
    const size_t n = llx_q4_bytes(R, K, k->q4_rows);
    uint8_t *p = malloc(n + 64);
    memset(p + n, 0x5a, 64);
    llx_pack_q4_panels(p, w, R, K, k->q4_rows);
    return p;
}

TEST(kernels_q4_stored_and_panels, LLX_T_ASAN)
{
    llx_rng r;
    llx_rng_seed(&r, 1);
    enum { R = 21, K = 48 };
    uint8_t *w = stored_q4(R, K, &r, 0);
    for (int P = 8; P <= 16; P += 8) {
        uint8_t *p = malloc(llx_q4_bytes(R, K, P));
        llx_pack_q4_panels(p, w, R, K, P);
        for (int i = 0; i < (R + P - 1) / P * P; i++)
            for (int k = 0; k < K; k++)
                CHECK_EQ_INT(llx_q4_panel(p, i, k, K, P), i < R ? llx_q4_stored(w, i, k, K) : 0);
        free(p);
    }
    CHECK_EQ_INT(llx_q4_bytes(R, K, 16), 32 * K / 2);
    free(w);
}

/* y of (t, r) as the spec states it, from the stored nibbles */
static float spec_y(const llx_epilogue *ep, const float *ws_rows, const int8_t *x, const uint8_t *w, int t, int r,
                    int K, int G)
{
    float y = 0.0f;
    for (int g = 0; g < K / G; g++) {
        int32_t acc = 0;
        for (int k = g * G; k < (g + 1) * G; k++) acc += llx_q4_stored(w, r, k, K) * x[(size_t)t * K + k];
        const float p = (float)acc * (ep->s_in[t] * ws_rows[(size_t)r * (K / G) + g]);
        y = g ? y + p : p;
    }
    return y + (ep->bias ? ep->bias[r] : 0.0f);
}

TEST(kernels_q4_ref_is_the_spec, LLX_T_ASAN)
{
    llx_rng r;
    llx_rng_seed(&r, 2);
    enum { R = 37, K = 192, T = 3 };
    uint8_t *w = stored_q4(R, K, &r, 0), *wp = packed_q4(&llx_kernels_ref, w, R, K);
    static int8_t x[T * K];
    static float ws_rows[(K / 32) * R], ws[(K / 32) * 40], b[R], s_in[T], got[T * R];
    tier_fill_i8(x, sizeof x, &r, 0);
    for (int i = 0; i < (K / 32) * R; i++) ws_rows[i] = 1e-3f * (1.0f + (float)llx_rng_double(&r));
    for (int i = 0; i < R; i++) b[i] = (float)llx_rng_normal(&r);
    for (int t = 0; t < T; t++) s_in[t] = 0.02f + 0.01f * t;
    static const int Gs[] = {K, 32, 64, 96};
    for (int gi = 0; gi < 4; gi++) {
        const int ng = K / Gs[gi];
        llx_pack_q4_scales(ws, ws_rows, R, ng, llx_kernels_ref.q4_rows);
        CHECK(ng == 1 || ws[llx_q4_scale_at(9, 1, ng, 8)] == ws_rows[9 * ng + 1]);
        llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = ws, .bias = gi == 2 ? NULL : b, .s_in = s_in, .ng = ng,
                           .out = got, .ldo = R};
        llx_kernels_ref.gemm_q4(&ep, x, K, wp, T, R, K, Gs[gi]);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < R; i++) CHECK(got[t * R + i] == spec_y(&ep, ws_rows, x, w, t, i, K, Gs[gi]));
    }
    /* G = K is the int8 DEQUANT formula itself */
    memcpy(ws, ws_rows, sizeof(float) * R);
    llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = ws, .bias = b, .s_in = s_in, .out = got, .ldo = R};
    llx_kernels_ref.gemm_q4(&ep, x, K, wp, T, R, K, K);
    int32_t acc = 0;
    for (int k = 0; k < K; k++) acc += llx_q4_stored(w, 5, k, K) * x[K + k];
    CHECK(got[R + 5] == (float)acc * (s_in[1] * ws[5]) + b[5]);
    free(w), free(wp);
}

static void q4_case(const llx_kernels *k, llx_rng *r, int R, int K, int G, int T, int kind, int mode)
{
    const int ldx = K + 8, ldo = R + 3, ng = K / G;
    int8_t *x = malloc((size_t)T * ldx);
    tier_fill_i8(x, (size_t)T * ldx, r, mode == 0 ? 0 : mode == 1 ? 1 : 3);
    if (kind == 9) /* W4A4: activation codes minus the zero point, in [-15, 15] */
        for (int i = 0; i < T * ldx; i++) x[i] = (int8_t)((int)(llx_rng_u64(r) % 31) - 15);
    uint8_t *w = stored_q4(R, K, r, mode);
    float *ws = malloc(sizeof(float) * ng * R), *b = malloc(sizeof(float) * R), *s_in = malloc(sizeof(float) * T);
    float *aux = malloc(sizeof(float) * T * (R + 2));
    for (int i = 0; i < ng * R; i++) ws[i] = (float)llx_rng_double(r) * 2e-3f;
    /* each layout's scales from the same row-major values */
    float *wsr = malloc(sizeof(float) * llx_q4_scales(R, ng, 8)), *wsk = malloc(sizeof(float) * llx_q4_scales(R, ng, k->q4_rows));
    llx_pack_q4_scales(wsr, ws, R, ng, 8);
    llx_pack_q4_scales(wsk, ws, R, ng, k->q4_rows);
    for (int i = 0; i < R; i++) b[i] = (float)llx_rng_normal(r);
    for (int t = 0; t < T; t++) s_in[t] = 0.01f + (float)llx_rng_double(r) * 0.05f;
    for (int i = 0; i < T * (R + 2); i++) aux[i] = (float)llx_rng_normal(r);
    llx_epilogue ep = {.scale = LLX_EPI_DEQUANT, .ws = wsr, .bias = b, .s_in = s_in, .ng = ng,
                       .row0 = 3, .nseg = 3, .seg_end = {3 + R / 2, 3 + R / 2 + R / 4, 1 << 30},
                       .seg_inv = {0.9f, 2.5f, 0.35f}, .lda = (size_t)R + 2, .ldo = (size_t)ldo};
    switch (kind) {
    case 1: ep.bias = NULL; break;
    case 2: ep.out_i8 = 1; break;
    case 3: ep.act = LLX_EPI_GELU; break;
    case 4: ep.act = LLX_EPI_GELU, ep.out_i8 = 1; break;
    case 5: ep.aux = aux, ep.out_i8 = 1; break;
    case 6: ep.act = LLX_EPI_GELU, ep.aux = aux; break;
    default: break;
    }
    const size_t bytes = (size_t)T * ldo * (ep.out_i8 ? 1 : 4);
    void *want = malloc(bytes), *got = malloc(bytes);
    memset(want, 0x33, bytes), memset(got, 0x33, bytes);
    uint8_t *wr = packed_q4(&llx_kernels_ref, w, R, K), *wk = packed_q4(k, w, R, K);
    ep.out = want;
    llx_kernels_ref.gemm_q4(&ep, x, ldx, wr, T, R, K, G);
    ep.out = got;
    ep.ws = wsk;
    k->gemm_q4(&ep, x, ldx, wk, T, R, K, G);
    CHECK_MSG(!memcmp(want, got, bytes), "%s gemm_q4 kind %d mode %d R %d K %d G %d T %d", k->name, kind, mode, R, K,
              G, T);
    const int a = k->q4_rows;
    if (R > a && kind == 0) { /* rows [a, R) of a packed matrix are a packed matrix */
        memset(got, 0x33, bytes);
        const llx_epilogue e = llx_epilogue_at(&ep, 0, a);
        k->gemm_q4(&e, x, ldx, wk + (size_t)a * K / 2, T, R - a, K, G);
        int same = 1;
        for (int t = 0; t < T; t++)
            same &= !memcmp((float *)got + (size_t)t * ldo + a, (float *)want + (size_t)t * ldo + a,
                            sizeof(float) * (R - a));
        CHECK_MSG(same, "%s gemm_q4 sub-range R %d K %d G %d T %d", k->name, R, K, G, T);
    }
    const size_t n = llx_q4_bytes(R, K, k->q4_rows);
    for (int i = 0; i < 64; i++) CHECK(wk[n + i] == 0x5a);
    free(x), free(w), free(ws), free(wsr), free(wsk), free(b), free(s_in), free(aux), free(want), free(got), free(wr),
        free(wk);
}

TIER_TEST(gemm_q4_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 3);
    static const int Ks[] = {64, 96, 128, 640};
    static const int Rs[] = {5, 16, 40, 50, 100, 257};
    static const int Ts[] = {1, 2, 5, 9};
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
                for (int gi = 0; gi < 4; gi++) {
                    const int K = Ks[ki], G = gi == 0 ? K : gi == 1 ? 32 : gi == 2 ? 64 : 128;
                    if (K % G) continue;
                    for (int kind = 0; kind < 10; kind++)
                        if (kind < 7 || kind == 9) q4_case(k, &r, Rs[ri], K, G, Ts[ti], kind, 0);
                }
    /* extremes: -8 * 127 * K and 7 * 127 * K sums, alternating signs */
    for (int mode = 1; mode <= 2; mode++)
        for (int T = 1; T <= 5; T += 4) {
            q4_case(k, &r, 70, 4096, 4096, T, 0, mode);
            q4_case(k, &r, 70, 4096, 64, T, 2, mode);
        }
    /* one scale per row and K too long for avx512's int8 prefill buffer */
    q4_case(k, &r, 20, 16384, 16384, 3, 0, 0);
}

TEST(kernels_ref_gemm_q4_bit_exact, LLX_T_ASAN)
{
    llx_rng r;
    llx_rng_seed(&r, 4);
    q4_case(&llx_kernels_ref, &r, 33, 128, 32, 3, 0, 0); /* the harness itself: ref against ref */
}
