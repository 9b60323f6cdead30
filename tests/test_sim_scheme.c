/* tests/test_sim_scheme.c - the simulator under a numeric scheme (w8a8,
 * w4a8, w4a4; group scales; int4 LM head; the online Hadamard stage): the
 * --scheme parser and its refusals; the HBM words of a matrix stage follow
 * the weight bits and the scale bytes; the DSP/LUT mapping (two int4 MACs
 * per DSP, or one); the Hadamard stage's structure; FlexLLM's U280 decode
 * engine against its analytic bound; the command's .llx header and
 * --scheme handling. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "llx/sim.h"
#include "test.h"
#include "w8a8_fixtures.h"

#define GPT "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128"
#define LLAMA_1B "dims:arch=llama,hidden=2048,layers=16,heads=32,kv_heads=8,head_dim=64,ffn=8192,vocab=128256,ctx=4096"

static llx_sim_config plat(const char *name, int nodes, const char *scheme)
{
    llx_sim_config c;
    llx_sim_config_init(&c, name);
    c.arch.nodes = nodes;
    if (scheme && llx_sim_scheme_parse(scheme, &c.scheme) != LLX_OK) llx_test_note("scheme: %s", llx_errmsg());
    return c;
}

static int plan(const llx_sim_config *c, const llx_config *m, int tokens, int pos, llx_schedule *s)
{
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = tokens, .pos = pos, .block_rows = c->block_rows};
    llx_sim_scheme_sched(&c->scheme, &o);
    return llx_schedule_build(s, m, &o) == LLX_OK;
}

static int find(const llx_schedule *s, llx_op op)
{
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i].op == op) return i;
    return -1;
}

/* stage `op` of layer 0 timed: cycles, and the HBM bytes it read */
static double stage_of(const llx_sim_config *c, const llx_config *m, llx_op op, double *bytes)
{
    llx_schedule s;
    if (!plan(c, m, 1, 60, &s)) return -1;
    llx_sim_pass p;
    int i = find(&s, op);
    double v = i >= 0 && llx_sim_time_stage(c, &s, i, &p) == LLX_OK && !p.deadlock.found ? p.cycles : -1;
    if (bytes) {
        *bytes = 0;
        for (int k = 0; k < LLX_SIM_MAX_CHANNELS && v >= 0; k++) *bytes += p.hbm_bytes[k];
    }
    llx_schedule_free(&s);
    return v;
}

