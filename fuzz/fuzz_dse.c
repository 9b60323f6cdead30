/* fuzz/fuzz_dse.c - the design-space search's inputs: lines of
 * "nodes:RANGE" (llx_dse_parse_range) and "KEY=V1,V2,..." (llx_dse_set_knob,
 * a searched parameter's values).  Bad input must be rejected with a
 * message, never crash; an accepted space small enough is searched on a
 * tiny model and its front must be non-dominated and within the cap, and
 * the counts must add up. */
#include <string.h>

#include "fuzz.h"
#include "llx/dse.h"

static void check_result(const llx_dse_opts *o, const llx_dse_result *r)
{
    if (r->considered != r->invalid + r->over_budget + r->pruned + r->evaluated) __builtin_trap();
    for (int i = 0; i < r->n_front; i++) {
        for (int k = 0; k < LLX_DSE_RES; k++)
            if (r->front[i].frac[k] > o->cap + 1e-12) __builtin_trap();
        for (int j = 0; j < r->n_front; j++)
            if (i != j && llx_dse_dominates(&r->front[j], &r->front[i])) __builtin_trap();
    }
}

int llx_fuzz_dse(const uint8_t *data, size_t size)
{
    char buf[2048];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    llx_config m;
    if (llx_sim_parse_dims("dims:hidden=128,layers=1,heads=2,ffn=256,vocab=256,ctx=64", &m) != LLX_OK) __builtin_trap();
    llx_sim_config c;
    llx_sim_config_init(&c, "u280");
    int lo = 1, hi = 1;
    llx_dse_opts o;
    if (llx_dse_opts_init(&o, &c, &m, lo, hi) != LLX_OK) __builtin_trap();
    o.nknobs = 1; /* only nodes, then the lines' knobs */
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "nodes:", 6)) {
            if (llx_dse_parse_range(line + 6, &lo, &hi) != LLX_OK) {
                if (!llx_errmsg()[0]) __builtin_trap();
                continue;
            }
            if (hi > 4) return 0;
            llx_dse_knob keep[LLX_DSE_MAX_KNOBS];
            int nk = o.nknobs;
            memcpy(keep, o.knobs, sizeof keep);
            if (llx_dse_opts_init(&o, &c, &m, lo, hi) != LLX_OK) return 0;
            memcpy(&o.knobs[1], &keep[1], sizeof keep[0] * (size_t)(nk - 1));
            o.nknobs = nk;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        if (llx_dse_set_knob(&o, line, eq + 1) != LLX_OK && !llx_errmsg()[0]) __builtin_trap();
    }
    long total = 1;
    for (int k = 0; k < o.nknobs; k++) total *= o.knobs[k].n;
    if (total > 24) return 0;
    o.threads = 1, o.validate = 0, o.work.context = 16;
    llx_dse_result r;
    if (llx_dse_run(&o, &m, &r) != LLX_OK) return 0;
    check_result(&o, &r);
    llx_dse_result_free(&r);
    return 0;
}
