/* tests/test_fifo_lp.c - the FIFO sizing LP on small graphs whose optimal
 * depths are worked out by hand (docs/dse.md section 3): a rate-matched
 * chain, a reconvergent fork/join whose short path must hold the long
 * path's latency, and a fork/join with a pass-through process on the short
 * path, where the FIFO widths decide on which side of it the waiting tokens
 * sit.  Every process fires once per cycle; a token pushed at t through a
 * port of latency L is visible at t + L. */
#include <string.h>

#include "llx/dse.h"
#include "test.h"

#define N 50
#define MAXE 6

typedef struct hand {
    llx_fifo_graph g;
    llx_fifo_proc p[6];
    llx_fifo_edge e[MAXE];
    long long push[MAXE][N], vis[MAXE][N], pop[MAXE][N];
    int lat[MAXE][N];
} hand;

static void proc(hand *h, int i, const char *name, long long start, long long done)
{
    llx_fifo_proc *p = &h->p[i];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->start = start, p->done = done, p->after[0] = p->after[1] = -1;
    if (i + 1 > h->g.nprocs) h->g.nprocs = i + 1;
}

/* token k pushed at p0 + k through latency lat, popped at q0 + k */
static void edge(hand *h, const char *name, int from, int to, int width, long long p0, int lat, long long q0)
{
    int i = h->g.nedges++;
    llx_fifo_edge *e = &h->e[i];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->prod = from, e->cons = to, e->width_bits = width, e->min_depth = 1, e->design_depth = 64, e->copies = 1;
    e->sim_fifo = -1, e->tokens = N, e->pops = N;
    for (int k = 0; k < N; k++)
        h->push[i][k] = p0 + k, h->lat[i][k] = lat, h->vis[i][k] = p0 + k + lat, h->pop[i][k] = q0 + k;
    e->push = h->push[i], e->lat = h->lat[i], e->vis = h->vis[i], e->pop = h->pop[i];
}

static void init(hand *h, long long cycles)
{
    memset(h, 0, sizeof *h);
    h->g.procs = h->p, h->g.edges = h->e, h->g.cycles = cycles;
}

TEST(fifo_need_counts_tokens_in_flight, LLX_T_ASAN)
{
    hand h;
    init(&h, N + 6);
    proc(&h, 0, "a", 0, N), proc(&h, 1, "b", 5, N + 5);
    /* pushed at k, visible and popped at k + 5: six tokens are between the
     * two ends when token k is pushed (k-5 .. k, the pop of k-5 is in the
     * same cycle); four of them sit in the latency registers */
    edge(&h, "ab", 0, 1, 32, 0, 5, 5);
    CHECK_EQ_INT(llx_fifo_need(&h.e[0], 0), 2);
    h.e[0].reserve = 1; /* an m_axi buffer: requests in flight hold their place */
    CHECK_EQ_INT(llx_fifo_need(&h.e[0], 0), 6);
    CHECK_EQ_INT(llx_fifo_need(&h.e[0], 3), 9); /* the consumer 3 cycles later */
    CHECK_EQ_INT(llx_fifo_need(&h.e[0], -5), 1);
    h.e[0].init = 2; /* two tokens at the start are popped first */
    h.e[0].pops = N;
    CHECK_EQ_INT(llx_fifo_need(&h.e[0], 0), 8);
}

TEST(fifo_lp_chain, LLX_T_ASAN)
{
    hand h;
    init(&h, N + 1);
    proc(&h, 0, "a", 0, N), proc(&h, 1, "b", 1, N + 1);
    edge(&h, "ab", 0, 1, 32, 0, 1, 1); /* one token per cycle, popped as soon as it is visible */
    llx_fifo_plan p;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_OK);
    /* token k is pushed in the cycle token k-1 is popped, and a pop frees
     * its place only for the next cycle: two entries */
    CHECK_EQ_INT(p.size[0].depth, 2);
    CHECK(p.size[0].critical);
    CHECK_CLOSE(p.bits, 64, 0, 0);
    CHECK_CLOSE(p.design_bits, 64 * 32, 0, 0);
    llx_fifo_plan_free(&p);
}

