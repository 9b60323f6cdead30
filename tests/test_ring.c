/* tests/test_ring.c - the ring all-gather on in-process links: every node
 * ends with the whole vector for any N (uneven slices, several tokens, int8
 * and fp32 elements, many gathers in a row), a stalled link times out with a
 * message, and a failing node stops the others. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "llx/schedule.h"
#include "ring/ring.h"
#include "test.h"
#include "util/rng.h"
#include "util/timer.h"

typedef struct ring_case {
    int nodes, rounds;
    llx_inproc_fabric *fab;
    int errors[16];
    int stall_node;  /* this node never posts (-1: none) */
    int fail_node;   /* this node fails instead of posting (-1: none) */
    double timeout;
    char msg[16][256];
    llx_status st[16];
} ring_case;

typedef struct ring_arg {
    ring_case *c;
    int node;
} ring_arg;

static unsigned char value(int round, int t, int i, int eb, int k) { return (unsigned char)(round * 31 + t * 7 + i * 3 + k + eb); }

static void *ring_node(void *p)
{
    ring_arg *a = p;
    ring_case *c = a->c;
    llx_ring *r = NULL;
    llx_status st = llx_ring_create(&r, llx_inproc_link(c->fab, a->node), c->timeout, c->nodes <= 2);
    for (int round = 0; st == LLX_OK && round < c->rounds; round++) {
        const int total = 1 + ((round + 1) * 37) % 500, tokens = 1 + round % 5, eb = round % 2 ? 1 : 4;
        /* an uneven split that differs per round */
        llx_range own = llx_split_range(total, c->nodes, (a->node + round) % c->nodes);
        unsigned char *dst = calloc((size_t)total * tokens * eb, 1);
        for (int t = 0; t < tokens; t++)
            for (int i = own.begin; i < own.end; i++)
                for (int k = 0; k < eb; k++) dst[((size_t)t * total + i) * eb + k] = value(round, t, i, eb, k);
        llx_ring_gather_begin(r, dst, total, tokens, eb, total, own);
        if (a->node == c->fail_node) {
            llx_ring_fail(r);
            st = LLX_ERR_INTERNAL;
        } else if (a->node != c->stall_node) {
            for (int b = own.begin; b < own.end && st == LLX_OK; b += 7)
                st = llx_ring_gather_post(r, b, b + 7 < own.end ? b + 7 : own.end);
            if (st == LLX_OK) st = llx_ring_gather_end(r);
            for (int t = 0; st == LLX_OK && t < tokens; t++)
                for (int i = 0; i < total; i++)
                    for (int k = 0; k < eb; k++)
                        if (dst[((size_t)t * total + i) * eb + k] != value(round, t, i, eb, k)) c->errors[a->node]++;
        } else {
            st = LLX_ERR_INTERNAL;
        }
        free(dst);
    }
    c->st[a->node] = st;
    snprintf(c->msg[a->node], sizeof c->msg[0], "%s", llx_errmsg());
    llx_ring_free(r);
    return NULL;
}

static void run_case(ring_case *c)
{
    pthread_t th[16];
    ring_arg args[16];
    llx_inproc_fabric_create(&c->fab, c->nodes);
    for (int i = 0; i < c->nodes; i++) {
        args[i] = (ring_arg){c, i};
        pthread_create(&th[i], NULL, ring_node, &args[i]);
    }
    for (int i = 0; i < c->nodes; i++) pthread_join(th[i], NULL);
    llx_inproc_fabric_free(c->fab);
}

TEST(ring_allgather_any_node_count, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int n = 1; n <= 6; n++) {
        ring_case c;
        memset(&c, 0, sizeof c);
        c.nodes = n;
        c.rounds = 40;
        c.stall_node = c.fail_node = -1;
        c.timeout = 30;
        run_case(&c);
        for (int i = 0; i < n; i++) {
            CHECK_MSG(c.st[i] == LLX_OK, "N=%d node %d: %s", n, i, c.msg[i]);
            CHECK_MSG(c.errors[i] == 0, "N=%d node %d: %d wrong elements", n, i, c.errors[i]);
        }
    }
}

TEST(ring_stalled_link_times_out, LLX_T_ASAN | LLX_T_TSAN)
{
    ring_case c;
    memset(&c, 0, sizeof c);
    c.nodes = 3;
    c.rounds = 1;
    c.stall_node = 1;
    c.fail_node = -1;
    c.timeout = 0.5;
    const double t0 = llx_now_s();
    run_case(&c);
    CHECK(llx_now_s() - t0 < 10.0);
    CHECK(c.st[2] == LLX_ERR_RING || c.st[0] == LLX_ERR_RING);
    CHECK(strstr(c.msg[2], "stalled") || strstr(c.msg[2], "another node failed"));
}

TEST(ring_failure_stops_the_others, LLX_T_ASAN | LLX_T_TSAN)
{
    ring_case c;
    memset(&c, 0, sizeof c);
    c.nodes = 4;
    c.rounds = 3;
    c.stall_node = -1;
    c.fail_node = 2;
    c.timeout = 60; /* the failure must end the run long before this */
    const double t0 = llx_now_s();
    run_case(&c);
    CHECK(llx_now_s() - t0 < 10.0);
    for (int i = 0; i < 4; i++)
        if (i != 2) {
            CHECK_EQ_INT(c.st[i], LLX_ERR_RING);
            CHECK(strstr(c.msg[i], "another node failed") != NULL);
        }
}
