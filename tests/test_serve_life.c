/* tests/test_serve_life.c - the server's life around requests: a client
 * that disconnects frees its slot at once, SIGTERM drains in-flight
 * requests (and stops accepting), --drain-timeout cancels what is left,
 * a full queue answers 503 with Retry-After, usage errors, a busy port,
 * and rank 0 serving under MPI. */
#include <dirent.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "serveutil.h"

static long long metric(const llx_serve_proc *p, const char *name)
{
    char *body = NULL;
    long long v = llx_http(p, "GET", "/metrics", NULL, NULL, &body) == 200 ? llx_prom_value(body, name) : -1;
    free(body);
    return v;
}

/* Wait (up to 30 s) until the metric reaches want. */
static int wait_metric(const llx_serve_proc *p, const char *name, long long want)
{
    for (int i = 0; i < 3000; i++) {
        if (metric(p, name) == want) return 1;
        usleep(10000);
    }
    llx_test_note("%s never reached %lld", name, want);
    return 0;
}

static int start_slow(llx_serve_proc *p, const char *a, const char *b)
{
    const char *m = llx_serve_model_slow();
    return m && llx_serve_start(p, m, 60, "-t", "1", "--parallel", "1", a, b, NULL);
}

/* A streamed request body of n tokens. */
static const char *long_stream(char *buf, size_t cap, int n)
{
    snprintf(buf, cap, "{\"prompt\":\"a long answer\",\"max_tokens\":%d,\"temperature\":0,\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true}}", n);
    return buf;
}

static char *read_out(const char *path)
{
    char *s = llx_test_read(path, NULL);
    return s ? s : calloc(1, 1);
}

#define ACTIVE "llx_active_sequences"
#define QUEUED "llx_queue_length"
#define CANCELLED "llx_requests_total{endpoint=\"completions\",outcome=\"cancelled\"}"

