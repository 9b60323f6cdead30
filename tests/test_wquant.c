/* tests/test_wquant.c - int4 / int8 weight rounding: RTN ranges and
 * scales, fp16 scales, and GPTQ (Cholesky, exact RTN when the Hessian is
 * diagonal, lower reconstruction error than RTN on correlated inputs, with
 * and without act-order, per row and per group). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q8.h"
#include "model/half.h"
#include "quant/linalg.h"
#include "quant/wquant.h"
#include "test.h"
#include "util/rng.h"

static float *randw(int n, uint64_t seed, float sd)
{
    float *w = malloc(sizeof(float) * n);
    llx_rng g;
    llx_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) w[i] = (float)(llx_rng_normal(&g) * sd);
    return w;
}

TEST(wquant_rtn_int4_groups, LLX_T_ASAN)
{
    enum { R = 5, K = 128 };
    float *w = randw(R * K, 1, 0.05f);
    w[3] = 1.0f; /* an outlier in row 0, group 0 */
    int8_t q[R * K];
    float s[R * 4];
    const llx_wq spec = {4, 32, 0, 0};
    llx_wq_rtn(&spec, w, R, K, q, s);
    for (int r = 0; r < R; r++)
        for (int g = 0; g < 4; g++) {
            float amax = 0;
            for (int k = 0; k < 32; k++) amax = fmaxf(amax, fabsf(w[r * K + g * 32 + k]));
            CHECK(s[r * 4 + g] == amax / 7.0f);
            for (int k = 0; k < 32; k++) {
                const int v = q[r * K + g * 32 + k];
                CHECK(v >= -7 && v <= 7);
                CHECK(v == (int)rintf(w[r * K + g * 32 + k] / s[r * 4 + g]));
            }
        }
    CHECK(q[3] == 7 && s[0] > 5 * s[1]); /* the outlier sets only its own group's scale */
    /* fp16 scales: the stored scale is an fp16 value and the rounding used it */
    const llx_wq h16 = {4, 64, 1, 0};
    float s16[R * 2];
    llx_wq_rtn(&h16, w, R, K, q, s16);
    for (int i = 0; i < R * 2; i++) CHECK(llx_f16_to_f32(llx_f32_to_f16(s16[i])) == s16[i]);
    for (int k = 0; k < 64; k++) {
        float r = rintf(w[K + k] / s16[2]);
        r = r > 7 ? 7 : r < -8 ? -8 : r;
        CHECK(q[K + k] == (int)r);
    }
    free(w);
}

static double sq_err(const float *w, const int8_t *q, const float *s, int n)
{
    double e = 0.0;
    for (int k = 0; k < n; k++) e += ((double)w[k] - q[k] * (double)s[0]) * ((double)w[k] - q[k] * (double)s[0]);
    return e;
}

/* --weight-clip mse: per group the clipped scale is one of the searched
 * ratios, never worse than no clipping, strictly better on Gaussian
 * weights (whose tails a full-range scale wastes levels on), and the codes
 * are the rounding with that scale, saturated at -8 / 7. */
TEST(wquant_rtn_int4_clip_search, LLX_T_ASAN)
{
    enum { R = 16, K = 128, G = 32, NG = K / G };
    float *w = randw(R * K, 9, 0.05f);
    int8_t q[R * K], q0[R * K];
    float s[R * NG], s0[R * NG];
    const llx_wq plain = {4, G, 0, 0}, clip = {4, G, 0, 1};
    llx_wq_rtn(&plain, w, R, K, q0, s0);
    llx_wq_rtn(&clip, w, R, K, q, s);
    int better = 0, saturated = 0;
    for (int i = 0; i < R * NG; i++) {
        const float *wg = w + (size_t)i * G;
        float amax = 0;
        for (int k = 0; k < G; k++) amax = fmaxf(amax, fabsf(wg[k]));
        int found = 0;
        for (int c = 0; c <= 50; c++) found |= s[i] == amax * (1.0f - 0.01f * (float)c) / 7.0f;
        CHECK(found);
        const double e = sq_err(wg, q + (size_t)i * G, &s[i], G), e0 = sq_err(wg, q0 + (size_t)i * G, &s0[i], G);
        CHECK(e <= e0);
        better += e < 0.9 * e0;
        for (int k = 0; k < G; k++) {
            float r = rintf(wg[k] / s[i]);
            saturated += r > 7 || r < -8;
            r = r > 7 ? 7 : r < -8 ? -8 : r;
            CHECK(q[(size_t)i * G + k] == (int)r);
        }
    }
    CHECK(better > R * NG / 2);
    CHECK(saturated > 0);
    /* int8 ignores the flag (the W8A8 rounding stays) */
    const llx_wq c8 = {8, 0, 0, 1}, p8 = {8, 0, 0, 0};
    float s8[R], t8[R];
    llx_wq_rtn(&c8, w, R, K, q, s8);
    llx_wq_rtn(&p8, w, R, K, q0, t8);
    CHECK(memcmp(q, q0, sizeof q) == 0 && memcmp(s8, t8, sizeof s8) == 0);
    free(w);
}

