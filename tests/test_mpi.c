/* tests/test_mpi.c - the ring across MPI ranks (Open MPI on this machine,
 * mpirun --oversubscribe): greedy tokens and every step's logits identical
 * to one node in this process, for 2 and 3 ranks, FP32 and W8A8; a --nodes
 * that disagrees with the rank count is a usage error; a rank that dies or
 * stalls ends the whole run within a bounded time, with a message; Llama
 * with grouped KV heads likewise. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "golden.h"
#include "llx/quant.h"
#include "llx/checkpoint.h"
#include "test.h"
#include "serveutil.h"
#include "w8a8_fixtures.h"

static const char *mpirun_path(void)
{
    static const char *cands[] = {"/usr/bin/mpirun", "/usr/local/bin/mpirun"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
        if (access(cands[i], X_OK) == 0) return cands[i];
    return NULL;
}

/* 1 when mpirun exists and the CLI was built with MPI */
static int mpi_ready(void)
{
    if (!mpirun_path()) return 0;
    llx_proc_result r;
    llx_cli(&r, "--version", NULL);
    const int built = r.status == 0 && strstr(r.out, "mpi: yes") != NULL;
    llx_proc_free(&r);
    if (!built) return 0;
    char *argv[] = {(char *)mpirun_path(), "--version", NULL};
    llx_run_proc(argv, NULL, 60, &r);
    const int ok = r.status == 0;
    llx_proc_free(&r);
    return ok;
}

/* mpirun -np N looplynx generate --backend mpi ARGS... */
static int run_mpi(llx_proc_result *r, int np, const char *model, const char *dump, const char *extra)
{
    char nps[16];
    snprintf(nps, sizeof nps, "%d", np);
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)mpirun_path();
    argv[n++] = "--oversubscribe";
    argv[n++] = "--allow-run-as-root";
    argv[n++] = "-np";
    argv[n++] = nps;
    argv[n++] = (char *)llx_test_bin();
    argv[n++] = "generate";
    argv[n++] = "--backend";
    argv[n++] = "mpi";
    argv[n++] = "-m";
    argv[n++] = (char *)model;
    argv[n++] = "-p";
    argv[n++] = "First Citizen: before we proceed";
    argv[n++] = "-n";
    argv[n++] = "12";
    argv[n++] = "--greedy";
    argv[n++] = "--threads";
    argv[n++] = "1";
    argv[n++] = "--json";
    argv[n++] = "--dump-logits";
    argv[n++] = (char *)dump;
    if (extra) argv[n++] = (char *)extra;
    argv[n] = NULL;
    return llx_run_proc(argv, NULL, 300, r);
}

static char *tokens_of(const char *json)
{
    const char *p = strstr(json, "\"tokens\": [");
    const char *e = p ? strchr(p, ']') : NULL;
    if (!p || !e) return NULL;
    char *t = malloc((size_t)(e - p) + 1);
    memcpy(t, p, (size_t)(e - p));
    t[e - p] = 0;
    return t;
}

static void check_identity(const char *model, const char *tag)
{
    llx_proc_result base;
    const char *dump0 = llx_test_tmpfile("mpi-base.f32");
    llx_cli(&base, "generate", "-m", model, "-p", "First Citizen: before we proceed", "-n", "12", "--greedy",
            "--threads", "1", "--json", "--dump-logits", dump0, NULL);
    CHECK_MSG(base.status == 0, "%s: threads run failed: %s", tag, base.err);
    char *want = tokens_of(base.out);
    size_t n0 = 0;
    char *l0 = llx_test_read(dump0, &n0);
    CHECK(want && l0 && n0 > 0);
    for (int np = 2; np <= 3; np++) {
        char name[64];
        snprintf(name, sizeof name, "mpi-%d.f32", np);
        const char *dump = llx_test_tmpfile(name);
        llx_proc_result r;
        run_mpi(&r, np, model, dump, NULL);
        CHECK_MSG(r.status == 0, "%s, %d ranks: exit %d: %s", tag, np, r.status, r.err);
        char *got = tokens_of(r.out);
        CHECK_MSG(got && want && !strcmp(got, want), "%s, %d ranks: tokens differ", tag, np);
        size_t n1 = 0;
        char *l1 = llx_test_read(dump, &n1);
        CHECK_MSG(l1 && n1 == n0 && !memcmp(l0, l1, n0), "%s, %d ranks: logits are not bit-identical", tag, np);
        free(got), free(l1);
        llx_proc_free(&r);
    }
    free(want), free(l0);
    llx_proc_free(&base);
}

