/* engine/sampler.c - greedy, temperature, top-k and top-p sampling.
 * Deterministic for a given seed: the candidate order is fully specified
 * (logit descending, then id ascending). */
#include <math.h>
#include <stdlib.h>

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

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

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

/* Draw from weights p[0..n) (unnormalised); returns an index. */
static int draw(llx_sampler *s, const double *p, int n, double sum)
{
    double u = llx_rng_double(&s->rng) * sum;
    for (int i = 0; i < n; i++) {
        u -= p[i];
        if (u < 0) return i;
    }
    return n - 1;
}

/* Sampling rules:
 *  - greedy: argmax, ties to the lowest id;
 *  - no top-k and no top-p: draw over all ids in id order from
 *    softmax(logits / T);
 *  - otherwise candidates are ordered by logit (ties: lower id first), cut to
 *    the top k, then to the shortest prefix whose probability reaches top_p.
 *    Without top-k, candidates whose weight is below e^-40 of the best are
 *    dropped first (they cannot change a top-p prefix). */
int llx_sample(llx_sampler *s, const float *logits)
{
    const int V = s->vocab;
    const int best = argmax(logits, V);
    if (s->o.greedy) return best;
    const double inv_t = 1.0 / s->o.temperature, top = logits[best];
    if (s->o.top_k == 0 && s->o.top_p >= 1.0f) {
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += s->p[i] = exp(((double)logits[i] - top) * inv_t);
        return draw(s, s->p, V, sum);
    }
    int n = 0;
    for (int i = 0; i < V; i++)
        if (s->o.top_k > 0 || ((double)logits[i] - top) * inv_t > -40.0) s->c[n++] = (cand){logits[i], i};
    if (s->o.top_k > 0 && s->o.top_k < n) {
        select_top(s->c, n, s->o.top_k);
        n = s->o.top_k;
    }
    qsort(s->c, (size_t)n, sizeof *s->c, cmp_cand);
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += s->p[i] = exp(((double)s->c[i].logit - top) * inv_t);
    if (s->o.top_p < 1.0f) {
        double acc = 0.0;
        for (int i = 0; i < n; i++) {
            acc += s->p[i];
            if (acc >= s->o.top_p * sum) {
                n = i + 1;
                break;
            }
        }
        sum = 0.0;
        for (int i = 0; i < n; i++) sum += s->p[i];
    }
    return s->c[draw(s, s->p, n, sum)].id;
}