TEST(wquant_rtn_int8_is_w8a8_rounding, LLX_T_ASAN)
{
    enum { R = 3, K = 100 };
    float *w = randw(R * K, 2, 0.1f);
    int8_t q[R * K], ref[R * K];
    float s[R], sref[R];
    const llx_wq spec = {8, 0, 0, 0};
    llx_wq_rtn(&spec, w, R, K, q, s);
    for (int r = 0; r < R; r++) llx_quantize_dynamic(w + r * K, K, ref + r * K, &sref[r]);
    CHECK(memcmp(q, ref, sizeof q) == 0);
    CHECK(memcmp(s, sref, sizeof s) == 0);
    free(w);
}

TEST(wquant_cholesky, LLX_T_ASAN)
{
    enum { N = 9 };
    double a[N * N], l[N * N];
    llx_rng g;
    llx_rng_seed(&g, 4);
    double m[N * N];
    for (int i = 0; i < N * N; i++) m[i] = llx_rng_normal(&g);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = i == j ? 0.5 : 0.0;
            for (int k = 0; k < N; k++) s += m[i * N + k] * m[j * N + k];
            a[i * N + j] = s;
        }
    memcpy(l, a, sizeof a);
    REQUIRE(llx_cholesky(l, N) == 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++) {
            double s = 0;
            for (int k = 0; k <= j; k++) s += l[i * N + k] * l[j * N + k];
            CHECK_CLOSE(s, a[i * N + j], 1e-9, 1e-9);
        }
    a[0] = -1.0;
    CHECK(llx_cholesky(a, N) == 0);
}

/* H = X^T X for T correlated inputs: x = z M with a random mixing M */
static double *hessian(int K, int T, uint64_t seed)
{
    float *z = randw(T * K, seed, 1.0f), *mix = randw(K * K, seed + 1, 1.0f / sqrtf((float)K));
    double *x = malloc(sizeof(double) * T * K), *h = calloc((size_t)K * K, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < K; j++) {
            double s = z[t * K + j] * 0.5;
            for (int k = 0; k < K; k++) s += (double)z[t * K + k] * mix[k * K + j];
            x[t * K + j] = s * (1.0 + 3.0 * (j % 7 == 0)); /* some channels louder */
        }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) h[i * K + j] += x[t * K + i] * x[t * K + j];
    free(z), free(mix), free(x);
    return h;
}

TEST(wquant_gptq_beats_rtn, LLX_T_ASAN)
{
    enum { R = 24, K = 128, T = 512 };
    double *h0 = hessian(K, T, 11), *h = malloc(sizeof(double) * K * K);
    float *w0 = randw(R * K, 12, 0.05f), *w = malloc(sizeof(float) * R * K);
    int8_t *q = malloc(R * K), *qr = malloc(R * K);
    float s[R * K], sr[R * K];
    static const int groups[] = {0, 32};
    for (int gi = 0; gi < 2; gi++)
        for (int ao = 0; ao < 2; ao++) {
            const llx_wq spec = {4, groups[gi], 0, 0};
            const llx_gptq_opts o = {0.01, ao, 32, 1};
            memcpy(h, h0, sizeof(double) * K * K);
            memcpy(w, w0, sizeof(float) * R * K);
            REQUIRE(llx_wq_gptq(&spec, &o, w, R, K, h, q, s) == LLX_OK);
            llx_wq_rtn(&spec, w0, R, K, qr, sr);
            const double eg = llx_wq_error(w0, q, s, R, K, groups[gi], h0);
            const double er = llx_wq_error(w0, qr, sr, R, K, groups[gi], h0);
            llx_test_note("group %d act-order %d: GPTQ error %.4g, RTN %.4g", groups[gi], ao, eg, er);
            CHECK(eg < 0.8 * er);
            for (int i = 0; i < R * K; i++) CHECK(q[i] >= -8 && q[i] <= 7);
            if (ao) /* static groups: the scales of the original weights */
                CHECK(memcmp(s, sr, sizeof(float) * R * (groups[gi] ? K / groups[gi] : 1)) == 0);
        }
    free(h0), free(h), free(w0), free(w), free(q), free(qr);
}