TEST(mpi_identity_fp32_shared_model)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    check_identity(dir, "fp32 shakespeare");
}

TEST(mpi_identity_w8a8_shared_model)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    if (!llx_test_model_dir() || !llx_test_shared("data/tinyshakespeare/train.txt"))
        SKIP("shared shakespeare-gpt2 model or data not found");
    const char *p = llx_fixture_shakespeare_llx(1);
    REQUIRE(p);
    check_identity(p, "w8a8 static shakespeare");
}

TEST(mpi_identity_awkward_heads)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    const char *f = llx_fixture_awkward(2), *q = llx_fixture_awkward_llx(2);
    CHECK(f && q);
    if (f) check_identity(f, "fp32 awkward");
    if (q) check_identity(q, "w8a8 dynamic awkward");
}

/* low-bit schemes: int4 groups with fp16 scales and fp32 KV; w4a4 rotated
 * (the online Hadamard on every rank) with an int4 LM head */
TEST(mpi_identity_lowbit)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    for (int v = 1; v <= 2; v++) {
        const char *what = "";
        const char *p = llx_serve_model_small_lowbit(v, &what);
        CHECK(p != NULL);
        if (p) check_identity(p, what);
    }
}

/* The repository's trained model on 2 and 3 ranks: greedy generation equals
 * the PyTorch golden continuation, and W8A8 equals one node bit for bit. */
TEST(mpi_refmodel_golden)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    json_t *g = golden_load(golden_repo_dir(), "prompts.json");
    REQUIRE(g);
    const json_t *p = json_array_get(json_object_get(g, "prompts"), 1), *greedy = json_object_get(p, "greedy");
    for (int np = 2; np <= 3; np++) {
        char nps[16];
        snprintf(nps, sizeof nps, "%d", np);
        char *argv[] = {(char *)mpirun_path(), "--oversubscribe", "--allow-run-as-root", "-np", nps,
                        (char *)llx_test_bin(), "generate", "--backend", "mpi", "-m", (char *)golden_repo_model(),
                        "-p", (char *)json_string_value(json_object_get(p, "text")), "-n", "32", "--greedy",
                        "--threads", "1", "--json", NULL};
        llx_proc_result r;
        llx_run_proc(argv, NULL, 300, &r);
        json_t *j = json_loads(r.out, 0, NULL);
        CHECK_MSG(r.status == 0 && j && json_equal(json_object_get(j, "tokens"), json_object_get(greedy, "ids")),
                  "%d ranks: exit %d, tokens differ from the golden: %.300s", np, r.status, r.err);
        json_decref(j);
        llx_proc_free(&r);
    }
    json_decref(g);
    const char *q = llx_test_tmpfile("mpi-mini.llx");
    char calib[512];
    snprintf(calib, sizeof calib, "%s/calib.txt", golden_repo_model());
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    REQUIRE(llx_quantize(golden_repo_model(), &o, q) == LLX_OK);
    check_identity(q, "w8a8 static mini-shakespeare");
}

TEST(mpi_bad_nodes_mismatch)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    const char *f = llx_fixture_awkward(1);
    CHECK(f != NULL);
    if (!f) return;
    llx_proc_result r;
    run_mpi(&r, 2, f, llx_test_tmpfile("mpi-bad.f32"), "--nodes=3");
    CHECK(r.status != 0 && r.status != -1);
    CHECK(strstr(r.err, "looplynx: error: --nodes 3 does not match the 2 MPI ranks") != NULL);
    llx_proc_free(&r);
}

/* Under mpirun every rank parses the same arguments and opens the same
 * model: an error they all hit is printed once (by rank 0), an error of
 * one rank's own (its slice of the weights) once, with its rank. */
static int count_of(const char *s, const char *part)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, part)) != NULL; p += strlen(part)) n++;
    return n;
}

