/* cli/cmd_dse.c - `looplynx dse`: search the LoopLynx design space on the
 * simulator for a model and a platform and print the Pareto front (or the
 * best designs) as a table, --json or --csv, with --plot drawing it.  The
 * search lives in src/dse (docs/dse.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dse_out.h"
#include "llx/dse.h"
#include "sim_args.h"

#define MAX_SETS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: looplynx dse [options]\n\n"
            "Search the LoopLynx design space on the simulator: the designs with the lowest decode latency\n"
            "for their DSP, LUT and BRAM use (or the fastest, or the most tokens per joule) that fit the board.\n\n"
            "  --platform NAME|FILE   u50 (default), u280, u55c, v80, or a platform .json file\n"
            "  --model M              gpt2 ... gpt2-xl (default gpt2-medium), a folder with config.json,\n"
            "                         or dims:hidden=H,layers=L,heads=A,ffn=F,vocab=V[,ctx=C]\n"
            "  --nodes N|A-B          node counts to consider (default 1-4)\n"
            "  --context C            decode one token attending C keys (default 640 or the model's context)\n"
            "  --prompt P --gen G     a workload: searched at the mean decode context, whole run reported\n"
            "                         for the validated designs\n"
            "  --precision w8a8       the accelerator's datapath (the only one the simulator models)\n"
            "  --objective O          pareto (latency against DSP, LUT and BRAM, default), latency,\n"
            "                         tokens-per-joule\n"
            "  --cap PCT              utilisation cap per device and resource (default 80)\n"
            "  --vary KEY=V1,V2,...   the values of a searched parameter (repeatable; one value fixes it)\n"
            "  --set KEY=VALUE        a fixed parameter (repeatable; see 'looplynx sim --help')\n"
            "  --top K                designs kept for the latency and tokens-per-joule objectives (10)\n"
            "  --seed S               order of equal candidates and the sample (default 1)\n"
            "  --samples N            search a seeded sample of N candidates when the space is larger\n"
            "  --threads T            simulator threads (default 2)\n"
            "  --validate K           best designs re-run on the cycle-stepped engine (default 3)\n"
            "  --json | --csv         the result as one JSON object or CSV rows\n"
            "  --plot FILE.svg|.png   latency against DSP and BRAM, with the paper's designs (gnuplot)\n"
            "  --quiet                no progress on stderr\n"
            "  --help                 this text\n\n"
            "The default space (docs/dse.md): nodes, nodes_per_fpga, channels, clock_mhz, word_bytes,\n"
            "heads_parallel, ln_lanes, lnres_fusion, block_rows, mp_wb_elems, mha_wb_elems.\n");
}

typedef struct args {
    const char *platform, *model, *plot, *nodes;
    const char *sets[MAX_SETS], *vary[LLX_DSE_MAX_KNOBS];
    int nsets, nvary, json, csv, quiet, have_work;
    long prompt, gen, context, top, threads, validate, samples;
    double cap;
    unsigned long long seed;
    int objective, seed_set;
} args;

static int parse_objective(const char *v, int *o)
{
    if (!strcmp(v, "pareto")) *o = LLX_DSE_PARETO;
    else if (!strcmp(v, "latency")) *o = LLX_DSE_LATENCY;
    else if (!strcmp(v, "tokens-per-joule")) *o = LLX_DSE_TPJ;
    else return cli_usage_error("--objective expects pareto, latency or tokens-per-joule, got '%s'", v);
    return EXIT_OK;
}

/* 1 consumed, 0 not an option taking a number, -1 usage error */
static int number_opt(int argc, char **argv, int *i, args *a)
{
    const char *v;
    int k;
    if ((k = cli_opt(argc, argv, i, "--prompt", &v)) != 0)
        return k < 0 || !cli_parse_int("--prompt", v, 1, 1 << 20, &a->prompt) ? -1 : (a->have_work |= 1, 1);
    if ((k = cli_opt(argc, argv, i, "--gen", &v)) != 0)
        return k < 0 || !cli_parse_int("--gen", v, 1, 1 << 20, &a->gen) ? -1 : (a->have_work |= 1, 1);
    if ((k = cli_opt(argc, argv, i, "--context", &v)) != 0)
        return k < 0 || !cli_parse_int("--context", v, 1, 1 << 20, &a->context) ? -1 : (a->have_work |= 2, 1);
    if ((k = cli_opt(argc, argv, i, "--top", &v)) != 0) return k < 0 || !cli_parse_int("--top", v, 1, 1000, &a->top) ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--threads", &v)) != 0)
        return k < 0 || !cli_parse_int("--threads", v, 1, 64, &a->threads) ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--validate", &v)) != 0)
        return k < 0 || !cli_parse_int("--validate", v, 0, 100, &a->validate) ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--samples", &v)) != 0)
        return k < 0 || !cli_parse_int("--samples", v, 1, 100000000, &a->samples) ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--cap", &v)) != 0)
        return k < 0 || !cli_parse_double("--cap", v, 1, 100, &a->cap) ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--seed", &v)) != 0) {
        long s;
        if (k < 0 || !cli_parse_int("--seed", v, 0, 0x7fffffffffffL, &s)) return -1;
        a->seed = (unsigned long long)s, a->seed_set = 1;
        return 1;
    }
    return 0;
}

