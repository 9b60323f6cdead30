/* tests/test_linalg.c - GPTQ's blocked linear algebra (quant/linalg.h)
 * against the plain loops it reorders, kept here as the specification:
 * the results must be the same bits, for sizes that leave every remainder
 * of the blocks (panels of 32, the inverse's blocks of 32 rows and tiles
 * of 256 columns, sweeps of 64, steps of 4 and 2),
 * with the upper triangle left as it was, on one thread or shared by a
 * pool; a matrix that is not positive definite is refused at the same
 * point.  The upper Cholesky factor of an inverse takes a shorter route
 * than the plain one (H^-1 = L^-T L^-1 formed and factored again), so it
 * is held to that route's values to rounding, and to its own bits for any
 * pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "quant/linalg.h"
#include "quant/linalg_tile.h"
#include "test.h"
#include "util/pool.h"
#include "util/rng.h"

/* ---- the plain loops ---- */

static int plain_cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double *aj = a + (size_t)j * n;
        double d = aj[j];
        for (int k = 0; k < j; k++) d -= aj[k] * aj[k];
        if (!(d > 0.0)) return 0;
        d = sqrt(d);
        aj[j] = d;
        for (int i = j + 1; i < n; i++) {
            double *ai = a + (size_t)i * n, s = ai[j];
            for (int k = 0; k < j; k++) s -= ai[k] * aj[k];
            ai[j] = s / d;
        }
    }
    return 1;
}

static void plain_invert_lower(double *a, int n)
{
    double *row = malloc((size_t)n * sizeof *row + 1);
    for (int i = 0; i < n; i++) {
        double *ai = a + (size_t)i * n;
        const double dii = 1.0 / ai[i];
        for (int j = 0; j < i; j++) {
            double s = 0.0;
            for (int k = j; k < i; k++) s += ai[k] * a[(size_t)k * n + j];
            row[j] = -s * dii;
        }
        for (int j = 0; j < i; j++) ai[j] = row[j];
        ai[i] = dii;
    }
    free(row);
}

static void plain_gram_lower(const double *a, int n, double *out)
{
    for (size_t i = 0; i < (size_t)n * n; i++) out[i] = 0.0;
    for (int k = 0; k < n; k++) {
        const double *lk = a + (size_t)k * n;
        for (int i = 0; i <= k; i++) {
            double *oi = out + (size_t)i * n;
            for (int j = 0; j <= i; j++) oi[j] += lk[i] * lk[j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) out[(size_t)i * n + j] = out[(size_t)j * n + i];
}

static void plain_lazy_sums(double *d, const double *e, const double *u, int ld, int B, int nk)
{
    for (int k = 0; k < nk; k++) {
        double s = 0.0;
        for (int i = 0; i < B; i++) s += e[i] * u[(size_t)i * ld + k];
        d[k] = s;
    }
}

/* ---- inputs ---- */

/* M M^T / n + 0.25 I with an upper triangle of its own (to be left alone) */
static double *spd(int n, uint64_t seed)
{
    llx_rng g;
    llx_rng_seed(&g, seed);
    double *m = malloc((size_t)n * n * sizeof *m), *a = malloc((size_t)n * n * sizeof *a);
    for (size_t i = 0; i < (size_t)n * n; i++) m[i] = llx_rng_normal(&g);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double s = i == j ? 0.25 : 0.0;
            for (int k = 0; k < n; k++) s += m[(size_t)i * n + k] * m[(size_t)j * n + k] / n;
            a[(size_t)i * n + j] = s;
            if (j < i) a[(size_t)j * n + i] = s + 1000.0 + j; /* not symmetric: must not be read */
        }
    free(m);
    return a;
}

static int same_bits(const double *x, const double *y, size_t n) { return memcmp(x, y, n * sizeof *x) == 0; }

/* the register-tile tiers this CPU runs (linalg_tile.h): each must give
 * the plain loops' bits */
static int tiers(const llx_la_tier *t[2])
{
    int n = 0;
    t[n++] = llx_la_tier_generic();
    if (llx_la_tier_avx512()) t[n++] = llx_la_tier_avx512();
    return n;
}

static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 66, 67, 97, 131, 170};
#define NSIZES ((int)(sizeof sizes / sizeof *sizes))

