/* cli/sim_args.h - what the simulator's commands (sim, dse, fifo) share:
 * the platform (a preset or a JSON file), the model (a preset, a folder with
 * a config.json, dims:... or a .llx file), --set overrides and the --set
 * help list. */
#ifndef LLX_CLI_SIM_ARGS_H
#define LLX_CLI_SIM_ARGS_H

#include <stdio.h>

#include "llx/sim.h"

/* The platform preset or file into c with the paper's architecture.
 * Returns 0 or an exit code (error printed). */
int cli_sim_platform(const char *platform, llx_sim_config *c);
/* The model: preset, HF folder, dims: spec or a .llx file (whose header's
 * scheme goes into *scheme when scheme is not NULL; other models leave it
 * alone).  Returns 0 or an exit code. */
int cli_sim_model(const char *spec, llx_config *m, llx_sim_scheme *scheme);
/* Apply --set key=value overrides.  Returns 0 or an exit code. */
int cli_sim_sets(llx_sim_config *c, const char *const *sets, int n);
/* The --set keys with their u50 defaults and sources. */
void cli_sim_param_help(FILE *f);

#endif
