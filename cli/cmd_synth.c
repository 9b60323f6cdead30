/* cli/cmd_synth.c - `looplynx synth`: write a random-weight GPT-2 or Llama
 * checkpoint folder from a preset or a config.json, optionally reshaped by
 * flags.  The
 * weights and files come from llx_synth_write; this file only parses. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "llx/checkpoint.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: looplynx synth --config NAME|FILE.json -o DIR [options]\n\n"
            "Write a random-weight checkpoint folder in the HuggingFace layout: GPT-2\n"
            "(config.json, model.safetensors, vocab.json, merges.txt) or Llama (config.json,\n"
            "model.safetensors, tokenizer.json, tokenizer_config.json).\n\n"
            "  --config NAME|FILE   preset gpt2, gpt2-medium, gpt2-large, gpt2-xl, llama-3.2-1b,\n"
            "                       llama-tiny, or a config.json\n"
            "  -o, --out DIR        output folder (created; an existing folder must be empty)\n"
            "  --force              write into an existing non-empty folder, replacing its\n"
            "                       config.json, model.safetensors, vocab.json and merges.txt\n"
            "  --seed S             weight seed, 0 .. 2^63-1 (default 1)\n"
            "  --dtype f32|f16|bf16 tensor storage type (default f32)\n"
            "  --vocab-from DIR     GPT-2: copy vocab.json and merges.txt from DIR instead of\n"
            "                       generating a byte-level BPE vocabulary of --vocab tokens\n\n"
            "shape overrides (applied to the preset or file):\n"
            "  --layers N  --embd N  --heads N  --vocab N  --ctx N  --inner N\n"
            "  (--embd without --inner sets the MLP width to 4*N)\n");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A preset or a config.json into c; returns 0 or the exit code of the error
 * it printed. */
static int load_base(const char *name, llx_config *c)
{
    if (llx_config_preset(name, c) == LLX_OK) return 0;
    struct stat st;
    if (stat(name, &st) != 0)
        return cli_usage_error("--config '%s' is neither a preset (gpt2, gpt2-medium, gpt2-large, gpt2-xl, "
                               "llama-3.2-1b, llama-tiny) nor a file",
                               name);
    if (llx_config_load_json(name, c) != LLX_OK) return cli_lib_error();
    return 0;
}

/* 1 when path is a folder holding anything. */
static int nonempty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while (!n && (e = readdir(d)) != NULL) n = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

int cmd_synth(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *seed_s = NULL, *dtype_s = "f32", *vocab_from = NULL;
    static const char *const ovr_flag[6] = {"--layers", "--embd", "--heads", "--vocab", "--ctx", "--inner"};
    const char *ovr[6] = {NULL};
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(argv, i, "--force")) {
            force = 1;
            continue;
        }
        int r;
        if ((r = cli_opt(argc, argv, &i, "--config", &config)) ||
            (r = cli_opt(argc, argv, &i, "-o", &out)) || (r = cli_opt(argc, argv, &i, "--out", &out)) ||
            (r = cli_opt(argc, argv, &i, "--seed", &seed_s)) || (r = cli_opt(argc, argv, &i, "--dtype", &dtype_s)) ||
            (r = cli_opt(argc, argv, &i, "--vocab-from", &vocab_from))) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        int k = 0;
        while (k < 6 && !(r = cli_opt(argc, argv, &i, ovr_flag[k], &ovr[k]))) k++;
        if (k < 6) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        return cli_usage_error("synth: unknown option '%s' (try 'looplynx synth --help')", argv[i]);
    }
    if (!config) return cli_usage_error("synth: --config is required (a preset name or a config.json)");
    if (!out) return cli_usage_error("synth: -o DIR is required");
    const char *dtype = !strcmp(dtype_s, "f32") ? "F32" : !strcmp(dtype_s, "f16") ? "F16"
                        : !strcmp(dtype_s, "bf16") ? "BF16" : NULL;
    if (!dtype) return cli_usage_error("--dtype must be f32, f16 or bf16, got '%s'", dtype_s);
    long seed = 1;
    if (seed_s && !cli_parse_int("--seed", seed_s, 0, 0x7fffffffffffffffL, &seed)) return EXIT_USAGE;
    llx_config c;
    const int rc = load_base(config, &c);
    if (rc) return rc;
    static const long hi[6] = {256, 16384, 16384, 1000000, 65536, 65536};
    int *field[6] = {&c.n_layer, &c.n_embd, &c.n_head, &c.n_vocab, &c.n_ctx, &c.n_inner};
    for (int k = 0; k < 6; k++) {
        long v;
        if (!ovr[k]) continue;
        if (!cli_parse_int(ovr_flag[k], ovr[k], 1, hi[k], &v)) return EXIT_USAGE;
        *field[k] = (int)v;
    }
    if (ovr[1] && !ovr[5]) c.n_inner = 4 * c.n_embd;
    if (llx_config_check(&c) != LLX_OK) return cli_usage_error("synth: %s", llx_errmsg());
    if (!force && nonempty_dir(out))
        return cli_runtime_error("synth: '%s' exists and is not empty; use --force to replace the checkpoint in it",
                                 out);
    const double t0 = now_s();
    if (llx_synth_write(out, &c, (uint64_t)seed, dtype, vocab_from) != LLX_OK) return cli_lib_error();
    printf("wrote %s: %d layers, n_embd %d, %d heads, n_inner %d, vocab %d, n_ctx %d, %lld parameters, %s, "
           "seed %ld, %.1f s\n",
           out, c.n_layer, c.n_embd, c.n_head, c.n_inner, c.n_vocab, c.n_ctx, llx_config_params(&c), dtype, seed,
           now_s() - t0);
    return EXIT_OK;
}
