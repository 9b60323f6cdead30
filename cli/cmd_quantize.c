/* cli/cmd_quantize.c - looplynx quantize: HuggingFace model -> .llx
 * (W8A8, W4A8 or W4A4).
 * SIGINT/SIGTERM stop the run cleanly: the library polls a flag and leaves
 * neither the output nor a temporary file; a second signal kills at once. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* path names a regular file this process may read (--rotate FILE; what
 * the file holds is checked when it is loaded) */
static int readable_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, R_OK) == 0;
}

static void clip_report(void *ud, float ratio, double nll)
{
    (void)ud;
    cli_progress_end();
    fprintf(stderr, "act-clip %.2f: calibration NLL %.6f\n", (double)ratio, nll);
}

static void help(void)
{
    printf("usage: looplynx quantize -m HF_DIR --calib FILE -o MODEL.llx [options]\n\n"
           "Calibrate on FILE, apply SmoothQuant smoothing (and optionally Hadamard rotations),\n"
           "round the weights and write a quantized model (docs/quantization.md).\n\n"
           "  -m, --model DIR      HuggingFace GPT-2 or Llama folder\n"
           "  --calib FILE         calibration text (e.g. the training text)\n"
           "  -o, --output FILE    output .llx file (written atomically)\n"
           "  --calib-tokens N     calibration tokens (default 16384)\n"
           "  --window N           tokens per calibration pass (default 128)\n"
           "  --alpha A            SmoothQuant migration strength in [0, 1] (default 0.5;\n"
           "                       0 turns smoothing off; 0 and required with --rotate\n"
           "                       or --method gptq)\n"
           "  --act MODE           static (per-tensor scales, the hardware) or dynamic\n"
           "                       (per-token scales); default static\n"
           "  --smooth-v           also smooth the attention output projection through V\n"
           "  --scheme S           w8a8 (default), w4a8 (int4 weights, int8 activations)\n"
           "                       or w4a4 (int4 weights, int4 per-token asymmetric activations)\n"
           "  --group G            int4 weight columns per scale: 32, 64 or 128 (default: one\n"
           "                       scale per output row)\n"
           "  --scales f32|f16     int4 scale storage (default f32)\n"
           "  --weight-clip none|mse  int4 weights: clip each row/group at the ratio in\n"
           "                       [0.5, 1] of least squared rounding error (default none)\n"
           "  --method rtn|gptq    weight rounding: to nearest (default) or GPTQ\n"
           "  --damp D             GPTQ damping, fraction of the mean Hessian diagonal (0.01)\n"
           "  --act-order on|off   GPTQ in decreasing Hessian diagonal order (default on)\n"
           "  --gptq-hessian fp32|a4  w4a4 GPTQ: the Hessian of the fp32 inputs (default) or\n"
           "                       of their int4 codes (what the int4 path multiplies)\n"
           "  --gptq-calib fp|seq|asym  GPTQ's Hessians from the fp32 model in one pass\n"
           "                       (default), from the partly quantized model matrix by\n"
           "                       matrix (seq), or seq with the target ||W X - Wq Xq||^2\n"
           "                       against the fp32 model's inputs X (asym)\n"
           "  --asym-alpha A       asym: the fraction in (0, 1] of the correction towards\n"
           "                       the fp32 model's outputs (default 0.25)\n"
           "  --rotate none|hadamard|r4|FILE  Hadamard rotations folded into the weights, and the\n"
           "                       online transform before the down projection (default none);\n"
           "                       r4: only that online transform (norms unfolded, no R1/R2);\n"
           "                       any other value is a rotation file (docs/formats.md) whose\n"
           "                       R1 and R2 replace the Hadamard ones (./hadamard or ./r4 for\n"
           "                       a file of that name)\n"
           "  --rotate-seed N      seed of the rotations' random signs (default 1)\n"
           "  --kv int8|fp32       KV cache and attention: int8 with static per-head scales\n"
           "                       (default) or fp32\n"
           "  --lm-head-bits 8|4   LM head weights (4 needs an int4 scheme; default 8)\n"
           "  --act-clip R|auto    w4a4: clip each token's int4 activation range to\n"
           "                       [R*min, R*max], R in [0.5, 1] (default 1: none); auto\n"
           "                       tries 1, 0.95, ..., 0.75 and keeps the ratio of least\n"
           "                       loss (NLL) on the calibration tokens\n"
           "  --smooth-down on|off Llama: smooth down_proj through up_proj's rows (default on)\n"
           "  -t, --threads N      threads (default: all cores)\n\n"
           "The output may not be one of the inputs.  Interrupting (Ctrl-C) leaves no\n"
           "output and no temporary file; the exit status is then 128 + the signal.\n");
}