TEST(mpi_bad_errors_printed_once)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    const char *f = llx_fixture_awkward(1);
    REQUIRE(f);
    /* rank 1 owns the last rows of every matrix: poison FC2's last output row */
    const char *bad = llx_test_tmpfile("mpi-nan");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", bad, f, bad);
    REQUIRE(system(cmd) == 0);
    ckpt_img img;
    REQUIRE(ckpt_img_load(bad, &img));
    size_t len;
    uint8_t *w = (uint8_t *)ckpt_img_raw(&img, "h.0.mlp.c_proj.weight", &len); /* Conv1D [F, C] */
    const float nan = NAN;
    if (w) memcpy(w + (size_t)119 * 4, &nan, 4); /* input 0, output 119 = C - 1 */
    CHECK(w && ckpt_img_save(bad, &img));
    ckpt_img_free(&img);
    static const struct { const char *model, *extra, *want; } cases[] = {
        {NULL, "--temp=-1", "looplynx: error: --temp must be in [0, 100], got -1"},
        {"/nonexistent-model", NULL, "looplynx: error: model '/nonexistent-model' not found"},
        {"nan", NULL, "looplynx: error: rank 1: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *model = !cases[i].model ? f : !strcmp(cases[i].model, "nan") ? bad : cases[i].model;
        llx_proc_result r;
        run_mpi(&r, 2, model, llx_test_tmpfile("mpi-err.f32"), cases[i].extra);
        CHECK_MSG(r.status != 0 && count_of(r.err, "looplynx: error:") == 1 && strstr(r.err, cases[i].want),
                  "case %zu: exit %d, stderr: %.600s", i, r.status, r.err);
        if (i == 2) CHECK(strstr(r.err, "tensor 'h.0.mlp.c_proj.weight' holds NaN at element 119"));
        CHECK_EQ_INT(r.out_len, 0);
        llx_proc_free(&r);
    }
}

/* pid of the rank `rank` process whose command line contains `marker` */
static pid_t find_rank(const char *marker, int rank)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (d && !found && (e = readdir(d)) != NULL) {
        const pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0) continue;
        char path[64];
        size_t n = 0;
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        char *cmd = llx_test_read(path, &n);
        int match = 0;
        for (size_t i = 0; cmd && i < n; i += strlen(cmd + i) + 1)
            if (strstr(cmd + i, marker)) match = 1;
        free(cmd);
        if (!match) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        char *env = llx_test_read(path, &n);
        for (size_t i = 0; env && i < n; i += strlen(env + i) + 1)
            if (!strcmp(env + i, want)) found = pid;
        free(env);
    }
    if (d) closedir(d);
    return found;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A random-weight model whose 1000-token generation takes seconds (about
 * 4 ms a token on two ranks of this machine), so a rank can be disturbed
 * while the ring is busy; it needs nothing from ../shared. */
static const char *long_run_model(void)
{
    static char dir[512];
    const llx_config c = {.n_vocab = 2000, .n_ctx = 1024, .n_embd = 256, .n_layer = 6, .n_head = 4, .n_inner = 1024, .ln_eps = 1e-5f};
    return llx_fixture_synth(dir, sizeof dir, "mpi-long", &c, 3, "F32");
}

#define LONG_RUN_TOKENS "1000"

typedef struct disturbance {
    const char *marker; /* the prompt, also how rank 1's process is found */
    int sig;
    pid_t victim;
    double t_hit; /* when the signal was sent */
} disturbance;

/* Called with the run's output so far: once generated text follows the
 * echoed prompt (the first token is out, so the ring is running), send the
 * signal to rank 1. */
static void hit_rank_once_generating(const llx_proc_result *so_far, void *ctx)
{
    disturbance *d = ctx;
    if (d->victim || so_far->out_len <= strlen(d->marker)) return;
    d->victim = find_rank(d->marker, 1);
    if (!d->victim) return;
    kill(d->victim, d->sig);
    d->t_hit = now();
}

/* Start a long MPI generation, hit rank 1 with sig after the first
 * generated token, and return mpirun's result; *after is how long the run
 * took to end after the signal. */
