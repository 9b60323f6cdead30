/* cli/cmd_serve_bench.c - looplynx serve-bench: decode throughput and
 * per-token latency of continuous batching, P sequences at a time, for a
 * list of P (the engine side of `looplynx serve`, without HTTP). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/bench.h"

#define MAX_P 16

typedef struct sb_args {
    const char *model;
    long prompt, gen, reps;
    long par[MAX_P];
    int n_par, json;
    cli_engine ce;
} sb_args;

static void help(void)
{
    printf("usage: looplynx serve-bench -m MODEL [options]\n\n"
           "Decode P sequences together (one pass of the weights per step for all of them)\n"
           "and report the aggregate decode tokens/s and the per-token latency (a step's\n"
           "duration: every sequence gets one token per step), for each P.\n\n"
           "  -m, --model MODEL    HuggingFace folder (fp32) or .llx file (quantized)\n"
           "  -P, --parallel LIST  sequences decoded together, e.g. 1,2,4,8,16 (default 1,2,4,8,16)\n"
           "  --prompt N           prompt tokens per sequence (default 32)\n"
           "  --gen N              decode steps (default 128)\n"
           "  -r, --reps R         repetitions per P; the best aggregate rate is kept (default 1)\n"
           "  --json               one JSON object with a result per P\n");
    cli_engine_help(stdout);
}

static int parse(int argc, char **argv, sb_args *a)
{
    memset(a, 0, sizeof *a);
    cli_engine_init(&a->ce);
    a->prompt = 32;
    a->gen = 128;
    a->reps = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return -1;
        }
        if ((r = cli_opt(argc, argv, &i, "--parallel", &v)) || (r = cli_opt(argc, argv, &i, "-P", &v))) {
            if (r < 0 || !(a->n_par = cli_parse_int_list("--parallel", v, 1, 256, a->par, MAX_P))) return EXIT_USAGE;
        } else if ((r = cli_engine_flag(argc, argv, &i, &a->ce))) {
            if (r < 0) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->model = v;
        } else if ((r = cli_opt(argc, argv, &i, "--prompt", &v))) {
            if (r < 0 || !cli_parse_int("--prompt", v, 1, 1 << 20, &a->prompt)) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--gen", &v))) {
            if (r < 0 || !cli_parse_int("--gen", v, 1, 1 << 20, &a->gen)) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--reps", &v)) || (r = cli_opt(argc, argv, &i, "-r", &v))) {
            if (r < 0 || !cli_parse_int("--reps", v, 1, 100, &a->reps)) return EXIT_USAGE;
        } else if (cli_flag(argv, i, "--json")) {
            a->json = 1;
        } else {
            return cli_usage_error("serve-bench: unknown option '%s' (see looplynx serve-bench --help)", argv[i]);
        }
    }
    if (!a->n_par) {
        static const long def[] = {1, 2, 4, 8, 16};
        memcpy(a->par, def, sizeof def);
        a->n_par = 5;
    }
    long most = 0;
    for (int i = 0; i < a->n_par; i++) most = a->par[i] > most ? a->par[i] : most;
    if (!a->ce.opt.max_seqs) a->ce.opt.max_seqs = (int)most;
    if (!a->ce.opt.max_ctx) a->ce.opt.max_ctx = (int)(a->prompt + a->gen);
    return 0;
}

static void print_row(const sb_args *a, const llx_batch_bench *r, double base, int first)
{
    if (a->json) {
        printf("%s{\"parallel\": %d, \"decode_tok_s\": %.2f, \"speedup\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
               "\"prefill_s\": %.4f}",
               first ? "" : ", ", r->parallel, r->decode_tok_s, base > 0 ? r->decode_tok_s / base : 0, r->p50_ms,
               r->p99_ms, r->prefill_s);
        return;
    }
    printf("| %3d | %10.1f | %9.1f | %5.2fx | %10.2f | %10.2f |\n", r->parallel, r->decode_tok_s,
           r->decode_tok_s / r->parallel, base > 0 ? r->decode_tok_s / base : 0, r->p50_ms, r->p99_ms);
}

int cmd_serve_bench(int argc, char **argv)
{
    sb_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    llx_model *m = NULL;
    llx_engine *e = NULL;
    if ((rc = cli_engine_open(&a.ce, a.model, &m)) || (rc = cli_engine_create(&a.ce, m, &e))) {
        cli_engine_done(&a.ce, m, e);
        return rc;
    }
    llx_engine_stats es;
    llx_engine_get_stats(e, &es);
    if (a.json)
        printf("{\"model\": \"%s\", \"precision\": \"%s\", \"nodes\": %d, \"threads\": %d, \"kernels\": \"%s\", "
               "\"prompt\": %ld, \"gen\": %ld, \"results\": [",
               a.model, a.ce.label, a.ce.opt.nodes, a.ce.opt.threads, es.kernels, a.prompt,
               a.gen);
    else
        printf("%s, %s, %d node(s) x %d thread(s), kernels %s, prompt %ld, %ld decode steps\n\n"
               "|   P |  agg tok/s | tok/s/seq | vs P=1 | p50 ms/tok | p99 ms/tok |\n"
               "| --: | ---------: | --------: | -----: | ---------: | ---------: |\n",
               a.model, a.ce.label, a.ce.opt.nodes, a.ce.opt.threads, es.kernels, a.prompt,
               a.gen);
    fflush(stdout);
    double base = 0;
    for (int i = 0; i < a.n_par && !rc; i++) {
        llx_batch_bench best = {0}, r;
        for (long k = 0; k < a.reps && !rc; k++) {
            if (llx_bench_batch(e, (int)a.par[i], (int)a.prompt, (int)a.gen, &r) != LLX_OK) rc = cli_engine_fail(&a.ce);
            else if (r.decode_tok_s > best.decode_tok_s) best = r;
        }
        if (rc) break;
        if (a.par[i] == 1) base = best.decode_tok_s;
        print_row(&a, &best, base, i == 0);
        fflush(stdout);
    }
    if (a.json && !rc) printf("]}\n");
    cli_engine_done(&a.ce, m, e);
    return rc;
}
