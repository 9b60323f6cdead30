/* cli/cmd_quantize.c - looplynx quantize: HuggingFace GPT-2 -> W8A8 .llx.
 * SIGINT/SIGTERM stop the run cleanly: the library polls a flag and leaves
 * neither the output nor a temporary file; a second signal kills at once. */
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/quant.h"

static volatile sig_atomic_t g_stop; /* the signal that asked us to stop */

static void on_signal(int sig) { g_stop = sig; }

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* the second one is fatal */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void help(void)
{
    printf("usage: looplynx quantize -m HF_DIR --calib FILE -o MODEL.llx [options]\n\n"
           "Calibrate on FILE, apply SmoothQuant smoothing and write a W8A8 model.\n\n"
           "  -m, --model DIR      HuggingFace GPT-2 folder\n"
           "  --calib FILE         calibration text (e.g. the training text)\n"
           "  -o, --output FILE    output .llx file (written atomically)\n"
           "  --calib-tokens N     calibration tokens (default 16384)\n"
           "  --window N           tokens per calibration pass (default 128)\n"
           "  --alpha A            SmoothQuant migration strength in [0, 1] (default 0.5;\n"
           "                       0 turns smoothing off)\n"
           "  --act MODE           static (per-tensor scales, the hardware) or dynamic\n"
           "                       (per-token scales); default static\n"
           "  --smooth-v           also smooth the attention output projection through V\n"
           "  -t, --threads N      threads (default: all cores)\n\n"
           "The output may not be one of the inputs.  Interrupting (Ctrl-C) leaves no\n"
           "output and no temporary file; the exit status is then 128 + the signal.\n");
}

int cmd_quantize(int argc, char **argv)
{
    llx_quant_opts o = llx_quant_defaults();
    const char *model = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long n;
        double d;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return EXIT_OK;
        }
        if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            model = v;
        } else if ((r = cli_opt(argc, argv, &i, "-o", &v)) || (r = cli_opt(argc, argv, &i, "--output", &v))) {
            if (r < 0) return EXIT_USAGE;
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--calib", &v))) {
            if (r < 0) return EXIT_USAGE;
            o.calib_path = v;
        } else if ((r = cli_opt(argc, argv, &i, "--calib-tokens", &v))) {
            if (r < 0 || !cli_parse_int("--calib-tokens", v, 1, 100000000, &n)) return EXIT_USAGE;
            o.calib_tokens = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--window", &v))) {
            if (r < 0 || !cli_parse_int("--window", v, 2, 1 << 16, &n)) return EXIT_USAGE;
            o.window = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--alpha", &v))) {
            if (r < 0 || !cli_parse_double("--alpha", v, 0, 1, &d)) return EXIT_USAGE;
            o.alpha = (float)d;
        } else if ((r = cli_opt(argc, argv, &i, "--act", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "static")) o.act_mode = 1;
            else if (!strcmp(v, "dynamic")) o.act_mode = 2;
            else return cli_usage_error("--act must be static or dynamic (got '%s')", v);
        } else if (cli_flag(argv, i, "--smooth-v")) {
            o.smooth_v = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) || (r = cli_opt(argc, argv, &i, "-t", &v))) {
            if (r < 0 || !cli_parse_int("--threads", v, 1, 256, &n)) return EXIT_USAGE;
            o.threads = (int)n;
        } else {
            return cli_usage_error("quantize: unknown option '%s' (see looplynx quantize --help)", argv[i]);
        }
    }
    if (!model) return cli_usage_error("quantize: missing -m HF_DIR");
    if (!o.calib_path) return cli_usage_error("quantize: missing --calib FILE");
    if (!out) return cli_usage_error("quantize: missing -o MODEL.llx");
    o.progress = cli_progress;
    o.cancel = &g_stop;
    catch_signals();
    const llx_status st = llx_quantize(model, &o, out);
    cli_progress_end();
    if (st == LLX_ERR_CANCELLED) {
        cli_runtime_error("quantize: interrupted by signal %d; nothing written", (int)g_stop);
        return 128 + (int)g_stop;
    }
    if (st == LLX_ERR_ARG) return cli_usage_error("%s", llx_errmsg());
    if (st != LLX_OK) return cli_lib_error();
    fprintf(stderr, "wrote %s\n", out);
    return EXIT_OK;
}
