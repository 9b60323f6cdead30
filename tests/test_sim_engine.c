/* tests/test_sim_engine.c - the simulator's two engines and its FIFOs:
 * the fast and the cycle-stepped engine agree over a matrix of 52
 * configurations (GPT-2 and Llama shapes, 1-8 nodes, every platform,
 * shallow FIFOs, odd widths, every switch, the w4a8/w4a4 schemes with group
 * scales, int4 LM head and the online Hadamard); shallow FIFOs cost cycles; cyclic waits are
 * reported as deadlocks with the FIFOs and the cycle, the same way by both
 * engines; transfer hiding changes nothing on one node. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llx/sim.h"
#include "test.h"

static llx_sim_config cfg(const char *plat, int nodes)
{
    llx_sim_config c;
    llx_sim_config_init(&c, plat);
    c.arch.nodes = nodes;
    return c;
}

static int dims(const char *spec, llx_config *m) { return llx_sim_parse_dims(spec, m) == LLX_OK; }

/* one pass of `tokens` tokens at position pos, in both engines */
static int both(const llx_sim_config *c, const llx_config *m, int tokens, int pos, llx_sim_pass *f, llx_sim_pass *y)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = tokens, .pos = pos, .block_rows = c->block_rows};
    llx_sim_scheme_sched(&c->scheme, &o); /* w8a8 unless the case says */
    llx_schedule s;
    if (llx_schedule_build(&s, m, &o) != LLX_OK) return 0;
    llx_sim_config a = *c, b = *c;
    a.arch.cycle_mode = 0, b.arch.cycle_mode = 1;
    int ok = llx_sim_time_schedule(&a, &s, f) == LLX_OK && llx_sim_time_schedule(&b, &s, y) == LLX_OK;
    llx_schedule_free(&s);
    return ok;
}

typedef struct matrix_case {
    const char *plat, *model;
    int nodes, tokens, pos;
    const char *sets[4]; /* --set keys, or "scheme=SPEC" (w8a8 without) */
} matrix_case;

