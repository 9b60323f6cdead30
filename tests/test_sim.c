/* tests/test_sim.c - the cycle-level simulator: fidelity to the paper
 * (Table II latency and resources, Table III scaling, Fig. 5 ablation) from
 * one parameter set, physical sanity, fast vs cycle-stepped agreement, the
 * schedule contract, parameter handling and the `looplynx sim` command. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/sim.h"
#include "test.h"

/* The paper's setting: U50, 285 MHz, 8 channels x 32 B at 8.49 GB/s, ring
 * 8.49 GB/s, two nodes per device; Table II timed at context 640. */
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
    if (llx_sim_run(c, m, &w, &r) != LLX_OK) return -1;
    return r.decode_ms_per_token;
}

TEST(sim_table2_latency)
{
    llx_config m = medium();
    static const int nodes[3] = {1, 2, 4};
    static const double want[3] = {6.59, 3.85, 2.55};
    for (int k = 0; k < 3; k++) {
        llx_sim_config c = paper(nodes[k]);
        double got = decode_ms(&c, &m, 640);
        llx_test_note("%d node(s): %.3f ms (paper %.2f, %+.1f%%)", nodes[k], got, want[k], 100 * (got / want[k] - 1));
        CHECK_CLOSE(got, want[k], 0, 0.05);
    }
}

TEST(sim_table3_scaling)
{
    llx_config m = medium();
    llx_sim_config c1 = paper(1), c2 = paper(2), c4 = paper(4);
    double t1 = decode_ms(&c1, &m, 640), t2 = decode_ms(&c2, &m, 640), t4 = decode_ms(&c4, &m, 640);
    llx_test_note("speed-up 1->2 %.3fx (paper 1.71), 2->4 %.3fx (paper 1.51); %.1f / %.1f / %.1f tokens/s",
                  t1 / t2, t2 / t4, 1e3 / t1, 1e3 / t2, 1e3 / t4);
    CHECK_CLOSE(t1 / t2, 1.71, 0, 0.05);
    CHECK_CLOSE(t2 / t4, 1.51, 0, 0.05);
    CHECK_CLOSE(1e3 / t1, 151.7, 0, 0.05);
}

/* Fig. 5: reduction = (T_off - T_on) / T_off, the paper's "reduction in latency" */
TEST(sim_fig5_ablation)
{
    llx_config m = medium();
    llx_sim_config on = paper(1), no_ln = paper(1), no_hw = paper(1);
    no_ln.arch.lnres_fusion = 0;
    no_hw.arch.headwise_pipeline = 0;
    double t = decode_ms(&on, &m, 640), tl = decode_ms(&no_ln, &m, 640), th = decode_ms(&no_hw, &m, 640);
    double rl = 100 * (tl - t) / tl, rh = 100 * (th - t) / th;
    llx_test_note("fused LN&Res saves %.1f%% (paper 11%%), head-wise pipeline %.1f%% (paper 15%%)", rl, rh);
    CHECK_CLOSE(rl, 11.0, 3.0, 0);
    CHECK_CLOSE(rh, 15.0, 3.0, 0);
    /* the same runs measured as the cost of switching each one off */
    CHECK_CLOSE(100 * (tl / t - 1), 11.0, 3.0, 0);
    CHECK_CLOSE(100 * (th / t - 1), 15.0, 3.0, 0);
}

