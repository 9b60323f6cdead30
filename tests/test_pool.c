/* tests/test_pool.c - the thread pool's in-run barrier (util/pool.h): what a
 * member writes before llx_pool_barrier every member reads after it, over
 * many runs with several barriers each, spinning and yielding pools, 2 to
 * 4 members; the members that write late sleep first, so a barrier that
 * let anyone through early would be seen reading the previous round. */
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"
#include "util/pool.h"

#define MEMBERS_MAX 4
#define ROUNDS 3 /* barriers per run, after each member's write */

typedef struct bar_job {
    llx_pool *pool;
    int run;
    atomic_int slot[MEMBERS_MAX];
    atomic_int wrong;
} bar_job;

static void bar_member(void *arg, int ith, int nth)
{
    bar_job *j = arg;
    for (int r = 0; r < ROUNDS; r++) {
        const int want = (j->run * ROUNDS + r) * MEMBERS_MAX;
        if (ith == nth - 1 && j->run % 8 == 0) usleep(2000); /* the last writer is late now and then */
        atomic_store_explicit(&j->slot[ith], want + ith, memory_order_relaxed);
        llx_pool_barrier(j->pool);
        for (int i = 0; i < nth; i++)
            if (atomic_load_explicit(&j->slot[i], memory_order_relaxed) != want + i) atomic_fetch_add(&j->wrong, 1);
        llx_pool_barrier(j->pool); /* nobody writes the next round before all have read this one */
    }
}

TEST(pool_barrier_orders_members, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int n = 2; n <= MEMBERS_MAX; n++)
        for (int spin = 0; spin <= 1; spin++) {
            llx_pool *p = NULL;
            REQUIRE(llx_pool_create(&p, n, spin) == LLX_OK);
            bar_job j = {.pool = p};
            for (int i = 0; i < MEMBERS_MAX; i++) atomic_init(&j.slot[i], -1);
            atomic_init(&j.wrong, 0);
            for (j.run = 0; j.run < 24; j.run++) llx_pool_run(p, bar_member, &j);
            CHECK_MSG(atomic_load(&j.wrong) == 0, "%d members, spin %d: %d reads saw another round", n, spin,
                      atomic_load(&j.wrong));
            llx_pool_free(p);
        }
    llx_pool_barrier(NULL); /* no pool: returns at once */
}

/* llx_pool_run_shares: every share runs exactly once per run whoever runs
 * it (and llx_pool_short_handed tells whether this run had member 0 run
 * another's), member 0 runs the shares of members that have not started (members
 * asleep: spin 0, shares of no work), and a member that missed its share
 * joins the next run, a barrier run among them (llx_pool_run, which never
 * hands a share to another thread: its barrier would wait forever). */
typedef struct share_job {
    int run;
    atomic_int ran[MEMBERS_MAX]; /* times share i ran in this run */
    atomic_int wrong;
} share_job;

static void share_member(void *arg, int ith, int nth)
{
    share_job *j = arg;
    if (ith >= nth || ith >= MEMBERS_MAX) atomic_fetch_add(&j->wrong, 1);
    else atomic_fetch_add(&j->ran[ith], 1);
}

TEST(pool_run_shares_runs_each_once, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int n = 2; n <= MEMBERS_MAX; n++)
        for (int spin = 0; spin <= 1; spin++) {
            llx_pool *p = NULL;
            REQUIRE(llx_pool_create(&p, n, spin) == LLX_OK);
            share_job j;
            bar_job b = {.pool = p};
            for (int i = 0; i < MEMBERS_MAX; i++) atomic_init(&b.slot[i], -1);
            atomic_init(&b.wrong, 0);
            atomic_init(&j.wrong, 0);
            int bad = 0;
            for (j.run = 0; j.run < 400; j.run++) {
                for (int i = 0; i < MEMBERS_MAX; i++) atomic_store(&j.ran[i], 0);
                const unsigned stolen = llx_pool_stolen(p);
                llx_pool_run_shares(p, share_member, &j);
                for (int i = 0; i < n; i++) bad += atomic_load(&j.ran[i]) != 1;
                bad += llx_pool_short_handed(p) != (llx_pool_stolen(p) != stolen); /* this run's, not an earlier one's */
                if (j.run % 50 == 49) { /* a barrier run now and then: every member must come */
                    b.run = j.run / 50;
                    llx_pool_run(p, bar_member, &b);
                }
            }
            CHECK_MSG(bad == 0 && atomic_load(&j.wrong) == 0, "%d members, spin %d: %d shares ran not once", n, spin,
                      bad + atomic_load(&j.wrong));
            CHECK_MSG(atomic_load(&b.wrong) == 0, "%d members, spin %d: a barrier run went wrong", n, spin);
            /* asleep members wake in microseconds, member 0's empty share takes nanoseconds */
            if (!spin) CHECK_MSG(llx_pool_stolen(p) > 0, "%d members: member 0 never ran a sleeping member's share", n);
            llx_pool_free(p);
        }
    CHECK(llx_pool_stolen(NULL) == 0 && !llx_pool_short_handed(NULL));
}
