/* tests/test_sampler.c - the sampler against a reference written here: a full
 * sort of (logit descending, id ascending), the top-k and top-p cuts, and the
 * draw.  Checks greedy ties, top-k = 1 at any temperature, the quickselect's
 * candidate set and order on logits with many ties, that draws stay inside
 * the support and cover it in proportion, seed reproducibility, rejected
 * options, and non-finite logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sampler.h"
#include "llx/engine.h"
#include "test.h"
#include "util/rng.h"

static llx_sampler *make(int greedy, float t, int k, float p, uint64_t seed, int vocab)
{
    const llx_sampler_opts o = {greedy, t, k, p, seed};
    llx_sampler *s = NULL;
    /* every caller expects a sampler: failing to make one fails the test */
    if (llx_sampler_create(&s, &o, vocab) != LLX_OK) CHECK_MSG(0, "sampler: %s", llx_errmsg());
    return s;
}

typedef struct ref_cand {
    float logit;
    int id;
} ref_cand;

static float rclean(float x) { return isnan(x) ? -INFINITY : x; }

static int ref_cmp(const void *a, const void *b)
{
    const ref_cand *x = a, *y = b;
    if (x->logit > y->logit) return -1;
    if (x->logit < y->logit) return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The reference support: sort everything, cut. */
static int ref_support(const float *logits, int V, float t, int k, float top_p, int *ids, double *w)
{
    ref_cand *c = malloc((size_t)V * sizeof *c);
    for (int i = 0; i < V; i++) c[i] = (ref_cand){rclean(logits[i]), i};
    qsort(c, (size_t)V, sizeof *c, ref_cmp);
    const double top = c[0].logit, inv_t = 1.0 / t;
    int n = V;
    if (k == 0 && top_p >= 1.0f) { /* no cut: id order */
        for (int i = 0; i < V; i++) {
            const float l = rclean(logits[i]);
            ids[i] = i;
            w[i] = l == top ? 1.0 : exp((l - top) * inv_t);
        }
        free(c);
        return V;
    }
    if (k > 0 && k < n) n = k;
    int m = 0; /* without top-k: negligible weights (< e^-40) go first */
    for (int i = 0; i < n; i++)
        if (k > 0 || c[i].logit == top || (c[i].logit - top) * inv_t > -40.0) c[m++] = c[i];
    n = m;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += w[i] = c[i].logit == top ? 1.0 : exp((c[i].logit - top) * inv_t);
    if (top_p < 1.0f) {
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += w[i];
            if (acc >= top_p * sum) {
                n = i + 1;
                break;
            }
        }
    }
    for (int i = 0; i < n; i++) ids[i] = c[i].id;
    free(c);
    return n;
}

/* logits with many ties: values from a small set (kind 0), sorted runs
 * (1: ascending, 2: descending), all equal (3), or Gaussian (4) */
static void fill(float *x, int V, int kind, llx_rng *r)
{
    for (int i = 0; i < V; i++) {
        switch (kind) {
        case 0: x[i] = (float)(llx_rng_u64(r) % 7) * 0.5f; break;
        case 1: x[i] = (float)(i / 5); break;
        case 2: x[i] = (float)((V - i) / 3); break;
        case 3: x[i] = 1.25f; break;
        default: x[i] = (float)llx_rng_normal(r) * 2.0f; break;
        }
    }
}

TEST(sampler_greedy_ties_lowest_id, LLX_T_ASAN)
{
    llx_sampler *s = make(1, 0.0f, 0, 1.0f, 1, 5); /* greedy ignores the other options */
    CHECK(s != NULL);
    if (!s) return;
    const float a[5] = {1, 3, 3, 2, 3}, b[5] = {0, 0, 0, 0, 0}, c[5] = {-1, 5, -2, 5, 4};
    CHECK_EQ_INT(llx_sample(s, a), 1);
    CHECK_EQ_INT(llx_sample(s, b), 0);
    CHECK_EQ_INT(llx_sample(s, c), 1);
    const float d[5] = {NAN, 1, NAN, 2, 2}, e[5] = {NAN, NAN, NAN, NAN, NAN};
    CHECK_EQ_INT(llx_sample(s, d), 3);
    CHECK_EQ_INT(llx_sample(s, e), 0);
    const float f[5] = {-INFINITY, -INFINITY, INFINITY, 7, INFINITY};
    CHECK_EQ_INT(llx_sample(s, f), 2);
    int one;
    CHECK(llx_sampler_support(s, a, &one) == 1 && one == 1);
    llx_sampler_free(s);
    llx_sampler_free(NULL);
}