int cmd_quantize(int argc, char **argv)
{
    llx_quant_opts o = llx_quant_defaults();
    const char *model = NULL, *out = NULL;
    int alpha_given = 0, asym_alpha_given = 0;
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
            alpha_given = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--act", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "static")) o.act_mode = 1;
            else if (!strcmp(v, "dynamic")) o.act_mode = 2;
            else return cli_usage_error("--act must be static or dynamic (got '%s')", v);
        } else if (cli_flag(argv, i, "--smooth-v")) {
            o.smooth_v = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--scheme", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "w8a8")) o.scheme = LLX_SCHEME_W8A8;
            else if (!strcmp(v, "w4a8")) o.scheme = LLX_SCHEME_W4A8;
            else if (!strcmp(v, "w4a4")) o.scheme = LLX_SCHEME_W4A4;
            else return cli_usage_error("--scheme must be w8a8, w4a8 or w4a4 (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--group", &v))) {
            if (r < 0 || !cli_parse_int("--group", v, 32, 128, &n)) return EXIT_USAGE;
            if (n != 32 && n != 64 && n != 128) return cli_usage_error("--group must be 32, 64 or 128 (got %ld)", n);
            o.group = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--scales", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "f32") || !strcmp(v, "f16")) o.scales_f16 = v[1] == '1';
            else return cli_usage_error("--scales must be f32 or f16 (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--weight-clip", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "none") || !strcmp(v, "mse")) o.weight_clip = v[0] == 'm';
            else return cli_usage_error("--weight-clip must be none or mse (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--method", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "rtn") || !strcmp(v, "gptq")) o.gptq = v[0] == 'g';
            else return cli_usage_error("--method must be rtn or gptq (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--damp", &v))) {
            if (r < 0 || !cli_parse_double("--damp", v, 1e-6, 1, &d)) return EXIT_USAGE;
            o.gptq_damp = (float)d;
        } else if ((r = cli_opt(argc, argv, &i, "--act-order", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "on") || !strcmp(v, "off")) o.gptq_act_order = v[1] == 'n';
            else return cli_usage_error("--act-order must be on or off (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--gptq-hessian", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "fp32") || !strcmp(v, "a4")) o.gptq_hess_a4 = v[0] == 'a';
            else return cli_usage_error("--gptq-hessian must be fp32 or a4 (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--gptq-calib", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "fp")) o.gptq_calib = LLX_GPTQ_CALIB_FP;
            else if (!strcmp(v, "seq")) o.gptq_calib = LLX_GPTQ_CALIB_SEQ;
            else if (!strcmp(v, "asym")) o.gptq_calib = LLX_GPTQ_CALIB_ASYM;
            else return cli_usage_error("--gptq-calib must be fp, seq or asym (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--asym-alpha", &v))) {
            if (r < 0 || !cli_parse_double("--asym-alpha", v, 1e-6, 1, &d)) return EXIT_USAGE;
            o.gptq_asym_alpha = (float)d;
            asym_alpha_given = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--rotate", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!*v) return cli_usage_error("--rotate must be none, hadamard, r4 or a rotation file (got '')");
            o.rotate = !strcmp(v, "none") ? LLX_ROTATE_NONE : !strcmp(v, "r4") ? LLX_ROTATE_R4 : LLX_ROTATE_HADAMARD;
            o.rotate_file = o.rotate == LLX_ROTATE_HADAMARD && strcmp(v, "hadamard") ? v : NULL;
            if (o.rotate_file && !readable_file(v)) /* a misspelt mode, or no such file */
                return cli_usage_error("--rotate: '%s' is neither none, hadamard, r4 nor a readable rotation file", v);
        } else if ((r = cli_opt(argc, argv, &i, "--rotate-seed", &v))) {
            if (r < 0 || !cli_parse_int("--rotate-seed", v, 0, 1000000, &n)) return EXIT_USAGE;
            o.rotate_seed = (int)n;
        } else if ((r = cli_opt(argc, argv, &i, "--kv", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "int8") || !strcmp(v, "fp32")) o.kv_int8 = v[0] == 'i';
            else return cli_usage_error("--kv must be int8 or fp32 (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--lm-head-bits", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "8") || !strcmp(v, "4")) o.lm_bits = v[0] - '0';
            else return cli_usage_error("--lm-head-bits must be 8 or 4 (got '%s')", v);
        } else if ((r = cli_opt(argc, argv, &i, "--act-clip", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "auto")) o.act_clip_auto = 1, o.act_clip = 0.0f;
            else if (!cli_parse_double("--act-clip", v, 0.5, 1, &d)) return EXIT_USAGE;
            else o.act_clip = (float)d, o.act_clip_auto = 0;
        } else if ((r = cli_opt(argc, argv, &i, "--smooth-down", &v))) {
            if (r < 0) return EXIT_USAGE;
            if (!strcmp(v, "on")) o.smooth_down = 1;
            else if (!strcmp(v, "off")) o.smooth_down = 0;
            else return cli_usage_error("--smooth-down must be on or off (got '%s')", v);
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
    if (!alpha_given && (o.gptq || o.rotate)) o.alpha = 0; /* smoothing goes with neither */
    if (asym_alpha_given && o.gptq_calib != LLX_GPTQ_CALIB_ASYM)
        return cli_usage_error("--asym-alpha needs --gptq-calib asym");
    o.progress = cli_progress;
    o.clip_report = clip_report;
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
