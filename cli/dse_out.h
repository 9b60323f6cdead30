/* cli/dse_out.h - how `looplynx dse` shows a search: a table, JSON, CSV
 * (dse_out.c) and a gnuplot drawing (dse_plot.c). */
#ifndef LLX_CLI_DSE_OUT_H
#define LLX_CLI_DSE_OUT_H

#include "llx/dse.h"

typedef struct dse_report {
    const llx_dse_opts *o;
    const llx_dse_result *r;
    const llx_config *m;
    const char *model;
    double seconds;
} dse_report;

void dse_print_text(const dse_report *d, const char *plot);
void dse_print_json(const dse_report *d);
void dse_print_csv(const dse_report *d);
/* Draw latency against DSP and BRAM into FILE.svg or FILE.png (atomically).
 * Returns 0 or an exit code (error printed). */
int dse_plot(const dse_report *d, const char *path);

#endif
