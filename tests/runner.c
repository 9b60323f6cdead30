/* tests/runner.c - runs the registered tests.
 *
 *   looplynx-tests [-v] [-l] [--tag asan|tsan] [--timeout S] [--no-fork]
 *                  [PATTERN ...] [-x PATTERN ...]
 *
 * With patterns, only tests whose name contains one of them run; -x excludes;
 * --tag keeps only the tests tagged for that sanitizer (TEST(name, tags)).
 * Tests tagged LLX_T_MANUAL run only when a pattern is their full name.
 * A pattern that matches no test, or a selection that is empty, is an error
 * (exit 2): a misspelt filter must not turn a suite into "0 passed".
 *
 * Each test runs in a child process of its own (its own process group) with a
 * time limit (--timeout, env LLX_TEST_TIMEOUT, default 600 s; five times that
 * for tests tagged LLX_T_LONG): a test that hangs, crashes or trips a
 * sanitizer is reported as failed on one line, everything it started is
 * killed, and the run goes on with the next test.  --no-fork runs the tests
 * in this process (for a debugger; no time limit).
 *
 * The last line is always "N passed, N failed, N skipped"; the exit status is
 * non-zero when any test failed. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

extern const llx_test __start_llx_tests[];
extern const llx_test __stop_llx_tests[];

int llx_test_failures;
int llx_test_skipped;
int llx_test_verbose;

static const char *g_current;

/* A test child's exit codes (anything else is an abnormal end). */
enum { CHILD_PASSED = 0, CHILD_FAILED = 10, CHILD_SKIPPED = 11 };

void llx_test_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (llx_test_failures < 20) {
        printf("  [%s] %s:%d: ", g_current, file, line);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    } else if (llx_test_failures == 20) {
        printf("  [%s] (further failures not shown)\n", g_current);
    }
    fflush(stdout);
    llx_test_failures++;
}

void llx_test_note(const char *fmt, ...)
{
    va_list ap;
    printf("  [%s] ", g_current);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static int cmp_test(const void *a, const void *b)
{
    return strcmp((*(const llx_test *const *)a)->name, (*(const llx_test *const *)b)->name);
}

static int matches(const char *name, char **pats, int npat)
{
    for (int i = 0; i < npat; i++)
        if (strstr(name, pats[i])) return 1;
    return 0;
}

static int named(const char *name, char **pats, int npat)
{
    for (int i = 0; i < npat; i++)
        if (!strcmp(name, pats[i])) return 1;
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct options {
    char **inc, **exc;
    int ninc, nexc, list, no_fork;
    unsigned tag;
    double timeout_s;
} options;

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "looplynx-tests: error: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    o->inc = calloc((size_t)argc, sizeof *o->inc);
    o->exc = calloc((size_t)argc, sizeof *o->exc);
    const char *env = getenv("LLX_TEST_TIMEOUT");
    o->timeout_s = env && *env ? atof(env) : 600.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-v")) llx_test_verbose = 1;
        else if (!strcmp(a, "-l")) o->list = 1;
        else if (!strcmp(a, "--no-fork")) o->no_fork = 1;
        else if (!strcmp(a, "-x") || !strcmp(a, "--tag") || !strcmp(a, "--timeout")) {
            if (i + 1 >= argc) return usage("option needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "-x")) o->exc[o->nexc++] = argv[i];
            else if (!strcmp(a, "--timeout")) o->timeout_s = atof(v);
            else if (!strcmp(v, "asan")) o->tag = LLX_T_ASAN;
            else if (!strcmp(v, "tsan")) o->tag = LLX_T_TSAN;
            else return usage("--tag expects asan or tsan", v);
        } else if (a[0] == '-') {
            return usage("unknown option", a);
        } else {
            o->inc[o->ninc++] = argv[i];
        }
    }
    if (!(o->timeout_s > 0)) return usage("the timeout must be a positive number of seconds", NULL);
    return 0;
}

/* The selected tests, in name order; NULL (after one error line per bad
 * filter) when a filter matches nothing or nothing is left. */
static const llx_test **select_tests(const options *o, size_t *count)
{
    const size_t n = (size_t)(__stop_llx_tests - __start_llx_tests);
    const llx_test **all = malloc((n + 1) * sizeof *all), **sel = malloc((n + 1) * sizeof *sel);
    size_t k = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        const llx_test *t = &__start_llx_tests[i];
        if (o->tag && !(t->tags & o->tag)) continue;
        if ((t->tags & LLX_T_MANUAL) && !named(t->name, o->inc, o->ninc)) continue;
        all[m++] = t;
    }
    qsort(all, m, sizeof *all, cmp_test);
    int bad = 0;
    for (int p = 0; p < o->ninc + o->nexc; p++) {
        char *pat = p < o->ninc ? o->inc[p] : o->exc[p - o->ninc];
        size_t hits = 0;
        for (size_t i = 0; i < m; i++) hits += strstr(all[i]->name, pat) != NULL;
        if (!hits) bad = usage(o->tag ? "pattern matches no test with that tag" : "pattern matches no test", pat);
    }
    for (size_t i = 0; i < m; i++) {
        if (o->ninc && !matches(all[i]->name, o->inc, o->ninc)) continue;
        if (o->nexc && matches(all[i]->name, o->exc, o->nexc)) continue;
        sel[k++] = all[i];
    }
    free(all);
    if (!bad && k == 0) bad = usage("no test selected", NULL);
    if (bad) {
        free(sel);
        return NULL;
    }
    *count = k;
    return sel;
}

