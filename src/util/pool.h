/* util/pool.h - a fixed team of threads that run one function together.
 *
 * llx_pool_run(p, fn, ctx) calls fn(ctx, i, n) on every member i in [0, n)
 * (member 0 is the calling thread) and returns when all have finished.
 * Members wait by spinning briefly and then sleeping on a condition variable;
 * set spin = 0 when there are more threads than cores.
 * A pool is driven by one thread at a time. */
#ifndef LLX_UTIL_POOL_H
#define LLX_UTIL_POOL_H

#include "llx/status.h"

typedef struct llx_pool llx_pool;
typedef void (*llx_pool_fn)(void *ctx, int ith, int nth);

llx_status llx_pool_create(llx_pool **out, int nthreads, int spin);
void llx_pool_free(llx_pool *p); /* accepts NULL */
int llx_pool_size(const llx_pool *p);
void llx_pool_run(llx_pool *p, llx_pool_fn fn, void *ctx);

/* The same for work whose shares are independent (no llx_pool_barrier, no
 * waiting on one another): a member that has not taken its share by the
 * time member 0 finished its own (descheduled by another process, or
 * asleep after its spin) has that share run by member 0, so the run does
 * not wait a scheduler slice for it.  fn(ctx, i, n) still runs exactly
 * once for every i, perhaps on another thread: a share's result must
 * depend only on i. */
void llx_pool_run_shares(llx_pool *p, llx_pool_fn fn, void *ctx);

/* Shares member 0 has run for other members so far (tests, benchmarks). */
unsigned llx_pool_stolen(const llx_pool *p);

/* Whether the last llx_pool_run_shares had member 0 run another member's
 * share: that member was not running then, so a run that needs every
 * member (a barrier) would likely wait for it.  For the driving thread. */
int llx_pool_short_handed(const llx_pool *p);

/* Inside a run: wait until every member of the run has called this as
 * often as the caller (spinning, then yielding the CPU); what each wrote
 * before it is visible to all after it.  Every member must call it the
 * same number of times in a run.  Returns at once without a pool or with
 * one member. */
void llx_pool_barrier(llx_pool *p);

/* Split [0, n) into nth near-equal contiguous parts; part ith is [*b, *e).
 * When align > 1 the cut points are multiples of align (except the end). */
void llx_split_work(int n, int ith, int nth, int align, int *b, int *e);

/* Number of online CPUs (at least 1). */
int llx_cpu_count(void);

#endif