static const matrix_case matrix[] = {
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 1, 1, 40, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 1, 40, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 4, 1, 40, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 5, 1, 40, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 8, 1, 40, {NULL}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 1, 60, {NULL}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 6, 1, 60, {NULL}},
    {"u280", "dims:hidden=384,layers=2,heads=6,ffn=1536,vocab=500,ctx=96", 2, 1, 90, {NULL}},
    {"u280", "dims:hidden=384,layers=2,heads=6,ffn=1536,vocab=500,ctx=96", 7, 1, 10, {"heads_parallel=2"}},
    /* shallow FIFOs */
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 1, 1, 40, {"dma_fifo=2", "out_fifo=1"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40,
     {"disp_fifo=1", "tx_fifo=1", "wb_fifo=1"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 4, 1, 40, {"link_fifo=3", "wb_fifo=2"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 100,
     {"sc_fifo=1", "prob_fifo=1", "ctx_fifo=1", "stat_fifo=1"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 1, 100,
     {"score_fifo=101", "exp_fifo=101", "dma_fifo=5"}},
    {"u280", "dims:hidden=512,layers=1,heads=8,ffn=2048,vocab=500,ctx=64", 8, 1, 30, {"dma_fifo=1", "link_fifo=4"}},
    /* odd widths and word sizes */
    {"u50", "dims:hidden=320,layers=1,heads=5,ffn=1000,vocab=500,ctx=64", 3, 1, 20, {"word_bytes=24", "mp_in_elems=5"}},
    {"u50", "dims:hidden=320,layers=1,heads=5,ffn=1000,vocab=500,ctx=64", 2, 1, 20,
     {"mp_wb_elems=3", "mha_wb_elems=7", "ln_wb_elems=3", "act_elems=9"}},
    {"u280", "dims:hidden=320,layers=1,heads=5,ffn=1000,vocab=500,ctx=64", 5, 1, 20,
     {"flit_bytes=12", "block_rows=13", "ctx_q_elems=3"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 1, 1, 40,
     {"word_bytes=64", "channels=12", "ln_lanes=5", "ln_rd_elems=3"}},
    {"u50", "dims:hidden=200,layers=1,heads=8,ffn=700,vocab=500,ctx=64", 3, 1, 33, {"word_bytes=16", "heads_parallel=2"}},
    /* switches */
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40, {"headwise_pipeline=0"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 1, 40,
     {"transfer_hiding=0", "block_rows=16"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40, {"lnres_fusion=0", "ln_acc_ii=3"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 4, 1, 40, {"lm_head_fpga=1"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40,
     {"headwise_pipeline=0", "transfer_hiding=0", "lnres_fusion=0"}},
    /* batched passes (several tokens) */
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 1, 5, 10, {NULL}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 4, 20, {"heads_parallel=2"}},
    {"u280", "dims:hidden=384,layers=1,heads=6,ffn=1536,vocab=500,ctx=96", 2, 3, 5,
     {"heads_parallel=4", "channels=16", "block_rows=50"}},
    /* slow links, slow HBM, other clocks, long hops */
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 4, 1, 40,
     {"link_gbps_intra=1.3", "hop_ns_inter=2000"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40,
     {"hbm_total_gbps=40", "hbm_latency_ns=900"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 3, 1, 40, {"clock_mhz=210", "lat_exp=20"}},
    {"u55c", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 6, 1, 70, {"nodes_per_fpga=2"}},
    {"v80", "dims:hidden=512,layers=1,heads=8,ffn=2048,vocab=500,ctx=64", 4, 1, 63, {"channels=16"}},
    /* fewer units than nodes: idle nodes send header-only messages */
    {"u50", "dims:hidden=64,layers=1,heads=2,ffn=128,vocab=300,ctx=32", 5, 1, 8, {NULL}},
    {"u280", "dims:hidden=96,layers=2,heads=3,ffn=96,vocab=300,ctx=32", 8, 1, 31, {"block_rows=5"}},
    /* Llama: RMSNorm, rotary step, GQA (nodes below, at and above the KV
     * heads; lanes sharing a KV head), gated MLP, batched, switches off */
#define LLAMA "dims:arch=llama,hidden=256,layers=1,heads=8,kv_heads=2,head_dim=32,ffn=640,vocab=500,ctx=128"
    {"u280", LLAMA, 1, 1, 50, {NULL}},
    {"u280", LLAMA, 2, 1, 50, {"heads_parallel=2"}},
    {"u50", LLAMA, 3, 1, 50, {"heads_parallel=2"}},
    {"u280", LLAMA, 4, 1, 50, {"prob_fifo=1", "dma_fifo=3"}},
    {"u55c", LLAMA, 2, 3, 20, {"heads_parallel=4", "channels=16"}},
    {"u50", LLAMA, 2, 1, 50, {"headwise_pipeline=0", "heads_parallel=2", "lnres_fusion=0"}},
    {"u280", LLAMA, 3, 1, 50, {"lm_head_fpga=1", "transfer_hiding=0", "ln_lanes=3"}},
    {"v80", "dims:arch=llama,hidden=192,layers=2,heads=6,kv_heads=3,head_dim=40,ffn=500,vocab=300,ctx=64", 5, 1, 40,
     {"heads_parallel=2", "word_bytes=16", "channels=12"}},
    /* low-bit schemes: int4 weights in two-row passes with their scale
     * words, int4 LM head, the online Hadamard (odd factor 5 in 640),
     * fp32 gathers of int4 activations; odd rows per slice, shallow FIFOs */
    {"u280", LLAMA, 1, 1, 50, {"scheme=w4a8"}},
    {"u280", LLAMA, 3, 1, 50, {"heads_parallel=2", "scheme=w4a4,hadamard=1"}},
    {"u50", LLAMA, 2, 1, 50, {"lm_head_fpga=1", "channels=12", "scheme=w4a4,lm=4,hadamard=1,group=64,scales=fp16"}},
    {"u55c", LLAMA, 2, 3, 20, {"heads_parallel=4", "channels=16", "scheme=w4a8,group=32"}},
    {"u50", "dims:hidden=320,layers=1,heads=5,ffn=1000,vocab=500,ctx=64", 3, 1, 20,
     {"word_bytes=24", "mp_in_elems=5", "block_rows=13", "scheme=w4a8,group=128"}},
    {"u50", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 2, 1, 40,
     {"dma_fifo=2", "out_fifo=2", "disp_fifo=1", "scheme=w4a8,group=64,scales=fp16"}},
    {"u280", "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128", 4, 2, 40,
     {"lm_head_fpga=1", "transfer_hiding=0", "lnres_fusion=0", "scheme=w4a4,lm=4,hadamard=1"}},
    {"v80", "dims:hidden=96,layers=2,heads=3,ffn=96,vocab=300,ctx=32", 8, 1, 31, {"block_rows=5", "scheme=w4a8"}},
#undef LLAMA
};

TEST(sim_fast_matches_cycle_matrix, LLX_T_ASAN)
{
    const int n = (int)(sizeof matrix / sizeof matrix[0]);
    CHECK(n >= 52);
    double worst = 0;
    int exact = 0;
    for (int k = 0; k < n; k++) {
        const matrix_case *mc = &matrix[k];
        llx_config m;
        CHECK_MSG(dims(mc->model, &m), "case %d: %s", k, mc->model);
        llx_sim_config c = cfg(mc->plat, mc->nodes);
        for (int s = 0; s < 4 && mc->sets[s]; s++)
            CHECK_MSG(!strncmp(mc->sets[s], "scheme=", 7) ? llx_sim_scheme_parse(mc->sets[s] + 7, &c.scheme) == LLX_OK
                                                          : llx_sim_set(&c, mc->sets[s]) == LLX_OK,
                      "%s", mc->sets[s]);
        CHECK_MSG(llx_sim_check(&c, &m) == LLX_OK, "case %d: %s", k, llx_errmsg());
        llx_sim_pass f, y;
        CHECK_MSG(both(&c, &m, mc->tokens, mc->pos, &f, &y), "case %d: %s", k, llx_errmsg());
        CHECK_MSG(!f.deadlock.found && !y.deadlock.found, "case %d deadlocks: %s", k, f.deadlock.what);
        double rel = fabs(f.cycles - y.cycles) / y.cycles;
        if (rel > worst) worst = rel;
        exact += f.cycles == y.cycles;
        CHECK_MSG(rel <= 0.005, "case %d (%s, %d nodes): fast %.0f vs cycle %.0f cycles", k, mc->plat, mc->nodes,
                  f.cycles, y.cycles);
        for (int cat = 0; cat < LLX_SIM_CAT_COUNT; cat++)
            CHECK_MSG(fabs(f.cat[cat] - y.cat[cat]) <= 0.005 * y.cycles, "case %d: category %s %.0f vs %.0f", k,
                      llx_sim_cat_name((llx_sim_cat)cat), f.cat[cat], y.cat[cat]);
        CHECK(f.link_bytes == y.link_bytes);
    }
    llx_test_note("%d configurations: %d exact, worst difference %.4f%%", n, exact, 100 * worst);
    CHECK_EQ_INT(exact, n); /* the fast engine evaluates the same rules exactly */
}

/* Table II's runs themselves, GPT-2 345M one token: both engines. */
TEST(sim_cycle_mode_table2)
{
    llx_config m;
    llx_config_preset("gpt2-medium", &m);
    for (int nodes = 1; nodes <= 4; nodes *= 2) {
        llx_sim_config c = cfg("u50", nodes);
        llx_sim_pass f, y;
        CHECK(both(&c, &m, 1, 639, &f, &y));
        llx_test_note("%d node(s): fast %.0f, cycle-stepped %.0f cycles", nodes, f.cycles, y.cycles);
        CHECK(f.cycles == y.cycles);
    }
}

/* cycles of stage `op` of layer 0 */
static double stage_cycles(const llx_sim_config *c, const llx_config *m, llx_op op, int pos, llx_sim_deadlock *dl)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = 1, .pos = pos, .block_rows = c->block_rows,
                        .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    if (llx_schedule_build(&s, m, &o) != LLX_OK) return -1;
    double v = -1;
    for (int i = 0; i < s.n_stages; i++)
        if (s.stages[i].op == op && s.stages[i].layer == 0) {
            llx_sim_pass p;
            if (llx_sim_time_stage(c, &s, i, &p) == LLX_OK) v = p.cycles;
            if (dl) *dl = p.deadlock;
        }
    llx_schedule_free(&s);
    return v;
}

TEST(sim_shallow_fifos_cost_cycles, LLX_T_ASAN)
{
    llx_config m;
    llx_config_preset("gpt2", &m);
    static const struct {
        llx_op op;
        int nodes;
        const char *set;
        double min_ratio;
    } cases[] = {
        {LLX_OP_FC1, 1, "dma_fifo=2", 10},   /* 2 words in flight against a 64-cycle latency */
        {LLX_OP_QKV, 2, "dma_fifo=16", 1.5},
        {LLX_OP_ATTN, 1, "dma_fifo=2", 10},
        {LLX_OP_PROJ, 4, "wb_fifo=1", 1.02}, /* the routers wait for the write ports */
        {LLX_OP_FC2, 3, "wb_fifo=1", 1.001},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        llx_sim_config a = cfg("u50", cases[k].nodes), b = a;
        CHECK(llx_sim_set(&b, cases[k].set) == LLX_OK);
        llx_sim_deadlock dl;
        double ta = stage_cycles(&a, &m, cases[k].op, 100, NULL), tb = stage_cycles(&b, &m, cases[k].op, 100, &dl);
        llx_test_note("%s on %s, %d node(s): %.0f -> %.0f cycles", cases[k].set, llx_op_name(cases[k].op),
                      cases[k].nodes, ta, tb);
        CHECK(ta > 0);
        CHECK_MSG(!dl.found, "%s", dl.what);
        CHECK_MSG(tb >= cases[k].min_ratio * ta, "%s: %.0f vs %.0f", cases[k].set, tb, ta);
    }
}

static void expect_deadlock(const llx_sim_config *c, const llx_config *m, llx_op op, int pos, const char *fifo)
{
    llx_sim_config y = *c;
    y.arch.cycle_mode = 1;
    llx_sim_deadlock a, b;
    double ta = stage_cycles(c, m, op, pos, &a), tb = stage_cycles(&y, m, op, pos, &b);
    CHECK(ta >= 0 && tb >= 0);
    CHECK_MSG(a.found && b.found, "%s: no deadlock", fifo);
    CHECK_MSG(strstr(a.what, fifo) != NULL, "%s not named: %s", fifo, a.what);
    CHECK_MSG(strncmp(a.what, "deadlock at cycle ", 18) == 0, "%s", a.what);
    CHECK_MSG(!strcmp(a.what, b.what), "the engines disagree:\n  %s\n  %s", a.what, b.what);
    CHECK(a.cycle == b.cycle && a.cycle > 0);
}

TEST(sim_deadlocks_are_reported, LLX_T_ASAN)
{
    llx_config m;
    llx_config_preset("gpt2", &m);
    /* the softmax keeps every score until the maximum is known: a bypass
     * FIFO shorter than the context is a cyclic wait (smax full, sexp waits for max) */
    llx_sim_config c = cfg("u50", 1);
    CHECK(llx_sim_set(&c, "score_fifo=300") == LLX_OK);
    expect_deadlock(&c, &m, LLX_OP_ATTN, 400, "score_bypass[0] (full");
    expect_deadlock(&c, &m, LLX_OP_ATTN, 400, "max[0] (empty)");
    c = cfg("u50", 1);
    CHECK(llx_sim_set(&c, "exp_fifo=100") == LLX_OK);
    expect_deadlock(&c, &m, LLX_OP_ATTN, 200, "exp_bypass[0] (full");
    /* a router sends a whole message before it receives: links shallower than
     * a message block every sender of the ring at once */
    c = cfg("u280", 3);
    CHECK(llx_sim_set(&c, "link_fifo=1") == LLX_OK);
    CHECK(llx_sim_set(&c, "hop_ns_intra=1") == LLX_OK);
    expect_deadlock(&c, &m, LLX_OP_PROJ, 10, "link (full");
    /* the same context is fine when the FIFO holds it */
    c = cfg("u50", 1);
    CHECK(llx_sim_set(&c, "score_fifo=401") == LLX_OK);
    llx_sim_deadlock dl;
    CHECK(stage_cycles(&c, &m, LLX_OP_ATTN, 400, &dl) > 0);
    CHECK(!dl.found);
    /* a run stops at the deadlock and says where */
    c = cfg("u50", 1);
    CHECK(llx_sim_set(&c, "score_fifo=100") == LLX_OK);
    llx_sim_workload w = {0, 0, 500};
    llx_sim_result r;
    CHECK(llx_sim_run(&c, &m, &w, &r) == LLX_OK);
    CHECK(r.deadlock.found);
    CHECK(r.decode_ms_per_token == 0);
    double ms = 0;
    CHECK(llx_sim_eval_decode(&c, &m, 500, &ms) == LLX_OK);
    CHECK(ms < 0);
    CHECK(llx_sim_eval_decode(&c, &m, 50, &ms) == LLX_OK);
    CHECK(ms > 0);
}

/* Transfer hiding switches ring transfers only: one node has no ring. */
TEST(sim_hiding_off_on_one_node_changes_nothing, LLX_T_ASAN)
{
    llx_config m;
    llx_config_preset("gpt2-medium", &m);
    llx_sim_config on = cfg("u50", 1), off = on;
    off.arch.transfer_hiding = 0;
    llx_sim_workload w = {0, 0, 640};
    llx_sim_result a, b;
    CHECK(llx_sim_run(&on, &m, &w, &a) == LLX_OK);
    CHECK(llx_sim_run(&off, &m, &w, &b) == LLX_OK);
    CHECK(a.decode_ms_per_token == b.decode_ms_per_token);
    /* on two nodes it costs: the blocks leave only after the compute */
    llx_sim_config on2 = cfg("u50", 2), off2 = on2;
    off2.arch.transfer_hiding = 0;
    CHECK(llx_sim_run(&on2, &m, &w, &a) == LLX_OK);
    CHECK(llx_sim_run(&off2, &m, &w, &b) == LLX_OK);
    llx_test_note("2 nodes: hiding on %.3f ms, off %.3f ms", a.decode_ms_per_token, b.decode_ms_per_token);
    CHECK(b.decode_ms_per_token > a.decode_ms_per_token * 1.01);
    double ea = a.breakdown_ms[LLX_SIM_CAT_RING] + a.breakdown_ms[LLX_SIM_CAT_WRITEBACK];
    double eb = b.breakdown_ms[LLX_SIM_CAT_RING] + b.breakdown_ms[LLX_SIM_CAT_WRITEBACK];
    CHECK(eb > ea + 0.5); /* exposed ring and write-back time */
}

/* The per-FIFO report a FIFO sizer reads: depths, widths, occupancy. */
TEST(sim_stage_fifo_report, LLX_T_ASAN)
{
    llx_config m;
    llx_config_preset("gpt2", &m);
    llx_sim_config c = cfg("u50", 2);
    llx_sched_opts o = {.nodes = 2, .tokens = 1, .pos = 100, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    CHECK(llx_schedule_build(&s, &m, &o) == LLX_OK);
    int attn = -1;
    for (int i = 0; i < s.n_stages; i++)
        if (s.stages[i].op == LLX_OP_ATTN && attn < 0) attn = i;
    llx_sim_fifo_stat st[256];
    int n = llx_sim_stage_fifos(&c, &s, attn, st, 256);
    CHECK(n > 10 && n <= 256);
    int seen = 0;
    for (int i = 0; i < n && i < 256; i++) {
        CHECK(st[i].max_occ >= 0 && st[i].max_occ <= st[i].depth);
        if (strstr(st[i].name, "score_bypass")) {
            seen++;
            CHECK_EQ_INT(st[i].depth, 4096);
            CHECK(st[i].max_occ >= 100 && st[i].max_occ <= 102); /* a head's 101 scores wait for their maximum */
        }
    }
    CHECK_EQ_INT(seen, 2); /* one per node */
    CHECK(llx_sim_stage_fifos(&c, &s, 0, st, 256) < 0); /* EMBED runs on the host */
    CHECK(strstr(llx_errmsg(), "host") != NULL);
    llx_schedule_free(&s);
}

/* Every FIFO of the networks has its depth from a --set key. */
TEST(sim_every_fifo_depth_is_a_parameter, LLX_T_ASAN)
{
    static const struct {
        const char *key, *fifo;
        llx_op op;
    } map[] = {
        {"dma_fifo", ".w[", LLX_OP_QKV},        {"disp_fifo", ".act[", LLX_OP_QKV},
        {"out_fifo", ".out[", LLX_OP_QKV},      {"tx_fifo", "for_router", LLX_OP_QKV},
        {"wb_fifo", "from_router", LLX_OP_QKV}, {"link_fifo", ".link", LLX_OP_QKV},
        {"sc_fifo", ".score[", LLX_OP_ATTN},    {"score_fifo", "score_bypass", LLX_OP_ATTN},
        {"exp_fifo", "exp_bypass", LLX_OP_ATTN}, {"stat_fifo", ".max[", LLX_OP_ATTN},
        {"prob_fifo", ".prob[", LLX_OP_ATTN},   {"ctx_fifo", ".ctx[", LLX_OP_ATTN},
        {"dma_fifo", ".k[", LLX_OP_ATTN},
    };
    llx_config m;
    llx_config_preset("gpt2", &m);
    llx_sched_opts o = {.nodes = 2, .tokens = 1, .pos = 20, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    CHECK(llx_schedule_build(&s, &m, &o) == LLX_OK);
    int stage[2] = {-1, -1};
    for (int i = 0; i < s.n_stages; i++) {
        if (s.stages[i].op == LLX_OP_QKV && stage[0] < 0) stage[0] = i;
        if (s.stages[i].op == LLX_OP_ATTN && stage[1] < 0) stage[1] = i;
    }
    static llx_sim_fifo_stat st[512];
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
        llx_sim_config c = cfg("u50", 2);
        CHECK(llx_sim_set(&c, "mp_in_elems=16") == LLX_OK); /* a feed that can bind: its FIFOs exist */
        char kv[64];
        snprintf(kv, sizeof kv, "%s=777", map[k].key);
        CHECK(llx_sim_set(&c, kv) == LLX_OK);
        int n = llx_sim_stage_fifos(&c, &s, stage[map[k].op == LLX_OP_ATTN], st, 512);
        int hits = 0;
        for (int i = 0; i < n && i < 512; i++)
            if (strstr(st[i].name, map[k].fifo)) {
                hits++;
                CHECK_MSG(st[i].depth == 777, "%s: %s has depth %d", map[k].key, st[i].name, st[i].depth);
            }
        CHECK_MSG(hits >= 2, "%s: no FIFO named %s", map[k].key, map[k].fifo); /* one per node at least */
    }
    llx_schedule_free(&s);
}
