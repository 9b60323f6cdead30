/* tests/test_sim.c - the simulator against the paper and physics: every
 * simulator number of docs/simulator.md section 7 (Table II, Table III,
 * Fig. 5, resources) is recomputed with the sourced parameters and must match
 * what the docs report; the resource errors stay within 10 % and the built
 * designs fit; sanity of the schedule contract; workloads; the command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/sim.h"
#include "test.h"

static llx_sim_config paper(int nodes)
{
    llx_sim_config c;
    llx_sim_config_init(&c, "u50");
    c.arch.nodes = nodes;
    return c;
}

static llx_config medium(void)
{
    llx_config m;
    llx_config_preset("gpt2-medium", &m);
    return m;
}

static double decode_ms(const llx_sim_config *c, const llx_config *m, int context)
{
    llx_sim_workload w = {0, 0, context};
    llx_sim_result r;
    if (llx_sim_run(c, m, &w, &r) != LLX_OK || r.deadlock.found) return -1;
    return r.decode_ms_per_token;
}

/* The "simulator" cell of the row of docs/simulator.md 7.1 whose first cell
 * is `what`; NAN when absent. */
static double documented(const char *what)
{
    FILE *f = fopen("docs/simulator.md", "r");
    if (!f) return NAN;
    char line[512];
    double v = NAN;
    size_t n = strlen(what);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "| ", 2) && !strncmp(line + 2, what, n) && line[2 + n] == ' ' && line[3 + n] == '|') {
            const char *p = strchr(line + 4 + n, '|'); /* end of the paper cell */
            if (p) v = strtod(p + 1, NULL);
            break;
        }
    fclose(f);
    return v;
}

static void as_documented(const char *what, double got, double paper_value)
{
    double doc = documented(what);
    llx_test_note("%s: %.4g (paper %.4g, %+.1f%%; docs %.4g)", what, got, paper_value,
                  100 * (got / paper_value - 1), doc);
    CHECK_MSG(!isnan(doc), "docs/simulator.md has no row '%s'", what);
    CHECK_MSG(fabs(got - doc) <= 0.005 * fabs(doc) + 0.051, "%s: simulator %.4g, docs say %.4g", what, got, doc);
}

TEST(sim_table2_as_documented, LLX_T_ASAN)
{
    llx_config m = medium();
    static const int nodes[3] = {1, 2, 4};
    static const double lat[3] = {6.59, 3.85, 2.55}, tps[3] = {151.7, 259.7, 392.2};
    static const char *names[3] = {"1 node", "2 nodes", "4 nodes"};
    double t[3];
    char what[64];
    for (int k = 0; k < 3; k++) {
        llx_sim_config c = paper(nodes[k]);
        t[k] = decode_ms(&c, &m, 640); /* the artifacts time the token at position 639 */
        CHECK(t[k] > 0);
        snprintf(what, sizeof what, "Table II latency, %s", names[k]);
        as_documented(what, t[k], lat[k]);
        snprintf(what, sizeof what, "Table III tokens/s, %s", names[k]);
        as_documented(what, 1e3 / t[k], tps[k]);
    }
    as_documented("Table III speed-up 1 to 2 nodes", t[0] / t[1], 1.71);
    as_documented("Table III speed-up 2 to 4 nodes", t[1] / t[2], 1.51);
    CHECK(t[0] > t[1] && t[1] > t[2]); /* nodes help */
}

TEST(sim_fig5_as_documented, LLX_T_ASAN)
{
    llx_config m = medium();
    llx_sim_config on = paper(1), no_ln = paper(1), no_hw = paper(1), off = paper(1);
    no_ln.arch.lnres_fusion = 0;
    no_hw.arch.headwise_pipeline = 0;
    off.arch.lnres_fusion = off.arch.headwise_pipeline = 0;
    double t = decode_ms(&on, &m, 640), tl = decode_ms(&no_ln, &m, 640), th = decode_ms(&no_hw, &m, 640);
    as_documented("Fig. 5 fused LN&Res reduction (%)", 100 * (tl - t) / tl, 11);
    as_documented("Fig. 5 head-wise pipeline reduction (%)", 100 * (th - t) / th, 15);
    CHECK(tl > t && th > t); /* each optimisation helps */
    llx_sim_workload w = {0, 0, 640};
    llx_sim_result r;
    CHECK(llx_sim_run(&off, &m, &w, &r) == LLX_OK);
    double crit = r.breakdown_ms[LLX_SIM_CAT_LNRES] + r.breakdown_ms[LLX_SIM_CAT_STAGE_IN] +
                  r.breakdown_ms[LLX_SIM_CAT_WRITEBACK] + r.breakdown_ms[LLX_SIM_CAT_RING] +
                  r.breakdown_ms[LLX_SIM_CAT_SCHED];
    as_documented("Fig. 5(a) critical-path share, both off (%)", 100 * crit / r.decode_ms_per_token, 18.5);
}

