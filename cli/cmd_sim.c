/* cli/cmd_sim.c - `looplynx sim`: time a model on the simulated LoopLynx
 * accelerator and print latency, breakdown, HBM utilisation, resources and
 * energy (text or --json).  The timing itself lives in src/sim. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/sim.h"
#include "sim_args.h"

#define MAX_SETS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: looplynx sim [options]\n\n"
            "Time a GPT-2 or Llama style model on the cycle-level model of the LoopLynx FPGA design.\n\n"
            "  --platform NAME|FILE   u50 (default), u280, u55c, v80, or a platform .json file\n"
            "  --nodes N              accelerator nodes in the ring (default 1)\n"
            "  --model M              a preset (gpt2-medium by default), a folder with config.json, a .llx\n"
            "                         model (its header gives the scheme), or\n"
            "                         dims:hidden=H,layers=L,heads=A,ffn=F,vocab=V[,ctx=C]\n"
            "                         [,arch=llama,kv_heads=K,head_dim=D]\n"
            "  --scheme S             the numeric scheme for a model without a .llx header: w8a8 (default),\n"
            "                         w4a8 or w4a4, then [,group=0|32|64|128][,scales=fp16|fp32]\n"
            "                         [,lm=8|4][,hadamard=0|1][,kv=int8]\n"
            "  --prompt P --gen G     prefill P tokens, then G decode passes\n"
            "  --context C            time one decode token attending C keys (default 640,\n"
            "                         the position the paper's artifacts time, or the model's\n"
            "                         context if shorter)\n"
            "  --prefill token|batch  prefill token by token (LoopLynx, default) or as one pass\n"
            "  --lm-head host|fpga    where the final LayerNorm and LM head run (default host)\n"
            "  --no-lnres-fusion      unfused, scalar LayerNorm and residual kernels\n"
            "  --no-headwise-pipeline MHA processes one head group at a time\n"
            "  --no-transfer-hiding   ring all-gathers start after a stage's compute\n"
            "  --mode fast|cycle      token-level engine (default) or cycle-stepped reference (slow)\n"
            "  --progress             show progress on stderr (default in cycle mode on a terminal)\n"
            "  --set KEY=VALUE        override a platform or architecture parameter (repeatable)\n"
            "  --json                 print one JSON object\n"
            "  --help                 this text\n\nparameters for --set (current u50 defaults):\n");
    cli_sim_param_help(f);
}

static double pct(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0; }

static void print_comp(const char *name, const llx_sim_component *c)
{
    printf("  %-16s %8.0f %9.0f %9.0f %8.1f %6.0f\n", name, c->dsp, c->lut, c->ff, c->bram, c->uram);
}

static void print_text(const llx_sim_config *c, const char *model, const llx_config *m, const llx_sim_workload *w,
                       const llx_sim_result *r)
{
    const llx_sim_arch *a = &c->arch;
    printf("model     %s: %s, %d layers, hidden %d, %d heads (%d KV, %d wide), ffn %d, vocab %d\n", model,
           m->arch == LLX_ARCH_LLAMA ? "llama" : "gpt2", m->n_layer, m->n_embd, m->n_head, llx_config_kv_heads(m),
           llx_config_head_dim(m), m->n_inner, m->n_vocab);
    printf("hardware  %d node(s) on %d %s device(s), %d per device; %d HBM channels x %d B words per node, "
           "%.0f MHz; %s mode\n",
           a->nodes, r->res.devices, c->plat.name, a->nodes_per_fpga, a->channels, a->word_bytes, a->clock_mhz,
           a->cycle_mode ? "cycle-stepped" : "fast");
    printf("HBM       %.2f GB/s sustained per channel (%s: %.1f GB/s over %d pseudo-channels x %.3f, port %d B x "
           "%.0f MHz)\n",
           r->hbm_gbps_per_channel, c->plat.name, c->plat.hbm_total_gbps, c->plat.hbm_pcs, c->plat.hbm_eff,
           a->word_bytes, a->clock_mhz);
    char sch[128];
    llx_sim_scheme_format(&c->scheme, sch, sizeof sch);
    printf("scheme    %s\n", sch);
    printf("options   lnres-fusion %s, headwise-pipeline %s, transfer-hiding %s, prefill %s, lm-head %s\n",
           a->lnres_fusion ? "on" : "off", a->headwise_pipeline ? "on" : "off", a->transfer_hiding ? "on" : "off",
           a->prefill_batched ? "batch" : "token", a->lm_head_fpga ? "fpga" : "host");
    if (w->context > 0) printf("workload  one decode token attending %d keys\n\n", w->context);
    else printf("workload  prompt %d, %d decode passes\n\n", w->prompt, w->gen);
    printf("decode latency   %8.3f ms/token  (%.1f tokens/s)\n", r->decode_ms_per_token, r->tokens_per_s);
    if (w->context <= 0)
        printf("prefill          %8.3f ms total, %.3f ms/token; run total %.2f ms\n", r->prefill_ms,
               r->prefill_ms_per_token, r->total_ms);
    printf("host per token   %8.3f ms  (embedding, PCIe, launch%s; not in the latency above)\n",
           r->host_ms_per_token, a->lm_head_fpga ? ", logits read-back" : ", final LN + LM head on the CPU");
    printf("end to end       %8.3f ms/token\n\n", r->e2e_ms_per_token);
    printf("breakdown per decode token:\n");
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++)
        printf("  %-10s %8.3f ms %6.1f%%\n", llx_sim_cat_name((llx_sim_cat)k), r->breakdown_ms[k],
               pct(r->breakdown_ms[k], r->decode_ms_per_token));
    printf("\nHBM channel utilisation while decoding (mean over nodes):\n ");
    for (int k = 0; k < r->channels; k++) printf(" ch%d %.1f%%", k, 100 * r->hbm_util[k]);
    printf("\n\nresources            DSP       LUT        FF     BRAM   URAM\n");
    for (int k = 0; k < r->res.n_comp; k++) print_comp(r->res.node[k].name, &r->res.node[k]);
    print_comp("per node", &r->res.node_total);
    print_comp("per device", &r->res.device_total);
    print_comp("all devices", &r->res.all_total);
    llx_sim_component bud = {"budget", c->plat.dsp, c->plat.lut, c->plat.ff, c->plat.bram, c->plat.uram};
    print_comp("device budget", &bud);
    printf("  device use        %7.1f%% %8.1f%% %8.1f%% %7.1f%% %5.1f%%  %s\n\n", 100 * r->res.dsp_frac,
           100 * r->res.lut_frac, 100 * r->res.ff_frac, 100 * r->res.bram_frac, 100 * r->res.uram_frac,
           r->res.fits ? "fits" : "DOES NOT FIT");
    printf("power while decoding %.1f W (static %.1f, logic %.1f, HBM %.1f, ring %.2f) -> %.2f tokens/J\n",
           r->power_w, r->power_static_w, r->power_logic_w, r->power_hbm_w, r->power_link_w, r->tokens_per_joule);
}

static void json_comp(const char *key, const llx_sim_component *c, int comma)
{
    printf("\"%s\":{\"dsp\":%.1f,\"lut\":%.0f,\"ff\":%.0f,\"bram\":%.1f,\"uram\":%.0f}%s", key, c->dsp, c->lut,
           c->ff, c->bram, c->uram, comma ? "," : "");
}

static void print_json(const llx_sim_config *c, const char *model, const llx_config *m, const llx_sim_workload *w,
                       const llx_sim_result *r)
{
    const llx_sim_arch *a = &c->arch;
    printf("{\"model\":");
    cli_json_string(stdout, model, strlen(model));
    printf(",\"arch\":\"%s\",\"layers\":%d,\"hidden\":%d,\"heads\":%d,\"kv_heads\":%d,\"head_dim\":%d,\"ffn\":%d,"
           "\"vocab\":%d",
           m->arch == LLX_ARCH_LLAMA ? "llama" : "gpt2", m->n_layer, m->n_embd, m->n_head, llx_config_kv_heads(m),
           llx_config_head_dim(m), m->n_inner, m->n_vocab);
    printf(",\"platform\":\"%s\",\"nodes\":%d,\"nodes_per_fpga\":%d,\"devices\":%d,\"mode\":\"%s\"", c->plat.name,
           a->nodes, a->nodes_per_fpga, r->res.devices, a->cycle_mode ? "cycle" : "fast");
    char sch[128];
    llx_sim_scheme_format(&c->scheme, sch, sizeof sch);
    printf(",\"scheme\":\"%s\"", sch);
    printf(",\"lnres_fusion\":%s,\"headwise_pipeline\":%s,\"transfer_hiding\":%s",
           a->lnres_fusion ? "true" : "false", a->headwise_pipeline ? "true" : "false",
           a->transfer_hiding ? "true" : "false");
    /* the workload is either --context C (one decode token) or --prompt/--gen: the other fields are null */
    if (w->context > 0) printf(",\"prompt\":null,\"gen\":null,\"context\":%d", w->context);
    else printf(",\"prompt\":%d,\"gen\":%d,\"context\":null", w->prompt, w->gen);
    printf(",\"decode_ms_per_token\":%.6f,\"prefill_ms\":%.6f,\"prefill_ms_per_token\":%.6f", r->decode_ms_per_token,
           r->prefill_ms, r->prefill_ms_per_token);
    printf(",\"tokens_per_s\":%.4f,\"host_ms_per_token\":%.6f,\"e2e_ms_per_token\":%.6f,\"total_ms\":%.6f",
           r->tokens_per_s, r->host_ms_per_token, r->e2e_ms_per_token, r->total_ms);
    printf(",\"breakdown\":{");
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++)
        printf("%s\"%s\":%.6f", k ? "," : "", llx_sim_cat_name((llx_sim_cat)k), r->breakdown_ms[k]);
    printf("},\"ring_exposed_ms\":%.6f,\"hbm_gbps_per_channel\":%.4f,\"hbm_util\":[", r->ring_exposed_ms,
           r->hbm_gbps_per_channel);
    for (int k = 0; k < r->channels; k++) printf("%s%.5f", k ? "," : "", r->hbm_util[k]);
    printf("],\"resources\":{\"components\":{");
    for (int k = 0; k < r->res.n_comp; k++) json_comp(r->res.node[k].name, &r->res.node[k], k + 1 < r->res.n_comp);
    printf("},");
    json_comp("node", &r->res.node_total, 1);
    json_comp("device", &r->res.device_total, 1);
    json_comp("total", &r->res.all_total, 1);
    llx_sim_component bud = {"budget", c->plat.dsp, c->plat.lut, c->plat.ff, c->plat.bram, c->plat.uram};
    json_comp("device_budget", &bud, 1);
    printf("\"devices\":%d,\"fits\":%s}", r->res.devices, r->res.fits ? "true" : "false");
    printf(",\"power_w\":%.4f,\"power\":{\"static\":%.4f,\"logic\":%.4f,\"hbm\":%.4f,\"ring\":%.4f}", r->power_w,
           r->power_static_w, r->power_logic_w, r->power_hbm_w, r->power_link_w);
    printf(",\"tokens_per_joule\":%.5f}\n", r->tokens_per_joule);
}