/* The rows of GPTQ's linear algebra and blocks shared by 1, 2 or 3
 * threads: the same bits (K past the widths where the pool joins in). */
TEST(wquant_gptq_threads_same_bits, LLX_T_ASAN | LLX_T_TSAN)
{
    enum { R = 37, K = 320, T = 400 };
    double *h0 = hessian(K, T, 21), *h = malloc(sizeof(double) * K * K);
    float *w0 = randw(R * K, 22, 0.05f), *w = malloc(sizeof(float) * R * K), *w1 = malloc(sizeof(float) * R * K);
    int8_t *q = malloc(R * K), *q1 = malloc(R * K);
    float *s = malloc(sizeof(float) * R * K / 64), *s1 = malloc(sizeof(float) * R * K / 64);
    const llx_wq spec = {4, 64, 1, 0};
    for (int th = 1; th <= 3; th++)
        for (int ao = 0; ao < 2; ao++) {
            const llx_gptq_opts o = {0.01, ao, 128, th};
            memcpy(h, h0, sizeof(double) * K * K);
            memcpy(w, w0, sizeof(float) * R * K);
            REQUIRE(llx_wq_gptq(&spec, &o, w, R, K, h, q, s) == LLX_OK);
            if (th == 1 && ao == 0) {
                memcpy(q1, q, R * K), memcpy(s1, s, sizeof(float) * R * K / 64), memcpy(w1, w, sizeof(float) * R * K);
                continue;
            }
            if (ao) continue; /* act-order is another result: compared across threads below */
            CHECK_MSG(memcmp(q, q1, R * K) == 0 && memcmp(s, s1, sizeof(float) * R * K / 64) == 0 &&
                          memcmp(w, w1, sizeof(float) * R * K) == 0,
                      "%d threads", th);
        }
    /* act-order: 1 against 2 threads */
    for (int th = 1; th <= 2; th++) {
        const llx_gptq_opts o = {0.01, 1, 128, th};
        memcpy(h, h0, sizeof(double) * K * K);
        memcpy(w, w0, sizeof(float) * R * K);
        REQUIRE(llx_wq_gptq(&spec, &o, w, R, K, h, th == 1 ? q1 : q, th == 1 ? s1 : s) == LLX_OK);
    }
    CHECK(memcmp(q, q1, R * K) == 0 && memcmp(s, s1, sizeof(float) * R * K / 64) == 0);
    free(h0), free(h), free(w0), free(w), free(w1), free(q), free(q1), free(s), free(s1);
}

