/* cli/engine_args.c - see engine_args.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/kernels.h"
#include "llx/quant.h"

void cli_engine_init(cli_engine *ce)
{
    memset(ce, 0, sizeof *ce);
    ce->opt = llx_engine_defaults();
}

int cli_engine_flag(int argc, char **argv, int *i, cli_engine *ce)
{
    const char *v = NULL;
    long n;
    int r;
    if ((r = cli_opt(argc, argv, i, "--threads", &v)) || (r = cli_opt(argc, argv, i, "-t", &v))) {
        if (r < 0 || !cli_parse_int("--threads", v, 1, 256, &n)) return -1;
        ce->opt.threads = (int)n;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--nodes", &v))) {
        if (r < 0 || !cli_parse_int("--nodes", v, 1, LLX_MAX_NODES, &n)) return -1;
        ce->opt.nodes = (int)n;
        ce->nodes_set = 1;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--precision", &v))) {
        if (r < 0) return -1;
        if (strcmp(v, "fp32") && strcmp(v, "w8a8") && strcmp(v, "w8a8-static") && strcmp(v, "w8a8-dynamic")) {
            cli_usage_error("--precision must be fp32, w8a8, w8a8-static or w8a8-dynamic (got '%s')", v);
            return -1;
        }
        ce->precision = v;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--kernels", &v))) {
        if (r < 0) return -1;
        int known = !strcmp(v, "auto");
        for (int t = 0; t < llx_kernel_tier_count(); t++) known |= !strcmp(v, llx_kernel_tier_name(t));
        if (!known) {
            cli_usage_error("--kernels must be auto, ref, avx2, avx512, amx or amx-emu (got '%s')", v);
            return -1;
        }
        ce->opt.kernels = v;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--backend", &v))) {
        if (r < 0) return -1;
        if (!strcmp(v, "threads")) ce->opt.backend = LLX_BACKEND_THREADS;
        else if (!strcmp(v, "mpi")) ce->opt.backend = LLX_BACKEND_MPI;
        else {
            cli_usage_error("--backend must be threads or mpi (got '%s')", v);
            return -1;
        }
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--lm-head", &v))) {
        if (r < 0) return -1;
        if (strcmp(v, "int8") && strcmp(v, "fp32")) {
            cli_usage_error("--lm-head must be int8 or fp32 (got '%s')", v);
            return -1;
        }
        ce->opt.lm_head_int8 = !strcmp(v, "int8");
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--block-rows", &v))) {
        if (r < 0 || !cli_parse_int("--block-rows", v, 1, 1 << 20, &n)) return -1;
        ce->opt.block_rows = (int)n;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--ctx-size", &v)) || (r = cli_opt(argc, argv, i, "-c", &v))) {
        if (r < 0 || !cli_parse_int("--ctx-size", v, 1, 1 << 20, &n)) return -1;
        ce->opt.max_ctx = (int)n;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--kv-blocks", &v))) {
        if (r < 0 || !cli_parse_int("--kv-blocks", v, 1, 1 << 24, &n)) return -1;
        ce->opt.kv_blocks = (int)n;
        return 1;
    }
    if ((r = cli_opt(argc, argv, i, "--ring-timeout", &v))) {
        double d;
        if (r < 0 || !cli_parse_double("--ring-timeout", v, 0.1, 86400, &d)) return -1;
        ce->opt.ring_timeout_s = d;
        return 1;
    }
    return 0;
}

void cli_engine_help(FILE *f)
{
    fprintf(f, "engine options:\n"
               "  -t, --threads N      worker threads per node (default: all cores)\n"
               "  --nodes N            ring nodes (LoopLynx model parallelism; default 1)\n"
               "  --backend B          threads (nodes in this process) or mpi (one node per rank)\n"
               "  --precision P        fp32 (HF folder), w8a8 (the .llx file's mode),\n"
               "                       w8a8-static or w8a8-dynamic (default: the model's own)\n"
               "  --lm-head H          int8 or fp32 LM head for w8a8 models (default int8)\n"
               "  --kernels K          kernel tier: auto (the best this CPU runs; env LLX_KERNELS\n"
               "                       overrides), ref (scalar reference), avx2, avx512, amx, or\n"
               "                       amx-emu (the amx code on emulated tiles, for tests)\n"
               "  -c, --ctx-size N     KV cache positions (default: the model's n_positions)\n"
               "  --block-rows N       rows per ring block (transmission hiding; default: 1 MiB of weights)\n"
               "  --ring-timeout S     seconds a silent ring link may stall (default 60)\n"
               "  --kv-blocks N        KV cache pool in blocks of 64 positions, shared by the sequences\n"
               "                       (serve: bounds memory; default: every sequence's full context)\n");
}

/* The scheme and the activation mode the engine runs a .llx model with:
 * "w8a8-static" is llx_precision_name's; an int4 scheme names itself. */