TEST(sim_table2_resources)
{
    llx_config m = medium();
    static const int nodes[3] = {1, 2, 4};
    static const double dsp[3] = {568, 1132, 2264}, bram[3] = {641, 924.5, 1609};
    for (int k = 0; k < 3; k++) {
        llx_sim_config c = paper(nodes[k]);
        llx_sim_resources r;
        CHECK(llx_sim_resources_estimate(&c, &m, &r) == LLX_OK);
        llx_test_note("%d node(s): DSP %.0f (paper %.0f), BRAM %.1f (paper %.1f)", nodes[k], r.all_total.dsp, dsp[k],
                      r.all_total.bram, bram[k]);
        CHECK_CLOSE(r.all_total.dsp, dsp[k], 0, 0.10);
        CHECK_CLOSE(r.all_total.bram, bram[k], 0, 0.10);
        CHECK(r.fits);
        CHECK_EQ_INT(r.devices, nodes[k] > 2 ? 2 : 1);
    }
    /* Fig. 7: the dual-node device, per component (both nodes) */
    llx_sim_config c = paper(2);
    llx_sim_resources r;
    CHECK(llx_sim_resources_estimate(&c, &m, &r) == LLX_OK);
    CHECK_EQ_INT(r.n_comp, 6); /* the second node also has the SLR-crossing FIFOs */
    CHECK_CLOSE(2 * r.node[0].dsp, 522, 0, 0.05); /* Fused MP */
    CHECK_CLOSE(2 * r.node[0].bram, 241, 0, 0.10);
    CHECK_CLOSE(2 * r.node[3].bram, 97, 0, 0.10); /* DMA */
    double sum = 0;
    for (int k = 0; k < r.n_comp; k++) sum += r.node[k].bram;
    CHECK_CLOSE(sum, r.node_total.bram, 1e-9, 0);
}

/* cycles the MP kernel itself spends on stage `op` of layer 0 */
static double mp_cycles(const llx_sim_config *c, const llx_config *m, llx_op op)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = 1, .pos = 0, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    if (llx_schedule_build(&s, m, &o) != LLX_OK) return -1;
    double v = -1;
    for (int i = 0; i < s.n_stages; i++)
        if (s.stages[i].op == op && s.stages[i].layer == 0) {
            llx_sim_pass p;
            if (llx_sim_time_stage(c, &s, i, &p) == LLX_OK) v = p.cat[LLX_SIM_CAT_MP];
        }
    llx_schedule_free(&s);
    return v;
}

TEST(sim_bandwidth_halving_slows_weight_bound_stages)
{
    llx_config m = medium();
    llx_sim_config c = paper(1), h = paper(1);
    h.plat.hbm_pc_gbps /= 2;
    static const llx_op ops[4] = {LLX_OP_QKV, LLX_OP_PROJ, LLX_OP_FC1, LLX_OP_FC2};
    for (int k = 0; k < 4; k++) {
        double a = mp_cycles(&c, &m, ops[k]), b = mp_cycles(&h, &m, ops[k]);
        CHECK(a > 0);
        CHECK_CLOSE(b / a, 2.0, 0, 0.05);
    }
}

TEST(sim_channel_doubling_until_another_limit)
{
    llx_config m = medium();
    llx_sim_config c8 = paper(1), c16 = paper(1), c32 = paper(1);
    c16.arch.channels = 16;
    c32.arch.channels = 32;
    double t8 = mp_cycles(&c8, &m, LLX_OP_FC1), t16 = mp_cycles(&c16, &m, LLX_OP_FC1);
    double t32 = mp_cycles(&c32, &m, LLX_OP_FC1);
    llx_test_note("FC1 MP cycles: 8 ch %.0f, 16 ch %.0f, 32 ch %.0f", t8, t16, t32);
    CHECK_CLOSE(t8 / t16, 2.0, 0, 0.05);
    /* 32 x 8.49 GB/s exceeds the U50's 201 GB/s: the device total binds */
    CHECK(t16 / t32 < 1.6);
    CHECK(t16 / t32 > 1.1);
    /* two nodes per device cannot have 32 channels each on 32 pseudo-channels */
    llx_sim_config bad = paper(2);
    bad.arch.channels = 32;
    CHECK(llx_sim_check(&bad, &m) == LLX_ERR_ARG);
}

/* Only the MHA stages depend on the context; every other stage is identical. */
TEST(sim_context_grows_only_mha)
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
        CHECK_EQ_INT(mha, 24);
        llx_schedule_free(&sa);
        llx_schedule_free(&sb);
    }
    llx_sim_config c = paper(1);
    CHECK(decode_ms(&c, &m, 1000) > decode_ms(&c, &m, 200));
}

