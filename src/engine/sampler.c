/* engine/sampler.c - greedy, temperature, top-k and top-p sampling.
 * Deterministic for a given seed: the candidate order is fully specified
 * (logit descending, then id ascending). */
#include <math.h>
#include <stdlib.h>

#include "engine/sampler.h"
#include "kernels/kernels.h"
#include "llx/engine.h"
#include "util/rng.h"
#include "util/status.h"

typedef struct cand {
    float logit;
    int id;
} cand;

struct llx_sampler {
    llx_sampler_opts o;
    int vocab;
    llx_rng rng;
    cand *c;
    double *p;
};

llx_status llx_sampler_create(llx_sampler **out, const llx_sampler_opts *o, int vocab)
{
    *out = NULL;
    if (vocab < 1) return llx_fail(LLX_ERR_ARG, "sampler vocabulary must be at least 1 (got %d)", vocab);
    if (!o->greedy) {
        if (!(o->temperature > 0.0f) || !isfinite(o->temperature))
            return llx_fail(LLX_ERR_ARG, "temperature must be > 0 (got %g)", (double)o->temperature);
        if (!(o->top_p > 0.0f && o->top_p <= 1.0f))
            return llx_fail(LLX_ERR_ARG, "top-p must be in (0, 1] (got %g)", (double)o->top_p);
        if (o->top_k < 0) return llx_fail(LLX_ERR_ARG, "top-k must be >= 0 (got %d)", o->top_k);
    }
    llx_sampler *s = calloc(1, sizeof *s);
    if (!s) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->vocab = vocab;
    llx_rng_seed(&s->rng, o->seed);
    s->c = malloc((size_t)vocab * sizeof *s->c);
    s->p = malloc((size_t)vocab * sizeof *s->p);
    if (!s->c || !s->p) {
        llx_sampler_free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return LLX_OK;
}

void llx_sampler_free(llx_sampler *s)
{
    if (!s) return;
    free(s->c);
    free(s->p);
    free(s);
}

/* Logits as the sampler sees them: NaN is the least likely value (-inf), so
 * that every comparison below is a total order. */
static inline float clean(float x) { return x == x ? x : -INFINITY; }

/* argmax, NaN read as -inf, ties (and all-NaN input) to the lowest id */
static int argmax(const float *x, int n) { return llx_kernels_select("auto")->argmax_f32(x, n); }

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id - y->id;
}

/* Move the k best candidates (cmp_cand order) to the front of c[0..n). */
static void select_top(cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const cand pivot = c[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cmp_cand(&c[i], &pivot) < 0) i++;
            while (cmp_cand(&c[j], &pivot) > 0) j--;
            if (i <= j) {
                cand t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Weight of a logit relative to the best one: exp((l - top) / T), with
 * l == top (also when both are infinite) weighing 1. */
static inline double weight(double l, double top, double inv_t) { return l == top ? 1.0 : exp((l - top) * inv_t); }

/* Draw from weights p[0..n) (unnormalised, sum > 0); returns an index with
 * a positive weight (the last such one if rounding runs past the end). */
static int draw(llx_sampler *s, const double *p, int n, double sum)
{
    double u = llx_rng_double(&s->rng) * sum;
    int last = 0;
    for (int i = 0; i < n; i++) {
        u -= p[i];
        if (p[i] > 0) {
            if (u < 0) return i;
            last = i;
        }
    }
    return last;
}

/* The candidates of a draw (non-greedy): their count, with s->c (ids, when
 * *by_id is 0) and weights s->p filled and their sum in *sum.  With no cut
 * at all (*by_id = 1) candidate i is id i. */
static int support(llx_sampler *s, const float *logits, double *sum, int *by_id)
{
    const int V = s->vocab;
    const double inv_t = 1.0 / s->o.temperature, top = clean(logits[argmax(logits, V)]);
    *sum = 0.0;
    *by_id = s->o.top_k == 0 && s->o.top_p >= 1.0f;
    if (*by_id) {
        for (int i = 0; i < V; i++) *sum += s->p[i] = weight(clean(logits[i]), top, inv_t);
        return V;
    }
    int n = 0;
    for (int i = 0; i < V; i++) {
        const float l = clean(logits[i]);
        if (s->o.top_k > 0 || l == top || ((double)l - top) * inv_t > -40.0) s->c[n++] = (cand){l, i};
    }
    if (s->o.top_k > 0 && s->o.top_k < n) {
        select_top(s->c, n, s->o.top_k);
        n = s->o.top_k;
    }
    qsort(s->c, (size_t)n, sizeof *s->c, cmp_cand);
    for (int i = 0; i < n; i++) *sum += s->p[i] = weight(s->c[i].logit, top, inv_t);
    if (s->o.top_p < 1.0f) {
        double acc = 0.0;
        for (int i = 0; i < n; i++) {
            acc += s->p[i];
            if (acc >= s->o.top_p * *sum) {
                n = i + 1;
                break;
            }
        }
        *sum = 0.0;
        for (int i = 0; i < n; i++) *sum += s->p[i];
    }
    return n;
}

/* Sampling rules:
 *  - greedy: argmax, ties to the lowest id;
 *  - no top-k and no top-p: draw over all ids in id order from
 *    softmax(logits / T);
 *  - otherwise candidates are ordered by logit (ties: lower id first), cut to
 *    the top k, then to the shortest prefix whose probability reaches top_p.
 *    Without top-k, candidates whose weight is below e^-40 of the best are
 *    dropped first (they cannot change a top-p prefix).
 * NaN logits count as -inf. */
int llx_sample(llx_sampler *s, const float *logits)
{
    if (s->o.greedy) return argmax(logits, s->vocab);
    double sum;
    int by_id;
    const int n = support(s, logits, &sum, &by_id);
    const int i = draw(s, s->p, n, sum);
    return by_id ? i : s->c[i].id;
}

int llx_sampler_support(llx_sampler *s, const float *logits, int *ids)
{
    if (s->o.greedy) {
        ids[0] = argmax(logits, s->vocab);
        return 1;
    }
    double sum;
    int by_id;
    const int n = support(s, logits, &sum, &by_id);
    for (int i = 0; i < n; i++) ids[i] = by_id ? i : s->c[i].id;
    return n;
}
