/* util/pool.c - see pool.h. */
#include "util/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/status.h"

#define SPIN_ITERS 20000

struct llx_pool {
    int n;
    int spin;
    pthread_t *th;
    llx_pool_fn fn;
    void *ctx;
    atomic_uint gen;
    atomic_int pending;
    atomic_int quit;
    atomic_int bar_in;     /* members at the barrier (llx_pool_barrier) */
    atomic_uint bar_gen;   /* barriers passed */
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
};

struct member {
    llx_pool *p;
    int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *member_main(void *arg)
{
    struct member m = *(struct member *)arg;
    free(arg);
    llx_pool *p = m.p;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int i = 0; g == seen && i < p->spin; i++) {
            cpu_relax();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->cv_start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load(&p->quit)) return NULL;
        p->fn(p->ctx, m.ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

llx_status llx_pool_create(llx_pool **out, int nthreads, int spin)
{
    *out = NULL;
    if (nthreads < 1) return llx_fail(LLX_ERR_ARG, "thread count must be at least 1 (got %d)", nthreads);
    llx_pool *p = calloc(1, sizeof *p);
    if (!p) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    p->n = nthreads;
    p->spin = spin ? SPIN_ITERS : 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->th = calloc((size_t)nthreads, sizeof *p->th);
    if (!p->th) {
        llx_pool_free(p);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    for (int i = 1; i < nthreads; i++) {
        struct member *m = malloc(sizeof *m);
        if (m) {
            m->p = p;
            m->ith = i;
        }
        if (!m || pthread_create(&p->th[i], NULL, member_main, m) != 0) {
            free(m);
            p->n = i; /* only members 1..i-1 exist */
            llx_pool_free(p);
            return llx_fail(LLX_ERR_INTERNAL, "cannot start thread %d of %d", i, nthreads);
        }
    }
    *out = p;
    return LLX_OK;
}

void llx_pool_free(llx_pool *p)
{
    if (!p) return;
    if (p->th) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->quit, 1);
        atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
        pthread_cond_broadcast(&p->cv_start);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
        free(p->th);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int llx_pool_size(const llx_pool *p) { return p ? p->n : 1; }

void llx_pool_run(llx_pool *p, llx_pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (int i = 0; i < p->spin && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void llx_pool_barrier(llx_pool *p)
{
    if (!p || p->n == 1) return;
    const unsigned g = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_in, 1, memory_order_acq_rel) == p->n - 1) {
        /* the last to arrive: reset the count, then let the others go (release:
         * everything written before the barrier by every member is visible) */
        atomic_store_explicit(&p->bar_in, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_gen, 1, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&p->bar_gen, memory_order_acquire) == g; i++) {
        if (i < p->spin) cpu_relax();
        else sched_yield(); /* a member that is not running cannot arrive while we spin */
    }
}

void llx_split_work(int n, int ith, int nth, int align, int *b, int *e)
{
    if (align < 1) align = 1;
    long units = (n + align - 1) / align;
    long ub = units * ith / nth, ue = units * (ith + 1) / nth;
    long bb = ub * align, ee = ue * align;
    if (bb > n) bb = n;
    if (ee > n) ee = n;
    *b = (int)bb;
    *e = (int)ee;
}

int llx_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