TEST(sim_scheme_parse_and_refusals, LLX_T_ASAN)
{
    llx_sim_scheme s;
    CHECK(llx_sim_scheme_parse("w4a8,group=64,scales=fp16,lm=4,hadamard=1", &s) == LLX_OK);
    CHECK(s.w_bits == 4 && s.act_bits == 8 && s.group == 64 && s.scale_bytes == 2 && s.lm_bits == 4 && s.hadamard);
    char buf[128];
    llx_sim_scheme_format(&s, buf, sizeof buf);
    CHECK(!strcmp(buf, "w4a8,group=64,scales=fp16,kv=int8,lm=4,hadamard=1"));
    CHECK(llx_sim_scheme_parse("w4a4", &s) == LLX_OK && s.act_bits == 4 && s.group == 0);
    CHECK(llx_sim_scheme_parse("w8a8,kv=int8", &s) == LLX_OK && s.w_bits == 8);
    static const char *const bad[][2] = {
        {"w8a8,group=64", "weight groups need int4 weights"},
        {"w8a8,lm=4", "an int4 LM head needs an int4 scheme"},
        {"w4a4,kv=fp32", "fp32 KV cache is not modelled"},
        {"w2a8", "is not w8a8, w4a8 or w4a4"},
        {"w4a8,group=48", "bad value '48' for group"},
        {"w4a8,scales=bf16", "bad value 'bf16' for scales"},
        {"w4a8,foo=1", "unknown key 'foo'"},
        {"w4a8,group", "is not key=value"},
        {"w4a8,", "is not key=value"},
        {"", "is not w8a8"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_MSG(llx_sim_scheme_parse(bad[k][0], &s) != LLX_OK, "%s accepted", bad[k][0]);
        CHECK_MSG(strstr(llx_errmsg(), bad[k][1]) != NULL, "%s: %s", bad[k][0], llx_errmsg());
    }
    /* a struct edited directly is checked with the configuration */
    llx_sim_config c = plat("u50", 1, NULL);
    c.scheme.act_bits = 4;
    CHECK(llx_sim_check(&c, NULL) != LLX_OK);
    CHECK_MSG(strstr(llx_errmsg(), "int4 activations need int4 weights") != NULL, "%s", llx_errmsg());
    /* a pass of two int4 rows pushes two results at once */
    c = plat("u50", 1, "w4a8");
    CHECK(llx_sim_set(&c, "out_fifo=1") == LLX_OK);
    CHECK(llx_sim_check(&c, NULL) != LLX_OK);
    CHECK_MSG(strstr(llx_errmsg(), "int4 weights need at least 2") != NULL, "%s", llx_errmsg());
    llx_config m;
    CHECK(llx_sim_parse_dims(GPT, &m) == LLX_OK);
    llx_sim_config w8 = plat("u50", 1, NULL);
    CHECK(llx_sim_set(&w8, "out_fifo=1") == LLX_OK);
    llx_schedule sch;
    CHECK(plan(&c, &m, 1, 10, &sch)); /* planned for int4, timed on a w8a8 configuration */
    llx_sim_pass p;
    CHECK(llx_sim_time_schedule(&w8, &sch, &p) != LLX_OK);
    CHECK_MSG(strstr(llx_errmsg(), "int4 weights need at least 2") != NULL, "%s", llx_errmsg());
    llx_schedule_free(&sch);
}

/* FC2 of the small GPT-2 shape (256 rows of 1024 columns) on one u50 node:
 * 8 slices of 32 rows, 32 words per row of int8.  int4: passes of two rows
 * (16 per slice), 32 words of weights each, then the pair's scales padded
 * to whole words. */
TEST(sim_scheme_weight_words, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(GPT, &m) == LLX_OK);
    static const struct {
        const char *scheme;
        long scale_words; /* per two-row pass */
    } cases[] = {
        {"w8a8", -1},
        {"w4a8", 1},                    /* 2 rows x 4 B */
        {"w4a8,group=64,scales=fp16", 2}, /* 2 rows x 16 groups x 2 B = 64 B */
        {"w4a8,group=32", 8},           /* 2 x 32 x 4 B = 256 B */
        {"w4a4,group=128,scales=fp16", 1},
    };
    double w8 = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        llx_sim_config c = plat("u50", 1, cases[k].scheme);
        double bytes = 0, cyc = stage_of(&c, &m, LLX_OP_FC2, &bytes);
        CHECK_MSG(cyc > 0, "%s: %s", cases[k].scheme, llx_errmsg());
        const double want = cases[k].scale_words < 0 ? 256.0 * 1024 : 8.0 * 16 * (32 + cases[k].scale_words) * 32;
        CHECK_MSG(bytes == want, "%s: %.0f HBM bytes, expected %.0f", cases[k].scheme, bytes, want);
        /* never faster than the slices' sustained stream */
        const double stream = bytes / (8 * llx_sim_hbm_bytes_per_cycle(&c));
        CHECK_MSG(cyc >= stream, "%s: %.0f cycles below the stream's %.0f", cases[k].scheme, cyc, stream);
        if (k == 0) w8 = cyc;
        else CHECK_MSG(cyc < 0.7 * w8, "%s: %.0f cycles against w8a8's %.0f", cases[k].scheme, cyc, w8);
        llx_test_note("%-28s FC2 %.0f bytes, %.0f cycles", cases[k].scheme, bytes, cyc);
    }
}

TEST(sim_scheme_dsp_mapping, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(GPT, &m) == LLX_OK);
    llx_sim_resources r8, r4, r4one, r4g, rh;
    llx_sim_config c = plat("u50", 1, "w8a8");
    CHECK(llx_sim_resources_estimate(&c, &m, &r8) == LLX_OK);
    c = plat("u50", 1, "w4a8");
    CHECK(llx_sim_resources_estimate(&c, &m, &r4) == LLX_OK);
    CHECK(llx_sim_set(&c, "w4_macs_per_dsp=1") == LLX_OK);
    CHECK(llx_sim_resources_estimate(&c, &m, &r4one) == LLX_OK);
    c = plat("u50", 1, "w4a8,group=64");
    CHECK(llx_sim_resources_estimate(&c, &m, &r4g) == LLX_OK);
    c = plat("u50", 1, "w4a4,hadamard=1");
    CHECK(llx_sim_resources_estimate(&c, &m, &rh) == LLX_OK);
    const int P = 8, G = 32;
    /* component 0 is the MP unit: P x G multipliers of int8, or P x G x 2
     * int4 MACs packed two per DSP */
    CHECK(!strcmp(r8.node[0].name, "mp"));
    CHECK(r8.node[0].dsp == P * G + 5);
    CHECK(r4.node[0].dsp == r8.node[0].dsp);
    CHECK(r4one.node[0].dsp == r8.node[0].dsp + P * G);
    CHECK(r4.node[0].lut > r8.node[0].lut); /* twice the products into the adder trees */
    CHECK(r4g.node[0].dsp == r4.node[0].dsp + P * 2 * 5); /* a group scale-and-add per row of a pass */
    /* the Hadamard unit on the LN&Res lanes: an adder and a subtractor per lane, 1/sqrt(F) */
    CHECK(!strcmp(rh.node[2].name, "lnres"));
    CHECK(rh.node[2].dsp == r4.node[2].dsp + 8 * 2 * 2 + 3);
    CHECK(rh.node[2].bram > r4.node[2].bram && rh.node[2].lut > r4.node[2].lut);
}

