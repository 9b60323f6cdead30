/* tests/test_kernels.c - every tier's element and attention kernels against
 * the scalar reference (bit for bit), tier selection, and the fp32 order
 * contract (a row's result does not depend on its tile).  The int8 GEMMs
 * are tested in test_kernels_gemm.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecops.h"
#include "test.h"
#include "tiers.h"
#include "util/rng.h"

TEST(kernels_select_names, LLX_T_ASAN)
{
    CHECK(llx_kernels_select("ref") == &llx_kernels_ref);
    CHECK(llx_kernels_select("nonsense") == NULL);
    CHECK(llx_kernels_select("AVX2") == NULL);
    CHECK(llx_kernels_select("auto") != NULL);
    for (int t = 0; t < LLX_TIER_COUNT; t++) {
        const llx_kernels *k = llx_kernels_tier((llx_tier)t);
        CHECK(llx_kernels_select(llx_tier_name((llx_tier)t)) == k);
        /* a tier runs exactly when nothing is missing, and says what is */
        CHECK_MSG((k != NULL) == (llx_tier_missing((llx_tier)t)[0] == 0), "tier %s", llx_tier_name((llx_tier)t));
        if (k) CHECK_MSG(k->tier == (llx_tier)t && !strcmp(k->name, llx_tier_name((llx_tier)t)), "%s", k->name);
        else llx_test_note("tier %s unavailable: %s", llx_tier_name((llx_tier)t), llx_tier_missing((llx_tier)t));
    }
    /* auto takes the best tier this machine runs (amx-emu is never chosen) */
    const llx_kernels *best = llx_kernels_tier(LLX_TIER_AMX);
    if (!best) best = llx_kernels_tier(LLX_TIER_AVX512);
    if (!best) best = llx_kernels_tier(LLX_TIER_AVX2);
    if (!best) best = &llx_kernels_ref;
    if (!getenv("LLX_KERNELS")) CHECK(llx_kernels_select("auto") == best);
    /* amx needs avx512 (its epilogue); amx-emu runs wherever avx512 does */
    if (llx_kernels_tier(LLX_TIER_AMX)) CHECK(llx_kernels_tier(LLX_TIER_AVX512) != NULL);
    CHECK((llx_kernels_tier(LLX_TIER_AMX_EMU) != NULL) == (llx_kernels_tier(LLX_TIER_AVX512) != NULL));
}

TIER_TEST(f32_matmul_close_to_reference)
{
    llx_rng r;
    llx_rng_seed(&r, 2);
    static const int Ks[] = {1, 8, 13, 40, 120, 256, 1031};
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (int T = 1; T <= 9; T += 2)
            for (int R = 1; R <= 11; R += 3) {
                const int K = Ks[ki];
                float *x = malloc(sizeof(float) * T * K), *w = malloc(sizeof(float) * R * K);
                float *bias = malloc(sizeof(float) * R), *a = malloc(sizeof(float) * T * R), *b = malloc(sizeof(float) * T * R);
                for (int i = 0; i < T * K; i++) x[i] = (float)llx_rng_normal(&r);
                for (int i = 0; i < R * K; i++) w[i] = (float)llx_rng_normal(&r);
                for (int i = 0; i < R; i++) bias[i] = (float)llx_rng_normal(&r);
                llx_kernels_ref.matmul_f32(a, R, x, K, w, K, bias, T, R, K);
                k->matmul_f32(b, R, x, K, w, K, bias, T, R, K);
                for (int i = 0; i < T * R; i++) CHECK_CLOSE(b[i], a[i], 1e-4 * sqrt(K), 1e-5);
                free(x), free(w), free(bias), free(a), free(b);
            }
}

/* The same row must give the same bits whether it is computed alone, in a
 * tile of rows, with one token or with many (node-count invariance). */
static void f32_tile_independent(const llx_kernels *k0)
{
    const llx_kernels *ks[2] = {&llx_kernels_ref, k0};
    llx_rng r;
    llx_rng_seed(&r, 3);
    const int K = 203, R = 17, T = 7;
    float *x = malloc(sizeof(float) * T * K), *w = malloc(sizeof(float) * R * K);
    float *all = malloc(sizeof(float) * T * R), *one = malloc(sizeof(float) * T * R);
    for (int i = 0; i < T * K; i++) x[i] = (float)llx_rng_normal(&r);
    for (int i = 0; i < R * K; i++) w[i] = (float)llx_rng_normal(&r);
    for (int v = 0; v < 2; v++) {
        const llx_kernels *k = ks[v];
        if (!k) continue;
        k->matmul_f32(all, R, x, K, w, K, NULL, T, R, K);
        for (int t = 0; t < T; t++)
            for (int row = 0; row < R; row++) k->matmul_f32(one + (size_t)t * R + row, R, x + (size_t)t * K, K,
                                                            w + (size_t)row * K, K, NULL, 1, 1, K);
        CHECK_MSG(memcmp(all, one, sizeof(float) * T * R) == 0, "%s: tiling changed a result", k->name);
    }
    free(x), free(w), free(all), free(one);
}

