/* cli/cmd_bench.c - looplynx bench: prefill and decode speed (llama-bench
 * style), weight bytes streamed per decoded token, and the same machine's
 * memory read bandwidth measured in the same run for comparison.  With
 * --vs a second model runs in the same process, its repetitions
 * alternating with the first model's, and the ratio of their speeds is
 * taken per repetition pair: on a shared machine whose bandwidth drifts
 * between runs, two separate runs compare two different machines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/bench.h"

#define MAX_SWEEP 16
#define PROBE_LLC_MULTIPLE 4 /* the bandwidth probe reads at least this many times the last-level cache */
#define PROBE_PASSES 3       /* passes of each probe pattern beside each repetition (the fastest counts) */
#define HANDOFF_TRIPS 2000   /* cache-line round trips per batch of the handoff probe */
#define HANDOFF_BATCHES 5    /* batches beside each repetition (the fastest counts) */

typedef struct bench_args {
    const char *model, *vs;
    long prompt, gen, reps, membw_mb;
    long nodes[MAX_SWEEP], threads[MAX_SWEEP];
    int n_nodes, n_threads, membw, membw_set, json;
    cli_engine ce;
} bench_args;

typedef struct stat2 {
    double mean, sd;
} stat2;

typedef struct bench_result {
    int nodes, threads;
    stat2 pp, tg;             /* tokens/s */
    double ring_ms_per_token; /* ring time not hidden: per gather, the last node's wait */
    double wait_ms_per_token; /* node 0's whole wait in gathers (includes imbalance) */
    double ring_bytes_per_token;
    long long weight_bytes;
    double membw, ratio, rss_mb, model_mb, kv_mb; /* membw: median of the probes; ratio: median per rep */
    double membw_pattern[LLX_MEMBW_PATTERNS];     /* median of each probe pattern's figure */
    double handoff_ns;                            /* median of the handoff probes' round trips, 0: none */
    double vs_pp, vs_tg; /* --vs model's result: median per repetition pair of its tok/s / the first model's */
    const char *kernels;
    const char *label; /* the precision it ran */
    const llx_model *m;
} bench_result;

static void help(void)
{
    printf("usage: looplynx bench -m MODEL [options]\n\n"
           "Measure prefill (pp) and decode (tg) tokens/s as mean +- sd over repetitions,\n"
           "the weight bytes read per decoded token and the bandwidth that implies.\n\n"
           "  -m, --model MODEL    HuggingFace folder (fp32) or .llx file (quantized)\n"
           "  --prompt N           prompt tokens (default 128)\n"
           "  --gen N              decoded tokens (default 128)\n"
           "  -r, --reps R         repetitions (default 3)\n"
           "  --nodes LIST         ring sizes to sweep, e.g. 1,2 (default 1)\n"
           "  -t, --threads LIST   threads per node to sweep, e.g. 1,2 (default: all cores)\n"
           "  --membw              also measure this machine's memory read bandwidth with the\n"
           "                       same total thread count, next to every repetition (the fastest\n"
           "                       of 3 passes of each of two read patterns, seq and 4-stream);\n"
           "                       the ratio is the median of per-repetition decode GB/s / probe GB/s;\n"
           "                       with two threads or more (and no more than the CPUs), also the\n"
           "                       time a cache line takes from one thread to another and back\n"
           "  --membw-mb N         size of the probe in MiB (default 1024, or 4x the last-level\n"
           "                       cache if that is larger; implies --membw)\n"
           "  --vs MODEL2          also bench MODEL2 in the same run, its repetitions alternating\n"
           "                       with MODEL's (A B, B A, ...); reports MODEL2's speed over\n"
           "                       MODEL's as the median of per-repetition ratios\n"
           "  --json               JSON: one object, or {\"results\": [...]} for a sweep or --vs\n");
    cli_engine_help(stdout);
}

