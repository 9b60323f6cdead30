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

#include "quant/linalg.h"
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

static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 66, 67, 97, 131};
#define NSIZES ((int)(sizeof sizes / sizeof *sizes))

TEST(linalg_cholesky_matches_plain_loop, LLX_T_ASAN)
{
    for (int t = 0; t < NSIZES; t++) {
        const int n = sizes[t];
        double *a = spd(n, 11 + (uint64_t)n), *b = malloc((size_t)n * n * sizeof *b);
        memcpy(b, a, (size_t)n * n * sizeof *b);
        CHECK(llx_cholesky(a, n) == 1);
        CHECK(plain_cholesky(b, n) == 1);
        CHECK_MSG(same_bits(a, b, (size_t)n * n), "n = %d", n);
        free(a), free(b);
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
    for (int t = 0; t < NSIZES; t++) {
        const int n = sizes[t];
        double *a = spd(n, 23 + (uint64_t)n);
        REQUIRE(llx_cholesky(a, n) == 1);
        double *b = malloc((size_t)n * n * sizeof *b);
        memcpy(b, a, (size_t)n * n * sizeof *b);
        CHECK(llx_invert_lower(a, n, NULL) == 0);
        plain_invert_lower(b, n);
        CHECK_MSG(same_bits(a, b, (size_t)n * n), "inverse, n = %d", n);
        free(a), free(b);
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
        REQUIRE(llx_inverse_upper_factor(h, n, u, NULL) == 1);
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
    double *h = spd(n, 9), *u = malloc((size_t)n * n * sizeof *u), *u1 = malloc((size_t)n * n * sizeof *u1);
    REQUIRE(llx_inverse_upper_factor(h, n, u1, NULL) == 1);
    for (int th = 2; th <= 3; th++) {
        llx_pool *pool = NULL;
        REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        CHECK(llx_inverse_upper_factor(h, n, u, pool) == 1);
        CHECK_MSG(same_bits(u, u1, (size_t)n * n), "%d threads", th);
        llx_pool_free(pool);
    }
    h[(size_t)150 * n + 150] -= 1e6; /* a pivot that is not positive */
    CHECK(llx_inverse_upper_factor(h, n, u, NULL) == 0);
    free(h), free(u), free(u1);
}

TEST(linalg_lazy_sums_match_plain_loop, LLX_T_ASAN)
{
    llx_rng g;
    llx_rng_seed(&g, 3);
    const int ld = 301;
    double *u = malloc((size_t)ld * 130 * sizeof *u), e[130], d[301], ref[301];
    for (int i = 0; i < ld * 130; i++) u[i] = llx_rng_normal(&g);
    for (int i = 0; i < 130; i++) e[i] = llx_rng_normal(&g);
    static const int Bs[] = {1, 3, 4, 5, 128, 130}, nks[] = {1, 2, 3, 255, 256, 301};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            llx_lazy_sums(d, e, u, ld, Bs[a], nks[b]);
            plain_lazy_sums(ref, e, u, ld, Bs[a], nks[b]);
            CHECK_MSG(same_bits(d, ref, (size_t)nks[b]), "B %d nk %d", Bs[a], nks[b]);
        }
    free(u);
}

/* The inverse over three column tiles (the last a partial one) and a
 * last block of one row, on one thread and with the tiles shared by pools
 * of 2 and 3 members. */
TEST(linalg_inverse_tiles_match_plain_loop, LLX_T_ASAN | LLX_T_TSAN)
{
    const int n = 545;
    double *l = spd(n, 77);
    REQUIRE(llx_cholesky(l, n) == 1);
    double *ref = malloc((size_t)n * n * sizeof *ref), *a = malloc((size_t)n * n * sizeof *a);
    memcpy(ref, l, (size_t)n * n * sizeof *ref);
    plain_invert_lower(ref, n);
    for (int th = 1; th <= 3; th++) {
        llx_pool *pool = NULL;
        if (th > 1) REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        memcpy(a, l, (size_t)n * n * sizeof *a);
        CHECK(llx_invert_lower(a, n, pool) == 0);
        CHECK_MSG(same_bits(a, ref, (size_t)n * n), "inverse, %d threads", th);
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
    for (int th = 2; th <= 3; th++) {
        llx_pool *pool = NULL;
        REQUIRE(llx_pool_create(&pool, th, 1) == LLX_OK);
        for (int t = 0; t < 2; t++) {
            const int n = ns[t];
            double *a = spd(n, 40 + (uint64_t)n), *b = malloc((size_t)n * n * sizeof *b);
            memcpy(b, a, (size_t)n * n * sizeof *b);
            CHECK(llx_cholesky_pool(a, n, pool) == 1 && plain_cholesky(b, n) == 1);
            CHECK_MSG(same_bits(a, b, (size_t)n * n), "cholesky, %d threads, n = %d", th, n);
            CHECK(llx_invert_lower(a, n, pool) == 0);
            plain_invert_lower(b, n);
            CHECK_MSG(same_bits(a, b, (size_t)n * n), "inverse, %d threads, n = %d", th, n);
            free(a), free(b);
        }
        llx_pool_free(pool);
    }
}