TIER_TEST(f32_row_order_is_tile_independent) { f32_tile_independent(k); }

TEST(kernels_vecops_values, LLX_T_ASAN)
{
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, y[4];
    llx_layernorm_f32(y, x, g, b, 4, 1e-5f);
    CHECK_CLOSE(y[0], -1.3416355, 1e-5, 0);
    CHECK_CLOSE(y[3], 1.3416355, 1e-5, 0);
    CHECK_CLOSE(llx_gelu1(1.0f), 0.8411920, 1e-6, 0); /* tanh GELU at 1 */
    for (float v = -80.0f; v < 80.0f; v += 0.37f) /* the polynomial exp is within 2 ulp of expf */
        CHECK_CLOSE(llx_exp_ref(v), expf(v), 0, 2.5e-7);
    CHECK_CLOSE(llx_gelu1(-3.0f), -0.0036374, 1e-6, 0);
    float s[3] = {3, 3, 3 - logf(2)};
    llx_softmax_f32(s, 3);
    CHECK_CLOSE(s[0], 0.4, 1e-6, 0);
    CHECK_CLOSE(s[2], 0.2, 1e-6, 0);
}

/* The quantization unit must give the same bits on every kernel table. */
TIER_TEST(quant_unit_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 9);
    enum { N = 1003 };
    static int32_t acc[N];
    static float ws[N], b[N], y0[N], y1[N], v[N];
    static int8_t q0[N], q1[N];
    static const float edges[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, 127.5f, -126.5f, -127.5f, 127.49999f,
                                  1e9f, -1e9f, 3e38f, -3e38f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f};
    for (int i = 0; i < N; i++) {
        acc[i] = (int32_t)(llx_rng_u64(&r) % 4000001) - 2000000;
        ws[i] = (float)llx_rng_double(&r) * 1e-3f;
        b[i] = (float)llx_rng_normal(&r);
        v[i] = i < (int)(sizeof edges / sizeof *edges) ? edges[i] : (float)llx_rng_normal(&r) * 100.0f;
    }
    for (int n = 1; n <= N; n += n < 20 ? 1 : 97) {
        llx_kernels_ref.dequant_f32(y0, acc, ws, b, 0.37f, n);
        k->dequant_f32(y1, acc, ws, b, 0.37f, n);
        CHECK_MSG(!memcmp(y0, y1, sizeof(float) * n), "dequant n=%d", n);
        llx_kernels_ref.dequant_f32(y0, acc, ws, NULL, 1.7f, n);
        k->dequant_f32(y1, acc, ws, NULL, 1.7f, n);
        CHECK_MSG(!memcmp(y0, y1, sizeof(float) * n), "dequant without bias n=%d", n);
        llx_kernels_ref.scale_i32(y0, acc, 0.013f, n);
        k->scale_i32(y1, acc, 0.013f, n);
        CHECK_MSG(!memcmp(y0, y1, sizeof(float) * n), "scale_i32 n=%d", n);
        CHECK(y0[n - 1] == (float)acc[n - 1] * 0.013f);
        llx_kernels_ref.quant_i8(q0, v, 1.0f, n);
        k->quant_i8(q1, v, 1.0f, n);
        CHECK_MSG(!memcmp(q0, q1, (size_t)n), "quant n=%d", n);
    }
    llx_kernels_ref.quant_i8(q0, edges, 1.0f, 10);
    static const int8_t want[10] = {0, 2, 2, 0, -2, 126, 127, -126, -127, 127};
    CHECK(!memcmp(q0, want, 10));
}

/* The attention kernels over the position-major K and chunked V layouts
 * (kernels.h), with gaps between rows and chunks and stale bytes past n,
 * one KV head per query head or grouped (query head h on KV head h/group). */
