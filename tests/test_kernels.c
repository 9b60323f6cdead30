/* tests/test_kernels.c - optimised kernels against the scalar reference:
 * int8 bit for bit (extremes, odd lengths), float within a tolerance, and
 * the float order contract (a row's result does not depend on its tile). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecops.h"
#include "test.h"
#include "util/rng.h"

static const llx_kernels *fast(void)
{
    if (!llx_cpu_has_avx2()) return NULL;
    return llx_kernels_select("avx2");
}

static void fill_i8(int8_t *p, size_t n, llx_rng *r, int mode)
{
    for (size_t i = 0; i < n; i++) {
        if (mode == 1) p[i] = 127;
        else if (mode == 2) p[i] = -127;
        else if (mode == 3) p[i] = (i & 1) ? 127 : -127;
        else p[i] = (int8_t)((int)(llx_rng_u64(r) % 255) - 127);
    }
}

TEST(kernels_select_names, LLX_T_ASAN)
{
    CHECK(llx_kernels_select("ref") == &llx_kernels_ref);
    CHECK(llx_kernels_select("nonsense") == NULL);
    CHECK(llx_kernels_select("auto") != NULL);
}

TEST(kernels_i8_matmul_bit_exact, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
    llx_rng r;
    llx_rng_seed(&r, 1);
    static const int Ks[] = {1, 7, 31, 32, 33, 64, 100, 255, 256, 1024, 1029, 4096};
    static const int Ts[] = {1, 2, 3, 4, 5, 9};
    static const int Rs[] = {1, 2, 3, 4, 5, 7, 13};
    for (int mode = 0; mode < 4; mode++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
                for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++) {
                    const int K = Ks[ki], T = Ts[ti], R = Rs[ri];
                    int8_t *x = malloc((size_t)T * K + 1), *w = malloc((size_t)R * K + 1);
                    int32_t *a = malloc(sizeof(int32_t) * T * R), *b = malloc(sizeof(int32_t) * T * R);
                    fill_i8(x, (size_t)T * K, &r, mode);
                    /* extremes: weights of the opposite sign in mode 1 give -127*127 everywhere */
                    fill_i8(w, (size_t)R * K, &r, mode == 1 ? 2 : mode);
                    llx_kernels_ref.matmul_i8(a, R, x, K, w, K, T, R, K);
                    k->matmul_i8(b, R, x, K, w, K, T, R, K);
                    CHECK_MSG(memcmp(a, b, sizeof(int32_t) * T * R) == 0, "i8 mismatch mode %d K %d T %d R %d", mode,
                              K, T, R);
                    CHECK_EQ_INT(llx_kernels_ref.dot_i8(x, w, K), k->dot_i8(x, w, K));
                    if (mode == 1) CHECK_EQ_INT(a[0], -127 * 127 * K);
                    free(x), free(w), free(a), free(b);
                }
}