TEST(wquant_gptq_diagonal_hessian_is_rtn, LLX_T_ASAN)
{
    enum { R = 6, K = 64 };
    double *h = calloc(K * K, sizeof(double));
    float *w0 = randw(R * K, 5, 0.1f), *w = malloc(sizeof(float) * R * K);
    int8_t q[R * K], qr[R * K];
    float s[R * 2], sr[R * 2];
    const llx_wq spec = {4, 32, 1, 0};
    for (int ao = 0; ao < 4; ao++) { /* act-order off/on, weight clipping off/on */
        const llx_wq sp = {4, 32, 1, ao >= 2};
        for (int j = 0; j < K; j++) h[j * K + j] = 1.0 + j;
        memcpy(w, w0, sizeof(float) * R * K);
        const llx_gptq_opts o = {0.01, ao & 1, 16, 1};
        REQUIRE(llx_wq_gptq(&sp, &o, w, R, K, h, q, s) == LLX_OK);
        llx_wq_rtn(&sp, w0, R, K, qr, sr);
        CHECK(memcmp(q, qr, sizeof q) == 0);
        CHECK(memcmp(s, sr, sizeof s) == 0);
    }
    /* a column no input reaches is zeroed */
    memset(h, 0, sizeof(double) * K * K);
    for (int j = 0; j < K; j++) h[j * K + j] = j == 5 ? 0.0 : 1.0;
    memcpy(w, w0, sizeof(float) * R * K);
    const llx_gptq_opts o = {0.01, 0, 128, 1};
    REQUIRE(llx_wq_gptq(&spec, &o, w, R, K, h, q, s) == LLX_OK);
    for (int r = 0; r < R; r++) CHECK(q[r * K + 5] == 0);
    /* not positive definite even after damping */
    memset(h, 0, sizeof(double) * K * K);
    for (int j = 0; j < K; j++) h[j * K + j] = 1.0;
    h[1] = h[K] = 5.0;
    const llx_gptq_opts nod = {0.0, 0, 128, 1};
    CHECK(llx_wq_gptq(&spec, &nod, w, R, K, h, q, s) == LLX_ERR_ARG);
    free(h), free(w0), free(w);
}

TEST(wquant_a4_per_token, LLX_T_ASAN)
{
    float x[40];
    int8_t q[40];
    float s;
    int z;
    for (int i = 0; i < 40; i++) x[i] = (float)(i - 10) * 0.25f; /* [-2.5, 7.25] */
    llx_quantize_a4(x, 40, 1.0f, q, &s, &z);
    CHECK(s == 9.75f / 15.0f);
    CHECK_EQ_INT(z, (int)rintf(2.5f * (15.0f / 9.75f)));
    for (int i = 0; i < 40; i++) {
        CHECK(q[i] + z >= 0 && q[i] + z <= 15);
        CHECK(fabsf(q[i] * s - x[i]) <= 0.5f * s + 1e-6f || (q[i] + z == 0 || q[i] + z == 15));
    }
    CHECK(q[0] == -z && q[39] == 15 - z); /* the range's ends */
    /* 0 is exact: its code is the zero point */
    x[7] = 0.0f;
    llx_quantize_a4(x, 40, 1.0f, q, &s, &z);
    CHECK(q[7] == 0);
    /* all positive: the range starts at 0, z = 0 */
    for (int i = 0; i < 40; i++) x[i] = 1.0f + i;
    llx_quantize_a4(x, 40, 1.0f, q, &s, &z);
    CHECK(z == 0 && q[39] == 15 && s == 40.0f / 15.0f);
    /* zeros, and a NaN */
    memset(x, 0, sizeof x);
    llx_quantize_a4(x, 40, 1.0f, q, &s, &z);
    CHECK(s == 0.0f && z == 0 && q[5] == 0);
    x[3] = NAN, x[4] = -1.0f, x[5] = 1.0f;
    llx_quantize_a4(x, 40, 1.0f, q, &s, &z);
    CHECK(q[3] == -z && s == 2.0f / 15.0f);
}

/* The clip ratio narrows the range to [c*min, c*max]; the values beyond it
 * saturate at codes 0 and 15; 1 is the unclipped code bit for bit. */
TEST(wquant_a4_clipped, LLX_T_ASAN)
{
    float x[40];
    int8_t q[40], q1[40];
    float s, s1;
    int z, z1;
    for (int i = 0; i < 40; i++) x[i] = (float)(i - 10) * 0.25f; /* [-2.5, 7.25] */
    llx_quantize_a4(x, 40, 0.75f, q, &s, &z);
    const float mn = -2.5f * 0.75f, mx = 7.25f * 0.75f;
    CHECK(s == (mx - mn) / 15.0f);
    CHECK_EQ_INT(z, (int)rintf(-mn * (15.0f / (mx - mn))));
    int sat_lo = 0, sat_hi = 0;
    for (int i = 0; i < 40; i++) {
        CHECK(q[i] + z >= 0 && q[i] + z <= 15);
        if (x[i] < mn) {
            CHECK(q[i] + z == 0);
            sat_lo++;
        } else if (x[i] > mx) {
            CHECK(q[i] + z == 15);
            sat_hi++;
        } else {
            CHECK(fabsf(q[i] * s - x[i]) <= 0.5f * s + 1e-6f);
        }
    }
    CHECK(sat_lo > 0 && sat_hi > 0); /* both ends were clipped */
    /* a ratio of 1 keeps the whole range: nothing saturates inside it */
    llx_quantize_a4(x, 40, 1.0f, q1, &s1, &z1);
    CHECK(s1 == 9.75f / 15.0f && s1 > s && q1[0] + z1 == 0 && q1[39] + z1 == 15);
    CHECK(q1[1] + z1 > 0 && q[1] + z == 0); /* -2.25: saturated only when clipped */
}