TEST(sampler_top_k1_is_argmax, LLX_T_ASAN)
{
    static const float temps[] = {1e-3f, 0.3f, 1.0f, 5.0f, 100.0f};
    llx_rng r;
    llx_rng_seed(&r, 5);
    enum { V = 257 };
    float x[V];
    int wrong = 0, draws = 0;
    for (int kind = 0; kind < 5; kind++) {
        fill(x, V, kind, &r);
        int best = 0;
        for (int i = 1; i < V; i++)
            if (x[i] > x[best]) best = i;
        for (size_t t = 0; t < sizeof temps / sizeof *temps; t++) {
            llx_sampler *s = make(0, temps[t], 1, t % 2 ? 0.5f : 1.0f, 77 + t, V);
            for (int d = 0; s && d < 200; d++) wrong += llx_sample(s, x) != best, draws++;
            llx_sampler_free(s);
        }
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(draws, 5 * 5 * 200);
}

/* The quickselect + cuts agree with the full-sort reference exactly. */
TEST(sampler_support_matches_sort, LLX_T_ASAN)
{
    static const int ks[] = {0, 1, 2, 3, 4, 5, 6, 7, 50, 499, 500, 999, 1000, 5000};
    static const float ps[] = {1.0f, 0.95f, 0.5f, 0.1f, 1e-6f};
    static const float ts[] = {0.5f, 1.0f, 3.0f};
    enum { V = 1000 };
    float *x = malloc(V * sizeof *x);
    int *got = malloc(V * sizeof *got), *want = malloc(V * sizeof *want);
    double *w = malloc(V * sizeof *w);
    llx_rng r;
    llx_rng_seed(&r, 11);
    int cases = 0, bad = 0;
    for (int round = 0; round < 4; round++)
        for (int kind = 0; kind < 5; kind++) {
            fill(x, V, kind, &r);
            if (round == 3) /* some NaN and infinities too */
                for (int i = 0; i < V; i += 97) x[i] = i % 2 ? NAN : -INFINITY;
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++)
                    for (size_t ti = 0; ti < sizeof ts / sizeof *ts; ti++) {
                        llx_sampler *s = make(0, ts[ti], ks[ki], ps[pi], 1, V);
                        if (!s) continue;
                        const int n = llx_sampler_support(s, x, got);
                        const int m = ref_support(x, V, ts[ti], ks[ki], ps[pi], want, w);
                        cases++;
                        if (n != m || memcmp(got, want, (size_t)n * sizeof *got)) {
                            if (bad++ < 5)
                                llx_test_note("kind %d k %d p %g T %g: %d candidates, reference %d", kind, ks[ki],
                                              (double)ps[pi], (double)ts[ti], n, m);
                        }
                        if (ks[ki] > 0 && ks[ki] < V) CHECK(n <= ks[ki]);
                        llx_sampler_free(s);
                    }
        }
    CHECK_EQ_INT(bad, 0);
    CHECK(cases > 1000);
    free(x), free(got), free(want), free(w);
}

/* Every draw is in the support; every candidate above 1% shows up, at about
 * its probability. */
TEST(sampler_draws_stay_in_support, LLX_T_ASAN)
{
    enum { V = 300, DRAWS = 20000 };
    static const struct { int k; float p, t; } cfg[] = {{5, 1.0f, 1.0f}, {0, 0.8f, 1.0f}, {10, 0.6f, 2.0f},
                                                       {0, 1.0f, 0.7f}, {3, 1.0f, 50.0f}};
    float x[V];
    int sup[V], count[V];
    double w[V];
    llx_rng r;
    llx_rng_seed(&r, 3);
    for (int i = 0; i < V; i++) x[i] = (float)llx_rng_normal(&r) * 1.5f;
    x[17] = x[42] = x[250] = 4.0f; /* ties at the top */
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        const int n = ref_support(x, V, cfg[c].t, cfg[c].k, cfg[c].p, sup, w);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += w[i];
        char in[V];
        memset(in, 0, sizeof in);
        for (int i = 0; i < n; i++) in[sup[i]] = 1;
        memset(count, 0, sizeof count);
        llx_sampler *s = make(0, cfg[c].t, cfg[c].k, cfg[c].p, 1000 + c, V);
        int outside = 0;
        for (int d = 0; s && d < DRAWS; d++) {
            const int id = llx_sample(s, x);
            if (id < 0 || id >= V || !in[id]) outside++;
            else count[id]++;
        }
        llx_sampler_free(s);
        CHECK_EQ_INT(outside, 0);
        int missing = 0, off = 0;
        for (int i = 0; i < n; i++) {
            const double p = w[i] / sum, f = (double)count[sup[i]] / DRAWS;
            if (p > 0.01 && count[sup[i]] == 0) missing++;
            if (fabs(f - p) > 5 * sqrt(p * (1 - p) / DRAWS) + 1e-3) off++;
        }
        CHECK_MSG(missing == 0 && off == 0, "config %zu: %d likely tokens never drawn, %d frequencies off", c, missing,
                  off);
    }
}