TEST(sim_resources_as_documented, LLX_T_ASAN)
{
    llx_config m = medium();
    static const int nodes[3] = {1, 2, 4};
    static const double dsp[3] = {568, 1132, 2264}, bram[3] = {641, 924.5, 1609};
    static const char *names[3] = {"1 node", "2 nodes", "4 nodes"};
    char what[64];
    for (int k = 0; k < 3; k++) {
        llx_sim_config c = paper(nodes[k]);
        llx_sim_resources r;
        CHECK(llx_sim_resources_estimate(&c, &m, &r) == LLX_OK);
        snprintf(what, sizeof what, "Table II DSP, %s", names[k]);
        as_documented(what, r.all_total.dsp, dsp[k]);
        snprintf(what, sizeof what, "Table II BRAM, %s", names[k]);
        as_documented(what, r.all_total.bram, bram[k]);
        CHECK_CLOSE(r.all_total.dsp, dsp[k], 0, 0.10);
        CHECK_CLOSE(r.all_total.bram, bram[k], 0, 0.10);
        CHECK_EQ_INT(r.devices, nodes[k] > 2 ? 2 : 1);
        CHECK(r.fits); /* LoopLynx was built and run with 1 and 2 nodes on a U50 */
        double sum = 0;
        for (int j = 0; j < r.n_comp; j++) sum += r.node[j].bram;
        CHECK_CLOSE(sum, r.node_total.bram, 1e-9, 0);
    }
    /* the weights-side stores move to URAM when the design puts them there */
    llx_sim_config u = paper(2);
    u.arch.params_uram = 1;
    llx_sim_resources a, b;
    llx_sim_config c2 = paper(2);
    CHECK(llx_sim_resources_estimate(&c2, &m, &a) == LLX_OK);
    CHECK(llx_sim_resources_estimate(&u, &m, &b) == LLX_OK);
    CHECK(b.all_total.uram > 0 && b.all_total.bram < a.all_total.bram);
    /* a design far too big for the board is reported as not fitting */
    llx_sim_config big = paper(1);
    big.arch.channels = 32, big.arch.word_bytes = 256;
    CHECK(llx_sim_resources_estimate(&big, &m, &a) == LLX_OK);
    CHECK(!a.fits);
}

/* Only the MHA stages depend on the context; every other stage is identical. */
TEST(sim_context_grows_only_mha, LLX_T_ASAN)
{
    llx_config m = medium();
    for (int nodes = 1; nodes <= 4; nodes *= 2) {
        llx_sim_config c = paper(nodes);
        llx_sched_opts a = {.nodes = nodes, .tokens = 1, .pos = 99, .precision = LLX_PREC_W8A8_STATIC};
        llx_sched_opts b = a;
        b.pos = 899;
        llx_schedule sa, sb;
        CHECK(llx_schedule_build(&sa, &m, &a) == LLX_OK);
        CHECK(llx_schedule_build(&sb, &m, &b) == LLX_OK);
        int mha = 0;
        for (int i = 0; i < sa.n_stages; i++) {
            if (sa.stages[i].layer != 0 && sa.stages[i].layer != 23) continue;
            llx_sim_pass pa, pb;
            CHECK(llx_sim_time_stage(&c, &sa, i, &pa) == LLX_OK);
            CHECK(llx_sim_time_stage(&c, &sb, i, &pb) == LLX_OK);
            if (sa.stages[i].kernel == LLX_KERNEL_MHA) {
                CHECK(pb.cycles > pa.cycles + 700);
                mha++;
            } else {
                CHECK(pb.cycles == pa.cycles);
            }
        }
        CHECK_EQ_INT(mha, 2);
        llx_schedule_free(&sa);
        llx_schedule_free(&sb);
    }
    llx_sim_config c = paper(1);
    CHECK(decode_ms(&c, &m, 1000) > decode_ms(&c, &m, 200));
}

TEST(sim_deterministic, LLX_T_ASAN)
{
    llx_config m = medium();
    llx_sim_config c = paper(4);
    llx_sim_workload w = {16, 8, 0};
    llx_sim_result a, b;
    CHECK(llx_sim_run(&c, &m, &w, &a) == LLX_OK);
    CHECK(llx_sim_run(&c, &m, &w, &b) == LLX_OK);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(a.prefill_ms > 0 && a.decode_ms_per_token > 0 && a.tokens_per_joule > 0);
}

/* The simulator has no model of its own: it times the schedule's stages, so
 * the pass is the sum of its stages and scales with the layer count. */
