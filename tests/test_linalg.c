/* tests/test_linalg.c - GPTQ's blocked linear algebra (quant/linalg.h)
 * against the plain loops it reorders, kept here as the specification:
 * the results must be the same bits, for sizes that leave every remainder
 * of the blocks (panels of 32, the inverse's blocks of 32 rows and tiles
 * of 256 columns, sweeps of 64, steps of 4 and 2),
 * with the upper triangle left as it was, on one thread or shared by a
 * pool; a matrix that is not positive definite is refused at the same
 * point. */
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

TEST(linalg_inverse_and_gram_match_plain_loops, LLX_T_ASAN)
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
        double *ga = malloc((size_t)n * n * sizeof *ga), *gb = malloc((size_t)n * n * sizeof *gb);
        llx_gram_lower(a, n, ga, NULL);
        plain_gram_lower(b, n, gb);
        CHECK_MSG(same_bits(ga, gb, (size_t)n * n), "gram, n = %d", n);
        /* and it is the inverse: (Linv^T Linv) (L L^T) = I, to rounding */
        if (n == 67) {
            double *h = spd(n, 23 + (uint64_t)n), worst = 0.0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0.0;
                    for (int k = 0; k < n; k++) {
                        const double hk = k >= j ? h[(size_t)k * n + j] : h[(size_t)j * n + k];
                        s += ga[(size_t)i * n + k] * hk;
                    }
                    const double e = fabs(s - (i == j));
                    worst = e > worst ? e : worst;
                }
            CHECK_MSG(worst < 1e-9, "H^-1 H - I: %g", worst);
            free(h);
        }
        free(a), free(b), free(ga), free(gb);
    }
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
            double *ga = malloc((size_t)n * n * sizeof *ga), *gb = malloc((size_t)n * n * sizeof *gb);
            llx_gram_lower(a, n, ga, pool);
            plain_gram_lower(b, n, gb);
            CHECK_MSG(same_bits(ga, gb, (size_t)n * n), "gram, %d threads, n = %d", th, n);
            free(a), free(b), free(ga), free(gb);
        }
        llx_pool_free(pool);
    }
}