/* The transform's passes: read, log2 F x (shuffle + butterflies), write;
 * an odd factor adds a dense pass; more lanes, fewer cycles. */
TEST(sim_scheme_hadamard_stage, LLX_T_ASAN)
{
    static const char *shapes[] = {
        "dims:arch=llama,hidden=256,layers=1,heads=8,kv_heads=2,head_dim=32,ffn=1024,vocab=500,ctx=128",
        "dims:arch=llama,hidden=256,layers=1,heads=8,kv_heads=2,head_dim=32,ffn=640,vocab=500,ctx=128",
        "dims:hidden=256,layers=1,heads=4,ffn=1024,vocab=500,ctx=128",
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        llx_config m;
        CHECK(llx_sim_parse_dims(shapes[k], &m) == LLX_OK);
        llx_sim_config c = plat("u280", 2, "w4a4,hadamard=1"), wide = c, plain = plat("u280", 2, "w4a4");
        CHECK(llx_sim_set(&wide, "ln_lanes=16") == LLX_OK);
        llx_schedule s;
        CHECK(plan(&c, &m, 1, 60, &s));
        int i = find(&s, LLX_OP_HAD);
        CHECK(i >= 0 && s.stages[i].kernel == LLX_KERNEL_LNRES && s.stages[i].work == LLX_WORK_HADAMARD);
        llx_schedule_free(&s);
        double had = stage_of(&c, &m, LLX_OP_HAD, NULL), had16 = stage_of(&wide, &m, LLX_OP_HAD, NULL);
        long F = m.n_inner, two = 0, odd = F;
        while (odd % 2 == 0) odd /= 2, two++;
        const double floor = (2.0 + 1.5 * two + (odd > 1 ? odd : 0)) * F / 8; /* 8 lanes */
        CHECK_MSG(had >= floor && had < floor + 40 * (two + 4), "F=%ld: %.0f cycles, structure %.0f", F, had, floor);
        CHECK_MSG(had16 < 0.6 * had, "16 lanes %.0f vs 8 lanes %.0f", had16, had);
        /* the pass: the transform is LN&Res time; the matrices do not change */
        llx_sim_pass a, b;
        llx_schedule sa, sb;
        CHECK(plan(&c, &m, 1, 60, &sa) && plan(&plain, &m, 1, 60, &sb));
        CHECK(llx_sim_time_schedule(&c, &sa, &a) == LLX_OK && llx_sim_time_schedule(&plain, &sb, &b) == LLX_OK);
        CHECK_MSG(fabs(a.cat[LLX_SIM_CAT_LNRES] - b.cat[LLX_SIM_CAT_LNRES] - (had - 4)) < 1, "%.0f vs %.0f + %.0f",
                  a.cat[LLX_SIM_CAT_LNRES], b.cat[LLX_SIM_CAT_LNRES], had);
        CHECK(a.cat[LLX_SIM_CAT_MP] == b.cat[LLX_SIM_CAT_MP]);
        llx_schedule_free(&sa), llx_schedule_free(&sb);
    }
}

/* FlexLLM's released U280 decode engine (anchors §3.3): one shared linear
 * engine of 16 blocks x 64 int4 weights = 1024 int4 MACs per cycle fed by
 * 16 HBM pseudo-channels of 256 bits, at 300 MHz; W4A4 linears, an int4 LM
 * head on the FPGA, int8 attention and KV cache, the online Hadamard on 16
 * lanes.  Here: one node of 16 slices of 32 DSPs doing two int4 MACs each.
 * The decode rate of Llama-3.2-1B can be no higher than the analytic
 * bound min(compute, memory), computed here from the shapes alone. */