TEST(linalg_cholesky_matches_plain_loop, LLX_T_ASAN)
{
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    for (int t = 0; t < NSIZES; t++) {
        const int n = sizes[t];
        double *a0 = spd(n, 11 + (uint64_t)n), *a = malloc((size_t)n * n * sizeof *a);
        double *b = malloc((size_t)n * n * sizeof *b);
        memcpy(b, a0, (size_t)n * n * sizeof *b);
        CHECK(plain_cholesky(b, n) == 1);
        for (int v = 0; v < nt; v++) {
            memcpy(a, a0, (size_t)n * n * sizeof *a);
            CHECK(llx_cholesky_pool(a, n, NULL, tv[v]) == 1);
            CHECK_MSG(same_bits(a, b, (size_t)n * n), "n = %d, %s tiles", n, tv[v]->name);
        }
        free(a0), free(a), free(b);
    }
}

TEST(linalg_cholesky_refuses_where_plain_loop_does, LLX_T_ASAN)
{
    const int n = 70;
    for (int bad = 0; bad < n; bad += 13) { /* column `bad` loses its positive pivot */
        double *a = spd(n, 5), *b = malloc((size_t)n * n * sizeof *b);
        a[(size_t)bad * n + bad] -= 1e6;
        memcpy(b, a, (size_t)n * n * sizeof *b);
        CHECK_MSG(llx_cholesky(a, n) == 0 && plain_cholesky(b, n) == 0, "bad pivot %d", bad);
        free(a), free(b);
    }
}

TEST(linalg_inverse_matches_plain_loop, LLX_T_ASAN)
{
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    for (int t = 0; t < NSIZES; t++) {
        const int n = sizes[t];
        double *l = spd(n, 23 + (uint64_t)n);
        REQUIRE(llx_cholesky(l, n) == 1);
        double *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b);
        memcpy(b, l, (size_t)n * n * sizeof *b);
        plain_invert_lower(b, n);
        for (int v = 0; v < nt; v++) {
            memcpy(a, l, (size_t)n * n * sizeof *a);
            CHECK(llx_invert_lower(a, n, NULL, tv[v]) == 0);
            CHECK_MSG(same_bits(a, b, (size_t)n * n), "inverse, n = %d, %s tiles", n, tv[v]->name);
        }
        free(l), free(a), free(b);
    }
}

/* the plain route to H^-1's upper factor: L, L^-1, L^-T L^-1, its lower
 * factor Lc, and U = Lc^T */
static void plain_inverse_upper_factor(const double *h, int n, double *b)
{
    double *g = malloc((size_t)n * n * sizeof *g);
    memcpy(b, h, (size_t)n * n * sizeof *b);
    CHECK(plain_cholesky(b, n) == 1);
    plain_invert_lower(b, n);
    plain_gram_lower(b, n, g);
    CHECK(plain_cholesky(g, n) == 1);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) b[(size_t)i * n + j] = j >= i ? g[(size_t)j * n + i] : 0.0;
    free(g);
}