TEST(sim_times_the_schedule, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims("dims:hidden=512,layers=3,heads=8,ffn=2048,vocab=5000,ctx=256", &m) == LLX_OK);
    llx_sim_config c = paper(2);
    llx_sched_opts o = {.nodes = 2, .tokens = 1, .pos = 40, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    CHECK(llx_schedule_build(&s, &m, &o) == LLX_OK);
    llx_sim_pass all, one;
    CHECK(llx_sim_time_schedule(&c, &s, &all) == LLX_OK);
    double sum = 0, cat = 0;
    for (int i = 0; i < s.n_stages; i++) {
        CHECK(llx_sim_time_stage(&c, &s, i, &one) == LLX_OK);
        sum += one.cycles;
    }
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) cat += all.cat[k];
    CHECK(sum == all.cycles);
    CHECK(cat == all.cycles);
    llx_schedule_free(&s);
    m.n_layer = 6;
    CHECK(llx_schedule_build(&s, &m, &o) == LLX_OK);
    llx_sim_pass twice;
    CHECK(llx_sim_time_schedule(&c, &s, &twice) == LLX_OK);
    CHECK(twice.cycles == 2 * all.cycles);
    llx_sim_config c3 = paper(3); /* a schedule for another ring size is refused */
    CHECK(llx_sim_time_schedule(&c3, &s, &one) == LLX_ERR_ARG);
    llx_schedule_free(&s);
}

TEST(sim_workloads, LLX_T_ASAN)
{
    llx_config m = medium();
    llx_sim_config c = paper(2);
    llx_sim_workload w = {32, 4, 0};
    llx_sim_result tok, bat, fpga;
    CHECK(llx_sim_run(&c, &m, &w, &tok) == LLX_OK);
    CHECK_EQ_INT(tok.prefill_passes, 32);
    CHECK_EQ_INT(tok.decode_passes, 4);
    c.arch.prefill_batched = 1;
    CHECK(llx_sim_run(&c, &m, &w, &bat) == LLX_OK);
    CHECK_EQ_INT(bat.prefill_passes, 1);
    CHECK(bat.prefill_ms < tok.prefill_ms); /* weights stream once, not 32 times */
    CHECK(bat.decode_ms_per_token == tok.decode_ms_per_token);
    c.arch.prefill_batched = 0;
    c.arch.lm_head_fpga = 1;
    CHECK(llx_sim_run(&c, &m, &w, &fpga) == LLX_OK);
    CHECK(fpga.decode_ms_per_token > tok.decode_ms_per_token + 0.3); /* 51 MB of LM head over 2 nodes */
    CHECK(fpga.host_ms_per_token < tok.host_ms_per_token);
    CHECK_CLOSE(tok.tokens_per_s, 1e3 / tok.decode_ms_per_token, 1e-9, 0);
    CHECK(tok.hbm_util[0] > tok.hbm_util[7]); /* K/V only on the first channels */
    CHECK(tok.hbm_util[7] > 0.5 && tok.hbm_util[0] <= 1.0);
    llx_sim_workload too_long = {1000, 100, 0};
    CHECK(llx_sim_run(&c, &m, &too_long, &tok) == LLX_ERR_ARG);
    double ms = 0;
    c.arch.lm_head_fpga = 0;
    CHECK(llx_sim_eval_decode(&c, &m, 640, &ms) == LLX_OK);
    CHECK_CLOSE(ms, decode_ms(&c, &m, 640), 1e-9, 0);
}

/* ---- the command ---- */

TEST(sim_cli_json, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--nodes", "2", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    static const char *keys[] = {"\"decode_ms_per_token\":", "\"prefill_ms_per_token\":", "\"tokens_per_s\":",
                                 "\"breakdown\":{", "\"resources\":{", "\"tokens_per_joule\":", "\"hbm_util\":[",
                                 "\"writeback\":", "\"device_budget\":", "\"hbm_gbps_per_channel\":"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK_MSG(strstr(r.out, keys[i]) != NULL, "%s", keys[i]);
    const char *p = strstr(r.out, "\"decode_ms_per_token\":");
    llx_config m = medium();
    llx_sim_config c = paper(2);
    CHECK(p && fabs(strtod(p + 22, NULL) - decode_ms(&c, &m, 640)) < 1e-5);
    CHECK_EQ_INT(r.err_len, 0);
    llx_proc_free(&r);
}

