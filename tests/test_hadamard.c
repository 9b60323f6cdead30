/* tests/test_hadamard.c - Hadamard orders, the Paley constructions and the
 * reference FWHT against a dense matrix product in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/hadamard.h"
#include "test.h"
#include "util/rng.h"

TEST(hadamard_factor_orders, LLX_T_ASAN)
{
    CHECK_EQ_INT(llx_hadamard_factor(1024), 1);
    CHECK_EQ_INT(llx_hadamard_factor(1), 1);
    CHECK_EQ_INT(llx_hadamard_factor(768), 12);  /* GPT-2 small C: 12 * 64 */
    CHECK_EQ_INT(llx_hadamard_factor(3072), 12); /* GPT-2 small F */
    CHECK_EQ_INT(llx_hadamard_factor(640), 20);  /* the shared tiny Llama's F: 20 * 32 */
    CHECK_EQ_INT(llx_hadamard_factor(56), 28);   /* Paley II (q = 13) */
    CHECK_EQ_INT(llx_hadamard_factor(44), 44);   /* Paley I (q = 43) */
    CHECK_EQ_INT(llx_hadamard_factor(172 * 64), 0); /* no Paley order: refused */
    CHECK_EQ_INT(llx_hadamard_factor(3), 0);
    CHECK_EQ_INT(llx_hadamard_factor(0), 0);
    llx_hadamard h;
    CHECK(!llx_hadamard_init(&h, 11008, 0)); /* Llama-2-7B's F = 43 * 256: refused */
    CHECK(llx_hadamard_init(&h, 8192, 0) && h.m == 1 && h.p == 8192 && h.log2p == 13);
}

TEST(hadamard_small_orthogonal, LLX_T_ASAN)
{
    static int8_t hm[LLX_HAD_MAX_M * LLX_HAD_MAX_M];
    int built = 0;
    for (int m = 1; m <= LLX_HAD_MAX_M; m++) {
        if (!llx_hadamard_small(m, hm)) continue;
        built++;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) {
                int s = 0;
                for (int k = 0; k < m; k++) s += hm[i * m + k] * hm[j * m + k];
                CHECK_MSG(s == (i == j ? m : 0), "order %d rows %d, %d: %d", m, i, j, s);
                CHECK(hm[i * m + j] == 1 || hm[i * m + j] == -1);
            }
    }
    /* 1, 2 and every Paley order up to 128 (4 8 12 20 24 28 32 36 44 48 60 68 72 76 80 84 104 108 ...) */
    CHECK(built >= 20);
    CHECK(llx_hadamard_small(12, hm) && llx_hadamard_small(20, hm) && llx_hadamard_small(28, hm));
    CHECK(!llx_hadamard_small(16, hm)); /* a power of two is Sylvester's, not a factor */
}

/* y = (H_m kron H_p) x / sqrt(n) from the matrices themselves */
static void dense(const llx_hadamard *h, const float *x, double *y)
{
    const int n = h->n, p = h->p, m = h->m;
    for (int a = 0; a < n; a++) {
        double s = 0.0;
        for (int b = 0; b < n; b++) {
            const int hp = __builtin_popcount((unsigned)((a % p) & (b % p))) & 1 ? -1 : 1;
            s += h->hm[(a / p) * m + b / p] * hp * (double)x[b];
        }
        y[a] = s / sqrt((double)n);
    }
}

TEST(hadamard_fwht_matches_dense, LLX_T_ASAN)
{
    static const int sizes[] = {1, 2, 64, 256, 640, 768, 96, 56};
    llx_rng g;
    llx_rng_seed(&g, 7);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int n = sizes[si];
        for (int tr = 0; tr < 2; tr++) {
            llx_hadamard *h = malloc(sizeof *h);
            REQUIRE(h && llx_hadamard_init(h, n, tr));
            float *x = malloc(sizeof(float) * 2 * n), *x0 = malloc(sizeof(float) * n);
            double *y = malloc(sizeof(double) * n);
            for (int i = 0; i < 2 * n; i++) x[i] = (float)llx_rng_normal(&g);
            memcpy(x0, x + n, sizeof(float) * n);
            dense(h, x0, y);
            llx_fwht_f32_ref(x, 2, n, h);
            double err = 0, norm0 = 0, norm1 = 0;
            for (int i = 0; i < n; i++) {
                err = fmax(err, fabs(x[n + i] - y[i]));
                norm0 += (double)x0[i] * x0[i];
                norm1 += (double)x[n + i] * x[n + i];
            }
            CHECK_MSG(err < 1e-5 * sqrt((double)n), "n %d transpose %d: max error %g", n, tr, err);
            CHECK_CLOSE(norm1, norm0, 0, 1e-5);
            free(h), free(x), free(x0), free(y);
        }
    }
}

TEST(hadamard_transpose_inverts, LLX_T_ASAN)
{
    llx_hadamard *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    REQUIRE(a && b && llx_hadamard_init(a, 640, 0) && llx_hadamard_init(b, 640, 1));
    float x[640], x0[640];
    llx_rng g;
    llx_rng_seed(&g, 3);
    for (int i = 0; i < 640; i++) x0[i] = x[i] = (float)llx_rng_normal(&g);
    llx_fwht_f32_ref(x, 1, 640, a);
    llx_fwht_f32_ref(x, 1, 640, b);
    for (int i = 0; i < 640; i++) CHECK_CLOSE(x[i], x0[i], 1e-5, 0);
    free(a), free(b);
}

#include "tiers.h"

TIER_TEST(fwht_bit_exact)
{
    static const int sizes[] = {8, 16, 56, 64, 96, 640, 768, 1024, 3072, 4096};
    llx_rng g;
    llx_rng_seed(&g, 11);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int n = sizes[si], T = 3, ld = n + 5;
        llx_hadamard *h = malloc(sizeof *h);
        REQUIRE(h && llx_hadamard_init(h, n, si & 1));
        float *a = malloc(sizeof(float) * T * ld), *b = malloc(sizeof(float) * T * ld);
        for (int i = 0; i < T * ld; i++) a[i] = (float)llx_rng_normal(&g) * (i % 11 == 0 ? 1e4f : 1.0f);
        for (int i = 0; i < n; i++) a[2 * ld + i] = i % 3 ? 0.0f : -0.0f; /* signs of zero survive */
        memcpy(b, a, sizeof(float) * T * ld);
        llx_fwht_f32_ref(a, T, ld, h);
        k->fwht_f32(b, T, ld, h);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * T * ld), "%s fwht n %d", k->name, n);
        free(h), free(a), free(b);
    }
}