/* Measured at the sizes below: at most 1.2e-15 of the largest entry. */
TEST(linalg_inverse_upper_factor_is_the_plain_route, LLX_T_ASAN)
{
    for (int t = 0; t < NSIZES; t++) {
        const int n = sizes[t];
        double *h = spd(n, 31 + (uint64_t)n), *h0 = malloc((size_t)n * n * sizeof *h0);
        double *u = malloc((size_t)n * n * sizeof *u);
        memcpy(h0, h, (size_t)n * n * sizeof *h0);
        REQUIRE(llx_inverse_upper_factor(h, n, u, NULL, NULL) == 1);
        CHECK_MSG(same_bits(h, h0, (size_t)n * n), "the input changed, n = %d", n);
        double *ref = malloc((size_t)n * n * sizeof *ref), worst = 0.0, top = 0.0;
        plain_inverse_upper_factor(h, n, ref);
        int below = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                const double x = u[(size_t)i * n + j], r = ref[(size_t)i * n + j];
                below += j < i && x != 0.0;
                worst = fabs(x - r) > worst ? fabs(x - r) : worst;
                top = fabs(r) > top ? fabs(r) : top;
            }
        CHECK_MSG(below == 0, "n = %d: %d nonzeros below the diagonal", n, below);
        CHECK_MSG(worst <= 1e-12 * top, "n = %d: off the plain route by %g (largest entry %g)", n, worst, top);
        /* and U^T U is the inverse: (U^T U) H = I, to rounding */
        if (n == 67) {
            double err = 0.0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0.0;
                    for (int k = 0; k < n; k++) {
                        double g = 0.0; /* (U^T U)[i][k] */
                        for (int m = 0; m <= (i < k ? i : k); m++) g += u[(size_t)m * n + i] * u[(size_t)m * n + k];
                        s += g * (k >= j ? h[(size_t)k * n + j] : h[(size_t)j * n + k]);
                    }
                    err = fabs(s - (i == j)) > err ? fabs(s - (i == j)) : err;
                }
            CHECK_MSG(err < 1e-9, "U^T U H - I: %g", err);
        }
        free(h), free(h0), free(u), free(ref);
    }
}

TEST(linalg_inverse_upper_factor_refuses_and_shares, LLX_T_ASAN | LLX_T_TSAN)
{
    const int n = 300;
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    double *h = spd(n, 9), *u = malloc((size_t)n * n * sizeof *u), *u1 = malloc((size_t)n * n * sizeof *u1);
    REQUIRE(llx_inverse_upper_factor(h, n, u1, NULL, tv[0]) == 1);
    for (int th = 1; th <= 3; th++) {
        llx_pool *pool = NULL;
        if (th > 1) REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        for (int v = 0; v < nt; v++) {
            CHECK(llx_inverse_upper_factor(h, n, u, pool, tv[v]) == 1);
            CHECK_MSG(same_bits(u, u1, (size_t)n * n), "%d threads, %s tiles", th, tv[v]->name);
        }
        llx_pool_free(pool);
    }
    h[(size_t)150 * n + 150] -= 1e6; /* a pivot that is not positive */
    CHECK(llx_inverse_upper_factor(h, n, u, NULL, NULL) == 0);
    free(h), free(u), free(u1);
}

/* Several rows of W at once (nr), each with the sums of one row. */
TEST(linalg_lazy_sums_match_plain_loop, LLX_T_ASAN)
{
    llx_rng g;
    llx_rng_seed(&g, 3);
    const int ld = 301, lde = 131, ldd = 310;
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    double *u = malloc((size_t)ld * 130 * sizeof *u), *e = malloc((size_t)19 * lde * sizeof *e);
    double *d = malloc((size_t)19 * ldd * sizeof *d), ref[301];
    for (int i = 0; i < ld * 130; i++) u[i] = llx_rng_normal(&g);
    for (int i = 0; i < 19 * lde; i++) e[i] = llx_rng_normal(&g);
    static const int Bs[] = {1, 3, 4, 5, 128, 130}, nks[] = {1, 2, 3, 17, 255, 256, 301}, nrs[] = {1, 4, 8, 19};
    for (int v = 0; v < nt; v++)
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 7; b++)
                for (int c = 0; c < 4; c++) {
                    const int nr = nrs[c], nk = nks[b];
                    llx_lazy_sums(d, (size_t)ldd, e, (size_t)lde, u, (size_t)ld, nr, Bs[a], nk, tv[v]);
                    int bad = 0;
                    for (int r = 0; r < nr; r++) {
                        plain_lazy_sums(ref, e + (size_t)r * lde, u, ld, Bs[a], nk);
                        bad += !same_bits(d + (size_t)r * ldd, ref, (size_t)nk);
                    }
                    CHECK_MSG(bad == 0, "%s tiles, B %d nk %d nr %d: %d rows differ", tv[v]->name, Bs[a], nk, nr, bad);
                }
    free(u), free(e), free(d);
}