static void progress(void *ctx, int pass, int passes, int stage, int stages)
{
    (void)ctx;
    double frac = (pass + (double)stage / (stages > 0 ? stages : 1)) / (passes > 0 ? passes : 1);
    cli_progress(NULL, "sim", frac > 1 ? 1 : frac);
}

static int deadlock_out(const llx_sim_result *r, int json)
{
    if (json) {
        printf("{\"deadlock\":{\"stage\":%d,\"cycle\":%.0f,\"what\":", r->deadlock.stage, r->deadlock.cycle);
        cli_json_string(stdout, r->deadlock.what, strlen(r->deadlock.what));
        printf("}}\n");
    }
    return cli_runtime_error("the simulated design deadlocks in stage %d: %s", r->deadlock.stage, r->deadlock.what);
}

int cmd_sim(int argc, char **argv)
{
    const char *platform = "u50", *model = "gpt2-medium", *val = NULL, *scheme = NULL;
    const char *sets[MAX_SETS];
    int nsets = 0, json = 0, have_work = 0, show_progress = 0;
    long nodes = -1, v = 0;
    int no_fusion = 0, no_headwise = 0, no_hiding = 0, batched = -1, lm_fpga = -1, cycle = -1;
    llx_sim_workload w = {0, 0, 0};
    for (int i = 1; i < argc; i++) {
        int k;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_flag(argv, i, "--progress")) show_progress = 1;
        else if (cli_flag(argv, i, "--no-lnres-fusion")) no_fusion = 1;
        else if (cli_flag(argv, i, "--no-headwise-pipeline")) no_headwise = 1;
        else if (cli_flag(argv, i, "--no-transfer-hiding")) no_hiding = 1;
        else if ((k = cli_opt(argc, argv, &i, "--platform", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            platform = val;
        } else if ((k = cli_opt(argc, argv, &i, "--model", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            model = val;
        } else if ((k = cli_opt(argc, argv, &i, "--scheme", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            scheme = val;
        } else if ((k = cli_opt(argc, argv, &i, "--nodes", &val)) != 0) {
            if (k < 0 || !cli_parse_int("--nodes", val, 1, LLX_MAX_NODES, &nodes)) return EXIT_USAGE;
        } else if ((k = cli_opt(argc, argv, &i, "--prompt", &val)) != 0) {
            if (k < 0 || !cli_parse_int("--prompt", val, 1, 1 << 20, &v)) return EXIT_USAGE;
            w.prompt = (int)v, have_work |= 1;
        } else if ((k = cli_opt(argc, argv, &i, "--gen", &val)) != 0) {
            if (k < 0 || !cli_parse_int("--gen", val, 1, 1 << 20, &v)) return EXIT_USAGE;
            w.gen = (int)v, have_work |= 1;
        } else if ((k = cli_opt(argc, argv, &i, "--context", &val)) != 0) {
            if (k < 0 || !cli_parse_int("--context", val, 1, 1 << 20, &v)) return EXIT_USAGE;
            w.context = (int)v, have_work |= 2;
        } else if ((k = cli_opt(argc, argv, &i, "--prefill", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            if (strcmp(val, "token") && strcmp(val, "batch"))
                return cli_usage_error("--prefill expects token or batch, got '%s'", val);
            batched = !strcmp(val, "batch");
        } else if ((k = cli_opt(argc, argv, &i, "--lm-head", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            if (strcmp(val, "host") && strcmp(val, "fpga"))
                return cli_usage_error("--lm-head expects host or fpga, got '%s'", val);
            lm_fpga = !strcmp(val, "fpga");
        } else if ((k = cli_opt(argc, argv, &i, "--mode", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            if (strcmp(val, "fast") && strcmp(val, "cycle"))
                return cli_usage_error("--mode expects fast or cycle, got '%s'", val);
            cycle = !strcmp(val, "cycle");
        } else if ((k = cli_opt(argc, argv, &i, "--set", &val)) != 0) {
            if (k < 0) return EXIT_USAGE;
            if (nsets == MAX_SETS) return cli_usage_error("too many --set options (max %d)", MAX_SETS);
            sets[nsets++] = val;
        } else {
            return cli_usage_error("sim: unknown option '%s' (try 'looplynx sim --help')", argv[i]);
        }
    }
    if (have_work == 3) return cli_usage_error("--context cannot be combined with --prompt/--gen");
    if (have_work == 1 && (w.prompt == 0 || w.gen == 0)) return cli_usage_error("--prompt and --gen go together");

    llx_sim_config c;
    int rc = cli_sim_platform(platform, &c);
    if (rc != EXIT_OK) return rc;
    if (nodes > 0) c.arch.nodes = (int)nodes;
    if (no_fusion) c.arch.lnres_fusion = 0;
    if (no_headwise) c.arch.headwise_pipeline = 0;
    if (no_hiding) c.arch.transfer_hiding = 0;
    if (batched >= 0) c.arch.prefill_batched = batched;
    if (lm_fpga >= 0) c.arch.lm_head_fpga = lm_fpga;
    if (cycle >= 0) c.arch.cycle_mode = cycle;
    if ((rc = cli_sim_sets(&c, sets, nsets)) != EXIT_OK) return rc;

    if (scheme && llx_sim_scheme_parse(scheme, &c.scheme) != LLX_OK) return cli_usage_error("--scheme: %s", llx_errmsg());
    llx_config m;
    llx_sim_scheme from_llx = {-1, 0, 0, 0, 0, 0, 0};
    rc = cli_sim_model(model, &m, &from_llx);
    if (rc != EXIT_OK) return rc;
    if (from_llx.w_bits >= 0) {
        if (scheme) return cli_usage_error("--scheme: the .llx model's header gives its scheme; drop --scheme");
        c.scheme = from_llx;
    }
    if (llx_sim_check(&c, &m) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    if (!have_work) w.context = m.n_ctx < 640 ? m.n_ctx : 640;
    if (w.context > m.n_ctx)
        return cli_usage_error("--context %d exceeds the model's %d positions", w.context, m.n_ctx);
    if ((long)w.prompt + w.gen > m.n_ctx)
        return cli_usage_error("--prompt + --gen (%d) exceed the model's %d positions", w.prompt + w.gen, m.n_ctx);

    llx_sim_result r;
    if (!show_progress && c.arch.cycle_mode && isatty(2)) show_progress = 1;
    llx_status st = llx_sim_run_progress(&c, &m, &w, &r, show_progress ? progress : NULL, NULL);
    if (show_progress) cli_progress_end();
    if (st != LLX_OK) return cli_lib_error();
    if (r.deadlock.found) return deadlock_out(&r, json);
    if (json) print_json(&c, model, &m, &w, &r);
    else print_text(&c, model, &m, &w, &r);
    return EXIT_OK;
}