TEST(fifo_lp_reconvergent_fork_join, LLX_T_ASAN)
{
    /* a forks every token to b (10 cycles of latency) and straight to d;
     * d joins both: the short path must hold what the long one delays */
    hand h;
    init(&h, N + 11);
    proc(&h, 0, "a", 0, N), proc(&h, 1, "b", 1, N + 1), proc(&h, 2, "d", 11, N + 11);
    edge(&h, "a->b", 0, 1, 32, 0, 1, 1);
    edge(&h, "a->d", 0, 2, 32, 0, 1, 11);
    edge(&h, "b->d", 1, 2, 32, 1, 10, 11);
    llx_fifo_plan p;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_OK);
    CHECK_EQ_INT(p.size[0].depth, 2);
    /* token k waits from its push at k to its pop at k+11: tokens k-11 .. k
     * are in the FIFO when k arrives, 12 entries (10 of latency, 2 of rate) */
    CHECK_EQ_INT(p.size[1].depth, 12);
    /* b's 10-cycle port: 11 tokens between the ends, 9 in its registers */
    CHECK_EQ_INT(p.size[2].depth, 2);
    for (int f = 0; f < 3; f++) CHECK(p.size[f].critical); /* no process can move: all on the critical path */
    for (int q = 0; q < 3; q++) CHECK(p.delay[q] == 0);
    CHECK_CLOSE(p.bits, 16 * 32, 0, 0);
    llx_fifo_plan_free(&p);
}

/* a -> x -> d and a -> b -> d; x is a pass-through that may start up to 9
 * cycles late (d waits for b's 10-cycle path anyway) */
static void pass_through(hand *h, int w_ax, int w_xd)
{
    init(h, N + 11);
    proc(h, 0, "a", 0, N), proc(h, 1, "x", 1, N + 1), proc(h, 2, "b", 1, N + 1), proc(h, 3, "d", 11, N + 11);
    edge(h, "a->x", 0, 1, w_ax, 0, 1, 1);
    edge(h, "x->d", 1, 3, w_xd, 1, 1, 11);
    edge(h, "a->b", 0, 2, 32, 0, 1, 1);
    edge(h, "b->d", 2, 3, 32, 1, 10, 11);
}

TEST(fifo_lp_width_decides_where_tokens_wait, LLX_T_ASAN)
{
    /* x started t cycles late: a->x holds 2 + t, x->d holds 11 - t (t in
     * 0..9).  Bits 8 (2 + t) + 32 (11 - t) are least at t = 9: the waiting
     * tokens move to the narrow FIFO before x. */
    hand h;
    pass_through(&h, 8, 32);
    llx_fifo_plan p;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_OK);
    CHECK_EQ_INT(p.delay[1], 9);
    CHECK_EQ_INT(p.size[0].depth, 11);
    CHECK_EQ_INT(p.size[1].depth, 2);
    CHECK(!p.size[0].critical && !p.size[1].critical); /* x could start anywhere in 0..9 */
    CHECK_EQ_INT(p.size[2].depth, 2);
    CHECK_EQ_INT(p.size[3].depth, 2);
    CHECK(p.size[2].critical && p.size[3].critical);
    CHECK_CLOSE(p.bits, 8 * 11 + 32 * 2 + 32 * 2 + 32 * 2, 0, 0);
    CHECK_CLOSE(p.lp_objective, p.bits, 1e-6, 0);
    llx_fifo_plan_free(&p);
    /* the other way round: x runs at once and the wait is after it */
    pass_through(&h, 32, 8);
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_OK);
    CHECK_EQ_INT(p.delay[1], 0);
    CHECK_EQ_INT(p.size[0].depth, 2);
    CHECK_EQ_INT(p.size[1].depth, 11);
    llx_fifo_plan_free(&p);
}

TEST(fifo_lp_gates_and_bad_graphs, LLX_T_ASAN)
{
    hand h;
    pass_through(&h, 8, 32);
    h.p[1].after[0] = 2; /* x may not start before b completes: then x waits, and so do its tokens */
    h.p[1].start = N + 1;
    h.p[1].done = 2 * N + 1;
    h.g.cycles = 2 * N + 11;
    for (int k = 0; k < N; k++) {
        h.pop[0][k] = N + 1 + k, h.push[1][k] = N + 1 + k, h.vis[1][k] = N + 2 + k;
        h.pop[1][k] = h.pop[3][k] = N + 11 + k;
    }
    h.p[3].start = N + 11, h.p[3].done = 2 * N + 11;
    llx_fifo_plan p;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_OK);
    CHECK(p.delay[1] >= p.delay[2]);
    CHECK(p.size[0].depth == llx_fifo_need(&h.e[0], p.delay[1] - p.delay[0]));
    llx_fifo_plan_free(&p);

    pass_through(&h, 8, 32);
    h.e[2].cons = 7;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_ERR_ARG && strstr(llx_errmsg(), "edge a->b is malformed"));
    pass_through(&h, 8, 32);
    h.p[3].done = -1;
    CHECK(llx_fifo_size_graph(&h.g, &p) == LLX_ERR_ARG && strstr(llx_errmsg(), "process d never completes"));
}
