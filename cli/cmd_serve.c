/* cli/cmd_serve.c - looplynx serve: the OpenAI-compatible HTTP server.
 *
 * The server listens first (so /health can say "loading"), then the model
 * is opened and the engine created, then the batching loop runs on this
 * thread (MPI wants the engine driven from the main thread; other ranks
 * only execute passes).  SIGTERM or SIGINT start a drain: in-flight
 * requests finish (at most --drain-timeout seconds), then the process
 * exits 0.  Progress lines go to stdout: "listening on http://HOST:PORT",
 * "ready", "draining", "stopped". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine_args.h"
#include "llx/chat.h"
#include "llx/serve.h"

#define TEMPLATE_MAX (1 << 20)

static void help(void)
{
    printf("usage: looplynx serve -m MODEL [options]\n\n"
           "Serve the model over HTTP with the OpenAI API: POST /v1/completions,\n"
           "POST /v1/chat/completions (\"stream\": true for server-sent events),\n"
           "GET /v1/models, GET /health, GET /metrics (Prometheus).\n"
           "Up to --parallel requests are decoded together (continuous batching);\n"
           "a request's tokens do not depend on which others run beside it.\n\n"
           "  -m, --model MODEL     model folder or .llx file\n"
           "  --host ADDR           address to listen on (default 127.0.0.1)\n"
           "  --port N              port (default 8080; 0 = any free port, printed at start)\n"
           "  -np, --parallel P     sequences decoded together (default 4)\n"
           "  --queue N             requests that may wait for a slot; more get 503 (default 64)\n"
           "  --api-key KEY         require 'Authorization: Bearer KEY' (default: env LLX_API_KEY, else none)\n"
           "  --alias NAME          model id in /v1/models and requests (default: the model's file name)\n"
           "  --max-body BYTES      largest request body (default 1048576; larger: 413)\n"
           "  --prefill-chunk N     prompt tokens a request runs per step (default 256)\n"
           "  --drain-timeout S     on SIGTERM, seconds in-flight requests get to finish (default 30)\n"
           "  --idle-timeout S      close connections idle this long (default 60)\n"
           "  --chat-template T     chat template: llama3 (Llama 3 instruct), chatml, or a Jinja file of\n"
           "                        either family (default: the model's tokenizer_config.json chat_template)\n");
    cli_engine_help(stdout);
}

typedef struct serve_args {
    const char *model, *alias, *chat_template;
    char *template_text; /* a --chat-template file's contents */
    llx_serve_opts so;
    cli_engine ce;
    char alias_buf[256];
} serve_args;

static int parse_serve_flag(int argc, char **argv, int *i, serve_args *a)
{
    const char *v = NULL;
    long n;
    double d;
    int r;
    if ((r = cli_opt(argc, argv, i, "--host", &v))) return r < 0 ? -1 : (a->so.host = v, 1);
    if ((r = cli_opt(argc, argv, i, "--port", &v)))
        return r < 0 || !cli_parse_int("--port", v, 0, 65535, &n) ? -1 : (a->so.port = (int)n, 1);
    if ((r = cli_opt(argc, argv, i, "--parallel", &v)) || (r = cli_opt(argc, argv, i, "-np", &v)))
        return r < 0 || !cli_parse_int("--parallel", v, 1, 256, &n) ? -1 : (a->so.parallel = (int)n, 1);
    if ((r = cli_opt(argc, argv, i, "--queue", &v)))
        return r < 0 || !cli_parse_int("--queue", v, 0, 1 << 20, &n) ? -1 : (a->so.queue = (int)n, 1);
    if ((r = cli_opt(argc, argv, i, "--api-key", &v))) {
        if (r > 0 && !*v) return cli_usage_error("--api-key is empty"), -1;
        return r < 0 ? -1 : (a->so.api_key = v, 1);
    }
    if ((r = cli_opt(argc, argv, i, "--alias", &v))) return r < 0 ? -1 : (a->alias = v, 1);
    if ((r = cli_opt(argc, argv, i, "--chat-template", &v))) {
        if (r > 0 && !*v) return cli_usage_error("--chat-template is empty (llama3, chatml or a file)"), -1;
        return r < 0 ? -1 : (a->chat_template = v, 1);
    }
    if ((r = cli_opt(argc, argv, i, "--max-body", &v)))
        return r < 0 || !cli_parse_int("--max-body", v, 64, 1L << 30, &n) ? -1 : (a->so.max_body = (size_t)n, 1);
    if ((r = cli_opt(argc, argv, i, "--prefill-chunk", &v)))
        return r < 0 || !cli_parse_int("--prefill-chunk", v, 1, 1 << 16, &n) ? -1 : (a->so.prefill_chunk = (int)n, 1);
    if ((r = cli_opt(argc, argv, i, "--drain-timeout", &v)))
        return r < 0 || !cli_parse_double("--drain-timeout", v, 0, 86400, &d) ? -1 : (a->so.drain_timeout_s = d, 1);
    if ((r = cli_opt(argc, argv, i, "--idle-timeout", &v)))
        return r < 0 || !cli_parse_double("--idle-timeout", v, 1, 86400, &d) ? -1 : (a->so.idle_timeout_s = d, 1);
    return 0;
}

