/* tests/test_runner.c - the test runner itself: a test that hangs is killed
 * at the time limit with everything it started, a test that crashes is a
 * failure, and the run goes on with the next test; a filter that matches no
 * test is an error.  The hanging and crashing tests are tagged LLX_T_MANUAL,
 * so they run only when named, here, in a second copy of this binary. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

TEST(runner_selftest_hang, LLX_T_MANUAL)
{
    const pid_t kid = fork(); /* something the test started: it must die too */
    if (kid == 0) {
        for (;;) pause();
    }
    FILE *f = fopen(llx_test_tmpfile("runner-selftest-kid"), "w");
    if (f) fprintf(f, "%d\n", (int)kid), fclose(f);
    for (;;) pause();
}

TEST(runner_selftest_crash, LLX_T_MANUAL)
{
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
}

TEST(runner_selftest_passes, LLX_T_MANUAL) { CHECK(1 + 1 == 2); }

static const char *self_exe(void)
{
    static char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return NULL;
    path[n] = 0;
    return path;
}

TEST(runner_hang_and_crash_fail_and_the_run_goes_on, LLX_T_ASAN)
{
    const char *exe = self_exe();
    CHECK(exe != NULL);
    if (!exe) return;
    char *argv[] = {(char *)exe, "--timeout", "2", "runner_selftest_hang", "runner_selftest_crash",
                    "runner_selftest_passes", NULL};
    /* the inner run makes a tmpdir of its own: inside ours, and kept, to find the kid */
    setenv("TMPDIR", llx_test_tmpdir(), 1);
    setenv("LLX_KEEP_TMP", "1", 1);
    llx_proc_result r;
    CHECK(llx_run_proc(argv, NULL, 60, &r) == 0);
    CHECK_EQ_INT(r.status, 1);
    CHECK_MSG(strstr(r.out, "FAIL runner_selftest_hang") && strstr(r.out, "timed out after 2 s"),
              "no time-out line in: %s", r.out);
    CHECK_MSG(strstr(r.out, "FAIL runner_selftest_crash") && strstr(r.out, "signal"), "no crash line in: %s", r.out);
    CHECK_MSG(strstr(r.out, "ok   runner_selftest_passes"), "the run stopped early: %s", r.out);
    CHECK_MSG(strstr(r.out, "1 passed, 2 failed, 0 skipped\n"), "wrong totals: %s", r.out);
    llx_proc_free(&r);
    /* the hung test's own child was killed with it */
    int kid = 0;
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cat %s/llx-test-*/runner-selftest-kid 2>/dev/null", llx_test_tmpdir());
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%d", &kid) != 1) kid = 0;
        pclose(p);
    }
    CHECK_MSG(kid > 0, "the hanging test did not record its child");
    int alive = kid > 0;
    for (int i = 0; i < 100 && alive; i++) {
        alive = kill(kid, 0) == 0 || errno != ESRCH;
        if (alive) usleep(20000);
    }
    CHECK_MSG(!alive, "the hung test's child %d outlived the time-out", kid);
}

TEST(runner_bad_filters, LLX_T_ASAN)
{
    const char *exe = self_exe();
    CHECK(exe != NULL);
    if (!exe) return;
    static const char *const cases[][4] = {
        {"no_such_test_anywhere", NULL, NULL, "pattern matches no test: no_such_test_anywhere"},
        {"runner_bad", "-x", "no_such_exclusion", "pattern matches no test: no_such_exclusion"},
        {"--tag", "tsan", "runner_bad_filters", "pattern matches no test with that tag: runner_bad_filters"},
        {"--tag", "msan", NULL, "--tag expects asan or tsan"},
        {"--timeout", "0", NULL, "timeout must be a positive number"},
        {"runner_selftest", NULL, NULL, "pattern matches no test: runner_selftest"}, /* manual ones need full names */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[5] = {(char *)exe, (char *)cases[i][0], (char *)cases[i][1], (char *)cases[i][2], NULL};
        llx_proc_result r;
        CHECK(llx_run_proc(argv, NULL, 60, &r) == 0);
        CHECK_MSG(r.status == 2 && r.out_len == 0 && strstr(r.err, cases[i][3]),
                  "case %zu: exit %d, stdout '%s', stderr '%s'", i, r.status, r.out, r.err);
        llx_proc_free(&r);
    }
}