static int disturb_rank(int sig, const char *extra, disturbance *d, llx_proc_result *r, double *after)
{
    static char marker[64];
    snprintf(marker, sizeof marker, "mpi-fault-%d-%d", (int)getpid(), sig);
    const char *model = long_run_model();
    CHECK(model != NULL);
    if (!model) return 0;
    memset(d, 0, sizeof *d);
    d->marker = marker;
    d->sig = sig;
    char *argv[] = {(char *)mpirun_path(), "--oversubscribe", "--allow-run-as-root", "-np", "2",
                    (char *)llx_test_bin(), "generate", "--backend", "mpi", "-m", (char *)model, "-p", marker,
                    "-n", LONG_RUN_TOKENS, "--threads", "1", "--greedy", (char *)extra, NULL};
    llx_run_proc_watch(argv, NULL, 120, r, hit_rank_once_generating, d);
    const double t_end = now();
    if (d->victim && sig == SIGSTOP) kill(d->victim, SIGKILL);
    *after = d->victim ? t_end - d->t_hit : 0;
    CHECK_MSG(llx_test_past_args(r, strlen(marker)), "the run never generated a token");
    CHECK_MSG(d->victim, "rank 1 was never hit (exit %d, stderr: %.300s)", r->status, r->err);
    /* a finished generation prints its decode summary: the hit came too late */
    CHECK_MSG(!strstr(r->err, "decode: " LONG_RUN_TOKENS " tokens"), "the generation finished before rank 1 was hit");
    return d->victim != 0;
}

TEST(mpi_rank_death_ends_the_run)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    disturbance d;
    llx_proc_result r;
    double after = 0;
    if (disturb_rank(SIGKILL, NULL, &d, &r, &after)) {
        CHECK_MSG(r.status != 0, "the run succeeded although rank 1 was killed");
        CHECK_MSG(after < 30, "the run took %.1f s to end after rank 1 died", after);
        /* Open MPI's launcher reports the dead rank; or rank 0 reports its ring failure */
        const int said = (strstr(r.err, "rank 1") && strstr(r.err, "signal 9")) ||
                         (strstr(r.err, "looplynx: error:") && strstr(r.err, "node 1"));
        CHECK_MSG(said, "no message about rank 1's death in: %.600s", r.err);
        llx_test_note("killed rank 1 after %zu bytes of output: the job ended %.2f s later with status %d", r.out_len,
                      after, r.status);
    }
    llx_proc_free(&r);
}

TEST(mpi_stalled_rank_times_out)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    disturbance d;
    llx_proc_result r;
    double after = 0;
    if (disturb_rank(SIGSTOP, "--ring-timeout=2", &d, &r, &after)) {
        CHECK(r.status != 0);
        CHECK_MSG(after >= 1.5 && after < 30, "the run ended %.1f s after rank 1 stopped (ring timeout 2 s)", after);
        CHECK_MSG(strstr(r.err, "looplynx: error: node 0: ring link stalled (no data from node 1 for 2 s)"),
                  "no stall message in: %.300s", r.err);
        llx_test_note("stopped rank 1: the job ended %.2f s later with status %d", after, r.status);
    }
    llx_proc_free(&r);
}

/* Llama: grouped KV heads (6 query heads on 2 KV heads), 2 ranks own one KV
 * head each, 3 ranks replicate one; FP32, both W8A8 modes and two low-bit
 * schemes. */
TEST(mpi_identity_llama)
{
    if (!mpi_ready()) SKIP("mpirun or an MPI build of looplynx not available");
    const char *f = llx_fixture_llama(), *s = llx_fixture_llama_llx(1), *d = llx_fixture_llama_llx(2);
    CHECK(f && s && d);
    if (f) check_identity(f, "fp32 llama");
    if (s) check_identity(s, "w8a8 static llama");
    if (d) check_identity(d, "w8a8 dynamic llama");
    for (int v = 1; v <= 2; v++) { /* int4 groups, fp16 scales, fp32 KV; w4a4 rotated, int4 LM head */
        const char *what = "";
        const char *p = llx_fixture_llama_lowbit(v, &what);
        CHECK(p != NULL);
        if (p) check_identity(p, what);
    }
}