#include "quant/hessian.h"

TEST(wquant_hessian_accumulates, LLX_T_ASAN)
{
    enum { K = 37, T = 300, LD = 40 };
    float *x = randw(T * LD, 21, 1.0f);
    llx_hess h;
    REQUIRE(llx_hess_init(&h, K, 64) == LLX_OK);
    llx_hess_add(&h, llx_kernels_select("auto"), x, 200, LD, NULL);
    llx_hess_add(&h, &llx_kernels_ref, x + 200 * LD, T - 200, LD, NULL);
    CHECK_EQ_INT(h.n, T);
    const double *hm = llx_hess_matrix(&h);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = 0;
            for (int t = 0; t < T; t++) s += (double)x[t * LD + i] * x[t * LD + j];
            CHECK_CLOSE(hm[i * K + j], s, 1e-3, 1e-5);
        }
    llx_hess_free(&h);
    free(x);
}

/* The Hessian as it was first written, the specification of llx_hess_add:
 * every batch's whole K x K fp32 product (the kernel table's GEMM of the
 * transposed batch with itself) added into H in double, element by
 * element; with a cross term also C += the product of the reference
 * batch's and the batch's transposes. */
static void plain_hessian(double *hh, double *cc, const llx_kernels *k, const float *x, const float *xf, int T, int ldx,
                          int K, int cap, float clip)
{
    float *xt = malloc(sizeof(float) * K * cap), *xft = malloc(sizeof(float) * K * cap);
    float *tmp = malloc(sizeof(float) * K * K);
    int8_t *q = malloc((size_t)K);
    REQUIRE(xt && xft && tmp && q);
    for (int t0 = 0; t0 < T; t0 += cap) {
        const int n = T - t0 < cap ? T - t0 : cap;
        for (int t = 0; t < n; t++) {
            const float *xr = x + (size_t)(t0 + t) * ldx;
            float s = 1.0f;
            int z;
            if (clip > 0.0f) llx_quantize_a4(xr, K, clip, q, &s, &z);
            for (int i = 0; i < K; i++) {
                xt[i * n + t] = clip > 0.0f ? s * (float)q[i] : xr[i];
                if (xf) xft[i * n + t] = xf[(size_t)(t0 + t) * ldx + i];
            }
        }
        k->matmul_f32(tmp, K, xt, n, xt, n, NULL, K, K, n);
        for (int i = 0; i < K * K; i++) hh[i] += tmp[i];
        if (!xf) continue;
        k->matmul_f32(tmp, K, xft, n, xt, n, NULL, K, K, n);
        for (int i = 0; i < K * K; i++) cc[i] += tmp[i];
    }
    free(xt), free(xft), free(tmp), free(q);
}

/* Only the lower triangle's products, in blocks of rows shared out to a
 * pool, mirrored when asked for: the same bits as the whole product, for
 * odd widths and batches, int4 codes, the cross term, both vector and
 * reference GEMMs, and 1-3 threads (widths from 128 share the rows out). */