TEST(kernels_f32_matmul_close_to_reference, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
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
TEST(kernels_f32_row_order_is_tile_independent, LLX_T_ASAN)
{
    const llx_kernels *ks[2] = {&llx_kernels_ref, fast()};
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

/* The packed layout: both packed kernels equal the row-major reference, and
 * rows [2m, R) of a packed matrix are the packed matrix of those rows. */
TEST(kernels_i8_packed_bit_exact, LLX_T_ASAN)
{
    const llx_kernels *ks[2] = {&llx_kernels_ref, fast()};
    llx_rng r;
    llx_rng_seed(&r, 5);
    static const int Ks[] = {1, 31, 32, 33, 100, 256, 1029};
    static const int Rs[] = {1, 2, 3, 4, 5, 8, 9, 13, 16, 66, 131};
    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
        for (size_t ri = 0; ri < sizeof Rs / sizeof *Rs; ri++)
            for (int T = 1; T <= 9; T += 4) {
                const int K = Ks[ki], R = Rs[ri];
                int8_t *w = malloc((size_t)R * K), *wp = malloc((size_t)R * K), *x = malloc((size_t)T * K);
                int32_t *want = malloc(sizeof(int32_t) * T * R), *got = malloc(sizeof(int32_t) * T * R);
                fill_i8(w, (size_t)R * K, &r, ki == 2 ? 3 : 0);
                fill_i8(x, (size_t)T * K, &r, 0);
                llx_pack_i8(wp, w, (size_t)K, R, K);
                llx_kernels_ref.matmul_i8(want, R, x, K, w, K, T, R, K);
                for (int v = 0; v < 2; v++) {
                    if (!ks[v]) continue;
                    memset(got, 0x55, sizeof(int32_t) * T * R);
                    ks[v]->matmul_i8p(got, R, x, K, wp, T, R, K);
                    CHECK_MSG(!memcmp(want, got, sizeof(int32_t) * T * R), "%s packed: K %d R %d T %d", ks[v]->name, K,
                              R, T);
                    if (R > 2) { /* the tail of a packed matrix is a packed matrix */
                        ks[v]->matmul_i8p(got, R, x, K, wp + 2 * (size_t)K, T, R - 2, K);
                        int same = 1;
                        for (int t = 0; t < T; t++)
                            same &= !memcmp(got + (size_t)t * R, want + (size_t)t * R + 2, sizeof(int32_t) * (R - 2));
                        CHECK_MSG(same, "%s packed sub-range: K %d R %d T %d", ks[v]->name, K, R, T);
                    }
                }
                free(w), free(wp), free(x), free(want), free(got);
            }
}

/* The quantization unit must give the same bits on every kernel table. */
TEST(kernels_quant_unit_bit_exact, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
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
 * (kernels.h), with gaps between rows and chunks and stale bytes past n. */
TEST(kernels_attn_bit_exact, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
    llx_rng r;
    llx_rng_seed(&r, 11);
    static const int hds[] = {8, 12, 13, 40, 64, 128};
    static const int ns[] = {1, 5, 8, 31, 32, 33, 100, 257};
    static const int Hs[] = {1, 3, 16};
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t Hi = 0; Hi < sizeof Hs / sizeof *Hs; Hi++) {
                const int hd = hds[hi], n = ns[ni], H = Hs[Hi], n32 = (n + 31) & ~31, ext = ni == 4;
                const int ldk = H * hd + 7, ldp = n32 + 32, lds = n + 3, la = H * (lds > hd ? lds : hd);
                const size_t cs = (size_t)H * 32 * hd + 64;
                int8_t *kc = malloc((size_t)n32 * ldk), *v = malloc(cs * (size_t)(n32 / 32));
                int8_t *q = malloc((size_t)H * hd), *p = calloc((size_t)H * ldp, 1);
                int32_t *a = malloc(sizeof(int32_t) * la), *b = malloc(sizeof(int32_t) * la);
                fill_i8(kc, (size_t)n32 * ldk, &r, ext);
                fill_i8(v, cs * (size_t)(n32 / 32), &r, ext); /* stale bytes past n too */
                fill_i8(q, (size_t)H * hd, &r, ext);
                for (int h = 0; h < H; h++)
                    for (int s = 0; s < n; s++) p[h * ldp + s] = (int8_t)(ext ? 127 : llx_rng_u64(&r) % 128);
                memset(a, 0, sizeof(int32_t) * la), memset(b, 0, sizeof(int32_t) * la);
                llx_kernels_ref.attn_qk_i8(a, lds, q, kc, ldk, H, n, hd);
                k->attn_qk_i8(b, lds, q, kc, ldk, H, n, hd);
                CHECK_MSG(!memcmp(a, b, sizeof(int32_t) * H * lds), "attn_qk H %d hd %d n %d", H, hd, n);
                CHECK_EQ_INT(a[(H - 1) * lds + n - 1],
                             llx_kernels_ref.dot_i8(q + (H - 1) * hd, kc + (size_t)(n - 1) * ldk + (H - 1) * hd, hd));
                llx_kernels_ref.attn_pv_i8(a, p, ldp, v, cs, H, n, hd);
                k->attn_pv_i8(b, p, ldp, v, cs, H, n, hd);
                CHECK_MSG(!memcmp(a, b, sizeof(int32_t) * H * hd), "attn_pv H %d hd %d n %d", H, hd, n);
                if (ext) CHECK_EQ_INT(a[0], 127 * 127 * 32); /* n = 32, all 127 */
                free(kc), free(v), free(q), free(p), free(a), free(b);
            }
}

/* GELU, softmax and LayerNorm: same bits on every table (they feed int8 rounding). */
TEST(kernels_gelu_softmax_layernorm_bit_exact, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
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

TEST(kernels_argmax_matches_reference, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
    llx_rng r;
    llx_rng_seed(&r, 17);
    enum { N = 300 };
    static float x[N];
    for (int trial = 0; trial < 2000; trial++) {
        const int n = 1 + (int)(llx_rng_u64(&r) % N);
        for (int i = 0; i < n; i++) {
            const int kind = (int)(llx_rng_u64(&r) % 16);
            x[i] = kind == 0 ? NAN : kind == 1 ? -INFINITY : kind == 2 ? INFINITY : (float)(llx_rng_u64(&r) % 7);
        }
        if (trial % 3 == 0) x[0] = NAN;
        CHECK_EQ_INT(k->argmax_f32(x, n), llx_kernels_ref.argmax_f32(x, n));
    }
}

/* The bandwidth probe reads every byte: its checksum (the sum of all
 * 64-bit words) is the same on every table, for any n % 128 == 0. */
TEST(kernels_read_bytes_reads_everything, LLX_T_ASAN)
{
    const llx_kernels *k = fast();
    if (!k) SKIP("no AVX2 on this CPU");
    enum { N = 8192 + 384 };
    static uint64_t buf[N / 8];
    llx_rng r;
    llx_rng_seed(&r, 17);
    for (size_t i = 0; i < N / 8; i++) buf[i] = llx_rng_u64(&r);
    for (size_t n = 128; n <= N; n += 128) {
        uint64_t want = 0;
        for (size_t i = 0; i < n / 8; i++) want += buf[i];
        CHECK_MSG(llx_kernels_ref.read_bytes(buf, n) == want, "ref n=%zu", n);
        CHECK_MSG(k->read_bytes(buf, n) == want, "avx2 n=%zu", n);
    }
}