/* The rectangle driver itself: whole tiles, both edges, k past one block
 * (128), both layouts of v (GPTQ's row-major errors, the inverse's
 * transposed multipliers), adding and subtracting; and each tier's float
 * step; against the scalar loops, bit for bit.  Values of mixed magnitudes, so that a different
 * order of the sums would round differently. */
TEST(linalg_tiles_match_scalar_loop, LLX_T_ASAN)
{
    llx_rng g;
    llx_rng_seed(&g, 17);
    const int ldy = 53, ldx = 61, maxk = 300, maxr = 37;
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    double *x = malloc((size_t)maxk * ldx * sizeof *x), *v = malloc((size_t)maxr * maxk * sizeof *v);
    double *y0 = malloc((size_t)maxr * ldy * sizeof *y0), *y = malloc((size_t)maxr * ldy * sizeof *y);
    double *ref = malloc((size_t)maxr * ldy * sizeof *ref);
    for (int i = 0; i < maxk * ldx; i++) x[i] = llx_rng_normal(&g) * (i % 7 == 0 ? 1e6 : 1.0);
    for (int i = 0; i < maxr * maxk; i++) v[i] = llx_rng_normal(&g) * (i % 5 == 0 ? 1e-5 : 1.0);
    for (int i = 0; i < maxr * ldy; i++) y0[i] = llx_rng_normal(&g) * 1e3;
    static const int nrs[] = {1, 4, 8, 9, 16, 37}, ncs[] = {1, 4, 15, 16, 17, 32, 53}, nks[] = {0, 1, 5, 128, 129, 300};
    int cases = 0;
    for (int t = 0; t < nt; t++)
        for (int add = 0; add < 2; add++)
            for (int lay = 0; lay < 2; lay++)
                for (int a = 0; a < 6; a++)
                    for (int b = 0; b < 7; b++)
                        for (int c = 0; c < 6; c++) {
                            const int nr = nrs[a], nc = ncs[b], nk = nks[c];
                            const size_t vr = lay ? 1 : (size_t)maxk, vk = lay ? (size_t)maxr : 1;
                            memcpy(y, y0, (size_t)maxr * ldy * sizeof *y);
                            memcpy(ref, y0, (size_t)maxr * ldy * sizeof *ref);
                            for (int r = 0; r < nr; r++)
                                for (int j = 0; j < nc; j++) {
                                    double s = ref[(size_t)r * ldy + j];
                                    for (int k = 0; k < nk; k++) {
                                        const double p = v[r * vr + k * vk] * x[(size_t)k * ldx + j];
                                        s = add ? s + p : s - p;
                                    }
                                    ref[(size_t)r * ldy + j] = s;
                                }
                            llx_la_update(tv[t], add, y, (size_t)ldy, v, vr, vk, x, (size_t)ldx, nr, nc, nk);
                            CHECK_MSG(same_bits(y, ref, (size_t)maxr * ldy), "%s tiles, add %d, layout %d, %d x %d, k %d",
                                      tv[t]->name, add, lay, nr, nc, nk);
                            cases++;
                        }
    CHECK(cases == nt * 2 * 2 * 6 * 7 * 6);
    /* GPTQ's step inside a block: the product in double, rounded to float */
    float w[40], wref[40];
    for (int t = 0; t < nt; t++)
        for (int n = 0; n <= 37; n++) {
            const double e = llx_rng_normal(&g) * 1e-3;
            for (int k = 0; k < 40; k++) w[k] = wref[k] = (float)llx_rng_normal(&g);
            for (int k = 0; k < n; k++) wref[k + 1] -= (float)(e * x[k]);
            tv[t]->sub_f32(w + 1, x, e, n);
            CHECK_MSG(memcmp(w, wref, sizeof w) == 0, "%s sub_f32, n = %d", tv[t]->name, n);
        }
    free(x), free(v), free(y0), free(y), free(ref);
}

/* The inverse over three column tiles (the last a partial one) and a
 * last block of one row, on one thread and with the tiles shared by pools
 * of 2 and 3 members. */