TEST(sim_cli_text_and_options, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--platform", "u280", "--nodes", "3", "--model", "gpt2", "--prompt", "8", "--gen", "4",
            "--no-headwise-pipeline", "--no-transfer-hiding", "--no-lnres-fusion", "--prefill", "batch", "--lm-head",
            "fpga", "--set", "clock_mhz=300", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "decode latency") != NULL);
    CHECK(strstr(r.out, "GB/s sustained per channel") != NULL);
    CHECK(strstr(r.out, "tokens/J") != NULL);
    CHECK(strstr(r.out, "headwise-pipeline off") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--help", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "score_fifo") != NULL && strstr(r.out, "Shuhai") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--model", "dims:hidden=128,layers=1,heads=2,vocab=300,ctx=64", "--context", "64", "--mode",
            "cycle", "--progress", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"mode\":\"cycle\"") != NULL);
    CHECK(strstr(r.err, "sim") != NULL && strstr(r.err, "100%") != NULL); /* progress on stderr */
    llx_proc_free(&r);
    for (int k = 0; k < 2; k++) {
        llx_cli(&r, "sim", "--platform", k ? "v80" : "u55c", "--nodes", "4", "--model", "gpt2", NULL);
        CHECK_EQ_INT(r.status, 0);
        CHECK(strstr(r.out, k ? "v80" : "u55c") != NULL);
        llx_proc_free(&r);
    }
}

TEST(sim_cli_platform_file_and_deadlock, LLX_T_ASAN)
{
    const char *path = llx_test_tmpfile("board.json");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"name\":\"slow-u280\",\"base\":\"u280\",\"hbm_total_gbps\":230}", f);
    fclose(f);
    llx_proc_result r;
    llx_cli(&r, "sim", "--platform", path, "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"platform\":\"slow-u280\"") != NULL);
    llx_proc_free(&r);
    /* a softmax bypass shorter than the context deadlocks: one error line naming the FIFO */
    llx_cli(&r, "sim", "--set", "score_fifo=100", NULL);
    CHECK_EQ_INT(r.status, 1);
    CHECK(strncmp(r.err, "looplynx: error: the simulated design deadlocks in stage ", 57) == 0);
    CHECK(strstr(r.err, "score_bypass") != NULL && strstr(r.err, "deadlock at cycle") != NULL);
    CHECK(strchr(r.err, '\n') == r.err + r.err_len - 1);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--set", "score_fifo=100", "--json", NULL);
    CHECK_EQ_INT(r.status, 1);
    CHECK(strstr(r.out, "{\"deadlock\":{\"stage\":") != NULL);
    llx_proc_free(&r);
}

TEST(sim_cli_hf_folder, LLX_T_ASAN)
{
    const char *dir = llx_test_tmpfile("simcfg");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"model_type\":\"gpt2\",\"vocab_size\":1000,\"n_positions\":128,\"n_embd\":256,\"n_layer\":2,"
          "\"n_head\":4,\"activation_function\":\"gelu_new\",\"layer_norm_epsilon\":1e-5}",
          f);
    fclose(f);
    llx_proc_result r;
    llx_cli(&r, "sim", "--model", dir, "--context", "100", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"layers\":2") != NULL);
    llx_proc_free(&r);
    const char *md = llx_test_model_dir();
    if (!md) SKIP("shared model folder absent");
    llx_cli(&r, "sim", "--model", md, "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    llx_proc_free(&r);
}

static void expect_usage_error(const char *what, llx_proc_result *r)
{
    CHECK_MSG(r->status == 2, "%s: status %d", what, r->status);
    CHECK_MSG(strncmp(r->err, "looplynx: error: ", 17) == 0, "%s: %s", what, r->err);
    const char *nl = strchr(r->err, '\n');
    CHECK_MSG(nl && nl[1] == 0, "%s: one line expected: %s", what, r->err);
    llx_proc_free(r);
}

TEST(sim_bad_cli_input, LLX_T_ASAN)
{
    llx_proc_result r;
    static const char *const cases[][6] = {
        {"unknown flag", "--bogus"},
        {"nodes 0", "--nodes", "0"},
        {"nodes abc", "--nodes", "abc"},
        {"missing value", "--nodes"},
        {"unknown key", "--set", "warp=9"},
        {"out of range", "--set", "channels=1e9"},
        {"platform", "--platform", "u51"},
        {"model", "--model", "gpt5"},
        {"dims", "--model", "dims:hidden=10,layers=1,heads=3,vocab=5"},
        {"mode", "--mode", "slow"},
        {"context", "--context", "5000"},
        {"prompt without gen", "--prompt", "10"},
        {"context with prompt", "--prompt", "10", "--gen", "2", "--context"},
        {"too many channels", "--nodes", "2", "--set", "channels=32"},
        {"prefill", "--prefill", "both"},
        {"lm-head", "--lm-head", "gpu"},
        {"clock outside the platform", "--set", "clock_mhz=400"},
        {"bad platform file", "--platform", "Makefile"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *c = cases[i];
        if (!strcmp(c[0], "context with prompt")) llx_cli(&r, "sim", c[1], c[2], c[3], c[4], c[5], "4", NULL);
        else llx_cli(&r, "sim", c[1], c[2], c[3], c[4], c[5], NULL);
        expect_usage_error(c[0], &r);
    }
}