TEST(sim_deterministic)
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
TEST(sim_times_the_schedule)
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
    /* a schedule for another ring size is refused */
    llx_sim_config c3 = paper(3);
    CHECK(llx_sim_time_schedule(&c3, &s, &one) == LLX_ERR_ARG);
    llx_schedule_free(&s);
}

/* Fast (event-level) and cycle-stepped modes agree exactly, stage by stage. */
TEST(sim_fast_matches_cycle_stepped)
{
    llx_config m;
    CHECK(llx_sim_parse_dims("dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=2000,ctx=128", &m) == LLX_OK);
    static const char *const variants[][3] = {
        {NULL, NULL, NULL},
        {"headwise_pipeline=0", NULL, NULL},
        {"transfer_hiding=0", "block_rows=16", NULL},
        {"lnres_fusion=0", "lm_head_fpga=1", NULL},
        {"heads_parallel=2", "nodes_per_fpga=1", "xfer_elems=4"},
        {"hbm_pc_gbps=3", "link_gbps_inter=1.5", "score_fifo=128"},
    };
    int compared = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        for (int nodes = 1; nodes <= 4; nodes++)
            for (int tokens = 1; tokens <= 5; tokens += 4) {
                llx_sim_config fast = paper(nodes);
                for (int k = 0; k < 3 && variants[v][k]; k++) CHECK(llx_sim_set(&fast, variants[v][k]) == LLX_OK);
                llx_sim_config cyc = fast;
                cyc.arch.cycle_mode = 1;
                llx_sched_opts o = {.nodes = nodes, .tokens = tokens, .pos = 37, .block_rows = fast.block_rows,
                                    .precision = LLX_PREC_W8A8_STATIC};
                llx_schedule s;
                CHECK(llx_schedule_build(&s, &m, &o) == LLX_OK);
                for (int i = 0; i < s.n_stages; i++) {
                    llx_sim_pass a, b;
                    CHECK(llx_sim_time_stage(&fast, &s, i, &a) == LLX_OK);
                    CHECK(llx_sim_time_stage(&cyc, &s, i, &b) == LLX_OK);
                    CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "variant %zu, %d nodes, %d tokens, stage %d (%s): %.0f vs %.0f",
                              v, nodes, tokens, i, llx_op_name(s.stages[i].op), a.cycles, b.cycles);
                    compared++;
                }
                llx_schedule_free(&s);
            }
    CHECK(compared > 100);
}

TEST(sim_workloads)
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
    /* HBM: weights spread over all channels, K/V only on the first four */
    CHECK(tok.hbm_util[0] > tok.hbm_util[7]);
    CHECK(tok.hbm_util[7] > 0.5 && tok.hbm_util[0] <= 1.0);
    llx_sim_workload too_long = {1000, 100, 0};
    CHECK(llx_sim_run(&c, &m, &too_long, &tok) == LLX_ERR_ARG);
}

