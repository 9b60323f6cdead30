/* cli/cmd_generate.c - looplynx generate: prompt in, continuation streamed out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine_args.h"

static void help(void)
{
    printf("usage: looplynx generate -m MODEL [-p TEXT | -f FILE | < stdin] [options]\n\n"
           "Generate a continuation of the prompt, streaming it token by token.\n"
           "MODEL is a HuggingFace GPT-2 or Llama folder (fp32) or a .llx file (quantized).\n\n"
           "  -m, --model MODEL    model folder or .llx file\n"
           "  -p, --prompt TEXT    prompt text\n"
           "  -f, --file FILE      read the prompt from FILE ('-' or neither -p nor -f: stdin)\n"
           "  -n, --n-predict N    tokens to generate (default 128; stops early at the model's end\n"
           "                       token (GPT-2 <|endoftext|>, Llama's eos_token_id, <|eot_id|>)\n"
           "                       or when the model's context is full, saying so on stderr)\n"
           "  --greedy             always take the most likely token (same as --temp 0)\n"
           "  --temp T             sampling temperature (default 0.8)\n"
           "  --top-k K            keep the K most likely tokens, 0 = off (default 40)\n"
           "  --top-p P            keep the smallest set with probability >= P (default 0.95)\n"
           "  --seed S             random seed, 0 .. 2^63-1 (default: from the clock; printed with --json)\n"
           "  --json               print one JSON object instead of streaming text\n"
           "  --dump-logits FILE   write the logits every generated token was sampled from\n"
           "                       (n_vocab little-endian float32 per token) to FILE\n");
    cli_engine_help(stdout);
}

static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

typedef struct gen_args {
    const char *model, *prompt, *file, *dump;
    long n;
    llx_sampler_opts so;
    int seed_set, json;
    cli_engine ce;
} gen_args;

static int parse(int argc, char **argv, gen_args *a)
{
    memset(a, 0, sizeof *a);
    cli_engine_init(&a->ce);
    a->n = 128;
    a->so = (llx_sampler_opts){0, 0.8f, 40, 0.95f, 0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        double d;
        long k;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return -EXIT_OK - 1000;
        }
        if ((r = cli_engine_flag(argc, argv, &i, &a->ce))) {
            if (r < 0) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->model = v;
        } else if ((r = cli_opt(argc, argv, &i, "-p", &v)) || (r = cli_opt(argc, argv, &i, "--prompt", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->prompt = v;
        } else if ((r = cli_opt(argc, argv, &i, "-f", &v)) || (r = cli_opt(argc, argv, &i, "--file", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->file = v;
        } else if ((r = cli_opt(argc, argv, &i, "-n", &v)) || (r = cli_opt(argc, argv, &i, "--n-predict", &v))) {
            if (r < 0 || !cli_parse_int("-n", v, 1, 1 << 20, &a->n)) return EXIT_USAGE;
        } else if (cli_flag(argv, i, "--greedy")) {
            a->so.greedy = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--temp", &v))) {
            if (r < 0 || !cli_parse_double("--temp", v, 0, 100, &d)) return EXIT_USAGE;
            a->so.temperature = (float)d;
            if (d == 0) a->so.greedy = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--top-k", &v))) {
            if (r < 0 || !cli_parse_int("--top-k", v, 0, 1 << 24, &k)) return EXIT_USAGE;
            a->so.top_k = (int)k;
        } else if ((r = cli_opt(argc, argv, &i, "--top-p", &v))) {
            if (r < 0 || !cli_parse_double("--top-p", v, 1e-6, 1, &d)) return EXIT_USAGE;
            a->so.top_p = (float)d;
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v))) {
            /* 63 bits: the seed is echoed in --json, and JSON readers hold signed 64-bit integers */
            if (r < 0 || !cli_parse_int("--seed", v, 0, 0x7fffffffffffffffL, &k)) return EXIT_USAGE;
            a->so.seed = (uint64_t)k;
            a->seed_set = 1;
        } else if (cli_flag(argv, i, "--json")) {
            a->json = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--dump-logits", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->dump = v;
        } else {
            return cli_usage_error("generate: unknown option '%s' (see looplynx generate --help)", argv[i]);
        }
    }
    if (a->prompt && a->file) return cli_usage_error("give the prompt with -p or -f, not both");
    if (!a->seed_set) a->so.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return 0;
}