TEST(wquant_hessian_lower_triangle_same_bits, LLX_T_ASAN | LLX_T_TSAN)
{
    static const int widths[] = {1, 5, 16, 37, 130, 203};
    const llx_kernels *tiers[2] = {llx_kernels_select("auto"), &llx_kernels_ref};
    enum { T = 150, LD = 210, CAP = 64 };
    float *x = randw(T * LD, 31, 1.0f), *xf = randw(T * LD, 32, 1.0f);
    int cases = 0, split = 0;
    for (int wi = 0; wi < 6; wi++)
        for (int v = 0; v < 6; v++) {
            const int K = widths[wi], threads = 1 + v % 3, cross = v >= 3;
            const llx_kernels *k = tiers[(wi + v) % 2];
            const float clip = !cross && v == 1 ? 0.9f : 0.0f;
            double *hh = calloc((size_t)K * K, sizeof *hh), *cc = calloc((size_t)K * K, sizeof *cc);
            REQUIRE(hh && cc);
            /* in the same batches as the two calls below */
            plain_hessian(hh, cc, k, x, cross ? xf : NULL, 100, LD, K, CAP, clip);
            plain_hessian(hh, cc, k, x + 100 * LD, cross ? xf + 100 * LD : NULL, T - 100, LD, K, CAP, clip);
            llx_pool *pool = NULL;
            if (threads > 1) REQUIRE(llx_pool_create(&pool, threads, 0) == LLX_OK);
            llx_hess h;
            REQUIRE((cross ? llx_hess_init_cross(&h, K, CAP) : llx_hess_init(&h, K, CAP)) == LLX_OK);
            h.a4_clip = clip;
            /* two calls (the first ends inside a batch), the matrix asked for between them */
            if (cross) llx_hess_add_cross(&h, k, xf, x, 100, LD, pool);
            else llx_hess_add(&h, k, x, 100, LD, pool);
            (void)llx_hess_matrix(&h);
            if (cross) llx_hess_add_cross(&h, k, xf + 100 * LD, x + 100 * LD, T - 100, LD, pool);
            else llx_hess_add(&h, k, x + 100 * LD, T - 100, LD, pool);
            const double *hm = llx_hess_matrix(&h);
            CHECK_MSG(!memcmp(hm, hh, sizeof(double) * K * K), "K %d, %d threads, cross %d, clip %g, %s", K, threads,
                      cross, clip, k->name);
            CHECK_MSG(!cross || !memcmp(h.c, cc, sizeof(double) * K * K), "C: K %d, %d threads", K, threads);
            CHECK(llx_hess_matrix(&h) == hm && h.n == T);
            cases++;
            split += threads > 1 && K >= 128;
            llx_hess_free(&h);
            llx_pool_free(pool);
            free(hh), free(cc);
        }
    CHECK(split >= 4);
    llx_test_note("%d cases bit-identical to the whole product (%d shared out to 2-3 threads)", cases, split);
    free(x), free(xf);
}

/* --gptq-hessian a4: each token replaced by its int4 code times its scale
 * (per token asymmetric, range widened to 0 and clipped) before the sum. */
TEST(wquant_hessian_of_int4_inputs, LLX_T_ASAN)
{
    enum { K = 29, T = 150, LD = 32 };
    const float clip = 0.875f;
    float *x = randw(T * LD, 23, 1.0f), *xq = malloc(sizeof(float) * T * K);
    REQUIRE(xq);
    for (int t = 0; t < T; t++) { /* the W4A4 code of docs/quantization.md, written out */
        float mn = 0.0f, mx = 0.0f;
        for (int i = 0; i < K; i++) mn = fminf(mn, x[t * LD + i]), mx = fmaxf(mx, x[t * LD + i]);
        const float step = (clip * mx - clip * mn) / 15.0f, z = rintf(-clip * mn / step);
        for (int i = 0; i < K; i++) xq[t * K + i] = step * (fminf(fmaxf(rintf(x[t * LD + i] / step) + z, 0.0f), 15.0f) - z);
    }
    llx_hess h;
    REQUIRE(llx_hess_init(&h, K, 64) == LLX_OK);
    h.a4_clip = clip;
    llx_hess_add(&h, llx_kernels_select("auto"), x, T, LD, NULL);
    const double *hm = llx_hess_matrix(&h);
    double off = 0.0; /* how far it is from the fp32 inputs' Hessian */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = 0, s32 = 0;
            for (int t = 0; t < T; t++) s += (double)xq[t * K + i] * xq[t * K + j];
            for (int t = 0; t < T; t++) s32 += (double)x[t * LD + i] * x[t * LD + j];
            CHECK_CLOSE(hm[i * K + j], s, 1e-3, 1e-5);
            off = fmax(off, fabs(hm[i * K + j] - s32));
        }
    CHECK(off > 0.1); /* int4 codes, not the inputs */
    llx_hess_free(&h);
    free(x), free(xq);
}