static int parse(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof *a);
    cli_engine_init(&a->ce);
    a->prompt = a->gen = 128;
    a->reps = 3;
    a->membw_mb = 1024;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return -1;
        }
        if ((r = cli_opt(argc, argv, &i, "--nodes", &v))) {
            if (r < 0 || !(a->n_nodes = cli_parse_int_list("--nodes", v, 1, 64, a->nodes, MAX_SWEEP))) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) || (r = cli_opt(argc, argv, &i, "-t", &v))) {
            if (r < 0 || !(a->n_threads = cli_parse_int_list("--threads", v, 1, 256, a->threads, MAX_SWEEP)))
                return EXIT_USAGE;
        } else if ((r = cli_engine_flag(argc, argv, &i, &a->ce))) {
            if (r < 0) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->model = v;
        } else if ((r = cli_opt(argc, argv, &i, "--vs", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->vs = v;
        } else if ((r = cli_opt(argc, argv, &i, "--prompt", &v))) {
            if (r < 0 || !cli_parse_int("--prompt", v, 1, 1 << 16, &a->prompt)) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--gen", &v))) {
            if (r < 0 || !cli_parse_int("--gen", v, 1, 1 << 16, &a->gen)) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--reps", &v)) || (r = cli_opt(argc, argv, &i, "-r", &v))) {
            if (r < 0 || !cli_parse_int("--reps", v, 1, 1000, &a->reps)) return EXIT_USAGE;
        } else if (cli_flag(argv, i, "--membw")) {
            a->membw = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--membw-mb", &v))) {
            if (r < 0 || !cli_parse_int("--membw-mb", v, 1, 1 << 20, &a->membw_mb)) return EXIT_USAGE;
            a->membw = 1;
            a->membw_set = 1;
        } else if (cli_flag(argv, i, "--json")) {
            a->json = 1;
        } else {
            return cli_usage_error("bench: unknown option '%s' (see looplynx bench --help)", argv[i]);
        }
    }
    if (!a->n_nodes) a->nodes[0] = a->ce.opt.nodes, a->n_nodes = 1;
    if (!a->n_threads) a->threads[0] = a->ce.opt.threads, a->n_threads = 1;
    if (a->ce.opt.backend == LLX_BACKEND_MPI) return cli_usage_error("bench runs the threads backend only");
    /* the probe must stream from memory, not from the last-level cache */
    const long llc_mb = (long)((llx_llc_bytes() + (1u << 20) - 1) >> 20), need = PROBE_LLC_MULTIPLE * llc_mb;
    if (a->membw_set && a->membw_mb < need)
        return cli_usage_error("--membw-mb %ld is less than %d times this machine's last-level cache (%ld MiB): the "
                               "probe would read from cache", a->membw_mb, PROBE_LLC_MULTIPLE, llc_mb);
    if (!a->membw_set && a->membw_mb < need) a->membw_mb = need;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static stat2 stats(const double *x, int n)
{
    stat2 s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += x[i];
    s.mean /= n;
    for (int i = 0; i < n; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0.0;
    return s;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static int argmax(const float *x, int n)
{
    static llx_sampler *greedy; /* the library's argmax (vectorized), ties to the lowest id */
    if (!greedy) {
        const llx_sampler_opts o = {.greedy = 1};
        if (llx_sampler_create(&greedy, &o, n) != LLX_OK) return 0;
    }
    return llx_sample(greedy, x);
}

/* One repetition: prefill the prompt, then decode greedily. */
static llx_status one_rep(llx_engine *e, const int *ids, const bench_args *a, float *logits, double *pp, double *tg,
                          double *ring_s, double *wait_s, long long *ring_b)
{
    const int V = llx_engine_config(e)->n_vocab;
    llx_engine_reset(e);
    double t0 = now_s();
    if (llx_engine_forward(e, ids, (int)a->prompt, logits, 0) != LLX_OK) return LLX_ERR_INTERNAL;
    double t1 = now_s();
    *pp = a->prompt / (t1 - t0);
    llx_engine_clear_stats(e);
    int tok = argmax(logits, V);
    t0 = now_s();
    for (long g = 0; g < a->gen; g++) {
        if (llx_engine_forward(e, &tok, 1, logits, 0) != LLX_OK) return LLX_ERR_INTERNAL;
        tok = argmax(logits, V);
    }
    t1 = now_s();
    *tg = a->gen / (t1 - t0);
    llx_engine_stats es;
    llx_engine_get_stats(e, &es);
    *ring_s = es.ring_exposed_s;
    *wait_s = es.ring_wait_s;
    *ring_b = es.ring_bytes;
    return LLX_OK;
}

/* "bench: nodes N threads T rep r/R" on stderr: rewritten in place on a
 * terminal (and wiped at the end, r = 0), one line each otherwise. */
static void progress(int nodes, int threads, long r, long reps)
{
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    if (tty && r) fprintf(stderr, "\rbench: nodes %d threads %d rep %ld/%ld", nodes, threads, r, reps);
    else if (tty) fprintf(stderr, "\r%60s\r", "");
    else if (r) fprintf(stderr, "bench: nodes %d threads %d rep %ld/%ld\n", nodes, threads, r, reps);
}

/* One model's engine and its repetitions' figures in run_config. */
typedef struct side {
    cli_engine *ce; /* its options and precision label */
    llx_model *m;
    llx_engine *e;
    int *ids;
    float *logits;
    double *pp, *tg, *ratio, ring_s, wait_s, rss;
    long long ring_b;
    llx_engine_stats es0;
} side;

/* Create the engine, the prompt and the buffers, and warm up (fault in
 * weights and caches). */
static int side_setup(const bench_args *a, side *sd)
{
    const llx_config *c = llx_model_config(sd->m);
    if (a->prompt + a->gen > c->n_ctx)
        return cli_usage_error("--prompt %ld + --gen %ld exceed the model context of %d", a->prompt, a->gen, c->n_ctx);
    if (llx_engine_create(&sd->e, sd->m, &sd->ce->opt) != LLX_OK) return cli_lib_error();
    sd->ids = malloc((size_t)a->prompt * sizeof *sd->ids);
    sd->logits = malloc((size_t)c->n_vocab * sizeof *sd->logits);
    sd->pp = calloc((size_t)a->reps, sizeof *sd->pp), sd->tg = calloc((size_t)a->reps, sizeof *sd->tg);
    sd->ratio = calloc((size_t)a->reps, sizeof *sd->ratio);
    if (!sd->ids || !sd->logits || !sd->pp || !sd->tg || !sd->ratio) return cli_runtime_error("out of memory");
    unsigned x = 12345;
    for (long i = 0; i < a->prompt; i++) sd->ids[i] = (int)((x = x * 1103515245u + 12345u) >> 8) % c->n_vocab;
    double rs, ws;
    long long rb;
    if (one_rep(sd->e, sd->ids, &(bench_args){.prompt = a->prompt < 16 ? a->prompt : 16, .gen = 2}, sd->logits, &rs,
                &rs, &rs, &ws, &rb) != LLX_OK)
        return cli_lib_error();
    sd->rss = llx_rss_bytes() / 1e6; /* before the probe's buffer exists */
    llx_engine_get_stats(sd->e, &sd->es0);
    return 0;
}

static int side_rep(const bench_args *a, side *sd, long r, double bw)
{
    double rs, ws;
    long long rb;
    if (one_rep(sd->e, sd->ids, a, sd->logits, &sd->pp[r], &sd->tg[r], &rs, &ws, &rb) != LLX_OK) {
        if (!a->json) progress(0, 0, 0, 0); /* the error line starts a line of its own */
        return cli_lib_error();
    }
    sd->ring_s += rs, sd->wait_s += ws, sd->ring_b += rb;
    if (bw > 0) sd->ratio[r] = sd->es0.weight_bytes * sd->tg[r] / 1e9 / bw;
    return 0;
}

static void side_result(const bench_args *a, side *sd, double *bw, double *bw_pat[], bench_result *res)
{
    const llx_config *c = llx_model_config(sd->m);
    llx_engine_stats es;
    llx_engine_get_stats(sd->e, &es);
    res->nodes = sd->ce->opt.nodes, res->threads = sd->ce->opt.threads;
    res->pp = stats(sd->pp, (int)a->reps);
    res->tg = stats(sd->tg, (int)a->reps);
    res->ring_ms_per_token = sd->ring_s * 1e3 / ((double)a->reps * a->gen);
    res->wait_ms_per_token = sd->wait_s * 1e3 / ((double)a->reps * a->gen);
    res->ring_bytes_per_token = (double)sd->ring_b / ((double)a->reps * a->gen);
    res->weight_bytes = es.weight_bytes;
    res->kernels = es.kernels;
    res->label = sd->ce->label;
    res->m = sd->m;
    res->rss_mb = sd->rss;
    res->model_mb = llx_model_bytes(sd->m) / 1e6;
    const int kv_elem = sd->ce->opt.precision == LLX_PREC_FP32 ? 4 : 1;
    /* K and V of every KV head at the engine's context (copies on several nodes not counted) */
    res->kv_mb = 2.0 * c->n_layer * llx_config_kv_heads(c) * llx_config_head_dim(c) * (double)llx_engine_max_ctx(sd->e) *
                 kv_elem / 1e6;
    res->membw = bw ? median(bw, (int)a->reps) : 0;
    for (int i = 0; bw && i < LLX_MEMBW_PATTERNS; i++) res->membw_pattern[i] = median(bw_pat[i], (int)a->reps);
    res->ratio = bw ? median(sd->ratio, (int)a->reps) : 0;
}

static void side_free(side *sd)
{
    free(sd->ids), free(sd->logits), free(sd->pp), free(sd->tg), free(sd->ratio);
    llx_engine_free(sd->e);
    sd->ids = NULL, sd->logits = NULL, sd->pp = sd->tg = sd->ratio = NULL, sd->e = NULL;
}

/* median over repetitions of y[r] / x[r] */
static double pair_ratio(const double *y, const double *x, long reps)
{
    double q[1000];
    for (long r = 0; r < reps; r++) q[r] = x[r] > 0 ? y[r] / x[r] : 0;
    return median(q, (int)reps);
}

/* One sweep point: the model (and the --vs model, ns = 2), each with its
 * own engine; repetition r runs them in the order A B for even r, B A for
 * odd r, with the probe next to every repetition. */
static int run_config(const bench_args *a, side *sd, int ns, int nodes, int threads, bench_result *res)
{
    for (int k = 0; k < ns; k++) sd[k].ce->opt.nodes = nodes, sd[k].ce->opt.threads = threads;
    int rc = 0;
    for (int k = 0; !rc && k < ns; k++) rc = side_setup(a, &sd[k]);
    double *bw = rc ? NULL : calloc((size_t)a->reps * (2 + LLX_MEMBW_PATTERNS), sizeof *bw), *bw_pat[LLX_MEMBW_PATTERNS];
    for (int i = 0; bw && i < LLX_MEMBW_PATTERNS; i++) bw_pat[i] = bw + (size_t)a->reps * (1 + i);
    double *ho = bw ? bw + (size_t)a->reps * (1 + LLX_MEMBW_PATTERNS) : NULL; /* handoff round trips, ns */
    llx_membw *probe = NULL;
    if (!rc && !bw) rc = cli_runtime_error("out of memory");
    if (!rc && a->membw && llx_membw_create(&probe, nodes * threads, (size_t)a->membw_mb << 20) != LLX_OK)
        rc = cli_lib_error();
    for (long r = 0; !rc && r < a->reps; r++) {
        /* the probe runs next to every repetition: this machine's bandwidth drifts */
        if (probe) {
            llx_membw_result pr;
            llx_membw_run(probe, PROBE_PASSES, &pr);
            bw[r] = pr.gb_s;
            for (int i = 0; i < LLX_MEMBW_PATTERNS; i++) bw_pat[i][r] = pr.pattern_gb_s[i];
            llx_handoff_result hr;
            llx_membw_handoff(probe, HANDOFF_TRIPS, HANDOFF_BATCHES, &hr);
            ho[r] = hr.round_trip_ns;
        }
        for (int k = 0; !rc && k < ns; k++) rc = side_rep(a, &sd[r % 2 ? ns - 1 - k : k], r, probe ? bw[r] : 0);
        if (!rc && !a->json) progress(nodes, threads, r + 1, a->reps);
    }
    if (!a->json) progress(0, 0, 0, 0);
    for (int k = 0; !rc && k < ns; k++) {
        side_result(a, &sd[k], probe ? bw : NULL, bw_pat, &res[k]);
        res[k].handoff_ns = probe ? median(ho, (int)a->reps) : 0;
    }
    if (!rc && ns == 2) {
        res[1].vs_pp = pair_ratio(sd[1].pp, sd[0].pp, a->reps);
        res[1].vs_tg = pair_ratio(sd[1].tg, sd[0].tg, a->reps);
    }
    llx_membw_free(probe);
    free(bw);
    for (int k = 0; k < ns; k++) side_free(&sd[k]);
    return rc;
}

static const char *base_name(const llx_model *m)
{
    const char *name = strrchr(llx_model_path(m), '/');
    return name && name[1] ? name + 1 : llx_model_path(m);
}

static void print_json_one(const bench_args *a, const bench_result *r)
{
    const llx_model *m = r->m;
    const double gbs = r->weight_bytes * r->tg.mean / 1e9;
    printf("{\"model\": ");
    cli_json_string(stdout, llx_model_path(m), strlen(llx_model_path(m)));
    printf(", \"precision\": \"%s\", \"kernels\": \"%s\", \"nodes\": %d, \"threads\": %d, "
           "\"prompt\": %ld, \"gen\": %ld, \"reps\": %ld, "
           "\"prefill_tok_s\": %.3f, \"prefill_tok_s_sd\": %.3f, \"decode_tok_s\": %.3f, \"decode_tok_s_sd\": %.3f, "
           "\"weight_bytes_per_token\": %lld, \"decode_gb_s\": %.3f, \"ring_exposed_ms_per_token\": %.4f, "
           "\"ring_wait_ms_per_token\": %.4f, \"ring_bytes_per_token\": %.0f, \"rss_mb\": %.1f, \"model_mb\": %.1f, \"kv_cache_mb\": %.1f",
           r->label, r->kernels, r->nodes, r->threads, a->prompt, a->gen, a->reps,
           r->pp.mean, r->pp.sd, r->tg.mean, r->tg.sd, r->weight_bytes, gbs, r->ring_ms_per_token,
           r->wait_ms_per_token, r->ring_bytes_per_token, r->rss_mb, r->model_mb, r->kv_mb);
    if (r->membw > 0) {
        printf(", \"membw_gb_s\": %.3f, \"membw_probe_mib\": %ld, \"decode_membw_ratio\": %.4f, \"membw_patterns\": {",
               r->membw, a->membw_mb, r->ratio);
        for (int i = 0; i < LLX_MEMBW_PATTERNS; i++)
            printf("%s\"%s\": %.3f", i ? ", " : "", llx_membw_pattern_name(i), r->membw_pattern[i]);
        printf("}, \"membw_passes\": %d", PROBE_PASSES);
        if (r->handoff_ns > 0) printf(", \"handoff_round_trip_ns\": %.1f", r->handoff_ns);
    }
    if (r->vs_tg > 0) printf(", \"vs_prefill_ratio\": %.4f, \"vs_decode_ratio\": %.4f", r->vs_pp, r->vs_tg);
    printf("}");
}

static void print_table(const bench_args *a, const bench_result *r, int n)
{
    printf("| %-10s | %-12s | %5s | %7s | %6s | %18s | %8s | %8s | %8s |\n", "model", "precision", "nodes", "threads",
           "test", "t/s", "GB/s", "membw", "ratio");
    printf("|------------|--------------|------:|--------:|-------:|-------------------:|---------:|---------:|---------:|\n");
    for (int i = 0; i < n; i++) {
        const char *name = base_name(r[i].m);
        const double gbs = r[i].weight_bytes * r[i].tg.mean / 1e9;
        char mb[32] = "-", ratio[32] = "-";
        if (r[i].membw > 0) {
            snprintf(mb, sizeof mb, "%.2f", r[i].membw);
            snprintf(ratio, sizeof ratio, "%.1f%%", 100 * r[i].ratio);
        }
        printf("| %-10.10s | %-12s | %5d | %7d | pp%-4ld | %9.2f +- %6.2f | %8s | %8s | %8s |\n", name,
               r[i].label, r[i].nodes, r[i].threads, a->prompt, r[i].pp.mean,
               r[i].pp.sd, "-", "-", "-");
        printf("| %-10.10s | %-12s | %5d | %7d | tg%-4ld | %9.2f +- %6.2f | %8.2f | %8s | %8s |\n", name,
               r[i].label, r[i].nodes, r[i].threads, a->gen, r[i].tg.mean, r[i].tg.sd,
               gbs, mb, ratio);
    }
    for (int i = 0; i < n; i++)
        printf("nodes %d threads %d: %.1f MB weights/token, ring exposed %.3f ms/token (%.1f%% of a token; "
               "node 0 waited %.3f ms), %.0f ring bytes/token, rss %.0f MB (model %.0f MB + kv %.0f MB), kernels %s\n",
               r[i].nodes, r[i].threads, r[i].weight_bytes / 1e6, r[i].ring_ms_per_token,
               r[i].tg.mean > 0 ? 100 * r[i].ring_ms_per_token * r[i].tg.mean / 1e3 : 0.0, r[i].wait_ms_per_token,
               r[i].ring_bytes_per_token, r[i].rss_mb, r[i].model_mb, r[i].kv_mb, r[i].kernels);
    for (int i = 0; i < n; i++)
        if (r[i].membw > 0 && (i == 0 || r[i].threads != r[i - 1].threads || r[i].nodes != r[i - 1].nodes))
            printf("nodes %d threads %d: probe %ld MiB, the faster of %s %.2f and %s %.2f GB/s (medians over "
                   "repetitions of each pattern's fastest of %d passes)\n", r[i].nodes, r[i].threads, a->membw_mb,
                   llx_membw_pattern_name(0), r[i].membw_pattern[0], llx_membw_pattern_name(1), r[i].membw_pattern[1],
                   PROBE_PASSES);
    for (int i = 0; i < n; i++)
        if (r[i].handoff_ns > 0 && (i == 0 || r[i].threads != r[i - 1].threads || r[i].nodes != r[i - 1].nodes))
            printf("nodes %d threads %d: a cache line from one probe thread to another and back in %.0f ns (median over "
                   "repetitions of the fastest of %d batches of %d)\n", r[i].nodes, r[i].threads, r[i].handoff_ns,
                   HANDOFF_BATCHES, HANDOFF_TRIPS);
    for (int i = 0; i < n; i++)
        if (r[i].vs_tg > 0) {
            printf("nodes %d threads %d: %s / %s (repetitions alternating, medians of per-repetition ratios): "
                   "decode %.2fx, prefill %.2fx\n", r[i].nodes, r[i].threads, base_name(r[i].m), base_name(r[i - 1].m),
                   r[i].vs_tg, r[i].vs_pp);
        }
}

int cmd_bench(int argc, char **argv)
{
    bench_args a;
    int rc = parse(argc, argv, &a);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    cli_engine ce_vs = a.ce; /* the same flags; its own precision and label */
    side sd[2] = {{.ce = &a.ce}, {.ce = &ce_vs}};
    if ((rc = cli_engine_open(&a.ce, a.model, &sd[0].m))) return rc;
    const int ns = a.vs ? 2 : 1;
    if (a.vs && (rc = cli_engine_open(&ce_vs, a.vs, &sd[1].m))) {
        llx_model_close(sd[0].m);
        return rc;
    }
    bench_result res[2 * MAX_SWEEP * MAX_SWEEP];
    memset(res, 0, sizeof res);
    int n = 0;
    for (int i = 0; !rc && i < a.n_nodes; i++)
        for (int j = 0; !rc && j < a.n_threads; j++) {
            rc = run_config(&a, sd, ns, (int)a.nodes[i], (int)a.threads[j], &res[n]);
            if (!rc) n += ns;
        }
    if (!rc && a.json) {
        if (n == 1) print_json_one(&a, &res[0]);
        else {
            printf("{\"results\": [");
            for (int i = 0; i < n; i++) {
                if (i) printf(", ");
                print_json_one(&a, &res[i]);
            }
            printf("]}");
        }
        printf("\n");
    } else if (!rc) {
        print_table(&a, res, n);
    }
    for (int k = 0; k < ns; k++) llx_model_close(sd[k].m);
    return rc;
}
