/* tests/test_sim_sweep.c - a systematic sweep of the simulator: nodes 1-8 x
 * models (GPT-2 small, medium and large shapes, SmolLM-135M's and
 * Llama-3.2-1B's shapes with grouped-query attention, one layer each) x
 * heads_parallel 1-4 (one or several head groups per node, lanes that do or
 * do not divide a GQA group) x every timing switch (LN&Res fusion, head-wise
 * pipeline, transfer hiding, LM head on the FPGA, a batched pass) x FIFO
 * depth sets (the design's, shallow, minimal, odd) x width sets (the
 * design's, odd, wide, narrow), on both engines, the platform rotating over
 * the presets.  Every configuration must be refused by llx_sim_check with a
 * reason, or time the same on both engines to the cycle (every category),
 * or deadlock on both with the same report; a deadlock must be the shallow
 * FIFOs' doing (with the design's depths the same configuration runs).  A
 * configuration that runs must also be monotone where the hardware is: more
 * HBM bandwidth, a shorter HBM latency (or ring hop latency, with the
 * design's FIFO depths), deeper FIFOs, a wider write-back, a shorter
 * context, or a pipelining switch turned on never costs cycles (fast
 * engine).  sim_sweep_sample runs a strided subset of the
 * lighter models in every test run; sim_sweep_full (manual:
 * `looplynx-tests sim_sweep_full`, env LLX_SWEEP_STRIDE / LLX_SWEEP_OFFSET;
 * raise LLX_TEST_TIMEOUT) runs the whole product. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llx/sim.h"
#include "test.h"

/* models; "heavy" ones (Llama-3.2-1B's 2048-wide layer, a million-cycle LM
 * head) run in the full sweep only */
static const struct {
    const char *dims;
    int heavy;
} models[] = {
    {"dims:hidden=768,layers=1,heads=12,ffn=3072,vocab=50257,ctx=1024", 0},  /* gpt2 */
    {"dims:hidden=1024,layers=1,heads=16,ffn=4096,vocab=50257,ctx=1024", 0}, /* gpt2-medium */
    {"dims:hidden=1280,layers=1,heads=20,ffn=5120,vocab=50257,ctx=1024", 1}, /* gpt2-large */
    /* SmolLM-135M's shape: GQA groups of 3, which 2 or 4 lanes do not divide */
    {"dims:arch=llama,hidden=576,layers=1,heads=9,kv_heads=3,head_dim=64,ffn=1536,vocab=49152,ctx=1024", 0},
    {"dims:arch=llama,hidden=2048,layers=1,heads=32,kv_heads=8,head_dim=64,ffn=8192,vocab=128256,ctx=1024", 1},
};
#define N_MODELS 5
#define N_HP 4 /* heads_parallel 1..4: one or several head groups per node */
#define N_SWITCHES 5 /* lnres_fusion, headwise_pipeline, transfer_hiding, lm_head_fpga, batched pass */

static const char *const plats[] = {"u50", "u280", "u55c", "v80"};

/* FIFO depth sets; the context is 41 keys (score_fifo 30 < 41 deadlocks the softmax) */
static const char *const fifo_sets[][14] = {
    {NULL},
    {"dma_fifo=3", "hbm_latency_ns=30", "disp_fifo=1", "out_fifo=1", "tx_fifo=1", "wb_fifo=1", "sc_fifo=1", "stat_fifo=1", "prob_fifo=1",
     "ctx_fifo=1", NULL},
    {"dma_fifo=1", "hbm_latency_ns=20", "disp_fifo=1", "out_fifo=1", "tx_fifo=1", "wb_fifo=1", "link_fifo=2", "sc_fifo=1",
     "score_fifo=30", "exp_fifo=30", "stat_fifo=1", "prob_fifo=1", "ctx_fifo=1", NULL},
    {"dma_fifo=7", "out_fifo=3", "tx_fifo=5", "wb_fifo=3", "link_fifo=9", "sc_fifo=3", "score_fifo=42",
     "exp_fifo=41", "prob_fifo=2", "ctx_fifo=2", "stat_fifo=2", NULL},
};
#define N_FIFO_SETS 4

