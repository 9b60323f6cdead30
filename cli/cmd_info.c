/* cli/cmd_info.c - `looplynx info -m MODEL`: what a model holds: its
 * dimensions, parameter count, storage, how it was quantized (.llx) and the
 * bytes its weights take at each precision the engine runs.  Opening
 * validates the whole checkpoint or .llx file, so `info` doubles as a
 * checker.  Both kinds print the same fields (JSON: the same keys). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "llx/bench.h"
#include "llx/checkpoint.h"
#include "llx/kernels.h"
#include "llx/quant.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: looplynx info -m MODEL [--json]\n\n"
               "Validate a HuggingFace GPT-2 or Llama checkpoint folder or a quantized .llx file and\n"
               "describe it: dimensions, parameter count, storage dtype and size, how it was\n"
               "quantized (.llx: activation mode, SmoothQuant alpha, calibration tokens), and\n"
               "weight bytes at fp32, fp16 and int8 (W8A8: the layer matrices int8 with one\n"
               "fp32 scale per output row; embeddings, biases and norms stay fp32), and the\n"
               "kernel tier an engine would use on this machine (and why any tier cannot\n"
               "run here).\n\n"
               "  -m, --model MODEL   checkpoint folder or .llx file\n"
               "  --json              one JSON object on stdout\n");
}

typedef struct weight_bytes {
    long long fp32, fp16, int8;
} weight_bytes;

static weight_bytes weight_sizes(const llx_config *c)
{
    const long long P = llx_config_params(c), L = c->n_layer;
    long long mat = 0, rows = 0;
    for (int m = 0; m < LLX_MAT_LAYER_COUNT; m++) {
        int r, k;
        llx_matrix_shape(c, (llx_matrix)m, &r, &k);
        mat += L * (long long)r * k, rows += L * r;
    }
    weight_bytes w = {P * 4, P * 2, mat + rows * 4 + (P - mat) * 4};
    return w;
}

static const char *arch_name(const llx_config *c) { return c->arch == LLX_ARCH_LLAMA ? "llama" : "gpt2"; }

/* What both kinds of model report. */
typedef struct model_info {
    const char *format; /* "hf" or "llx" */
    const char *path, *kind_desc, *file_label;
    const llx_config *c;
    const char *dtype;
    long long file_bytes;
    unsigned long long data_bytes;
    const llx_quant_info *q; /* NULL for HF folders */
} model_info;

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

static const char *act_name(int mode) { return mode == 2 ? "dynamic" : mode == 1 ? "static" : "?"; }

/* The scheme's weights in words: "int8 per row", "int4 per group of 64 (fp16 scales), GPTQ". */
static void weights_desc(char *buf, size_t n, const llx_scheme_info *s)
{
    if (s->scheme == LLX_SCHEME_W8A8) {
        snprintf(buf, n, "int8 per row");
        return;
    }
    char grp[32] = "per row";
    if (s->group) snprintf(grp, sizeof grp, "per group of %d", s->group);
    snprintf(buf, n, "int4 %s (%s scales), %s", grp, s->scales_f16 ? "fp16" : "fp32", s->gptq ? "GPTQ" : "RTN");
}

/* The kernel tier an engine would use here (--kernels auto, or
 * LLX_KERNELS), and every tier's status on this machine. */
static void print_kernels_json(void)
{
    const char *k = llx_kernels_resolve("auto");
    printf(", \"kernels\": ");
    if (k) printf("\"%s\"", k);
    else printf("null");
    printf(", \"kernel_tiers\": {");
    for (int t = 0; t < llx_kernel_tier_count(); t++) {
        const char *why = llx_kernel_tier_missing(t);
        printf("%s\"%s\": ", t ? ", " : "", llx_kernel_tier_name(t));
        if (*why) cli_json_string(stdout, why, strlen(why));
        else printf("true");
    }
    printf("}");
}

static void print_kernels_human(void)
{
    const char *k = llx_kernels_resolve("auto");
    printf("%-19s %s (tiers this CPU runs:", "kernels", k ? k : "none: LLX_KERNELS names a tier this CPU lacks");
    for (int t = 0; t < llx_kernel_tier_count(); t++)
        if (!*llx_kernel_tier_missing(t)) printf(" %s", llx_kernel_tier_name(t));
    printf(")\n");
    for (int t = 0; t < llx_kernel_tier_count(); t++)
        if (*llx_kernel_tier_missing(t)) printf("%-19s %s: %s\n", "", llx_kernel_tier_name(t), llx_kernel_tier_missing(t));
}