TEST(serve_disconnect_frees_slot, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_slow(&p, NULL, NULL)) {
        CHECK(0);
        return;
    }
    char b1[256], b2[256];
    const int n = llx_serve_tokens_for(&p, 4.0, 64, 1000);
    const char *o1 = llx_test_tmpfile("disc1.out"), *o2 = llx_test_tmpfile("disc2.out");
    const pid_t c1 = llx_curl_bg(&p, "/v1/completions", long_stream(b1, sizeof b1, n), o1);
    CHECK(wait_metric(&p, ACTIVE, 1));
    /* a second client waits in the queue (one slot), then goes away: the
     * queue empties while the first still runs */
    const pid_t c2 = llx_curl_bg(&p, "/v1/completions", long_stream(b2, sizeof b2, 8), o2);
    CHECK(wait_metric(&p, QUEUED, 1));
    kill(c2, SIGKILL);
    CHECK(llx_curl_bg_wait(c2, 30) == 128 + SIGKILL);
    CHECK(wait_metric(&p, QUEUED, 0));
    CHECK_EQ_INT(metric(&p, ACTIVE), 1);
    /* the first leaves mid-stream: its slot is free at once, long before its n tokens */
    kill(c1, SIGKILL);
    CHECK(llx_curl_bg_wait(c1, 30) == 128 + SIGKILL);
    CHECK(wait_metric(&p, ACTIVE, 0));
    CHECK_EQ_INT(metric(&p, CANCELLED), 2);
    char *out = read_out(o1);
    CHECK(strstr(out, "data: {") && !strstr(out, "[DONE]")); /* it had tokens before it left */
    free(out);
    const long long made = metric(&p, "llx_completion_tokens_total");
    CHECK_MSG(made > 0 && made < n, "the left sequence made %lld of %d tokens", made, n);
    char *body = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/completions", "{\"prompt\":\"next\",\"max_tokens\":4}", NULL, &body), 200);
    free(body);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 30), 0);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_sigterm_drains_in_flight, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_slow(&p, NULL, NULL)) {
        CHECK(0);
        return;
    }
    char b1[256], want[64];
    const int n = llx_serve_tokens_for(&p, 6.0, 32, 1000); /* long enough to outlast a loaded machine */
    const char *o1 = llx_test_tmpfile("drain.out");
    const pid_t c1 = llx_curl_bg(&p, "/v1/completions", long_stream(b1, sizeof b1, n), o1);
    CHECK(wait_metric(&p, ACTIVE, 1));
    kill(p.pid, SIGTERM);
    for (int i = 0; i < 500 && !strstr(p.out, "draining"); i++) {
        usleep(10000);
        llx_serve_drain_output(&p);
    }
    CHECK(strstr(p.out, "draining") != NULL);
    /* no new connections once draining, while the request still runs */
    usleep(20000);
    llx_proc_result r;
    char url[128];
    snprintf(url, sizeof url, "%s/health", p.url);
    llx_curl(&r, url, NULL);
    CHECK_MSG(r.status == 7, "curl after SIGTERM: status %d, %.200s", r.status, r.out);
    llx_proc_free(&r);
    CHECK_MSG(waitpid(c1, NULL, WNOHANG) == 0, "the request ended before the drain could be seen (n = %d)", n);
    CHECK_EQ_INT(llx_curl_bg_wait(c1, 120), 0);
    char *out = read_out(o1);
    snprintf(want, sizeof want, "\"completion_tokens\":%d", n);
    CHECK(strstr(out, want) && strstr(out, "\"finish_reason\":\"length\"") && strstr(out, "data: [DONE]"));
    free(out);
    CHECK_EQ_INT(llx_serve_stop(&p, 0, 30), 0);
    CHECK(strstr(p.out, "stopped") != NULL);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_drain_timeout_cancels, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_slow(&p, "--drain-timeout", "0.3")) {
        CHECK(0);
        return;
    }
    char b1[256];
    const char *o1 = llx_test_tmpfile("drain-timeout.out");
    const pid_t c1 = llx_curl_bg(&p, "/v1/completions", long_stream(b1, sizeof b1, 1000), o1);
    CHECK(wait_metric(&p, ACTIVE, 1));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int rc = llx_serve_stop(&p, SIGTERM, 30);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(took < 10, "exit took %.2f s after a 0.3 s drain", took);
    CHECK_EQ_INT(llx_curl_bg_wait(c1, 30), 0);
    /* the stream ends with an error event and [DONE], not a finish reason */
    char *out = read_out(o1);
    CHECK(strstr(out, "\"error\"") && strstr(out, "shut down") && strstr(out, "data: [DONE]"));
    CHECK(!strstr(out, "\"finish_reason\":\"length\""));
    free(out);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_queue_full_is_503, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_slow(&p, "--queue", "0")) {
        CHECK(0);
        return;
    }
    char b1[256];
    const pid_t c1 = llx_curl_bg(&p, "/v1/completions", long_stream(b1, sizeof b1, 1000), llx_test_tmpfile("q.out"));
    CHECK(wait_metric(&p, ACTIVE, 1));
    llx_proc_result r;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/completions", p.url);
    llx_curl(&r, "-i", "-d", "{\"prompt\":\"me too\"}", url, NULL);
    CHECK(strstr(r.out, "HTTP/1.1 503") != NULL);
    CHECK(strstr(r.out, "Retry-After: 1") != NULL);
    CHECK(strstr(r.out, "\"code\":\"server_busy\"") != NULL);
    llx_proc_free(&r);
    kill(c1, SIGKILL);
    llx_curl_bg_wait(c1, 30);
    CHECK(wait_metric(&p, ACTIVE, 0));
    char *body = NULL; /* room again */
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/completions", "{\"prompt\":\"now\",\"max_tokens\":2}", NULL, &body), 200);
    free(body);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 60), 0);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_request_larger_than_kv_pool, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    const char *m = llx_serve_model_small();
    if (!m || !llx_serve_start(&p, m, 60, "-t", "1", "--kv-blocks", "1", NULL)) { /* 64 positions */
        CHECK(0);
        return;
    }
    char *body = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/completions", "{\"prompt\":\"big\",\"max_tokens\":100}", NULL, &body), 400);
    CHECK(body && strstr(body, "more than the pool's 1 blocks") && strstr(body, "context_length_exceeded"));
    free(body);
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/completions", "{\"prompt\":\"small\",\"max_tokens\":40}", NULL, &body), 200);
    free(body);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 30), 0);
    CHECK_MSG(llx_serve_clean(&p), "%.600s", p.err);
}