TEST(sampler_same_seed_same_sequence, LLX_T_ASAN)
{
    enum { V = 500, N = 2000 };
    float x[V];
    llx_rng r;
    llx_rng_seed(&r, 9);
    for (int i = 0; i < V; i++) x[i] = (float)llx_rng_normal(&r);
    static const struct { int k; float p; } cfg[] = {{0, 1.0f}, {40, 0.95f}, {0, 0.9f}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        llx_sampler *a = make(0, 1.0f, cfg[c].k, cfg[c].p, 1234, V), *b = make(0, 1.0f, cfg[c].k, cfg[c].p, 1234, V),
                    *d = make(0, 1.0f, cfg[c].k, cfg[c].p, 1235, V);
        if (!a || !b || !d) {
            CHECK(a && b && d);
            continue;
        }
        int same_ab = 0, same_ad = 0;
        for (int i = 0; i < N; i++) {
            const int ta = llx_sample(a, x), tb = llx_sample(b, x), td = llx_sample(d, x);
            same_ab += ta == tb;
            same_ad += ta == td;
        }
        CHECK_EQ_INT(same_ab, N);
        CHECK(same_ad < N / 2);
        llx_sampler_free(a), llx_sampler_free(b), llx_sampler_free(d);
    }
}

TEST(sampler_bad_options, LLX_T_ASAN)
{
    static const struct { float t; int k; float p; const char *want; } bad[] = {
        {0.0f, 0, 1.0f, "temperature"},  {-1.0f, 0, 1.0f, "temperature"}, {NAN, 0, 1.0f, "temperature"},
        {INFINITY, 0, 1.0f, "temperature"}, {1.0f, 0, 0.0f, "top-p"},     {1.0f, 0, -0.1f, "top-p"},
        {1.0f, 0, 1.5f, "top-p"},        {1.0f, 0, NAN, "top-p"},         {1.0f, -1, 1.0f, "top-k"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const llx_sampler_opts o = {0, bad[i].t, bad[i].k, bad[i].p, 1};
        llx_sampler *s = (llx_sampler *)&o; /* must be reset to NULL */
        CHECK_MSG(llx_sampler_create(&s, &o, 10) == LLX_ERR_ARG && s == NULL && strstr(llx_errmsg(), bad[i].want),
                  "case %zu: %s", i, llx_errmsg());
    }
    const llx_sampler_opts ok = {0, 1.0f, 0, 1.0f, 1};
    llx_sampler *s = NULL;
    CHECK(llx_sampler_create(&s, &ok, 0) == LLX_ERR_ARG && s == NULL);
    CHECK(llx_sampler_create(&s, &ok, 1) == LLX_OK && s != NULL);
    const float one = 3.0f;
    if (s) CHECK_EQ_INT(llx_sample(s, &one), 0);
    llx_sampler_free(s);
}

/* NaN and infinite logits (a broken model) never crash or leave the vocabulary. */
TEST(sampler_bad_nonfinite_logits, LLX_T_ASAN)
{
    enum { V = 64 };
    float nan_all[V], mixed[V], infs[V], neg[V];
    for (int i = 0; i < V; i++) {
        nan_all[i] = NAN;
        mixed[i] = i % 3 ? NAN : (float)i;
        infs[i] = i == 7 || i == 30 ? INFINITY : (float)i;
        neg[i] = -INFINITY;
    }
    static const struct { int k; float p; } cfg[] = {{0, 1.0f}, {40, 0.95f}, {0, 0.5f}, {1, 1.0f}, {100, 1.0f}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        llx_sampler *s = make(0, 0.8f, cfg[c].k, cfg[c].p, 5, V);
        if (!s) {
            CHECK(s != NULL);
            continue;
        }
        int bad = 0;
        for (int d = 0; d < 200; d++) {
            const int a = llx_sample(s, nan_all), b = llx_sample(s, mixed), t = llx_sample(s, infs), n = llx_sample(s, neg);
            bad += a < 0 || a >= V || n < 0 || n >= V;
            bad += b % 3 != 0;          /* NaN is never preferred to a number */
            bad += t != 7 && t != 30;   /* +inf outweighs every finite logit */
        }
        CHECK_MSG(bad == 0, "config %zu: %d bad draws", c, bad);
        llx_sampler_free(s);
    }
}