static void print_json(const model_info *mi)
{
    const llx_config *c = mi->c;
    const weight_bytes w = weight_sizes(c);
    char eps[32], alpha[32];
    fmt_float(eps, sizeof eps, c->ln_eps);
    printf("{\"format\": \"%s\", \"path\": ", mi->format);
    cli_json_string(stdout, mi->path, strlen(mi->path));
    char theta[32] = "null";
    if (c->arch == LLX_ARCH_LLAMA) fmt_float(theta, sizeof theta, c->rope_theta);
    printf(", \"architecture\": \"%s\", \"n_kv_head\": %d, \"rope_theta\": %s, \"rope_scaling\": %s, "
           "\"tied_lm_head\": %s",
           arch_name(c), llx_config_kv_heads(c), theta, c->rope_llama3 ? "\"llama3\"" : "null",
           c->untied ? "false" : "true");
    printf(", \"vocab_size\": %d, \"n_positions\": %d, \"n_embd\": %d, \"n_layer\": %d, \"n_head\": %d, "
           "\"head_dim\": %d, \"n_inner\": %d, \"layer_norm_epsilon\": %s, \"parameters\": %lld, "
           "\"storage_dtype\": \"%s\", \"file_bytes\": %lld, \"data_bytes\": %llu, "
           "\"weight_bytes\": {\"fp32\": %lld, \"fp16\": %lld, \"int8\": %lld}, \"quantization\": ",
           c->n_vocab, c->n_ctx, c->n_embd, c->n_layer, c->n_head, llx_config_head_dim(c), c->n_inner, eps,
           llx_config_params(c), mi->dtype, mi->file_bytes, mi->data_bytes, w.fp32, w.fp16, w.int8);
    if (mi->q) {
        fmt_float(alpha, sizeof alpha, mi->q->alpha);
        const llx_scheme_info *s = &mi->q->s;
        char damp[32], clip[32] = "1", rot[48];
        fmt_float(damp, sizeof damp, s->gptq_damp);
        if (s->act_clip > 0.0f) fmt_float(clip, sizeof clip, s->act_clip);
        if (s->rotate_hash) snprintf(rot, sizeof rot, "file\", \"rotate_hash\": \"%016llx", (unsigned long long)s->rotate_hash);
        else snprintf(rot, sizeof rot, "%s", s->rotate ? "hadamard" : s->had_down ? "r4" : "none");
        printf("{\"scheme\": \"%s\", \"act\": \"%s\", \"alpha\": %s, \"calib_tokens\": %d, \"smooth_v\": %s, "
               "\"group\": %d, \"scales\": \"%s\", \"method\": \"%s\", \"gptq_damp\": %s, \"gptq_act_order\": %s, "
               "\"rotate\": \"%s\", \"kv\": \"%s\", \"lm_head_bits\": %d, \"online_hadamard\": %s, \"smooth_down\": %s, \"act_clip\": %s}",
               llx_scheme_name(s->scheme), act_name(mi->q->act_mode), alpha, mi->q->calib_tokens,
               mi->q->smooth_v ? "true" : "false", s->group, s->scales_f16 ? "f16" : "f32", s->gptq ? "gptq" : "rtn",
               damp, s->gptq_act_order ? "true" : "false", rot,
               s->kv_int8 ? "int8" : "fp32", s->lm_bits, s->had_down ? "true" : "false",
               mi->q->smooth_down ? "true" : "false", clip);
    } else {
        printf("null");
    }
    print_kernels_json();
    printf("}\n");
}