static const char *const width_sets[][14] = {
    {NULL},
    {"word_bytes=24", "mp_in_elems=5", "mp_wb_elems=3", "mha_q_elems=7", "kv_in_elems=5", "ctx_q_elems=3",
     "mha_wb_elems=7", "ln_rd_elems=3", "ln_wb_elems=5", "act_elems=9", "ln_lanes=5", "flit_bytes=12",
     "block_rows=13", NULL},
    {"word_bytes=64", "channels=10", "ln_lanes=16", "mp_wb_elems=8", "mha_wb_elems=16",
     "flit_bytes=64", "block_rows=128", NULL},
    {"word_bytes=48", "channels=9", "ln_lanes=3", "mp_in_elems=3", "ln_rd_elems=1",
     "ln_wb_elems=1", "flit_bytes=20", "block_rows=7", "ctx_q_elems=2", NULL},
};
#define N_WIDTH_SETS 4

#define N_CONFIGS (8L * N_MODELS * N_HP * (1L << N_SWITCHES) * N_FIFO_SETS * N_WIDTH_SETS)

typedef struct sweep_stats {
    long run, refused, deadlocks, failed, variants;
} sweep_stats;

typedef struct sweep_case {
    int nodes, model, hp, sw, fifo, width;
    const char *plat;
    char what[200];
} sweep_case;

static void decode(long i, sweep_case *c)
{
    c->width = (int)(i % N_WIDTH_SETS), i /= N_WIDTH_SETS;
    c->fifo = (int)(i % N_FIFO_SETS), i /= N_FIFO_SETS;
    c->sw = (int)(i % (1L << N_SWITCHES)), i /= 1L << N_SWITCHES;
    c->hp = (int)(i % N_HP) + 1, i /= N_HP;
    c->model = (int)(i % N_MODELS), i /= N_MODELS;
    c->nodes = (int)(i % 8) + 1;
    c->plat = plats[(c->nodes + c->model + c->sw) % 4];
    snprintf(c->what, sizeof c->what,
             "%s, %d node(s), model %d, heads_parallel %d, switches %02x, FIFO set %d, width set %d", c->plat,
             c->nodes, c->model, c->hp, c->sw, c->fifo, c->width);
}

/* the configuration of case c (fifo set f instead of c's when f >= 0) */
static int configure(const sweep_case *c, int f, int head_dim, llx_sim_config *cfg)
{
    if (llx_sim_config_init(cfg, c->plat) != LLX_OK) return 0;
    cfg->arch.nodes = c->nodes;
    cfg->arch.heads_parallel = c->hp;
    cfg->arch.lnres_fusion = !(c->sw & 1);
    cfg->arch.headwise_pipeline = !(c->sw & 2);
    cfg->arch.transfer_hiding = !(c->sw & 4);
    cfg->arch.lm_head_fpga = (c->sw & 8) != 0;
    const char *const *fs = fifo_sets[f >= 0 ? f : c->fifo];
    for (int k = 0; fs[k]; k++)
        if (llx_sim_set(cfg, fs[k]) != LLX_OK) return 0;
    for (int k = 0; width_sets[c->width][k]; k++)
        if (llx_sim_set(cfg, width_sets[c->width][k]) != LLX_OK) return 0;
    /* enough channels for the lanes' K and V (else llx_sim_check refuses) */
    const int kw = (head_dim + cfg->arch.word_bytes - 1) / cfg->arch.word_bytes;
    if (cfg->arch.channels < 2 * c->hp * kw) cfg->arch.channels = 2 * c->hp * kw;
    return 1;
}