static void run_here(const llx_test *t)
{
    g_current = t->name;
    llx_test_failures = 0;
    llx_test_skipped = 0;
    t->fn();
}

static int verdict(void) { return llx_test_failures ? CHILD_FAILED : llx_test_skipped ? CHILD_SKIPPED : CHILD_PASSED; }

static volatile sig_atomic_t g_child_pgid;

static void on_interrupt(int sig)
{
    if (g_child_pgid > 0) kill(-(pid_t)g_child_pgid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Waits for the child until the deadline; returns 1 when it ended (*st). */
static int wait_until(pid_t pid, double deadline, int *st)
{
    long nap_us = 1000;
    for (;;) {
        const pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return 0;
        if (now() > deadline) return 0;
        usleep((useconds_t)nap_us);
        if (nap_us < 50000) nap_us *= 2;
    }
}

/* Runs t in a child process; returns the child's exit code, or -1 with `why`
 * filled when it did not end normally. */
static int run_forked(const llx_test *t, double timeout_s, char *why, size_t whycap)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whycap, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        run_here(t);
        fflush(stdout);
        exit(verdict()); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    setpgid(pid, pid); /* also here, so the group exists before any kill */
    g_child_pgid = pid;
    int st = 0;
    const int ended = wait_until(pid, now() + timeout_s, &st);
    kill(-pid, SIGKILL); /* the test if it hung, and whatever it left running */
    if (!ended) waitpid(pid, &st, 0);
    g_child_pgid = 0;
    if (!ended) {
        snprintf(why, whycap, "timed out after %.0f s; its processes were killed", timeout_s);
        return -1;
    }
    if (WIFSIGNALED(st)) {
        snprintf(why, whycap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        return -1;
    }
    const int code = WEXITSTATUS(st);
    if (code != CHILD_PASSED && code != CHILD_FAILED && code != CHILD_SKIPPED) {
        snprintf(why, whycap, "exited with status %d (a sanitizer report above?)", code);
        return -1;
    }
    return code;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    size_t n = 0;
    const llx_test **tests = parse_args(argc, argv, &o) ? NULL : select_tests(&o, &n);
    if (!tests) {
        free(o.inc);
        free(o.exc);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (o.list) {
        for (size_t i = 0; i < n; i++)
            printf("%s%s%s%s\n", tests[i]->name, tests[i]->tags & LLX_T_ASAN ? " asan" : "",
                   tests[i]->tags & LLX_T_TSAN ? " tsan" : "", tests[i]->tags & LLX_T_LONG ? " long" : "");
        free(tests);
        free(o.inc);
        free(o.exc);
        return 0;
    }
    llx_test_tmpdir(); /* made here, shared by every test's process, removed at exit */
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const llx_test *t = tests[i];
        char why[200] = "";
        const double t0 = now();
        int code;
        if (o.no_fork) {
            run_here(t);
            code = verdict();
        } else {
            code = run_forked(t, o.timeout_s * (t->tags & LLX_T_LONG ? 5 : 1), why, sizeof why);
        }
        const double dt = now() - t0;
        if (code == -1) {
            printf("FAIL %s (%.2fs): %s\n", t->name, dt, why);
            failed++;
        } else if (code == CHILD_FAILED) {
            printf("FAIL %s (%.2fs)\n", t->name, dt);
            failed++;
        } else if (code == CHILD_SKIPPED) {
            printf("skip %s\n", t->name);
            skipped++;
        } else {
            printf("ok   %s (%.2fs)\n", t->name, dt);
            passed++;
        }
    }
    free(tests);
    free(o.inc);
    free(o.exc);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