static void precision_label(cli_engine *ce, const llx_quant_info *qi)
{
    const char *p = llx_precision_name(ce->opt.precision), *mode = strchr(p, '-');
    switch (qi->s.scheme) {
    case LLX_SCHEME_W4A8:
    case LLX_SCHEME_W4A4: snprintf(ce->label, sizeof ce->label, "%s%s", llx_scheme_name(qi->s.scheme), mode ? mode : ""); break;
    case LLX_SCHEME_F32: snprintf(ce->label, sizeof ce->label, "%s", llx_scheme_name(qi->s.scheme)); break;
    default: snprintf(ce->label, sizeof ce->label, "%s", p); break;
    }
}

static int pick_precision(cli_engine *ce, const llx_model *m)
{
    const int q = llx_model_kind_of(m) == LLX_MODEL_LLX;
    const char *p = ce->precision;
    if (!p) p = q ? "w8a8" : "fp32";
    if (!strcmp(p, "fp32")) {
        if (q) return cli_usage_error("--precision fp32 needs a HuggingFace folder; '%s' is a W8A8 .llx model",
                                      llx_model_path(m));
        ce->opt.precision = LLX_PREC_FP32;
        snprintf(ce->label, sizeof ce->label, "fp32");
        return 0;
    }
    if (!q) return cli_usage_error("--precision %s needs a .llx model (make one with 'looplynx quantize')", p);
    llx_quant_info qi;
    llx_model_quant_info(m, &qi);
    if (!strcmp(p, "w8a8-static")) ce->opt.precision = LLX_PREC_W8A8_STATIC;
    else if (!strcmp(p, "w8a8-dynamic")) ce->opt.precision = LLX_PREC_W8A8_DYNAMIC;
    else ce->opt.precision = qi.act_mode == 2 ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC;
    precision_label(ce, &qi);
    return 0;
}

int cli_engine_open(cli_engine *ce, const char *model_path, llx_model **m)
{
    *m = NULL;
    if (!model_path) return cli_usage_error("missing -m MODEL (a HuggingFace folder or a .llx file)");
    if (ce->opt.backend == LLX_BACKEND_MPI) {
        int rank, size;
        if (llx_mpi_world(&rank, &size) != LLX_OK) return cli_lib_error();
        if (ce->nodes_set && ce->opt.nodes != size) {
            if (rank == 0)
                cli_usage_error("--nodes %d does not match the %d MPI ranks (run mpirun -np %d)", ce->opt.nodes, size,
                                ce->opt.nodes);
            llx_mpi_finalize();
            return EXIT_USAGE;
        }
        ce->opt.nodes = size;
    }
    if (llx_model_open(m, model_path) != LLX_OK) return cli_engine_fail(ce);
    const int rc = pick_precision(ce, *m);
    if (rc) {
        llx_model_close(*m);
        *m = NULL;
    }
    return rc;
}

int cli_engine_fail(const cli_engine *ce)
{
    const int rc = cli_lib_error();
    if (ce->opt.backend == LLX_BACKEND_MPI) llx_mpi_abort(rc);
    return rc;
}

int cli_engine_create(cli_engine *ce, llx_model *m, llx_engine **e)
{
    *e = NULL;
    /* from here on a rank's errors are its own ("rank N: ..."): no delay */
    cli_defer_common_errors(0);
    if (llx_engine_create(e, m, &ce->opt) != LLX_OK) return cli_engine_fail(ce);
    if (ce->opt.backend == LLX_BACKEND_MPI && llx_engine_rank(*e) != 0) {
        const llx_status st = llx_engine_serve(*e);
        if (st != LLX_OK) return cli_engine_fail(ce);
        llx_engine_free(*e);
        llx_model_close(m);
        llx_mpi_finalize();
        exit(EXIT_OK);
    }
    return 0;
}

void cli_engine_done(cli_engine *ce, llx_model *m, llx_engine *e)
{
    llx_engine_free(e);
    llx_model_close(m);
    if (ce->opt.backend == LLX_BACKEND_MPI) llx_mpi_finalize();
}

static int g_progress_drawn;

void cli_progress(void *ud, const char *phase, double frac)
{
    static double last = -1;
    static const char *last_phase;
    const int tty = isatty(2);
    if (phase != last_phase) last = -1, last_phase = phase;
    if (frac < 1.0 && frac - last < (tty ? 0.01 : 0.1)) return;
    last = frac;
    const int width = 30, fill = (int)(frac * width + 0.5);
    fprintf(stderr, "%s%-10s [", tty ? "\r" : "", phase);
    for (int i = 0; i < width; i++) fputc(i < fill ? '=' : ' ', stderr);
    fprintf(stderr, "] %3d%%%s", (int)(frac * 100 + 0.5), tty ? "" : "\n");
    if (tty && frac >= 1.0) fputc('\n', stderr);
    g_progress_drawn = tty && frac < 1.0;
    fflush(stderr);
}

void cli_progress_end(void)
{
    if (g_progress_drawn) fputc('\n', stderr);
    g_progress_drawn = 0;
}