TEST(sim_params_and_presets)
{
    llx_sim_config c;
    CHECK(llx_sim_config_init(&c, "u280") == LLX_OK);
    CHECK_EQ_INT(c.plat.slrs, 3);
    CHECK_EQ_INT(c.arch.nodes_per_fpga, 3);
    CHECK_CLOSE(c.plat.hbm_total_gbps, 460, 0, 0);
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    CHECK_CLOSE(c.plat.dsp, 5952, 0, 0);
    CHECK(llx_sim_config_init(&c, "vu9p") == LLX_ERR_ARG);
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    CHECK(llx_sim_set(&c, "channels=4") == LLX_OK);
    CHECK_EQ_INT(c.arch.channels, 4);
    CHECK(llx_sim_set(&c, "clock_mhz=250.5") == LLX_OK);
    CHECK_CLOSE(c.arch.clock_mhz, 250.5, 0, 0);
    CHECK(llx_sim_set(&c, "hbm_pcs=16") == LLX_OK);
    CHECK_EQ_INT(c.plat.hbm_pcs, 16);
    CHECK(llx_sim_set(&c, "bram=2000") == LLX_OK);
    CHECK_CLOSE(c.plat.bram, 2000, 0, 0);
    CHECK(llx_sim_set(&c, "channels=4.5") == LLX_ERR_ARG);
    CHECK(llx_sim_set(&c, "channels=0") == LLX_ERR_ARG);
    CHECK(llx_sim_set(&c, "channels=") == LLX_ERR_ARG);
    CHECK(llx_sim_set(&c, "nosuch=1") == LLX_ERR_ARG);
    CHECK(llx_sim_set(&c, "=1") == LLX_ERR_ARG);
    CHECK(llx_sim_set(&c, "clock_mhz=nan") == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "clock_mhz") != NULL);
    for (int i = 0; i < llx_sim_param_count(); i++) {
        char buf[64], kv[128];
        llx_sim_param_value(&c, i, buf, sizeof buf);
        snprintf(kv, sizeof kv, "%s=%s", llx_sim_param_name(i), buf);
        CHECK_MSG(llx_sim_set(&c, kv) == LLX_OK, "round trip of %s", kv);
    }
}

TEST(sim_bad_configs_rejected)
{
    llx_config m = medium();
    llx_sim_config c = paper(1);
    c.arch.heads_parallel = 3; /* 2 x 3 x 2 channels > 8 */
    CHECK(llx_sim_check(&c, &m) == LLX_ERR_ARG);
    c = paper(1);
    c.arch.score_fifo = 512; /* shorter than the 1024-token context */
    CHECK(llx_sim_check(&c, &m) == LLX_ERR_ARG);
    c = paper(1);
    c.arch.clock_mhz = -1;
    CHECK(llx_sim_check(&c, NULL) == LLX_ERR_ARG);
    llx_sim_workload w = {0, 0, 2000};
    llx_sim_result r;
    c = paper(1);
    CHECK(llx_sim_run(&c, &m, &w, &r) == LLX_ERR_ARG);
}

TEST(sim_bad_dims)
{
    llx_config m;
    CHECK(llx_sim_parse_dims("dims:hidden=2048,layers=24,heads=32,ffn=8192,vocab=50272", &m) == LLX_OK);
    CHECK_EQ_INT(m.n_embd, 2048);
    CHECK_EQ_INT(m.n_inner, 8192);
    CHECK_EQ_INT(m.n_ctx, 1024);
    CHECK(llx_sim_parse_dims("dims:hidden=64,layers=2,heads=4,vocab=10", &m) == LLX_OK);
    CHECK_EQ_INT(m.n_inner, 256);
    static const char *bad[] = {"hidden=64", "dims:", "dims:hidden=64,layers=2,heads=5,vocab=10",
                                "dims:hidden=64,layers=2,heads=4", "dims:hidden=64,layers=x,heads=4,vocab=1",
                                "dims:hidden=64,layers=2,heads=4,vocab=10,", "dims:hidden=64,bogus=2",
                                "dims:hidden=-4,layers=2,heads=4,vocab=10", "dims:hidden",
                                "dims:hidden=99999999999999999999,layers=1,heads=1,vocab=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(llx_sim_parse_dims(bad[i], &m) != LLX_OK, "%s", bad[i]);
}

/* ---- the command ---- */

TEST(sim_cli_json)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--nodes", "2", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    static const char *keys[] = {"\"decode_ms_per_token\":", "\"prefill_ms_per_token\":", "\"tokens_per_s\":",
                                 "\"breakdown\":{", "\"resources\":{", "\"tokens_per_joule\":", "\"hbm_util\":[",
                                 "\"ring\":", "\"device_budget\":"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CHECK_MSG(strstr(r.out, keys[i]) != NULL, "%s", keys[i]);
    const char *p = strstr(r.out, "\"decode_ms_per_token\":");
    CHECK(p && fabs(strtod(p + 22, NULL) - 3.85) < 0.2);
    CHECK_EQ_INT(r.err_len, 0);
    llx_proc_free(&r);
}