/* 1 consumed, 0 unknown, -1 usage error */
static int string_opt(int argc, char **argv, int *i, args *a)
{
    const char *v;
    int k;
    if ((k = cli_opt(argc, argv, i, "--platform", &v)) != 0) return k < 0 ? -1 : (a->platform = v, 1);
    if ((k = cli_opt(argc, argv, i, "--model", &v)) != 0) return k < 0 ? -1 : (a->model = v, 1);
    if ((k = cli_opt(argc, argv, i, "--nodes", &v)) != 0) return k < 0 ? -1 : (a->nodes = v, 1);
    if ((k = cli_opt(argc, argv, i, "--plot", &v)) != 0) return k < 0 ? -1 : (a->plot = v, 1);
    if ((k = cli_opt(argc, argv, i, "--objective", &v)) != 0)
        return k < 0 || parse_objective(v, &a->objective) != EXIT_OK ? -1 : 1;
    if ((k = cli_opt(argc, argv, i, "--precision", &v)) != 0) {
        if (k < 0) return -1;
        if (strcmp(v, "w8a8"))
            return cli_usage_error("--precision: the simulator models the W8A8 datapath only, got '%s'", v), -1;
        return 1;
    }
    if ((k = cli_opt(argc, argv, i, "--set", &v)) != 0) {
        if (k < 0) return -1;
        if (a->nsets == MAX_SETS) return cli_usage_error("too many --set options (max %d)", MAX_SETS), -1;
        a->sets[a->nsets++] = v;
        return 1;
    }
    if ((k = cli_opt(argc, argv, i, "--vary", &v)) != 0) {
        if (k < 0) return -1;
        if (a->nvary == LLX_DSE_MAX_KNOBS) return cli_usage_error("too many --vary options (max %d)", LLX_DSE_MAX_KNOBS), -1;
        a->vary[a->nvary++] = v;
        return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--json")) a->json = 1;
        else if (cli_flag(argv, i, "--csv")) a->csv = 1;
        else if (cli_flag(argv, i, "--quiet")) a->quiet = 1;
        else {
            int k = number_opt(argc, argv, &i, a);
            if (k == 0) k = string_opt(argc, argv, &i, a);
            if (k < 0) return EXIT_USAGE;
            if (k == 0) return cli_usage_error("dse: unknown option '%s' (try 'looplynx dse --help')", argv[i]);
        }
    }
    if (a->json && a->csv) return cli_usage_error("--json and --csv go one at a time");
    if (a->have_work == 3) return cli_usage_error("--context cannot be combined with --prompt/--gen");
    if (a->have_work == 1 && (a->prompt == 0 || a->gen == 0)) return cli_usage_error("--prompt and --gen go together");
    if (a->plot) {
        const char *dot = strrchr(a->plot, '.');
        if (!dot || (strcmp(dot, ".svg") && strcmp(dot, ".png")))
            return cli_usage_error("--plot expects a file name ending in .svg or .png, got '%s'", a->plot);
    }
    return EXIT_OK;
}