TIER_TEST(attn_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 11);
    static const int hds[] = {8, 12, 13, 40, 64, 128};
    static const int ns[] = {1, 5, 8, 31, 32, 33, 100, 257};
    static const int Hs[] = {1, 3, 16}, groups[] = {1, 4, 0}; /* 0: all H heads on one KV head */
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t Hi = 0; Hi < sizeof Hs / sizeof *Hs; Hi++)
                for (size_t gi = 0; gi < sizeof groups / sizeof *groups; gi++) {
                    const int hd = hds[hi], n = ns[ni], H = Hs[Hi], G = groups[gi] ? groups[gi] : H;
                    if (H % G) continue;
                    const int KV = H / G, n32 = (n + 31) & ~31, ext = ni == 4;
                    const int ldk = KV * hd + 7, ldp = n32 + 32, lds = n + 3, la = H * (lds > hd ? lds : hd);
                    const size_t cs = (size_t)KV * 32 * hd + 64;
                    int8_t *kc = malloc((size_t)n32 * ldk), *v = malloc(cs * (size_t)(n32 / 32));
                    int8_t *q = malloc((size_t)H * hd), *p = calloc((size_t)H * ldp, 1);
                    int32_t *a = malloc(sizeof(int32_t) * la), *b = malloc(sizeof(int32_t) * la);
                    tier_fill_i8(kc, (size_t)n32 * ldk, &r, ext);
                    tier_fill_i8(v, cs * (size_t)(n32 / 32), &r, ext); /* stale bytes past n too */
                    tier_fill_i8(q, (size_t)H * hd, &r, ext);
                    for (int h = 0; h < H; h++)
                        for (int s = 0; s < n; s++) p[h * ldp + s] = (int8_t)(ext ? 127 : llx_rng_u64(&r) % 128);
                    memset(a, 0, sizeof(int32_t) * la), memset(b, 0, sizeof(int32_t) * la);
                    llx_kernels_ref.attn_qk_i8(a, lds, q, kc, ldk, H, G, n, hd);
                    k->attn_qk_i8(b, lds, q, kc, ldk, H, G, n, hd);
                    CHECK_MSG(!memcmp(a, b, sizeof(int32_t) * H * lds), "attn_qk H %d G %d hd %d n %d", H, G, hd, n);
                    CHECK_EQ_INT(a[(H - 1) * lds + n - 1],
                                 llx_kernels_ref.dot_i8(q + (H - 1) * hd, kc + (size_t)(n - 1) * ldk + (KV - 1) * hd, hd));
                    llx_kernels_ref.attn_pv_i8(a, p, ldp, v, cs, H, G, n, hd);
                    k->attn_pv_i8(b, p, ldp, v, cs, H, G, n, hd);
                    CHECK_MSG(!memcmp(a, b, sizeof(int32_t) * H * hd), "attn_pv H %d G %d hd %d n %d", H, G, hd, n);
                    if (ext) CHECK_EQ_INT(a[0], 127 * 127 * 32); /* n = 32, all 127 */
                    free(kc), free(v), free(q), free(p), free(a), free(b);
                }
}

/* GELU, softmax and LayerNorm: same bits on every table (they feed int8 rounding). */
TIER_TEST(gelu_softmax_layernorm_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 13);
    enum { N = 1037 };
    static float a[N], b[N];
    for (int n = 1; n <= N; n += n < 40 ? 1 : 111) {
        for (int i = 0; i < n; i++) a[i] = b[i] = (float)llx_rng_normal(&r) * (i % 3 ? 3.0f : 30.0f);
        llx_kernels_ref.gelu_f32(a, n);
        k->gelu_f32(b, n);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * n), "gelu n=%d", n);
        for (int i = 0; i < n; i++) a[i] = b[i] = (float)llx_rng_normal(&r) * 10.0f;
        llx_kernels_ref.softmax_f32(a, n);
        k->softmax_f32(b, n);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * n), "softmax n=%d", n);
        static float x[N], g[N], be[N], o1[N], o2[N];
        for (int i = 0; i < n; i++) x[i] = (float)llx_rng_normal(&r) + 3.0f, g[i] = 1.0f + 0.1f * i, be[i] = 0.01f * i;
        llx_kernels_ref.layernorm_f32(o1, x, g, be, n, 1e-5f);
        k->layernorm_f32(o2, x, g, be, n, 1e-5f);
        CHECK_MSG(!memcmp(o1, o2, sizeof(float) * n), "layernorm n=%d", n);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += a[i];
        CHECK_CLOSE(sum, 1.0, 1e-5, 0);
    }
}

/* The Llama vector operations: values against their definitions, and the
 * same bits on every table. */
