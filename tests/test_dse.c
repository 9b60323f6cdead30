/* tests/test_dse.c - the design-space search (docs/dse.md): on a small
 * space its front is the brute-force Pareto front of every valid design
 * under the cap (so no pruning bound dropped a front design); every
 * reported design fits its budget, the front is non-dominated and the
 * paper's designs are on or behind it; the composed latencies are the
 * simulator's; a seed gives one answer whatever the thread count; the
 * other objectives find the brute-force best; bad options are refused; the
 * weight precision is a dimension (--vary w_bits=8,4); designs that deadlock
 * are infeasible, not an error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llx/dse.h"
#include "test.h"

#define SMALL "dims:hidden=256,layers=2,heads=4,ffn=1024,vocab=1000,ctx=256"

static llx_config model(const char *spec)
{
    llx_config m;
    memset(&m, 0, sizeof m);
    if (llx_config_preset(spec, &m) != LLX_OK) CHECK(llx_sim_parse_dims(spec, &m) == LLX_OK);
    return m;
}

/* a space of 2 x 2 x 3 x 2 x 2 x 2 x 2 x 2 x 2 x 2 x 2 designs */
static void small_space(llx_dse_opts *o, const llx_config *m)
{
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    CHECK(llx_dse_opts_init(o, &c, m, 1, 2) == LLX_OK);
    static const char *kv[][2] = {{"channels", "4,8,16"}, {"clock_mhz", "200,300"}, {"word_bytes", "16,32"},
                                  {"heads_parallel", "1,2"}, {"ln_lanes", "4,8"},  {"lnres_fusion", "0,1"},
                                  {"block_rows", "32,64"},   {"mp_wb_elems", "1,8"}, {"mha_wb_elems", "4,16"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) CHECK(llx_dse_set_knob(o, kv[i][0], kv[i][1]) == LLX_OK);
    o->work.context = 200;
    o->cap = 0.3;
    o->validate = 1;
}

typedef struct truth {
    int n;
    llx_dse_point *p;
    long valid, fit;
} truth;

/* every design of the space timed whole by llx_sim_run */
static truth brute_force(const llx_dse_opts *o, const llx_config *m)
{
    truth t = {0, NULL, 0, 0};
    long total = 1;
    for (int k = 0; k < o->nknobs; k++) total *= o->knobs[k].n;
    t.p = calloc((size_t)total, sizeof *t.p);
    for (long id = 0; id < total; id++) {
        llx_dse_point p;
        memset(&p, 0, sizeof p);
        long r = id;
        for (int k = o->nknobs - 1; k >= 0; k--) p.knob[k] = o->knobs[k].v[r % o->knobs[k].n], r /= o->knobs[k].n;
        llx_sim_config c;
        if (llx_dse_point_config(o, &p, &c) != LLX_OK) continue;
        if (c.arch.nodes_per_fpga > c.arch.nodes || llx_sim_check(&c, m) != LLX_OK) continue;
        t.valid++;
        llx_sim_result res;
        llx_sim_workload w = {0, 0, o->work.context};
        CHECK(llx_sim_run(&c, m, &w, &res) == LLX_OK);
        const llx_sim_resources *s = &res.res;
        if (s->dsp_frac > o->cap || s->lut_frac > o->cap || s->ff_frac > o->cap || s->bram_frac > o->cap ||
            s->uram_frac > o->cap)
            continue;
        t.fit++;
        p.latency_ms = res.decode_ms_per_token, p.tokens_per_joule = res.tokens_per_joule;
        p.total[0] = s->all_total.dsp, p.total[1] = s->all_total.lut, p.total[3] = s->all_total.bram;
        t.p[t.n++] = p;
    }
    return t;
}

static int same_objectives(const llx_dse_point *a, const llx_dse_point *b)
{
    return fabs(a->latency_ms - b->latency_ms) <= 1e-9 * b->latency_ms && a->total[0] == b->total[0] &&
           a->total[1] == b->total[1] && a->total[3] == b->total[3];
}

TEST(dse_front_is_the_brute_force_front)
{
    llx_config m = model(SMALL);
    llx_dse_opts o;
    small_space(&o, &m);
    llx_dse_result r;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
    truth t = brute_force(&o, &m);
    CHECK(r.over_budget > 0 && r.invalid > 0 && r.pruned > 0); /* every filter did something */
    CHECK_EQ_INT(r.considered - r.invalid, t.valid);
    CHECK_EQ_INT(r.considered - r.invalid - r.over_budget, t.fit);
    int n_true = 0;
    for (int i = 0; i < t.n; i++) {
        int dominated = 0, dup = 0;
        for (int j = 0; j < t.n && !dominated; j++) dominated = llx_dse_dominates(&t.p[j], &t.p[i]);
        for (int j = 0; j < i && !dup; j++) dup = same_objectives(&t.p[j], &t.p[i]);
        if (dominated || dup) continue;
        n_true++;
        int found = 0;
        for (int k = 0; k < r.n_front && !found; k++) found = same_objectives(&r.front[k], &t.p[i]);
        CHECK_MSG(found, "a brute-force front design (%.4f ms, %.0f DSP, %.0f BRAM) is missing", t.p[i].latency_ms,
                  t.p[i].total[0], t.p[i].total[3]);
    }
    CHECK_EQ_INT(r.n_front, n_true);
    CHECK(r.n_front > 3);
    free(t.p);
    llx_dse_result_free(&r);
}

/* the values of knob `name` among the front's designs (a bit per value index) */
static unsigned front_values(const llx_dse_opts *o, const llx_dse_result *r, const char *name)
{
    unsigned seen = 0;
    for (int k = 0; k < o->nknobs; k++) {
        if (strcmp(o->knobs[k].name, name)) continue;
        for (int i = 0; i < r->n_front; i++)
            for (int v = 0; v < o->knobs[k].n; v++)
                if (r->front[i].knob[k] == o->knobs[k].v[v]) seen |= 1u << v;
    }
    return seen;
}

static llx_sim_resources resources_with(const llx_config *m, const char *set1, const char *set2)
{
    llx_sim_config c;
    llx_sim_resources r;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    if (set1) CHECK(llx_sim_set(&c, set1) == LLX_OK);
    if (set2) CHECK(llx_sim_set(&c, set2) == LLX_OK);
    CHECK(llx_sim_resources_estimate(&c, m, &r) == LLX_OK);
    return r;
}

/* Write ports and m_axi ports cost logic (docs/simulator.md section 6), so
 * the front keeps narrower ones where they save LUTs: both write widths
 * and both word widths of the small space are on it. */
TEST(dse_front_trades_write_and_port_widths, LLX_T_ASAN)
{
    llx_config m = model("gpt2-medium");
    /* a write port of k > 1 elements: a k:1 multiplexer per bank bit */
    llx_sim_resources a = resources_with(&m, "mha_wb_elems=1", NULL), b = resources_with(&m, "mha_wb_elems=4", NULL);
    llx_sim_resources c = resources_with(&m, "mha_wb_elems=16", NULL);
    CHECK(a.node_total.lut < b.node_total.lut && b.node_total.lut < c.node_total.lut);
    CHECK_CLOSE(b.node_total.lut - a.node_total.lut, 32.0 * 8 * 1, 0, 1e-9); /* 32 banks x 8 bits x one LUT6 */
    CHECK(a.node_total.bram == c.node_total.bram && a.node_total.dsp == c.node_total.dsp);
    /* more elements per cycle than banks: more banks, more BRAM */
    a = resources_with(&m, "mp_wb_elems=32", NULL), b = resources_with(&m, "mp_wb_elems=64", NULL);
    CHECK(a.node_total.bram < b.node_total.bram);
    /* an aligned write of h: no multiplexer while the width divides the lanes */
    a = resources_with(&m, "ln_wb_elems=4", NULL), b = resources_with(&m, "ln_wb_elems=8", NULL);
    c = resources_with(&m, "ln_wb_elems=3", NULL);
    CHECK(a.node_total.lut == b.node_total.lut && c.node_total.lut > b.node_total.lut);
    /* the m_axi adapters grow with the port: 753 LUT and 2325 FF per 256 bits and port */
    a = resources_with(&m, "word_bytes=32", "channels=8"), b = resources_with(&m, "word_bytes=64", "channels=8");
    CHECK_CLOSE(b.node[3].lut - a.node[3].lut, 8 * 753.0, 0, 1e-6);
    CHECK_CLOSE(b.node[3].ff - a.node[3].ff, 8 * 2325.0, 0, 1e-6);
    CHECK(!strcmp(a.node[3].name, "dma"));

    llx_config sm = model(SMALL);
    llx_dse_opts o;
    small_space(&o, &sm);
    llx_dse_result r;
    CHECK(llx_dse_run(&o, &sm, &r) == LLX_OK);
    CHECK_EQ_INT((int)front_values(&o, &r, "mp_wb_elems"), 3);
    CHECK_EQ_INT((int)front_values(&o, &r, "mha_wb_elems"), 3);
    CHECK_EQ_INT((int)front_values(&o, &r, "word_bytes"), 3);
    llx_test_note("small space: %d designs on the front", r.n_front);
    llx_dse_result_free(&r);
}

TEST(dse_reported_designs_fit_and_the_paper_is_behind, LLX_T_ASAN)
{
    llx_config m = model("gpt2");
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    llx_dse_opts o;
    CHECK(llx_dse_opts_init(&o, &c, &m, 1, 2) == LLX_OK);
    CHECK(llx_dse_set_knob(&o, "clock_mhz", "285,300") == LLX_OK);
    CHECK(llx_dse_set_knob(&o, "block_rows", "64") == LLX_OK);
    o.validate = 2;
    llx_dse_result r;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
    CHECK_EQ_INT(r.considered, r.invalid + r.over_budget + r.pruned + r.evaluated + r.deadlocked);
    CHECK(r.n_front > 5 && r.n_paper == 2 && r.n_all == r.evaluated);
    for (int i = 0; i < r.n_front; i++) {
        const llx_dse_point *p = &r.front[i];
        for (int k = 0; k < LLX_DSE_RES; k++) CHECK(p->frac[k] <= o.cap);
        llx_sim_config pc;
        CHECK(llx_dse_point_config(&o, p, &pc) == LLX_OK && llx_sim_check(&pc, &m) == LLX_OK);
        CHECK(pc.arch.nodes_per_fpga * pc.arch.channels <= c.plat.hbm_pcs);
        for (int j = 0; j < r.n_front; j++) CHECK(i == j || !llx_dse_dominates(&r.front[j], p));
        CHECK(i == 0 || r.front[i - 1].latency_ms <= p->latency_ms);
    }
    for (int i = 0; i < r.n_paper; i++) {
        const llx_dse_point *p = &r.paper[i];
        CHECK(p->paper_nodes == (i ? 2 : 1));
        for (int j = 0; j < r.n_front; j++) CHECK(!llx_dse_dominates(p, &r.front[j])); /* not strictly better */
        CHECK(p->behind < 0 || (p->behind < r.n_front && !llx_dse_dominates(p, &r.front[p->behind]) &&
                                r.front[p->behind].latency_ms <= p->latency_ms &&
                                r.front[p->behind].total[0] <= p->total[0] && r.front[p->behind].total[1] <= p->total[1] &&
                                r.front[p->behind].total[3] <= p->total[3]));
        llx_sim_config pc;
        CHECK(llx_dse_point_config(&o, p, &pc) == LLX_OK);
        CHECK(pc.arch.channels == 8 && pc.arch.word_bytes == 32 && pc.arch.clock_mhz == 285);
    }
    CHECK(r.validated == 2 && r.max_cycle_dev <= 0.005 && r.front[0].cycle_ms > 0 && r.front[2].cycle_ms == 0);
    for (int i = 0; i < r.n_all; i += r.n_all / 7 + 1) { /* any timed design: composed = simulated */
        llx_sim_config pc;
        double ms;
        CHECK(llx_dse_point_config(&o, &r.all[i], &pc) == LLX_OK);
        CHECK(llx_sim_eval_decode(&pc, &m, o.work.context, &ms) == LLX_OK);
        CHECK_CLOSE(r.all[i].latency_ms, ms, 0, 1e-12);
    }
    llx_dse_result_free(&r);
}

static int same_result(const llx_dse_result *a, const llx_dse_result *b)
{
    if (a->n_front != b->n_front || a->evaluated != b->evaluated || a->pruned != b->pruned) return 0;
    for (int i = 0; i < a->n_front; i++)
        if (memcmp(a->front[i].knob, b->front[i].knob, sizeof a->front[i].knob) ||
            a->front[i].latency_ms != b->front[i].latency_ms)
            return 0;
    return 1;
}

TEST(dse_seed_decides_and_threads_do_not, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_config m = model(SMALL);
    llx_dse_opts o;
    small_space(&o, &m);
    o.validate = 0;
    llx_dse_result a, b, c, d;
    CHECK(llx_dse_run(&o, &m, &a) == LLX_OK);
    o.threads = 1;
    CHECK(llx_dse_run(&o, &m, &b) == LLX_OK);
    CHECK(same_result(&a, &b));
    o.seed = 99;
    CHECK(llx_dse_run(&o, &m, &c) == LLX_OK);
    CHECK(c.n_front == a.n_front); /* the same front; equal designs may be picked differently */
    for (int i = 0; i < c.n_front; i++) CHECK(same_objectives(&c.front[i], &a.front[i]));
    o.max_candidates = 300; /* a seeded sample */
    CHECK(llx_dse_run(&o, &m, &d) == LLX_OK);
    CHECK(d.considered <= 300 && d.considered > 200); /* the sample's ids, less those naming a design twice */
    llx_dse_result e;
    CHECK(llx_dse_run(&o, &m, &e) == LLX_OK);
    CHECK(same_result(&d, &e));
    llx_dse_result_free(&a), llx_dse_result_free(&b), llx_dse_result_free(&c), llx_dse_result_free(&d);
    llx_dse_result_free(&e);
}

static int cmp_lat(const void *a, const void *b)
{
    double x = ((const llx_dse_point *)a)->latency_ms, y = ((const llx_dse_point *)b)->latency_ms;
    return (x > y) - (x < y);
}

static int cmp_tpj(const void *a, const void *b)
{
    double x = ((const llx_dse_point *)a)->tokens_per_joule, y = ((const llx_dse_point *)b)->tokens_per_joule;
    return (x < y) - (x > y);
}

TEST(dse_other_objectives_find_the_best)
{
    llx_config m = model(SMALL);
    llx_dse_opts o;
    small_space(&o, &m);
    o.validate = 0, o.top = 5;
    truth t = brute_force(&o, &m);
    for (int obj = 0; obj < 2; obj++) {
        o.objective = obj ? LLX_DSE_TPJ : LLX_DSE_LATENCY;
        qsort(t.p, (size_t)t.n, sizeof *t.p, obj ? cmp_tpj : cmp_lat);
        llx_dse_point best[5];
        int nb = 0;
        for (int i = 0; i < t.n && nb < 5; i++) { /* designs equal in every objective count once */
            int dup = 0;
            for (int j = 0; j < nb && !dup; j++)
                dup = same_objectives(&best[j], &t.p[i]) &&
                      fabs(best[j].tokens_per_joule - t.p[i].tokens_per_joule) <= 1e-9 * t.p[i].tokens_per_joule;
            if (!dup) best[nb++] = t.p[i];
        }
        llx_dse_result r;
        CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
        CHECK_EQ_INT(r.n_front, 5);
        CHECK(r.pruned > 0);
        for (int i = 0; i < r.n_front; i++) {
            if (obj) CHECK_CLOSE(r.front[i].tokens_per_joule, best[i].tokens_per_joule, 0, 1e-9);
            else CHECK_CLOSE(r.front[i].latency_ms, best[i].latency_ms, 0, 1e-9);
        }
        llx_dse_result_free(&r);
    }
    free(t.p);
}

TEST(dse_prompt_gen_workload, LLX_T_ASAN)
{
    llx_config m = model(SMALL);
    llx_dse_opts o;
    small_space(&o, &m);
    o.work = (llx_sim_workload){16, 9, 0};
    o.validate = 2;
    llx_dse_result r;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
    for (int i = 0; i < 2; i++) {
        llx_sim_config c;
        CHECK(llx_dse_point_config(&o, &r.front[i], &c) == LLX_OK);
        llx_sim_result s;
        CHECK(llx_sim_run(&c, &m, &o.work, &s) == LLX_OK);
        CHECK_CLOSE(r.front[i].workload_ms, s.total_ms, 0, 1e-12);
        double ms;
        CHECK(llx_sim_eval_decode(&c, &m, 16 + 5, &ms) == LLX_OK); /* searched at the mean decode context */
        CHECK_CLOSE(r.front[i].latency_ms, ms, 0, 1e-12);
    }
    CHECK(r.front[2].workload_ms == 0);
    llx_dse_result_free(&r);
}

TEST(dse_refuses_bad_options, LLX_T_ASAN)
{
    llx_config m = model(SMALL);
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    llx_dse_opts o;
    int lo, hi;
    CHECK(llx_dse_parse_range("2-4", &lo, &hi) == LLX_OK && lo == 2 && hi == 4);
    CHECK(llx_dse_parse_range("3", &lo, &hi) == LLX_OK && lo == 3 && hi == 3);
    static const char *bad[] = {"", "0", "4-2", "1-", "-1", "a", "1-2x", "1-65", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(llx_dse_parse_range(bad[i], &lo, &hi) == LLX_ERR_ARG);
        CHECK(strstr(llx_errmsg(), "nodes") || strstr(llx_errmsg(), "node count"));
    }
    CHECK(llx_dse_opts_init(&o, &c, &m, 1, 20) == LLX_ERR_ARG && strstr(llx_errmsg(), "at most 16"));
    CHECK(llx_dse_opts_init(&o, &c, &m, 1, 4) == LLX_OK && o.nknobs == 11);
    CHECK(llx_dse_set_knob(&o, "nodes", "1,2") == LLX_ERR_ARG && strstr(llx_errmsg(), "--nodes"));
    CHECK(llx_dse_set_knob(&o, "no_such", "1") == LLX_ERR_ARG && strstr(llx_errmsg(), "unknown parameter"));
    CHECK(llx_dse_set_knob(&o, "channels", "4,,8") == LLX_ERR_ARG && strstr(llx_errmsg(), "not a list of numbers"));
    CHECK(llx_dse_set_knob(&o, "channels", "4,1000") == LLX_ERR_ARG && strstr(llx_errmsg(), "out of range"));
    CHECK(llx_dse_set_knob(&o, "channels", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17") == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "more than 16"));
    CHECK(llx_dse_set_knob(&o, "dma_fifo", "64,256") == LLX_OK && o.nknobs == 12);
    llx_dse_result r;
    o.cap = 0;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_ERR_ARG && strstr(llx_errmsg(), "cap"));
    o.cap = 0.8, o.work.context = 257;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_ERR_ARG && strstr(llx_errmsg(), "exceeds the model's 256 positions"));
    o.work = (llx_sim_workload){200, 100, 0};
    CHECK(llx_dse_run(&o, &m, &r) == LLX_ERR_ARG && strstr(llx_errmsg(), "exceeds"));
}

/* every default knob at the base's value only, then `knob` over `values` */
static void single_space(llx_dse_opts *o, const llx_sim_config *c, const llx_config *m)
{
    CHECK(llx_dse_opts_init(o, c, m, 1, 1) == LLX_OK);
    for (int k = 0; k < o->nknobs; k++) {
        if (!strcmp(o->knobs[k].name, "nodes") || !strcmp(o->knobs[k].name, "nodes_per_fpga")) continue; /* one node */
        char v[64];
        llx_sim_param_value(c, llx_sim_param_find(o->knobs[k].name), v, sizeof v);
        CHECK_MSG(llx_dse_set_knob(o, o->knobs[k].name, v) == LLX_OK, "%s: %s", o->knobs[k].name, llx_errmsg());
    }
    o->work.context = 200;
    o->validate = 0;
}

static int knob_index(const llx_dse_result *r, const char *name)
{
    for (int k = 0; k < r->nknobs; k++)
        if (!strcmp(r->knobs[k].name, name)) return k;
    return -1;
}

/* the precision as a dimension: w8a8 and w4a8 designs in one search */
TEST(dse_searches_the_weight_precision, LLX_T_ASAN)
{
    llx_config m = model("dims:hidden=1024,layers=1,heads=16,ffn=4096,vocab=1000,ctx=64");
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    llx_dse_opts o;
    single_space(&o, &c, &m);
    o.work.context = 8; /* the matrices, not attention, decide */
    CHECK(llx_dse_set_knob(&o, "w_bits", "8,4") == LLX_OK);
    CHECK(llx_dse_set_knob(&o, "channels", "8,16") == LLX_OK);
    CHECK(llx_dse_set_knob(&o, "w_bits", "8,6") == LLX_OK); /* in range; the scheme check refuses 6 */
    llx_dse_result r;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
    CHECK_EQ_INT(r.invalid, 2);
    llx_dse_result_free(&r);
    CHECK(llx_dse_set_knob(&o, "w_bits", "8,4") == LLX_OK);
    o.objective = LLX_DSE_LATENCY;
    CHECK(llx_dse_run(&o, &m, &r) == LLX_OK);
    const int wb = knob_index(&r, "w_bits"), ch = knob_index(&r, "channels");
    CHECK(wb >= 0 && ch >= 0 && r.n_all == 4 && r.evaluated == 4 && r.deadlocked == 0);
    double ms[2][2] = {{0, 0}, {0, 0}}; /* [int4][16 channels] */
    for (int i = 0; i < r.n_all; i++) {
        const llx_dse_point *p = &r.all[i];
        ms[p->knob[wb] == 4][p->knob[ch] == 16] = p->latency_ms;
        llx_sim_config pc;
        double t;
        CHECK(llx_dse_point_config(&o, p, &pc) == LLX_OK && pc.scheme.w_bits == (int)p->knob[wb]);
        CHECK(llx_sim_eval_decode(&pc, &m, o.work.context, &t) == LLX_OK);
        CHECK_CLOSE(p->latency_ms, t, 0, 1e-12); /* composed = simulated, the int4 schedule included */
    }
    for (int k = 0; k < 2; k++) CHECK_MSG(ms[1][k] > 0 && ms[1][k] < 0.8 * ms[0][k], "%g vs %g", ms[1][k], ms[0][k]);
    CHECK(r.n_front >= 1 && r.front[0].knob[wb] == 4);
    llx_dse_result_free(&r);
}

/* A design that deadlocks is infeasible: counted, not reported, and the
 * search goes on (a score bypass FIFO shorter than the context). */
TEST(dse_deadlocking_designs_are_infeasible, LLX_T_ASAN)
{
    llx_config m = model(SMALL);
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    llx_dse_opts o;
    single_space(&o, &c, &m);
    CHECK(llx_dse_set_knob(&o, "score_fifo", "100,4096") == LLX_OK);
    CHECK(llx_dse_set_knob(&o, "ln_lanes", "4,8") == LLX_OK);
    llx_dse_result r;
    CHECK_MSG(llx_dse_run(&o, &m, &r) == LLX_OK, "%s", llx_errmsg());
    const int sf = knob_index(&r, "score_fifo");
    CHECK_EQ_INT(r.deadlocked, 2);
    CHECK_EQ_INT(r.considered, r.invalid + r.over_budget + r.pruned + r.evaluated + r.deadlocked);
    CHECK(r.n_all == 2 && r.n_front >= 1);
    for (int i = 0; i < r.n_all; i++) CHECK(r.all[i].knob[sf] == 4096);
    for (int i = 0; i < r.n_front; i++) CHECK(r.front[i].knob[sf] == 4096);
    llx_dse_result_free(&r);
}