/* ---- progress on stderr ---- */

typedef struct prog {
    int tty, last_decile;
    double t0;
} prog;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void progress(void *ctx, double frac, const char *what)
{
    prog *p = ctx;
    int dec = (int)(frac * 10);
    if (p->tty) {
        fprintf(stderr, "\rdse %3d%% %6.1f s  %-60.60s", (int)(frac * 100 + 0.5), now_s() - p->t0, what);
        if (frac >= 1) fputc('\n', stderr);
    } else if (dec > p->last_decile || frac >= 1) {
        p->last_decile = dec;
        fprintf(stderr, "dse %3d%% %6.1f s  %s\n", (int)(frac * 100 + 0.5), now_s() - p->t0, what);
    }
    fflush(stderr);
}

static int set_up(const args *a, llx_config *m, llx_dse_opts *o)
{
    llx_sim_config c;
    int rc = cli_sim_platform(a->platform, &c);
    if (rc == EXIT_OK) rc = cli_sim_sets(&c, a->sets, a->nsets);
    if (rc == EXIT_OK) rc = cli_sim_model(a->model, m, &c.scheme);
    if (rc != EXIT_OK) return rc;
    if (llx_sim_check(&c, m) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    int lo, hi;
    if (llx_dse_parse_range(a->nodes, &lo, &hi) != LLX_OK) return cli_usage_error("--nodes: %s", llx_errmsg());
    if (llx_dse_opts_init(o, &c, m, lo, hi) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    for (int i = 0; i < a->nvary; i++) {
        const char *eq = strchr(a->vary[i], '=');
        if (!eq || eq == a->vary[i]) return cli_usage_error("--vary expects KEY=V1,V2,..., got '%s'", a->vary[i]);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->vary[i]) < 63 ? (int)(eq - a->vary[i]) : 63, a->vary[i]);
        if (llx_dse_set_knob(o, key, eq + 1) != LLX_OK) return cli_usage_error("--vary: %s", llx_errmsg());
    }
    if (a->have_work & 2) o->work.context = (int)a->context;
    if (a->have_work & 1) o->work = (llx_sim_workload){(int)a->prompt, (int)a->gen, 0};
    o->objective = (llx_dse_objective)a->objective;
    o->cap = a->cap / 100;
    o->top = (int)a->top, o->threads = (int)a->threads, o->validate = (int)a->validate;
    o->max_candidates = a->samples;
    if (a->seed_set) o->seed = a->seed;
    return EXIT_OK;
}

int cmd_dse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
    args a;
    memset(&a, 0, sizeof a);
    a.platform = "u50", a.model = "gpt2-medium", a.nodes = "1-4";
    a.top = 10, a.threads = 2, a.validate = 3, a.cap = 80;
    int rc = parse_args(argc, argv, &a);
    if (rc != EXIT_OK) return rc;
    llx_config m;
    llx_dse_opts o;
    if ((rc = set_up(&a, &m, &o)) != EXIT_OK) return rc;
    prog p = {isatty(2), -1, now_s()};
    if (!a.quiet) o.progress = progress, o.progress_ctx = &p;
    llx_dse_result r;
    if (llx_dse_run(&o, &m, &r) != LLX_OK) return cli_lib_error();
    dse_report rep = {&o, &r, &m, a.model, now_s() - p.t0};
    if (a.plot && dse_plot(&rep, a.plot) != EXIT_OK) {
        llx_dse_result_free(&r);
        return EXIT_RUNTIME;
    }
    if (a.json) dse_print_json(&rep);
    else if (a.csv) dse_print_csv(&rep);
    else dse_print_text(&rep, a.plot);
    llx_dse_result_free(&r);
    return EXIT_OK;
}
