/* cli/dse_out.c - the result of `looplynx dse` as a table, one JSON object
 * or CSV rows.  Columns: the searched parameters, decode latency, tokens per
 * second and per joule, each resource as a share of the device (the largest
 * device of the design) and the design's DSP, LUT and BRAM over all devices. */
#include <string.h>

#include "cli.h"
#include "dse_out.h"

static const char *short_name(const char *k)
{
    static const char *map[][2] = {{"nodes", "N"},          {"nodes_per_fpga", "N/dev"}, {"channels", "ch"},
                                   {"clock_mhz", "MHz"},    {"word_bytes", "word"},     {"heads_parallel", "hp"},
                                   {"ln_lanes", "lanes"},   {"lnres_fusion", "fuse"},   {"block_rows", "block"},
                                   {"mp_wb_elems", "mp_wb"}, {"mha_wb_elems", "mha_wb"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], k)) return map[i][1];
    return k;
}

static int col_width(const char *name)
{
    int w = (int)strlen(short_name(name));
    return w < 5 ? 5 : w;
}

static const char *objective_name(llx_dse_objective o)
{
    return o == LLX_DSE_LATENCY ? "latency" : o == LLX_DSE_TPJ ? "tokens-per-joule" : "pareto";
}

static void workload_line(const dse_report *d)
{
    const llx_sim_workload *w = &d->o->work;
    if (w->context > 0) printf("one decode token at context %d", w->context);
    else printf("prompt %d + %d generated tokens (searched at context %d)", w->prompt, w->gen, w->prompt + (w->gen + 1) / 2);
}

static void header(const dse_report *d)
{
    printf("  %3s", "#");
    for (int k = 0; k < d->r->nknobs; k++) printf(" %*s", col_width(d->r->knobs[k].name), short_name(d->r->knobs[k].name));
    printf(" | %8s %8s %6s %5s %5s %5s %5s %5s %3s %6s %7s %6s\n", "ms/tok", "tok/s", "tok/J", "DSP%", "LUT%", "FF%",
           "BRAM%", "URAM%", "dev", "DSP", "LUT", "BRAM");
}

static void row(const dse_report *d, const char *tag, const llx_dse_point *p)
{
    printf("  %3s", tag);
    for (int k = 0; k < d->r->nknobs; k++) printf(" %*g", col_width(d->r->knobs[k].name), p->knob[k]);
    printf(" | %8.3f %8.1f %6.2f", p->latency_ms, p->tokens_per_s, p->tokens_per_joule);
    for (int k = 0; k < LLX_DSE_RES; k++) printf(" %5.1f", 100 * p->frac[k]);
    printf(" %3d %6.0f %7.0f %6.0f", p->devices, p->total[0], p->total[1], p->total[3]);
    if (p->cycle_ms > 0) printf("  cycle-mode %.3f", p->cycle_ms);
    if (p->workload_ms > 0) printf("  workload %.1f ms", p->workload_ms);
    printf("\n");
}

void dse_print_text(const dse_report *d, const char *plot)
{
    const llx_dse_result *r = d->r;
    const llx_dse_opts *o = d->o;
    printf("dse: %s on %s (cap %.0f%% of each resource per device), nodes %d-%d, ", d->model, o->base.plat.name,
           100 * o->cap, o->nodes_lo, o->nodes_hi);
    workload_line(d);
    printf("\nsearched %ld designs in %.1f s: %ld invalid, %ld over the cap, %ld pruned by bounds, %ld timed with "
           "%ld simulator runs of a kernel group, %ld deadlocked\n",
           r->considered, d->seconds, r->invalid, r->over_budget, r->pruned, r->evaluated, r->sim_runs,
           r->deadlocked);
    if (o->objective == LLX_DSE_PARETO)
        printf("Pareto front: %d designs with the lowest decode latency for their DSP, LUT and BRAM (all devices)\n\n",
               r->n_front);
    else
        printf("the %d designs with the %s\n\n", r->n_front,
               o->objective == LLX_DSE_LATENCY ? "lowest decode latency" : "most tokens per joule");
    header(d);
    for (int i = 0; i < r->n_front; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "%d", i);
        row(d, tag, &r->front[i]);
    }
    if (r->n_paper) {
        printf("\nthe paper's designs (LoopLynx, Table II node counts; its architecture on %s):\n", o->base.plat.name);
        header(d);
        for (int i = 0; i < r->n_paper; i++) {
            const llx_dse_point *p = &r->paper[i];
            char tag[16];
            snprintf(tag, sizeof tag, "N=%d", p->paper_nodes);
            row(d, tag, p);
            if (p->behind < 0) printf("        on the front\n");
            else
                printf("        behind the front: #%d is at least as good in every objective (%.3f ms, %.0f DSP, %.0f LUT, "
                       "%.0f BRAM)\n",
                       p->behind, r->front[p->behind].latency_ms, r->front[p->behind].total[0],
                       r->front[p->behind].total[1], r->front[p->behind].total[3]);
        }
    }
    if (r->validated)
        printf("\nthe first %d designs re-run on the cycle-stepped engine: largest difference %.4f%%\n", r->validated,
               100 * r->max_cycle_dev);
    if (plot) printf("plot: %s\n", plot);
}