TEST(sim_flexllm_decode_bound, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims(LLAMA_1B, &m) == LLX_OK);
    llx_sim_config c = plat("u280", 1, "w4a4,lm=4,hadamard=1");
    const char *sets[] = {"clock_mhz=300", "channels=16", "ln_lanes=16", "lm_head_fpga=1"};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) CHECK(llx_sim_set(&c, sets[k]) == LLX_OK);
    const int ctx = 640;
    const double f = 300e6, C = 2048, F = 8192, KV = 8 * 64, Q = 32 * 64, L = 16, V = 128256;
    const double macs = L * (C * (Q + 2 * KV) + Q * C + 3 * F * C) + V * C; /* weights = MACs per token */
    const double macs_per_cycle = 16 * 32 * 2;                               /* = 1024 */
    const double kv_bytes = L * 2 * KV * ctx;                                /* int8 K and V read */
    const double bytes = macs / 2 + kv_bytes;                                /* int4 weights */
    const double bw = 16 * llx_sim_hbm_bytes_per_cycle(&c) * f;             /* 16 x 32 B x 300 MHz */
    const double compute_tps = macs_per_cycle * f / macs, memory_tps = bw / bytes;
    const double bound = compute_tps < memory_tps ? compute_tps : memory_tps;
    llx_test_note("analytic: %.1f M MACs/token -> %.1f tok/s compute; %.1f MB/token at %.1f GB/s -> %.1f tok/s",
                  macs / 1e6, compute_tps, bytes / 1e6, bw / 1e9, memory_tps);
    CHECK(bound > 230 && bound < 260); /* the "about 240 tokens/s" */
    llx_sim_workload w = {0, 0, ctx};
    llx_sim_result r;
    CHECK(llx_sim_run(&c, &m, &w, &r) == LLX_OK && !r.deadlock.found);
    llx_test_note("simulated: %.3f ms/token = %.1f tok/s (mp %.3f, mha %.3f, lnres %.3f ms); %.0f DSP per node",
                  r.decode_ms_per_token, r.tokens_per_s, r.breakdown_ms[LLX_SIM_CAT_MP],
                  r.breakdown_ms[LLX_SIM_CAT_MHA], r.breakdown_ms[LLX_SIM_CAT_LNRES], r.res.node_total.dsp);
    CHECK_MSG(r.tokens_per_s <= bound, "simulated %.1f tok/s above the analytic bound %.1f", r.tokens_per_s, bound);
    /* the matrices alone stream at most at the ports' rate */
    CHECK(r.breakdown_ms[LLX_SIM_CAT_MP] * 1e-3 >= macs / 2 / bw);
    CHECK(r.res.fits);
}

TEST(sim_scheme_cli, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--model", GPT, "--scheme", "w4a8,group=64,scales=fp16", "--json", NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    CHECK(strstr(r.out, "\"scheme\":\"w4a8,group=64,scales=fp16,kv=int8,lm=8,hadamard=0\"") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--model", GPT, "--scheme", "w8a8,lm=4", NULL);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(!strcmp(r.err, "looplynx: error: --scheme: scheme: an int4 LM head needs an int4 scheme\n"), "%s", r.err);
    llx_proc_free(&r);
    llx_cli(&r, "dse", "--model", GPT, "--help", NULL); /* the dse command still parses its model */
    llx_proc_free(&r);
}

/* a .llx model's header gives the scheme */
TEST(sim_scheme_from_llx_header)
{
    const char *dir = llx_test_tmpfile("sim-w4"), *calib = llx_fixture_calib_text();
    llx_config mc = {.n_vocab = 1000, .n_ctx = 64, .n_embd = 128, .n_layer = 1, .n_head = 4, .n_inner = 512,
                     .ln_eps = 1e-5f};
    CHECK_MSG(llx_synth_write(dir, &mc, 11, "F32", NULL) == LLX_OK, "%s", llx_errmsg());
    CHECK(calib != NULL);
    if (!calib) return;
    const char *out = llx_test_tmpfile("sim-w4a8.llx");
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 256;
    o.scheme = LLX_SCHEME_W4A8;
    o.lm_bits = 4;
    CHECK_MSG(llx_quantize(dir, &o, out) == LLX_OK, "%s", llx_errmsg());
    llx_proc_result r;
    llx_cli(&r, "sim", "--model", out, "--context", "40", "--json", NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    CHECK_MSG(strstr(r.out, "\"scheme\":\"w4a8,group=0,scales=fp32,kv=int8,lm=4,hadamard=0\"") != NULL, "%s", r.out);
    CHECK(strstr(r.out, "\"hidden\":128") != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--model", out, "--scheme", "w8a8", NULL);
    CHECK_EQ_INT(r.status, 2);
    CHECK_MSG(strstr(r.err, "the .llx model's header gives its scheme") != NULL, "%s", r.err);
    llx_proc_free(&r);
}
