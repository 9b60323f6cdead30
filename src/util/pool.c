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
    atomic_int quit;
    struct sync *sync;     /* what members write in a run, on the cache line member 0 waits on */
    atomic_uint stolen;    /* shares member 0 ran for another member, ever */
    int short_handed;      /* the last llx_pool_run_shares ran such a share (member 0's) */
    atomic_int bar_in;     /* members at the barrier (llx_pool_barrier) */
    atomic_uint bar_gen;   /* barriers passed */
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
};

/* pending and the taken shares on one cache line (for up to 15 members):
 * member 0 reads taken after its own share and then waits on pending, so
 * looking for shares to run costs no extra line transfer */
struct sync {
    atomic_int pending;  /* shares of the run not finished, but member 0's */
    atomic_uint taken[]; /* [n]: the last run whose share ith was taken */
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

/* Take share ith of run g, the current run or one that ended: 0 when it
 * was taken already, in run g (by member 0: stolen) or a later one (run g
 * is over).  A share of run g not taken cannot have run, so run g is the
 * current one.  Generations compare modulo 2^32. */
static int take_share(llx_pool *p, unsigned g, int ith)
{
    atomic_uint *t = &p->sync->taken[ith];
    unsigned v = atomic_load_explicit(t, memory_order_acquire);
    while ((int)(v - g) < 0)
        if (atomic_compare_exchange_weak_explicit(t, &v, g, memory_order_acq_rel, memory_order_acquire)) return 1;
    return 0;
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
        /* fn and ctx are read only after the share is ours: until we finish
         * it the run cannot end, so member 0 cannot be writing the next ones */
        if (!take_share(p, g, m.ith)) continue;
        p->fn(p->ctx, m.ith, p->n);
        if (atomic_fetch_sub_explicit(&p->sync->pending, 1, memory_order_acq_rel) == 1) {
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
    const size_t sync_bytes = sizeof *p->sync + (size_t)nthreads * sizeof(atomic_uint);
    p->sync = aligned_alloc(64, (sync_bytes + 63) & ~(size_t)63);
    if (p->sync) {
        atomic_init(&p->sync->pending, 0);
        for (int i = 0; i < nthreads; i++) atomic_init(&p->sync->taken[i], 0);
    }
    if (!p->th || !p->sync) {
        p->n = 1; /* no member started */
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
    free(p->sync);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int llx_pool_size(const llx_pool *p) { return p ? p->n : 1; }

/* Member 0 runs the shares of members that have not taken theirs by the
 * time it finished its own: they are not running (descheduled, or asleep
 * after their spin), and waiting for them would cost a scheduler slice. */
static void steal_shares(llx_pool *p, unsigned g)
{
    p->short_handed = 0;
    for (int i = 1; i < p->n; i++) {
        if (!take_share(p, g, i)) continue;
        p->short_handed = 1;
        p->fn(p->ctx, i, p->n);
        atomic_fetch_add_explicit(&p->stolen, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&p->sync->pending, 1, memory_order_acq_rel);
    }
}

static void run(llx_pool *p, llx_pool_fn fn, void *ctx, int steal)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    const unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1; /* only member 0 writes gen */
    atomic_store_explicit(&p->sync->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->gen, g, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    if (steal) steal_shares(p, g);
    for (int i = 0; i < p->spin && atomic_load_explicit(&p->sync->pending, memory_order_acquire) > 0; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->sync->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->sync->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void llx_pool_run(llx_pool *p, llx_pool_fn fn, void *ctx) { run(p, fn, ctx, 0); }

void llx_pool_run_shares(llx_pool *p, llx_pool_fn fn, void *ctx) { run(p, fn, ctx, 1); }

unsigned llx_pool_stolen(const llx_pool *p) { return p ? atomic_load_explicit(&p->stolen, memory_order_relaxed) : 0; }

int llx_pool_short_handed(const llx_pool *p) { return p && p->short_handed; }

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
