/* tests/test_serve_node.c - the server driven by the official `openai`
 * client for Node.js (tests/node/client.mjs): a completion, a streamed
 * completion, stop sequences, chat (a model without a template, and one
 * with a ChatML template: plain, streamed, roles), the errors as the client's exception
 * classes; and a bounded loopback load test (32 concurrent streaming
 * clients, 256 requests).  Skips only when node is not installed; a
 * missing `openai` package is a failure (scripts/install-deps.sh installs
 * it). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serveutil.h"

/* 1 when node runs; 0 when it is not installed. */
static int have_node(void)
{
    char *argv[] = {"node", "--version", NULL};
    llx_proc_result r;
    if (llx_run_proc(argv, NULL, 30, &r) != 0) return 0;
    const int ok = r.status == 0 && r.out[0] == 'v';
    llx_proc_free(&r);
    return ok;
}

static int have_openai(void)
{
    if (access("tests/node/node_modules/openai/package.json", R_OK) == 0) return 1;
    llx_test_note("the npm package 'openai' is not installed in tests/node: run sh scripts/install-deps.sh "
                  "(or 'npm ci' in tests/node)");
    return 0;
}

/* node client.mjs URL KEY MODEL MODE ARGS...; returns node's exit status. */
static int run_client(const llx_serve_proc *p, const char *model_id, const char *mode, const char *a1, const char *a2,
                      const char *a3, llx_proc_result *r)
{
    char *argv[] = {"node", "tests/node/client.mjs", (char *)p->url, "k3y", (char *)model_id, (char *)mode,
                    (char *)a1, (char *)a2, (char *)a3, NULL};
    if (llx_run_proc(argv, NULL, 300, r) != 0) return -1;
    if (r->status != 0) llx_test_note("node client failed (%d): %.300s\n%.1500s", r->status, r->out, r->err);
    return r->status;
}

/* Serve model as `alias`, run client.mjs "api" with `chat` ("chat" or
 * "nochat"), and find each wanted "ok ..." line in its output. */
static void api_run(const char *model, const char *alias, const char *chat, const char *const *want, size_t n_want)
{
    llx_serve_proc p;
    if (!model || !llx_serve_start(&p, model, 60, "-t", "1", "--api-key", "k3y", "--alias", alias, NULL)) {
        CHECK(0);
        return;
    }
    llx_proc_result r;
    CHECK_EQ_INT(run_client(&p, alias, "api", chat, NULL, NULL, &r), 0);
    for (size_t i = 0; i < n_want; i++) CHECK_MSG(strstr(r.out, want[i]), "missing '%s'", want[i]);
    llx_proc_free(&r);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 30), 0);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_node_openai_client, LLX_T_ASAN | LLX_T_TSAN)
{
    if (!have_node()) SKIP("node is not installed");
    CHECK(have_openai());
    static const char *const want[] = {"ok completion", "ok streamed completion equals the plain one", "ok same seed",
                                       "ok stop sequences", "ok chat without a template is a 400",
                                       "ok unknown model is a 404", "ok max_tokens past the context is a 400",
                                       "ok a wrong type is a 400", "ok a wrong API key is a 401", "ok models"};
    api_run(llx_serve_model_small(), "small", "nochat", want, sizeof want / sizeof *want);
}

TEST(serve_node_load_test, LLX_T_ASAN | LLX_T_TSAN)
{
    if (!have_node()) SKIP("node is not installed");
    CHECK(have_openai());
    const char *m = llx_serve_model_small();
    llx_serve_proc p;
    if (!m || !llx_serve_start(&p, m, 60, "-t", "1", "--api-key", "k3y", "--alias", "small", "--parallel", "8", NULL)) {
        CHECK(0);
        return;
    }
    llx_proc_result r;
    CHECK_EQ_INT(run_client(&p, "small", "load", "32", "256", "16", &r), 0);
    CHECK(strstr(r.out, "ok load: 256 requests over 32 clients, 16 tokens each") != NULL);
    llx_proc_free(&r);
    char *metrics = NULL;
    CHECK_EQ_INT(llx_http(&p, "GET", "/metrics", NULL, "Authorization: Bearer k3y", &metrics), 200);
    CHECK_EQ_INT(llx_prom_value(metrics, "llx_requests_total{endpoint=\"completions\",outcome=\"ok\"}"), 256);
    CHECK_EQ_INT(llx_prom_value(metrics, "llx_completion_tokens_total"), 256 * 16);
    CHECK_EQ_INT(llx_prom_value(metrics, "llx_requests_total{endpoint=\"completions\",outcome=\"server_error\"}"), 0);
    free(metrics);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 30), 0);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

/* the same client against a model with a ChatML template */
TEST(serve_node_openai_chat, LLX_T_ASAN | LLX_T_TSAN)
{
    if (!have_node()) SKIP("node is not installed");
    CHECK(have_openai());
    static const char *const want[] = {"ok completion", "ok streamed chat", "ok chat with a system prompt",
                                       "ok chat roles refused", "ok a wrong API key is a 401", "ok models"};
    api_run(llx_serve_model_chat("serve-chat-chatml", LLX_TEST_CHATML), "chat", "chat", want, sizeof want / sizeof *want);
}