/* one pass on one engine at context position pos: 0 ok, -1 error (message in llx_errmsg) */
static int run_at(const llx_sim_config *cfg, const llx_config *m, const sweep_case *c, int cycle, int pos,
                  llx_sim_pass *p)
{
    const int batched = (c->sw & 16) != 0;
    llx_sched_opts o = {.nodes = c->nodes, .tokens = batched ? 3 : 1, .pos = batched ? 0 : pos,
                        .block_rows = cfg->block_rows, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    if (llx_schedule_build(&s, m, &o) != LLX_OK) return -1;
    llx_sim_config a = *cfg;
    a.arch.cycle_mode = cycle;
    llx_status st = llx_sim_time_schedule(&a, &s, p);
    llx_schedule_free(&s);
    return st == LLX_OK ? 0 : -1;
}

static int run(const llx_sim_config *cfg, const llx_config *m, const sweep_case *c, int cycle, llx_sim_pass *p)
{
    return run_at(cfg, m, c, cycle, 40, p);
}

/* multiply a parameter (by name) */
static void scale(llx_sim_config *c, const char *name, double f)
{
    int i = llx_sim_param_find(name);
    if (i >= 0) llx_sim_param_set(c, i, llx_sim_param_get(c, i) * f);
}

/* A change the hardware can only gain from must not cost cycles: variant k
 * of the configuration (fast engine); returns 0 when there is no variant k,
 * sets *what and the variant's config. */
static int variant(int k, const llx_sim_config *base, llx_sim_config *v, const char **what)
{
    static const char *const depths[] = {"dma_fifo", "disp_fifo", "out_fifo", "tx_fifo", "wb_fifo", "link_fifo",
                                         "sc_fifo", "score_fifo", "exp_fifo", "stat_fifo", "prob_fifo", "ctx_fifo"};
    *v = *base;
    switch (k) {
    case 0: *what = "twice the HBM peak"; scale(v, "hbm_total_gbps", 2); return 1;
    case 1: *what = "half the HBM latency"; scale(v, "hbm_latency_ns", 0.5); return 1;
    case 2: *what = "half the ring hop latencies"; scale(v, "hop_ns_intra", 0.5), scale(v, "hop_ns_inter", 0.5); return 1;
    case 3:
        *what = "every FIFO twice as deep";
        for (size_t d = 0; d < sizeof depths / sizeof *depths; d++) scale(v, depths[d], 2);
        return 1;
    case 4: *what = "twice the write-back widths"; scale(v, "mp_wb_elems", 2), scale(v, "mha_wb_elems", 2); return 1;
    case 5: *what = "the head-wise pipeline on"; v->arch.headwise_pipeline = 1; return !base->arch.headwise_pipeline;
    case 6: *what = "transfer hiding on"; v->arch.transfer_hiding = 1; return !base->arch.transfer_hiding;
    case 7: *what = "LN&Res fusion on"; v->arch.lnres_fusion = 1; return !base->arch.lnres_fusion;
    default: return -1;
    }
}

static int monotone(const llx_sim_config *cfg, const llx_config *m, const sweep_case *c, const llx_sim_pass *f,
                    sweep_stats *st)
{
    int bad = 0;
    const char *what;
    llx_sim_config v;
    for (int k = 0; variant(k, cfg, &v, &what) >= 0; k++) {
        if (!variant(k, cfg, &v, &what)) continue;
        /* a ring hop's stages hold flits too: a shorter hop is less link
         * buffering, which with a shallow link FIFO can leave a message no
         * room (a deadlock the hardware would have); compared with the
         * design's depths only */
        if (k == 2 && c->fifo != 0) continue;
        llx_sim_pass p;
        int ok = run(&v, m, c, 0, &p) == 0 && !p.deadlock.found && p.cycles <= f->cycles;
        CHECK_MSG(ok, "%s: %s: %.0f cycles, was %.0f (%s)", c->what, what, p.cycles, f->cycles,
                  p.deadlock.found ? p.deadlock.what : llx_errmsg());
        bad |= !ok, st->variants++;
    }
    if (!(c->sw & 16)) { /* a shorter context */
        llx_sim_pass p;
        int ok = run_at(cfg, m, c, 0, 20, &p) == 0 && !p.deadlock.found && p.cycles <= f->cycles;
        CHECK_MSG(ok, "%s: context 21 instead of 41: %.0f cycles, was %.0f", c->what, p.cycles, f->cycles);
        bad |= !ok, st->variants++;
    }
    return bad;
}

static void one(long i, sweep_stats *st)
{
    const char *tm = getenv("LLX_SWEEP_TIMES");
    sweep_case c;
    decode(i, &c);
    llx_config m;
    llx_sim_config cfg;
    if (llx_sim_parse_dims(models[c.model].dims, &m) != LLX_OK || !configure(&c, -1, llx_config_head_dim(&m), &cfg)) {
        CHECK_MSG(0, "%s: cannot configure: %s", c.what, llx_errmsg());
        st->failed++;
        return;
    }
    if (llx_sim_check(&cfg, &m) != LLX_OK) { /* refused with a reason, e.g. too few channels for the lanes */
        CHECK_MSG(strlen(llx_errmsg()) > 0, "%s: refused without a reason", c.what);
        if (getenv("LLX_SWEEP_TIMES")) fprintf(stderr, "refused: %s: %s\n", c.what, llx_errmsg());
        st->refused++;
        return;
    }
    llx_sim_pass f, y;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ef = run(&cfg, &m, &c, 0, &f);
    CHECK_MSG(ef == 0, "%s: fast engine: %s", c.what, llx_errmsg());
    int ey = ef ? -1 : run(&cfg, &m, &c, 1, &y);
    CHECK_MSG(ey == 0 || ef, "%s: cycle engine: %s", c.what, llx_errmsg());
    st->run++;
    if (ef || ey) {
        st->failed++;
        return;
    }
    int bad = 0;
    if (f.deadlock.found || y.deadlock.found) {
        st->deadlocks++;
        bad |= !f.deadlock.found || !y.deadlock.found || strcmp(f.deadlock.what, y.deadlock.what) ||
               f.deadlock.stage != y.deadlock.stage || f.deadlock.cycle != y.deadlock.cycle;
        CHECK_MSG(!bad, "%s: the engines disagree on a deadlock:\n  %s\n  %s", c.what, f.deadlock.what,
                  y.deadlock.what);
        llx_sim_config deep;
        llx_sim_pass d;
        int ok = configure(&c, 0, llx_config_head_dim(&m), &deep) && run(&deep, &m, &c, 0, &d) == 0 && !d.deadlock.found;
        CHECK_MSG(ok, "%s: deadlocks with the design's FIFO depths too: %s", c.what,
                  d.deadlock.found ? d.deadlock.what : llx_errmsg());
        bad |= !ok;
    } else {
        bad |= f.cycles != y.cycles || f.link_bytes != y.link_bytes;
        for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) bad |= f.cat[k] != y.cat[k];
        CHECK_MSG(!bad, "%s: fast %.0f vs cycle %.0f cycles", c.what, f.cycles, y.cycles);
        bad |= monotone(&cfg, &m, &c, &f, st);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (tm) fprintf(stderr, "%6.2f s  %s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), c.what);
    st->failed += bad;
}

static void sweep(long stride, long offset, int light)
{
    sweep_stats st = {0, 0, 0, 0, 0};
    long n = 0;
    for (long i = offset; i < N_CONFIGS; i += stride) {
        sweep_case c;
        decode(i, &c);
        if (light && models[c.model].heavy) continue;
        one(i, &st), n++;
    }
    llx_test_note("%ld of %ld configurations: %ld run on both engines (%ld deadlock on the shallow FIFOs; %ld "
                  "monotonicity variants), %ld refused by the checks, %ld failed",
                  n, N_CONFIGS, st.run, st.deadlocks, st.variants, st.refused, st.failed);
    CHECK(st.run > 0);
}

/* the case of the bug: one head group per node with the head-wise pipeline
 * off (the go FIFOs of a lane's first and only item had no producer) */
TEST(sim_single_head_group_headwise_off, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims("dims:hidden=512,layers=2,heads=8,ffn=2048,vocab=1000,ctx=256", &m) == LLX_OK);
    for (int nodes = 1; nodes <= 4; nodes *= 2) {
        sweep_case c = {.nodes = nodes, .model = 0, .hp = 8 / nodes, .sw = 2, .plat = "u50"};
        snprintf(c.what, sizeof c.what, "%d node(s), heads_parallel %d", nodes, c.hp);
        llx_sim_config cfg;
        CHECK(configure(&c, 0, llx_config_head_dim(&m), &cfg));
        llx_sim_pass f, y, on;
        CHECK_MSG(run(&cfg, &m, &c, 0, &f) == 0, "%s: %s", c.what, llx_errmsg());
        CHECK_MSG(run(&cfg, &m, &c, 1, &y) == 0, "%s: %s", c.what, llx_errmsg());
        CHECK(!f.deadlock.found && f.cycles > 0 && f.cycles == y.cycles);
        cfg.arch.headwise_pipeline = 1;
        CHECK(run(&cfg, &m, &c, 0, &on) == 0 && on.cycles <= f.cycles);
    }
}

TEST(sim_sweep_sample)
{
    sweep(797, 0, 1); /* prime: every dimension's values come round */
}

TEST(sim_sweep_full, LLX_T_MANUAL)
{
    const char *s = getenv("LLX_SWEEP_STRIDE"), *o = getenv("LLX_SWEEP_OFFSET");
    long stride = s ? atol(s) : 1, offset = o ? atol(o) : 0;
    sweep(stride > 0 ? stride : 1, offset >= 0 ? offset : 0, 0);
}