TEST(sim_cli_text_and_options)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--platform", "u280", "--nodes", "3", "--model", "gpt2", "--prompt", "8", "--gen", "4",
            "--no-headwise-pipeline", "--no-transfer-hiding", "--no-lnres-fusion", "--prefill", "batch", "--lm-head",
            "fpga", "--set", "clock_mhz=300", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "decode latency") != NULL);
    CHECK(strstr(r.out, "prefill") != NULL);
    CHECK(strstr(r.out, "tokens/J") != NULL);
    CHECK(strstr(r.out, "per device") != NULL);
    CHECK(strstr(r.out, "headwise-pipeline off") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--help", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "hbm_pc_gbps") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--model", "dims:hidden=128,layers=1,heads=2,vocab=300,ctx=64", "--context", "64", "--mode",
            "cycle", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "\"mode\":\"cycle\"") != NULL);
    llx_proc_free(&r);
}

TEST(sim_cli_hf_folder)
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

TEST(sim_bad_cli_input)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--bogus", NULL);
    expect_usage_error("unknown flag", &r);
    llx_cli(&r, "sim", "--nodes", "0", NULL);
    expect_usage_error("nodes 0", &r);
    llx_cli(&r, "sim", "--nodes", "abc", NULL);
    expect_usage_error("nodes abc", &r);
    llx_cli(&r, "sim", "--nodes", NULL);
    expect_usage_error("missing value", &r);
    llx_cli(&r, "sim", "--set", "warp=9", NULL);
    expect_usage_error("unknown key", &r);
    llx_cli(&r, "sim", "--set", "channels=1e9", NULL);
    expect_usage_error("out of range", &r);
    llx_cli(&r, "sim", "--platform", "u55c", NULL);
    expect_usage_error("platform", &r);
    llx_cli(&r, "sim", "--model", "gpt5", NULL);
    expect_usage_error("model", &r);
    llx_cli(&r, "sim", "--model", "dims:hidden=10,layers=1,heads=3,vocab=5", NULL);
    expect_usage_error("dims", &r);
    llx_cli(&r, "sim", "--mode", "slow", NULL);
    expect_usage_error("mode", &r);
    llx_cli(&r, "sim", "--context", "5000", NULL);
    expect_usage_error("context", &r);
    llx_cli(&r, "sim", "--prompt", "10", NULL);
    expect_usage_error("prompt without gen", &r);
    llx_cli(&r, "sim", "--prompt", "10", "--gen", "2", "--context", "4", NULL);
    expect_usage_error("context with prompt", &r);
    llx_cli(&r, "sim", "--nodes", "2", "--set", "channels=32", NULL);
    expect_usage_error("too many channels", &r);
    llx_cli(&r, "sim", "--prefill", "both", NULL);
    expect_usage_error("prefill", &r);
    llx_cli(&r, "sim", "--lm-head", "gpu", NULL);
    expect_usage_error("lm-head", &r);
}

/* The cycle-stepped reference also reproduces the Table II runs exactly. */
TEST(sim_cycle_stepped_table2)
{
    llx_config m = medium();
    for (int nodes = 1; nodes <= 4; nodes *= 2)
        for (int v = 0; v < 3; v++) {
            llx_sim_config f = paper(nodes);
            f.arch.lnres_fusion = v != 1;
            f.arch.headwise_pipeline = v != 2;
            llx_sim_config c = f;
            c.arch.cycle_mode = 1;
            double a = decode_ms(&f, &m, 640), b = decode_ms(&c, &m, 640);
            CHECK(a > 0);
            CHECK_MSG(a == b, "%d nodes, variant %d: fast %.6f ms, cycle-stepped %.6f ms", nodes, v, a, b);
        }
}
