/* cli/engine_args.h - flags shared by every command that runs the engine
 * (--threads --nodes --precision --kernels --backend --lm-head --block-rows
 * --ctx-size), opening the model, and the stderr progress bar. */
#ifndef LLX_CLI_ENGINE_ARGS_H
#define LLX_CLI_ENGINE_ARGS_H

#include "llx/engine.h"

typedef struct cli_engine {
    llx_engine_opts opt;
    const char *precision; /* NULL = the model's own (fp32 for HF, stored mode for .llx) */
    int nodes_set;
    /* after cli_engine_open: what the engine runs, for reports ("fp32",
     * "w8a8-static", "w4a8-dynamic", "w4a4-static", "f32") */
    char label[24];
} cli_engine;

void cli_engine_init(cli_engine *ce);
/* Try to consume argv[*i] as an engine flag: 1 consumed, 0 not ours, -1 usage error printed. */
int cli_engine_flag(int argc, char **argv, int *i, cli_engine *ce);
/* Help lines for the flags above. */
void cli_engine_help(FILE *f);

/* Open the model and finish the options for it (precision, MPI world).
 * Returns 0 on success, else the exit code (error already printed). */
int cli_engine_open(cli_engine *ce, const char *model_path, llx_model **m);

/* Create the engine.  For MPI ranks > 0 this serves rank 0 until it is done
 * and then exits the process; on failure under MPI it aborts the job.
 * Returns 0 or an exit code. */
int cli_engine_create(cli_engine *ce, llx_model *m, llx_engine **e);
/* End of a command that ran an engine (frees, finalizes MPI). */
void cli_engine_done(cli_engine *ce, llx_model *m, llx_engine *e);
/* Report a runtime failure; under MPI also ends the whole job. */
int cli_engine_fail(const cli_engine *ce);

/* A progress callback drawing "phase [=====     ] 52%" on stderr. */
void cli_progress(void *ud, const char *phase, double frac);
void cli_progress_end(void);

#endif