static void print_human(const model_info *mi)
{
    const llx_config *c = mi->c;
    const weight_bytes w = weight_sizes(c);
    char eps[32], alpha[32];
    fmt_float(eps, sizeof eps, c->ln_eps);
    printf("%-19s %s (%s)\n", "model", mi->path, mi->kind_desc);
    printf("%-19s %d\n%-19s %d\n%-19s %d\n%-19s %d\n", "vocab_size", c->n_vocab, "n_positions", c->n_ctx, "n_embd",
           c->n_embd, "n_layer", c->n_layer);
    printf("%-19s %d (head_dim %d)\n", "n_head", c->n_head, llx_config_head_dim(c));
    if (c->arch == LLX_ARCH_LLAMA) {
        char theta[32];
        fmt_float(theta, sizeof theta, c->rope_theta);
        printf("%-19s %d (%d query heads each)\n", "n_kv_head", llx_config_kv_heads(c), c->n_head / llx_config_kv_heads(c));
        printf("%-19s theta %s%s\n", "rotary", theta, c->rope_llama3 ? ", llama3 scaling" : "");
    }
    printf("%-19s %d\n%-19s %s\n", "n_inner", c->n_inner, c->arch == LLX_ARCH_LLAMA ? "rms_norm_eps" : "layer_norm_epsilon",
           eps);
    print_count("parameters", llx_config_params(c));
    printf(c->untied ? " (LM head untied)\n" : " (LM head tied to the embedding, counted once)\n");
    printf("%-19s %s\n", "storage dtype", mi->dtype);
    if (mi->q) {
        fmt_float(alpha, sizeof alpha, mi->q->alpha);
        const llx_scheme_info *s = &mi->q->s;
        char wd[96];
        weights_desc(wd, sizeof wd, s);
        printf("%-19s %s\n", "scheme",
               s->scheme == LLX_SCHEME_W4A8 ? "W4A8" : s->scheme == LLX_SCHEME_W4A4 ? "W4A4" : "W8A8");
        printf("%-19s %s\n", "weights", wd);
        if (s->scheme == LLX_SCHEME_W4A4 && s->act_clip > 0.0f && s->act_clip < 1.0f)
            printf("%-19s int4 per token, asymmetric, range clipped to %.4g of min and max\n", "activations",
                   (double)s->act_clip);
        else if (s->scheme == LLX_SCHEME_W4A4) printf("%-19s int4 per token, asymmetric\n", "activations");
        else printf("%-19s int8, %s activation scales\n", "activations", act_name(mi->q->act_mode));
        if (s->rotate_hash)
            printf("%-19s R1, R2 from a rotation file (hash %016llx), hadamard online before down_proj\n", "rotation",
                   (unsigned long long)s->rotate_hash);
        else printf("%-19s %s\n", "rotation",
                    s->rotate     ? "hadamard (online before down_proj)"
                    : s->had_down ? "r4: hadamard online before down_proj only (norms unfolded, no R1/R2)"
                                  : "none");
        printf("%-19s %s\n", "kv cache", s->kv_int8 ? (s->kv_per_head ? "int8, static per head" : "int8, static per tensor") : "fp32");
        printf("%-19s int%d\n", "lm head", s->lm_bits);
        printf("%-19s %s%s\n", "smoothquant alpha", alpha, mi->q->alpha == 0.0f ? " (no smoothing)" : "");
        printf("%-19s %s\n", "smooth through V", mi->q->smooth_v ? "yes" : "no");
        if (c->arch == LLX_ARCH_LLAMA) printf("%-19s %s\n", "smooth down_proj", mi->q->smooth_down ? "yes" : "no");
        print_count("calibration tokens", mi->q->calib_tokens);
        printf("\n");
    }
    print_bytes(mi->file_label, mi->file_bytes);
    print_bytes("weights fp32", w.fp32);
    print_bytes("weights fp16", w.fp16);
    print_bytes("weights int8", w.int8);
    print_kernels_human();
}

static void print_info(const model_info *mi, int json)
{
    if (json) print_json(mi);
    else print_human(mi);
}

/* A HuggingFace folder: opened as a model (config, checkpoint, tokenizer
 * against vocab_size), then every weight checked for NaN/Inf. */
static int info_hf(const char *dir, int json)
{
    llx_model *mm = NULL;
    if (llx_model_open(&mm, dir) != LLX_OK || llx_model_check_weights(mm) != LLX_OK) {
        llx_model_close(mm);
        return cli_lib_error();
    }
    const llx_hf *m = llx_model_checkpoint(mm);
    char *path = malloc(strlen(dir) + 32);
    if (!path) {
        llx_model_close(mm);
        return cli_runtime_error("out of memory");
    }
    sprintf(path, "%s/model.safetensors", dir);
    struct stat st;
    const model_info mi = {"hf", dir, llx_hf_config(m)->arch == LLX_ARCH_LLAMA ? "HuggingFace Llama folder" : "HuggingFace GPT-2 folder", "model.safetensors", llx_hf_config(m),
                           llx_hf_dtype(m), stat(path, &st) == 0 ? (long long)st.st_size : -1,
                           (unsigned long long)llx_hf_data_bytes(m), NULL};
    print_info(&mi, json);
    free(path);
    llx_model_close(mm);
    return EXIT_OK;
}

/* A .llx file: opened as a model, which checks every tensor and the
 * embedded tokenizer. */
static int info_llx(const char *file, int json)
{
    llx_model *m = NULL;
    if (llx_model_open(&m, file) != LLX_OK) return cli_lib_error();
    llx_quant_info q;
    llx_model_quant_info(m, &q);
    const long long bytes = (long long)llx_model_bytes(m);
    const model_info mi = {"llx", file, "looplynx quantized .llx file", "file", llx_model_config(m),
                           q.s.scheme == LLX_SCHEME_W8A8 ? "I8" : "Q4",
                           bytes, (unsigned long long)bytes, &q};
    print_info(&mi, json);
    llx_model_close(m);
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
    if (!model) return cli_usage_error("info: -m MODEL is required (a checkpoint folder or a .llx file)");
    struct stat st;
    const int is_file = stat(model, &st) == 0 && S_ISREG(st.st_mode);
    return is_file ? info_llx(model, json) : info_hf(model, json);
}
