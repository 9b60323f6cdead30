/* cli/cmd_ppl.c - looplynx ppl: perplexity over non-overlapping windows. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/quant.h"

static void help(void)
{
    printf("usage: looplynx ppl -m MODEL -f TEXT [options]\n\n"
           "Mean negative log-likelihood and perplexity of MODEL on TEXT, over\n"
           "non-overlapping windows of --ctx tokens; each window starts from an empty\n"
           "cache at position 0 and predicts its tokens 1..ctx-1 (whole windows only).\n\n"
           "  -m, --model MODEL    HuggingFace folder (fp32) or .llx file (quantized)\n"
           "  -f, --file TEXT      UTF-8 text, tokenized as one string\n"
           "  --ctx N              window length (default 128, or the model's context if smaller)\n"
           "  --max-tokens N       use only the first N tokens of the text\n"
           "  --json               print {\"nll\": ..., \"ppl\": ..., \"tokens\": ...}\n");
    cli_engine_help(stdout);
}

/* The whole text file, or NULL after printing why not (a folder, a read
 * error); *rc gets the exit code. */
static char *slurp(const char *path, size_t *len, int *rc)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        *rc = cli_runtime_error("cannot read '%s': it is a folder, not a text file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        *rc = cli_runtime_error("cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    const int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf || err) {
        free(buf);
        *rc = err ? cli_runtime_error("cannot read '%s': %s", path, strerror(err))
                  : cli_runtime_error("out of memory reading '%s'", path);
        return NULL;
    }
    *len = n;
    return buf;
}

int cmd_ppl(int argc, char **argv)
{
    cli_engine ce;
    cli_engine_init(&ce);
    const char *model = NULL, *file = NULL;
    long ctx = 0, max_tokens = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return EXIT_OK;
        }
        if ((r = cli_engine_flag(argc, argv, &i, &ce))) {
            if (r < 0) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            model = v;
        } else if ((r = cli_opt(argc, argv, &i, "-f", &v)) || (r = cli_opt(argc, argv, &i, "--file", &v))) {
            if (r < 0) return EXIT_USAGE;
            file = v;
        } else if ((r = cli_opt(argc, argv, &i, "--ctx", &v))) {
            if (r < 0 || !cli_parse_int("--ctx", v, 2, 1 << 16, &ctx)) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--max-tokens", &v))) {
            if (r < 0 || !cli_parse_int("--max-tokens", v, 2, 1L << 30, &max_tokens)) return EXIT_USAGE;
        } else if (cli_flag(argv, i, "--json")) {
            json = 1;
        } else {
            return cli_usage_error("ppl: unknown option '%s' (see looplynx ppl --help)", argv[i]);
        }
    }
    if (!file) return cli_usage_error("ppl: missing -f TEXT");
    llx_model *m = NULL;
    llx_engine *e = NULL;
    int rc = cli_engine_open(&ce, model, &m);
    if (rc) return rc;
    const int n_ctx = llx_model_config(m)->n_ctx;
    if (!ctx) ctx = n_ctx < 128 ? n_ctx : 128;
    if (ctx > n_ctx) {
        llx_model_close(m);
        return cli_usage_error("--ctx %ld exceeds the model context of %d", ctx, n_ctx);
    }
    ce.opt.max_batch = (int)ctx;
    int *ids = NULL, n = 0;
    size_t len = 0;
    char *text = NULL;
    int rank = 0, size = 1;
    if (ce.opt.backend == LLX_BACKEND_MPI) llx_mpi_world(&rank, &size);
    if (rank == 0) {
        text = slurp(file, &len, &rc);
        if (!text) goto done;
        if (llx_tokenize(llx_model_tokenizer(m), text, len, &ids, &n) != LLX_OK) {
            rc = cli_lib_error();
            goto done;
        }
        if (max_tokens && n > max_tokens) n = (int)max_tokens;
        if (n < ctx) {
            rc = cli_usage_error("'%s' has %d tokens, fewer than one window of --ctx %ld", file, n, ctx);
            goto done;
        }
    }
    if ((rc = cli_engine_create(&ce, m, &e))) goto done;
    llx_ppl_result res;
    if (llx_perplexity(e, ids, n, (int)ctx, json ? NULL : cli_progress, NULL, &res) != LLX_OK) {
        cli_progress_end();
        rc = cli_engine_fail(&ce);
        goto done;
    }
    cli_progress_end();
    if (json)
        printf("{\"nll\": %.6f, \"ppl\": %.4f, \"tokens\": %ld, \"windows\": %d, \"ctx\": %ld, \"precision\": \"%s\"}\n",
               res.nll, res.ppl, res.predictions, res.windows, ctx, ce.label);
    else
        printf("ppl %.4f  (nll %.6f nats over %ld predictions in %d windows of %ld, %s)\n", res.ppl, res.nll,
               res.predictions, res.windows, ctx, ce.label);
done:
    free(text);
    free(ids);
    if (rc && ce.opt.backend == LLX_BACKEND_MPI) llx_mpi_abort(rc);
    cli_engine_done(&ce, m, e);
    return rc;
}
