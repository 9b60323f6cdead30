/* cli/cmd_fifo.c - `looplynx fifo`: size the FIFOs of a layer's stages (or
 * one stage) of a simulated design by linear programming (src/dse,
 * docs/dse.md section 3), report depths and the BRAM saved against the
 * design's depths, and with --prove show it in the simulator. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "llx/dse.h"
#include "sim_args.h"

#define MAX_SETS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: looplynx fifo [options]\n\n"
            "Size the FIFOs of the simulated LoopLynx design by linear programming (GLPK): the fewest FIFO bits\n"
            "with which every stage of a layer runs as fast as with unbounded FIFOs.\n\n"
            "  --platform NAME|FILE   u50 (default), u280, u55c, v80, or a platform .json file\n"
            "  --model M              as for 'looplynx sim' (default gpt2-medium)\n"
            "  --nodes N              accelerator nodes (default 1)\n"
            "  --context C            keys the attention stage attends (default: the model's context, the\n"
            "                         longest any token needs)\n"
            "  --stage OP             one stage of the layer (qkv, attn, proj, fc1, fc2, ln1, res_ln2, res)\n"
            "  --set KEY=VALUE        override a parameter (repeatable; see 'looplynx sim --help')\n"
            "  --prove                run the stages with unbounded, sized and design FIFOs, and each critical\n"
            "                         FIFO one entry shallower, on the cycle-stepped engine\n"
            "  --json                 print one JSON object\n"
            "  --help                 this text\n");
}

typedef struct fargs {
    const char *platform, *model, *stage, *sets[MAX_SETS];
    int nsets, prove, json;
    long nodes, context;
} fargs;

static int parse(int argc, char **argv, fargs *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v;
        int k;
        if (cli_flag(argv, i, "--prove")) a->prove = 1;
        else if (cli_flag(argv, i, "--json")) a->json = 1;
        else if ((k = cli_opt(argc, argv, &i, "--platform", &v)) != 0) {
            if (k < 0) return EXIT_USAGE;
            a->platform = v;
        } else if ((k = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            if (k < 0) return EXIT_USAGE;
            a->model = v;
        } else if ((k = cli_opt(argc, argv, &i, "--stage", &v)) != 0) {
            if (k < 0) return EXIT_USAGE;
            a->stage = v;
        } else if ((k = cli_opt(argc, argv, &i, "--nodes", &v)) != 0) {
            if (k < 0 || !cli_parse_int("--nodes", v, 1, LLX_MAX_NODES, &a->nodes)) return EXIT_USAGE;
        } else if ((k = cli_opt(argc, argv, &i, "--context", &v)) != 0) {
            if (k < 0 || !cli_parse_int("--context", v, 1, 1 << 20, &a->context)) return EXIT_USAGE;
        } else if ((k = cli_opt(argc, argv, &i, "--set", &v)) != 0) {
            if (k < 0) return EXIT_USAGE;
            if (a->nsets == MAX_SETS) return cli_usage_error("too many --set options (max %d)", MAX_SETS);
            a->sets[a->nsets++] = v;
        } else {
            return cli_usage_error("fifo: unknown option '%s' (try 'looplynx fifo --help')", argv[i]);
        }
    }
    return EXIT_OK;
}

/* layer 0's accelerator stages, or the one named */
static int pick_stages(const llx_schedule *s, const char *name, int *st, int *n)
{
    *n = 0;
    for (int i = 0; i < s->n_stages && *n < LLX_FIFO_MAX_STAGES; i++) {
        const llx_stage *g = &s->stages[i];
        if (g->layer != 0 || g->kernel == LLX_KERNEL_HOST) continue;
        if (name && strcmp(llx_op_name(g->op), name)) continue;
        st[(*n)++] = i;
    }
    if (*n == 0) return cli_usage_error("--stage '%s' is not an accelerator stage of a layer", name ? name : "?");
    return EXIT_OK;
}

static void print_text(const llx_schedule *s, const llx_fifo_layer_plan *p, const llx_fifo_proof *pr, const char *model,
                       const llx_sim_config *c)
{
    printf("fifo: %s on %s, %d node(s), layer 0 at context %d; %d stage(s)\n\n", model, c->plat.name, c->arch.nodes,
           s->stages[p->stages[0]].pos + 1, p->nstages);
    printf("  %-24s %6s %6s %7s %7s %-8s %-8s %10s %10s\n", "FIFO", "width", "copies", "design", "sized", "stage",
           "critical", "BRAM36 was", "BRAM36 now");
    for (int i = 0; i < p->nclasses; i++) {
        const llx_fifo_class *k = &p->cls[i];
        printf("  %-24s %6d %6d %7d %7d %-8s %-8s %10.1f %10.1f\n", k->name, k->width_bits, k->copies, k->design_depth,
               k->depth, llx_op_name(s->stages[k->stage].op), k->critical ? "yes" : "",
               llx_sim_bram36(k->design_depth, k->width_bits) * k->copies, llx_sim_bram36(k->depth, k->width_bits) * k->copies);
    }
    printf("\nFIFO bits %.0f -> %.0f; BRAM36 %.1f -> %.1f (%.1f saved); URAM 0 -> 0 (the design keeps FIFOs in BRAM "
           "or LUTRAM)\n",
           p->design_bits, p->bits, p->design_bram, p->bram, p->design_bram - p->bram);
    if (!pr) return;
    printf("\nproof on the cycle-stepped engine (cycles of each stage):\n  %-8s %10s %10s %10s %8s\n", "stage",
           "unbounded", "sized", "design", "sized vs unbounded");
    for (int i = 0; i < pr->nstages; i++)
        printf("  %-8s %10lld %10lld %10lld %+7.3f%%\n", llx_op_name(s->stages[p->stages[i]].op), pr->unbounded[i],
               pr->sized[i], pr->design[i], 100.0 * (double)(pr->sized[i] - pr->unbounded[i]) / (double)pr->unbounded[i]);
    printf("\neach critical FIFO one entry shallower:\n");
    for (int i = 0; i < pr->nchecks; i++) {
        const llx_fifo_check *ck = &pr->checks[i];
        const llx_fifo_class *k = &p->cls[ck->cls];
        printf("  %-24s %5d (%s): ", k->name, k->depth - 1, llx_op_name(s->stages[ck->stage].op));
        if (ck->deadlock) printf("deadlocks: %s\n", ck->what);
        else
            printf("%lld cycles (%+lld); %s fires %ld times later (%lld cycles in all)\n", ck->cycles,
                   ck->cycles - ck->sized, k->prod_name, ck->late, ck->late_cycles);
    }
}