static int parse(int argc, char **argv, serve_args *a)
{
    memset(a, 0, sizeof *a);
    cli_engine_init(&a->ce);
    a->so = llx_serve_defaults();
    const char *env_key = getenv("LLX_API_KEY");
    if (env_key && *env_key) a->so.api_key = env_key;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            help();
            return -1;
        }
        if ((r = cli_engine_flag(argc, argv, &i, &a->ce)) || (r = parse_serve_flag(argc, argv, &i, a))) {
            if (r < 0) return EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "-m", &v)) || (r = cli_opt(argc, argv, &i, "--model", &v))) {
            if (r < 0) return EXIT_USAGE;
            a->model = v;
        } else {
            return cli_usage_error("serve: unknown option '%s' (see looplynx serve --help)", argv[i]);
        }
    }
    if (!a->model) return cli_usage_error("missing -m MODEL (a HuggingFace folder or a .llx file)");
    if (!a->ce.opt.max_seqs) a->ce.opt.max_seqs = a->so.parallel;
    if (a->alias) {
        a->so.model_id = a->alias;
    } else { /* the model's file or folder name */
        size_t n = strlen(a->model);
        while (n > 1 && a->model[n - 1] == '/') n--;
        size_t b = n;
        while (b > 0 && a->model[b - 1] != '/') b--;
        snprintf(a->alias_buf, sizeof a->alias_buf, "%.*s", (int)(n - b), a->model + b);
        a->so.model_id = a->alias_buf;
    }
    return 0;
}

/* --chat-template: a built-in name, else a template file (read whole). */
static int load_template(serve_args *a)
{
    const char *name = a->chat_template;
    if (!name) return 0;
    if ((a->so.chat_template = llx_chat_builtin(name))) return 0;
    struct stat st;
    if (stat(name, &st) != 0)
        return cli_usage_error("--chat-template '%s' is neither llama3, chatml nor a readable file: %s", name, strerror(errno));
    if (S_ISDIR(st.st_mode)) return cli_usage_error("--chat-template '%s' is a folder, not a template file", name);
    FILE *f = fopen(name, "rb");
    if (!f) return cli_runtime_error("cannot open chat template '%s': %s", name, strerror(errno));
    a->template_text = malloc(TEMPLATE_MAX + 1);
    size_t n = a->template_text ? fread(a->template_text, 1, TEMPLATE_MAX + 1, f) : 0;
    const int bad = ferror(f);
    fclose(f);
    if (!a->template_text) return cli_runtime_error("out of memory reading the chat template");
    if (bad) return cli_runtime_error("cannot read chat template '%s'", name);
    if (n > TEMPLATE_MAX) return cli_runtime_error("chat template '%s' is larger than %d bytes", name, TEMPLATE_MAX);
    if (n == 0) return cli_runtime_error("chat template '%s' is empty", name);
    if (memchr(a->template_text, 0, n)) return cli_runtime_error("chat template '%s' holds a NUL byte", name);
    a->template_text[n] = 0;
    a->so.chat_template = a->template_text;
    return 0;
}