static int read_prompt(const gen_args *a, char **text, size_t *len)
{
    if (a->prompt) {
        *len = strlen(a->prompt);
        *text = malloc(*len + 1);
        if (*text) memcpy(*text, a->prompt, *len + 1);
    } else {
        const int from_stdin = !a->file || !strcmp(a->file, "-");
        struct stat st;
        if (!from_stdin && stat(a->file, &st) == 0 && S_ISDIR(st.st_mode))
            return cli_runtime_error("cannot read prompt file '%s': it is a folder", a->file);
        FILE *f = from_stdin ? stdin : fopen(a->file, "rb");
        if (!f) return cli_runtime_error("cannot open prompt file '%s': %s", a->file, strerror(errno));
        *text = read_stream(f, len);
        const int bad = ferror(f), err = errno;
        if (!from_stdin) fclose(f);
        if (*text && bad) {
            free(*text);
            *text = NULL;
            return cli_runtime_error("cannot read %s: %s", from_stdin ? "standard input" : a->file, strerror(err));
        }
    }
    if (!*text) return cli_runtime_error("out of memory reading the prompt");
    if (*len == 0) {
        free(*text);
        *text = NULL;
        return cli_usage_error("the prompt is empty");
    }
    return 0;
}

static int stream_cb(void *ud, int token, const char *text, size_t len)
{
    (void)ud;
    (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static void dump_cb(void *ud, const float *logits, int n)
{
    FILE *f = ud;
    if (f) fwrite(logits, sizeof *logits, (size_t)n, f);
}

static void print_json(const gen_args *a, const llx_engine *e, const int *ids, int n, const llx_generation *g,
                       const char *text, size_t tlen)
{
    llx_engine_stats es;
    llx_engine_get_stats(e, &es);
    printf("{\"prompt_tokens\": [");
    for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
    printf("], \"tokens\": [");
    for (int i = 0; i < g->n_tokens; i++) printf("%s%d", i ? ", " : "", g->tokens[i]);
    printf("], \"text\": ");
    cli_json_string(stdout, text, tlen);
    printf(", \"prefill_ms\": %.3f, \"decode_ms_per_token\": %.3f, \"stop\": \"%s\", \"stopped_eot\": %s, "
           "\"seed\": %llu, \"nodes\": %d, \"threads\": %d, \"precision\": \"%s\", \"kernels\": \"%s\"}\n",
           g->prefill_s * 1e3, g->decode_passes ? g->decode_s * 1e3 / g->decode_passes : 0.0,
           g->stopped_eot ? "eos" : g->stopped_length ? "length" : "n", g->stopped_eot ? "true" : "false", (unsigned long long)a->so.seed, a->ce.opt.nodes, a->ce.opt.threads,
           a->ce.label, es.kernels);
}

/* The text of ids without special tokens (Llama 3's <|begin_of_text|>,
 * <|eot_id|>): what the user reads. */
static llx_status visible_text(const llx_tokenizer *tok, const int *ids, int n, char **out, size_t *len)
{
    int *keep = malloc((size_t)(n > 0 ? n : 1) * sizeof *keep), k = 0;
    if (!keep) return LLX_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (!llx_tokenizer_is_special(tok, ids[i])) keep[k++] = ids[i];
    const llx_status st = llx_detokenize(tok, keep, k, out, len);
    free(keep);
    return st;
}

static int run(gen_args *a, llx_model *m, llx_engine *e, const int *ids, int n)
{
    const llx_tokenizer *tok = llx_model_tokenizer(m);
    llx_sampler *s;
    if (llx_sampler_create(&s, &a->so, llx_model_config(m)->n_vocab) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    FILE *dump = NULL;
    if (a->dump && !(dump = fopen(a->dump, "wb"))) {
        llx_sampler_free(s);
        return cli_runtime_error("cannot write '%s': %s", a->dump, strerror(errno));
    }
    if (!a->json) { /* the prompt, once nothing can refuse the run any more */
        char *p;
        size_t pl;
        if (visible_text(tok, ids, n, &p, &pl) == LLX_OK) fwrite(p, 1, pl, stdout), free(p);
        fflush(stdout);
    }
    const llx_gen_hooks hooks = {a->json ? NULL : stream_cb, dump ? dump_cb : NULL, dump};
    llx_generation g;
    llx_status st = llx_generate(e, tok, ids, n, (int)a->n, s, &hooks, &g);
    llx_sampler_free(s);
    if (dump && fclose(dump) != 0 && st == LLX_OK) {
        llx_generation_free(&g);
        return cli_runtime_error("cannot write '%s'", a->dump);
    }
    if (st == LLX_ERR_ARG) return cli_usage_error("%s", llx_errmsg());
    if (st != LLX_OK) return cli_engine_fail(&a->ce);
    if (g.stopped_length)
        fprintf(stderr, "looplynx: note: the context of %d tokens is full: generated %d of the %ld tokens asked for\n",
                llx_engine_max_ctx(e), g.n_tokens, a->n);
    char *text = NULL;
    size_t tlen = 0;
    int nt = g.n_tokens - (g.stopped_eot ? 1 : 0);
    if (visible_text(tok, g.tokens, nt, &text, &tlen) != LLX_OK) tlen = 0;
    if (a->json) print_json(a, e, ids, n, &g, text ? text : "", tlen);
    else {
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "prefill: %d tokens in %.1f ms (%.1f tok/s); decode: %d tokens, %.2f ms/token (%.1f tok/s)\n",
                n, g.prefill_s * 1e3, n / (g.prefill_s > 0 ? g.prefill_s : 1e-9), g.n_tokens,
                g.decode_passes ? g.decode_s * 1e3 / g.decode_passes : 0.0,
                g.decode_s > 0 ? g.decode_passes / g.decode_s : 0.0);
    }
    free(text);
    llx_generation_free(&g);
    return EXIT_OK;
}

int cmd_generate(int argc, char **argv)
{
    gen_args a;
    int rc = parse(argc, argv, &a);
    if (rc == -EXIT_OK - 1000) return EXIT_OK;
    if (rc) return rc;
    llx_model *m = NULL;
    llx_engine *e = NULL;
    char *text = NULL;
    size_t len = 0;
    int *ids = NULL, n = 0;
    if ((rc = cli_engine_open(&a.ce, a.model, &m))) return rc;
    int rank = 0, size = 1;
    if (a.ce.opt.backend == LLX_BACKEND_MPI) llx_mpi_world(&rank, &size);
    if (rank == 0) { /* the host: tokenizer, prompt, sampling, output */
        if ((rc = read_prompt(&a, &text, &len))) goto done;
        /* with the tokenizer's added tokens (Llama 3: BOS first), as HF does */
        if (llx_tokenize_ex(llx_model_tokenizer(m), text, len, LLX_TOK_ADD_SPECIAL, &ids, &n) != LLX_OK) {
            rc = cli_lib_error();
            goto done;
        }
        const int n_ctx = llx_model_config(m)->n_ctx;
        const int cap = a.ce.opt.max_ctx > 0 ? a.ce.opt.max_ctx : n_ctx < LLX_DEFAULT_CTX ? n_ctx : LLX_DEFAULT_CTX;
        if (n > cap) {
            rc = cli_usage_error("the prompt (%d tokens) does not fit the context of %d tokens", n, cap);
            goto done;
        }
    }
    if ((rc = cli_engine_create(&a.ce, m, &e))) goto done;
    rc = run(&a, m, e, ids, n);
done:
    free(text);
    free(ids);
    if (rc && a.ce.opt.backend == LLX_BACKEND_MPI) llx_mpi_abort(rc);
    cli_engine_done(&a.ce, m, e);
    return rc;
}