static void json_point(const dse_report *d, const llx_dse_point *p)
{
    static const char *res[LLX_DSE_RES] = {"dsp", "lut", "ff", "bram", "uram"};
    printf("{\"params\":{");
    for (int k = 0; k < d->r->nknobs; k++) printf("%s\"%s\":%.10g", k ? "," : "", d->r->knobs[k].name, p->knob[k]);
    printf("},\"latency_ms\":%.6f,\"tokens_per_s\":%.4f,\"tokens_per_joule\":%.5f,\"power_w\":%.4f,\"devices\":%d",
           p->latency_ms, p->tokens_per_s, p->tokens_per_joule, p->power_w, p->devices);
    printf(",\"utilisation\":{");
    for (int k = 0; k < LLX_DSE_RES; k++) printf("%s\"%s\":%.6f", k ? "," : "", res[k], p->frac[k]);
    printf("},\"total\":{");
    for (int k = 0; k < LLX_DSE_RES; k++) printf("%s\"%s\":%.1f", k ? "," : "", res[k], p->total[k]);
    printf("}");
    if (p->cycle_ms > 0) printf(",\"cycle_ms\":%.6f", p->cycle_ms);
    if (p->workload_ms > 0) printf(",\"workload_ms\":%.6f", p->workload_ms);
    if (p->paper_nodes) printf(",\"paper_nodes\":%d,\"behind\":%d", p->paper_nodes, p->behind);
    printf("}");
}

void dse_print_json(const dse_report *d)
{
    const llx_dse_result *r = d->r;
    const llx_dse_opts *o = d->o;
    printf("{\"model\":");
    cli_json_string(stdout, d->model, strlen(d->model));
    printf(",\"platform\":\"%s\",\"nodes\":[%d,%d],\"objective\":\"%s\",\"cap\":%.4f,\"seed\":%llu", o->base.plat.name,
           o->nodes_lo, o->nodes_hi, objective_name(o->objective), o->cap, (unsigned long long)o->seed);
    printf(",\"context\":%d,\"prompt\":%d,\"gen\":%d", o->work.context, o->work.prompt, o->work.gen);
    printf(",\"space\":[");
    for (int k = 0; k < r->nknobs; k++) {
        printf("%s{\"name\":\"%s\",\"values\":[", k ? "," : "", r->knobs[k].name);
        for (int i = 0; i < r->knobs[k].n; i++) printf("%s%.10g", i ? "," : "", r->knobs[k].v[i]);
        printf("]}");
    }
    printf("],\"stats\":{\"considered\":%ld,\"invalid\":%ld,\"over_budget\":%ld,\"pruned\":%ld,\"timed\":%ld,"
           "\"deadlocked\":%ld,\"simulator_runs\":%ld,\"seconds\":%.3f}",
           r->considered, r->invalid, r->over_budget, r->pruned, r->evaluated, r->deadlocked, r->sim_runs, d->seconds);
    printf(",\"front\":[");
    for (int i = 0; i < r->n_front; i++) {
        if (i) printf(",");
        json_point(d, &r->front[i]);
    }
    printf("],\"paper\":[");
    for (int i = 0; i < r->n_paper; i++) {
        if (i) printf(",");
        json_point(d, &r->paper[i]);
    }
    printf("],\"validation\":{\"designs\":%d,\"max_deviation\":%.3g}}\n", r->validated, r->max_cycle_dev);
}

static void csv_row(const dse_report *d, const char *kind, int i, const llx_dse_point *p)
{
    printf("%s,%d", kind, i);
    for (int k = 0; k < d->r->nknobs; k++) printf(",%.10g", p->knob[k]);
    printf(",%.6f,%.4f,%.5f,%.4f,%d", p->latency_ms, p->tokens_per_s, p->tokens_per_joule, p->power_w, p->devices);
    for (int k = 0; k < LLX_DSE_RES; k++) printf(",%.4f", 100 * p->frac[k]);
    for (int k = 0; k < LLX_DSE_RES; k++) printf(",%.1f", p->total[k]);
    if (p->cycle_ms > 0) printf(",%.6f", p->cycle_ms);
    else printf(",");
    if (p->paper_nodes) printf(",%d\n", p->behind);
    else printf(",\n");
}

void dse_print_csv(const dse_report *d)
{
    printf("kind,index");
    for (int k = 0; k < d->r->nknobs; k++) printf(",%s", d->r->knobs[k].name);
    printf(",latency_ms,tokens_per_s,tokens_per_joule,power_w,devices,dsp_pct,lut_pct,ff_pct,bram_pct,uram_pct,"
           "dsp,lut,ff,bram,uram,cycle_ms,behind\n");
    for (int i = 0; i < d->r->n_front; i++) csv_row(d, "front", i, &d->r->front[i]);
    for (int i = 0; i < d->r->n_paper; i++) csv_row(d, "paper", d->r->paper[i].paper_nodes, &d->r->paper[i]);
}