TEST(kernels_rmsnorm_silu_values, LLX_T_ASAN)
{
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 2, 1, 1}, y[4];
    llx_rmsnorm_f32(y, x, g, 4, 0.0f);
    CHECK_CLOSE(y[1], 2.0 * 2.0 / sqrt(7.5), 1e-6, 0); /* mean of squares 30/4 */
    CHECK_CLOSE(llx_silu1(1.0f), 1.0 / (1.0 + exp(-1.0)), 1e-6, 0);
    CHECK_CLOSE(llx_silu1(-20.0f), -20.0 / (1.0 + exp(20.0)), 1e-12, 1e-6);
    float h[4] = {1, 2, 3, 4}; /* pairs (1, 3) and (2, 4) */
    const float cs[4] = {cosf(0.5f), cosf(1.5f), sinf(0.5f), sinf(1.5f)};
    llx_rope_f32(h, cs, 2);
    CHECK_CLOSE(h[0], cos(0.5) - 3 * sin(0.5), 1e-6, 0);
    CHECK_CLOSE(h[2], 3 * cos(0.5) + sin(0.5), 1e-6, 0);
    CHECK_CLOSE(h[3], 4 * cos(1.5) + 2 * sin(1.5), 1e-6, 0);
}

/* The Llama vector kernels: the same bits as the reference. */
TIER_TEST(rmsnorm_silu_rope_bit_exact)
{
    llx_rng r;
    llx_rng_seed(&r, 17);
    enum { N = 1037 };
    static float a[N], b[N], gg[N], o1[N], o2[N], c2[N];
    for (int n = 1; n <= N; n += n < 40 ? 1 : 111) {
        for (int i = 0; i < n; i++) a[i] = b[i] = (float)llx_rng_normal(&r) * (i % 3 ? 3.0f : 30.0f);
        llx_kernels_ref.silu_f32(a, n);
        k->silu_f32(b, n);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * n), "silu n=%d", n);
        for (int i = 0; i < n; i++) a[i] = (float)llx_rng_normal(&r) * 4.0f, gg[i] = 1.0f + 0.01f * i;
        llx_kernels_ref.rmsnorm_f32(o1, a, gg, n, 1e-5f);
        k->rmsnorm_f32(o2, a, gg, n, 1e-5f);
        CHECK_MSG(!memcmp(o1, o2, sizeof(float) * n), "rmsnorm n=%d", n);
        const int half = n / 2;
        for (int i = 0; i < 2 * half; i++) a[i] = b[i] = (float)llx_rng_normal(&r), c2[i] = (float)llx_rng_normal(&r);
        llx_kernels_ref.rope_f32(a, c2, half);
        k->rope_f32(b, c2, half);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * 2 * half), "rope half=%d", half);
    }
}

TIER_TEST(argmax_matches_reference)
{
    llx_rng r;
    llx_rng_seed(&r, 17);
    enum { N = 300 };
    static float x[N];
    for (int trial = 0; trial < 3000; trial++) {
        const int n = 1 + (int)(llx_rng_u64(&r) % N);
        const int low = trial % 5 == 0; /* no value above zero: ties of +0 and -0, or all -inf and NaN */
        for (int i = 0; i < n; i++) {
            const int kind = (int)(llx_rng_u64(&r) % 16);
            x[i] = kind == 0   ? NAN
                   : kind == 1 ? -INFINITY
                   : kind == 2 ? (low ? -0.0f : INFINITY)
                   : low       ? (trial % 10 == 0 ? -INFINITY : 0.0f)
                               : (float)(llx_rng_u64(&r) % 7);
        }
        if (trial % 3 == 0) x[0] = NAN;
        CHECK_EQ_INT(k->argmax_f32(x, n), llx_kernels_ref.argmax_f32(x, n));
    }
    /* a distinct maximum anywhere, also in the tail past the vector loops */
    for (int n = 1; n <= 70; n++)
        for (int at = 0; at < n; at++) {
            for (int i = 0; i < n; i++) x[i] = (float)(i % 5) - 10.0f;
            x[at] = 1.0f;
            CHECK_EQ_INT(k->argmax_f32(x, n), at);
        }
}

/* The bandwidth probe's two read loops read every byte: their checksum
 * (the sum of all 64-bit words) is the same on every table, for any
 * n % 128 == 0. */
TIER_TEST(read_bytes_reads_everything)
{
    enum { N = 8192 + 384 };
    static uint64_t buf[N / 8];
    llx_rng r;
    llx_rng_seed(&r, 17);
    for (size_t i = 0; i < N / 8; i++) buf[i] = llx_rng_u64(&r);
    for (size_t n = 128; n <= N; n += 128) {
        uint64_t want = 0;
        for (size_t i = 0; i < n / 8; i++) want += buf[i];
        CHECK_MSG(llx_kernels_ref.read_bytes(buf, n) == want, "ref n=%zu", n);
        CHECK_MSG(k->read_bytes(buf, n) == want, "%s n=%zu", k->name, n);
        CHECK_MSG(llx_kernels_ref.read_seq(buf, n) == want, "ref seq n=%zu", n);
        CHECK_MSG(k->read_seq(buf, n) == want, "%s seq n=%zu", k->name, n);
    }
}