static void print_json(const llx_schedule *s, const llx_fifo_layer_plan *p, const llx_fifo_proof *pr, const char *model,
                       const llx_sim_config *c)
{
    printf("{\"model\":");
    cli_json_string(stdout, model, strlen(model));
    printf(",\"platform\":\"%s\",\"nodes\":%d,\"context\":%d,\"fifos\":[", c->plat.name, c->arch.nodes,
           s->stages[p->stages[0]].pos + 1);
    for (int i = 0; i < p->nclasses; i++) {
        const llx_fifo_class *k = &p->cls[i];
        printf("%s{\"name\":\"%s\",\"width_bits\":%d,\"copies\":%d,\"design_depth\":%d,\"depth\":%d,\"stage\":\"%s\","
               "\"critical\":%s,\"producer\":\"%s\"}",
               i ? "," : "", k->name, k->width_bits, k->copies, k->design_depth, k->depth,
               llx_op_name(s->stages[k->stage].op), k->critical ? "true" : "false", k->prod_name);
    }
    printf("],\"bits\":%.0f,\"design_bits\":%.0f,\"bram\":%.1f,\"design_bram\":%.1f,\"bram_saved\":%.1f,\"uram_saved\":0",
           p->bits, p->design_bits, p->bram, p->design_bram, p->design_bram - p->bram);
    if (pr) {
        printf(",\"proof\":{\"stages\":[");
        for (int i = 0; i < pr->nstages; i++)
            printf("%s{\"stage\":\"%s\",\"unbounded\":%lld,\"sized\":%lld,\"design\":%lld}", i ? "," : "",
                   llx_op_name(s->stages[p->stages[i]].op), pr->unbounded[i], pr->sized[i], pr->design[i]);
        printf("],\"worst\":%.6g,\"shallower\":[", pr->worst);
        for (int i = 0; i < pr->nchecks; i++) {
            const llx_fifo_check *ck = &pr->checks[i];
            printf("%s{\"name\":\"%s\",\"depth\":%d,\"cycles\":%lld,\"sized\":%lld,\"late_firings\":%ld,"
                   "\"late_cycles\":%lld,\"deadlock\":",
                   i ? "," : "", p->cls[ck->cls].name, p->cls[ck->cls].depth - 1, ck->cycles, ck->sized, ck->late,
                   ck->late_cycles);
            if (ck->deadlock) cli_json_string(stdout, ck->what, strlen(ck->what));
            else printf("null");
            printf("}");
        }
        printf("]}");
    }
    printf("}\n");
}

int cmd_fifo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
    fargs a;
    memset(&a, 0, sizeof a);
    a.platform = "u50", a.model = "gpt2-medium", a.nodes = 1;
    int rc = parse(argc, argv, &a);
    llx_sim_config c;
    llx_config m;
    if (rc == EXIT_OK) rc = cli_sim_platform(a.platform, &c);
    if (rc != EXIT_OK) return rc;
    c.arch.nodes = (int)a.nodes;
    if ((rc = cli_sim_sets(&c, a.sets, a.nsets)) != EXIT_OK || (rc = cli_sim_model(a.model, &m, &c.scheme)) != EXIT_OK) return rc;
    if (llx_sim_check(&c, &m) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    int ctx = a.context ? (int)a.context : m.n_ctx;
    if (ctx > m.n_ctx) return cli_usage_error("--context %d exceeds the model's %d positions", ctx, m.n_ctx);
    llx_sched_opts so = {.nodes = c.arch.nodes, .tokens = 1, .pos = ctx - 1, .block_rows = c.block_rows};
    llx_sim_scheme_sched(&c.scheme, &so);
    llx_schedule s;
    if (llx_schedule_build(&s, &m, &so) != LLX_OK) return cli_lib_error();
    int stages[LLX_FIFO_MAX_STAGES], n;
    llx_fifo_layer_plan p;
    llx_fifo_proof pr;
    rc = pick_stages(&s, a.stage, stages, &n);
    if (rc == EXIT_OK && llx_fifo_size_stages(&c, &s, stages, n, &p) != LLX_OK) rc = cli_lib_error();
    if (rc == EXIT_OK && a.prove && llx_fifo_prove(&c, &s, &p, 1, &pr) != LLX_OK) {
        llx_fifo_layer_plan_free(&p);
        rc = cli_lib_error();
    }
    if (rc == EXIT_OK) {
        if (a.json) print_json(&s, &p, a.prove ? &pr : NULL, a.model, &c);
        else print_text(&s, &p, a.prove ? &pr : NULL, a.model, &c);
        if (a.prove) llx_fifo_proof_free(&pr);
        llx_fifo_layer_plan_free(&p);
    }
    llx_schedule_free(&s);
    return rc;
}