TEST(serve_cli_usage_errors, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "serve", "--help", NULL);
    CHECK(r.status == 0 && strstr(r.out, "usage: looplynx serve"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", NULL);
    CHECK(llx_cli_failed(&r, 2, "missing -m"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", "-m", "x", "--port", "70000", NULL);
    CHECK(llx_cli_failed(&r, 2, "--port must be in"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", "-m", "x", "--parallel", "0", NULL);
    CHECK(llx_cli_failed(&r, 2, "--parallel must be in"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", "-m", "x", "--api-key", "", NULL);
    CHECK(llx_cli_failed(&r, 2, "--api-key is empty"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", "-m", "x", "--bogus", NULL);
    CHECK(llx_cli_failed(&r, 2, "unknown option '--bogus'"));
    llx_proc_free(&r);
    llx_cli(&r, "serve", "-m", "x", "--host", "no.such.host.invalid", "--port", "0", NULL);
    CHECK(llx_cli_failed(&r, 2, "cannot resolve host"));
    llx_proc_free(&r);
    /* a model that cannot be opened: one error line after "listening" */
    llx_cli(&r, "serve", "-m", "/nonexistent/model", "--port", "0", NULL);
    CHECK_EQ_INT(r.status, 1);
    CHECK(strstr(r.err, "looplynx: error: ") == r.err && strstr(r.err, "/nonexistent/model"));
    llx_proc_free(&r);
}

TEST(serve_port_in_use, LLX_T_ASAN)
{
    llx_serve_proc p;
    const char *m = llx_serve_model_small();
    if (!m || !llx_serve_start(&p, m, 60, "-t", "1", NULL)) {
        CHECK(0);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", p.port);
    llx_proc_result r;
    llx_cli(&r, "serve", "-m", m, "--port", port, NULL);
    CHECK(llx_cli_failed(&r, 1, "cannot listen on 127.0.0.1 port"));
    llx_proc_free(&r);
    CHECK_EQ_INT(llx_serve_stop(&p, SIGTERM, 30), 0);
}

/* mpirun, when it exists and the CLI under test was built with MPI. */
static const char *mpirun_for_serve(void)
{
    if (access("/usr/bin/mpirun", X_OK) != 0) return NULL;
    llx_proc_result r;
    llx_cli(&r, "--version", NULL);
    const int built = r.status == 0 && strstr(r.out, "mpi: yes") != NULL;
    llx_proc_free(&r);
    return built ? "/usr/bin/mpirun" : NULL;
}

/* The child of mpirun that is rank 0 (its environment says so), or -1. */
static pid_t rank0_of(pid_t mpirun)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    while (d && found < 0 && (e = readdir(d))) {
        const pid_t pid = (pid_t)atoi(e->d_name);
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = pid > 0 ? fopen(path, "r") : NULL;
        if (!f) continue;
        int ppid = 0;
        const int ok = fgets(buf, sizeof buf, f) && strrchr(buf, ')') && sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid) == 1;
        fclose(f);
        if (!ok || ppid != mpirun) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        size_t len = 0;
        char *env = llx_test_read(path, &len);
        for (size_t i = 0; env && i < len; i += strlen(env + i) + 1)
            if (!strcmp(env + i, "OMPI_COMM_WORLD_RANK=0")) found = pid;
        free(env);
    }
    if (d) closedir(d);
    return found;
}

TEST(serve_mpi_rank0_serves)
{
    const char *mpirun = mpirun_for_serve();
    if (!mpirun) SKIP("mpirun or an MPI build of looplynx not available");
    const char *m = llx_serve_model_small();
    llx_serve_proc ref, p;
    if (!m || !llx_serve_start(&ref, m, 60, "-t", "1", NULL)) {
        CHECK(0);
        return;
    }
    /* three seeded requests, alone on one node, then together on two MPI ranks */
    enum { N = 3 };
    char req[N][160], *want[N], *got[N];
    for (int i = 0; i < N; i++) {
        snprintf(req[i], sizeof req[i], "{\"prompt\":\"two ranks %d\",\"max_tokens\":%d,\"temperature\":0.8,\"seed\":%d}",
                 i, 40 + 10 * i, 9 + i);
        CHECK_EQ_INT(llx_http(&ref, "POST", "/v1/completions", req[i], NULL, &want[i]), 200);
    }
    CHECK_EQ_INT(llx_serve_stop(&ref, SIGTERM, 30), 0);
    char *argv[] = {(char *)mpirun, "--oversubscribe", "--allow-run-as-root", "-np", "2", (char *)llx_test_bin(),
                    "serve", "--backend", "mpi", "-m", (char *)m, "--port", "0", "-t", "1", NULL};
    if (!llx_serve_start_argv(&p, argv, 120)) {
        CHECK(0);
        for (int i = 0; i < N; i++) free(want[i]);
        return;
    }
    pid_t pid[N];
    char name[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(name[i], sizeof name[i], "mpi%d.out", i);
        pid[i] = llx_curl_bg(&p, "/v1/completions", req[i], llx_test_tmpfile(name[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(llx_curl_bg_wait(pid[i], 120), 0);
        got[i] = llx_test_read(llx_test_tmpfile(name[i]), NULL);
        /* same text and usage as one node (ids and timestamps differ) */
        const char *tw = want[i] ? strstr(want[i], "\"choices\"") : NULL, *tg = got[i] ? strstr(got[i], "\"choices\"") : NULL;
        CHECK_MSG(tw && tg && !strcmp(tw, tg), "request %d: %.200s vs %.200s", i, tw ? tw : "", tg ? tg : "");
        free(want[i]);
        free(got[i]);
    }
    /* SIGTERM to rank 0 drains it; the other rank ends with it, and so does mpirun (exit 0).
     * (mpirun forwards a SIGTERM sent to itself as well, but then exits 1.) */
    const pid_t r0 = rank0_of(p.pid);
    CHECK(r0 > 0);
    if (r0 > 0) kill(r0, SIGTERM);
    CHECK_EQ_INT(llx_serve_stop(&p, 0, 60), 0);
    CHECK_MSG(strstr(p.out, "stopped") != NULL, "out: %.300s err: %.600s", p.out, p.err);
}