static void print_ready(const serve_args *a, const llx_server *s, const llx_engine *e)
{
    const char *why = NULL, *fam = llx_server_chat_template(s, &why);
    printf("ready: model '%s', %d parallel sequences, context %d, %s%s\n", a->so.model_id, a->so.parallel,
           llx_engine_max_ctx(e), fam ? "chat template " : why ? "chat disabled: " : "no chat template",
           fam ? fam : why ? why : "");
    fflush(stdout);
}

/* SIGTERM/SIGINT are blocked in every thread and taken here; SIGUSR1 ends the thread. */
typedef struct sig_waiter {
    pthread_t th;
    llx_server *s;
    sigset_t set;
} sig_waiter;

static void *sig_thread(void *arg)
{
    sig_waiter *w = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&w->set, &sig) != 0 || sig == SIGUSR1) return NULL;
        printf("draining (signal %d)\n", sig);
        fflush(stdout);
        llx_server_stop(w->s);
    }
}

static int serve(serve_args *a, llx_server *s, sig_waiter *w)
{
    llx_model *m = NULL;
    llx_engine *e = NULL;
    int rc = cli_engine_open(&a->ce, a->model, &m);
    if (!rc) rc = cli_engine_create(&a->ce, m, &e);
    if (!rc && llx_server_attach(s, m, e) != LLX_OK) rc = cli_lib_error();
    if (!rc) {
        print_ready(a, s, e);
        if (llx_server_run(s) != LLX_OK) rc = cli_engine_fail(&a->ce);
    }
    pthread_kill(w->th, SIGUSR1);
    pthread_join(w->th, NULL);
    llx_server_free(s);
    if (!rc) {
        printf("stopped\n");
        fflush(stdout);
    }
    cli_engine_done(&a->ce, m, e);
    return rc;
}

static int run(serve_args *a)
{
    int rc;
    /* before any thread starts (MPI's too): every thread inherits the mask */
    sig_waiter w;
    memset(&w, 0, sizeof w);
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGINT);
    sigaddset(&w.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rank = 0, size = 1;
    if (a->ce.opt.backend == LLX_BACKEND_MPI && llx_mpi_world(&rank, &size) != LLX_OK) return cli_lib_error();
    if (rank != 0) { /* other ranks only run passes for rank 0, and end when it frees the engine */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        llx_model *m = NULL;
        llx_engine *e = NULL;
        if ((rc = cli_engine_open(&a->ce, a->model, &m)) || (rc = cli_engine_create(&a->ce, m, &e))) return rc;
        cli_engine_done(&a->ce, m, e);
        return EXIT_OK;
    }
    llx_server *s = NULL;
    if (llx_server_create(&s, &a->so) != LLX_OK) {
        rc = llx_errmsg()[0] && strstr(llx_errmsg(), "resolve") ? cli_usage_error("%s", llx_errmsg()) : cli_lib_error();
        if (a->ce.opt.backend == LLX_BACKEND_MPI) llx_mpi_abort(rc);
        return rc;
    }
    w.s = s;
    if (pthread_create(&w.th, NULL, sig_thread, &w) != 0) {
        llx_server_free(s);
        return cli_runtime_error("cannot start the signal thread");
    }
    const int v6 = strchr(a->so.host, ':') != NULL;
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", a->so.host, v6 ? "]" : "", llx_server_port(s));
    fflush(stdout);
    return serve(a, s, &w);
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (!(rc = load_template(&a))) rc = run(&a);
    free(a.template_text);
    return rc;
}
