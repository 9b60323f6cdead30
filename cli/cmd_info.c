/* cli/cmd_info.c - `looplynx info -m DIR`: what a model folder holds: its
 * dimensions, parameter count, storage and the bytes its weights take at
 * each precision the engine runs.  Opening validates the whole checkpoint,
 * so `info` doubles as a checker. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "llx/checkpoint.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: looplynx info -m DIR [--json]\n\n"
               "Validate a HuggingFace GPT-2 checkpoint folder and describe it: dimensions,\n"
               "parameter count, storage dtype and size, and weight bytes at fp32, fp16 and\n"
               "int8 (W8A8: the four layer matrices int8 with one fp32 scale per output row;\n"
               "embeddings, biases and LayerNorm stay fp32).\n\n"
               "  -m, --model DIR   checkpoint folder\n"
               "  --json            one JSON object on stdout\n");
}

typedef struct weight_bytes {
    long long fp32, fp16, int8;
} weight_bytes;

static weight_bytes weight_sizes(const llx_config *c)
{
    const long long P = llx_config_params(c), C = c->n_embd, F = c->n_inner, L = c->n_layer;
    const long long mat = L * (3 * C * C + C * C + F * C + C * F), rows = L * (3 * C + C + F + C);
    weight_bytes w = {P * 4, P * 2, mat + rows * 4 + (P - mat) * 4};
    return w;
}

static void print_count(const char *label, long long n)
{
    char digits[32], out[48];
    int len = snprintf(digits, sizeof digits, "%lld", n), k = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    printf("%-19s %s", label, out);
}

static void print_bytes(const char *label, long long n)
{
    print_count(label, n);
    printf(" bytes (%.1f MiB)\n", (double)n / (1024.0 * 1024.0));
}

/* Shortest %g form that reads back as the same float. */
static void fmt_float(char *buf, size_t cap, float x)
{
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, cap, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x) return;
    }
}

/* The HuggingFace-folder part of info: open, validate, print. */
static int info_hf(const char *dir, int json)
{
    llx_hf *m = NULL;
    if (llx_hf_open(&m, dir) != LLX_OK) return cli_lib_error();
    const llx_config *c = llx_hf_config(m);
    const weight_bytes w = weight_sizes(c);
    char eps[32];
    fmt_float(eps, sizeof eps, c->ln_eps);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat st;
    long long file_bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (json) {
        printf("{\"format\": \"hf\", \"dir\": ");
        cli_json_string(stdout, dir, strlen(dir));
        printf(", \"vocab_size\": %d, \"n_positions\": %d, \"n_embd\": %d, \"n_layer\": %d, \"n_head\": %d, "
               "\"head_dim\": %d, \"n_inner\": %d, \"layer_norm_epsilon\": %s, \"parameters\": %lld, "
               "\"storage_dtype\": \"%s\", \"file_bytes\": %lld, \"data_bytes\": %llu, "
               "\"weight_bytes\": {\"fp32\": %lld, \"fp16\": %lld, \"int8\": %lld}}\n",
               c->n_vocab, c->n_ctx, c->n_embd, c->n_layer, c->n_head, llx_config_head_dim(c), c->n_inner,
               eps, llx_config_params(c), llx_hf_dtype(m), file_bytes,
               (unsigned long long)llx_hf_data_bytes(m), w.fp32, w.fp16, w.int8);
    } else {
        printf("%-19s %s (HuggingFace GPT-2 folder)\n", "model", dir);
        printf("%-19s %d\n%-19s %d\n%-19s %d\n%-19s %d\n", "vocab_size", c->n_vocab, "n_positions", c->n_ctx,
               "n_embd", c->n_embd, "n_layer", c->n_layer);
        printf("%-19s %d (head_dim %d)\n%-19s %d\n%-19s %s\n", "n_head", c->n_head, llx_config_head_dim(c),
               "n_inner", c->n_inner, "layer_norm_epsilon", eps);
        print_count("parameters", llx_config_params(c));
        printf(" (LM head tied to wte counted once)\n");
        printf("%-19s %s\n", "storage dtype", llx_hf_dtype(m));
        print_bytes("model.safetensors", file_bytes);
        print_bytes("weights fp32", w.fp32);
        print_bytes("weights fp16", w.fp16);
        print_bytes("weights int8", w.int8);
    }
    llx_hf_close(m);
    return EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    const char *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (cli_flag(argv, i, "--json")) {
            json = 1;
            continue;
        }
        int r;
        if ((r = cli_opt(argc, argv, &i, "-m", &model)) || (r = cli_opt(argc, argv, &i, "--model", &model))) {
            if (r < 0) return EXIT_USAGE;
            continue;
        }
        return cli_usage_error("info: unknown option '%s' (try 'looplynx info --help')", argv[i]);
    }
    if (!model) return cli_usage_error("info: -m DIR is required");
    return info_hf(model, json);
}
