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