TEST(linalg_inverse_tiles_match_plain_loop, LLX_T_ASAN | LLX_T_TSAN)
{
    const int n = 545;
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    double *l = spd(n, 77);
    REQUIRE(llx_cholesky(l, n) == 1);
    double *ref = malloc((size_t)n * n * sizeof *ref), *a = malloc((size_t)n * n * sizeof *a);
    memcpy(ref, l, (size_t)n * n * sizeof *ref);
    plain_invert_lower(ref, n);
    for (int th = 1; th <= 3; th++) {
        llx_pool *pool = NULL;
        if (th > 1) REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        for (int v = 0; v < nt; v++) {
            memcpy(a, l, (size_t)n * n * sizeof *a);
            CHECK(llx_invert_lower(a, n, pool, tv[v]) == 0);
            CHECK_MSG(same_bits(a, ref, (size_t)n * n), "inverse, %d threads, %s tiles", th, tv[v]->name);
        }
        llx_pool_free(pool);
    }
    free(l), free(ref), free(a);
}

/* With a pool of 2 and 3 threads (rows dealt out; the widths above 256
 * where the panel columns and the inverse's blocks use the pool too): the
 * same bits as the plain loops. */
TEST(linalg_pool_matches_plain_loops, LLX_T_ASAN | LLX_T_TSAN)
{
    static const int ns[] = {67, 300};
    const llx_la_tier *tv[2];
    const int nt = tiers(tv);
    for (int th = 2; th <= 3; th++) {
        llx_pool *pool = NULL;
        REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        for (int t = 0; t < 2; t++) {
            const int n = ns[t];
            double *a0 = spd(n, 40 + (uint64_t)n), *b = malloc((size_t)n * n * sizeof *b);
            double *a = malloc((size_t)n * n * sizeof *a);
            memcpy(b, a0, (size_t)n * n * sizeof *b);
            CHECK(plain_cholesky(b, n) == 1);
            double *bi = malloc((size_t)n * n * sizeof *bi);
            memcpy(bi, b, (size_t)n * n * sizeof *bi);
            plain_invert_lower(bi, n);
            for (int v = 0; v < nt; v++) {
                memcpy(a, a0, (size_t)n * n * sizeof *a);
                CHECK(llx_cholesky_pool(a, n, pool, tv[v]) == 1);
                CHECK_MSG(same_bits(a, b, (size_t)n * n), "cholesky, %d threads, n = %d, %s", th, n, tv[v]->name);
                CHECK(llx_invert_lower(a, n, pool, tv[v]) == 0);
                CHECK_MSG(same_bits(a, bi, (size_t)n * n), "inverse, %d threads, n = %d, %s", th, n, tv[v]->name);
            }
            free(a0), free(a), free(b), free(bi);
        }
        llx_pool_free(pool);
    }
}

/* the tiles follow the engine's kernels: generic for ref and avx2 (and a
 * name LLX_KERNELS gives that the kernels refuse), avx512 from avx512 up
 * when the CPU runs it; the process's choice is the one for its kernels */
TEST(linalg_tile_tier_follows_kernels, LLX_T_ASAN)
{
    CHECK(llx_la_tier_for(NULL) == llx_la_tier_generic());
    CHECK(llx_la_tier_for(llx_kernels_tier(LLX_TIER_REF)) == llx_la_tier_generic());
    const llx_kernels *avx2 = llx_kernels_tier(LLX_TIER_AVX2);
    if (avx2) CHECK(llx_la_tier_for(avx2) == llx_la_tier_generic());
    for (int t = LLX_TIER_AVX512; t < LLX_TIER_COUNT; t++) {
        const llx_kernels *k = llx_kernels_tier((llx_tier)t);
        if (k) CHECK_MSG(llx_la_tier_for(k) == llx_la_tier_avx512() && llx_la_tier_avx512(), "%s", llx_tier_name(t));
    }
    CHECK(llx_la_tier_best() == llx_la_tier_for(llx_kernels_select(NULL)));
}
