/* tests/runner.c - runs the registered tests.
 *
 *   looplynx-tests [-v] [-l] [PATTERN ...] [-x PATTERN ...]
 *
 * With patterns, only tests whose name contains one of them run; -x excludes.
 * The last line is always "N passed, N failed, N skipped"; the exit status is
 * non-zero when any test failed. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

extern const llx_test __start_llx_tests[];
extern const llx_test __stop_llx_tests[];

int llx_test_failures;
int llx_test_skipped;
int llx_test_verbose;

static const char *g_current;

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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    char **inc = calloc((size_t)argc, sizeof *inc), **exc = calloc((size_t)argc, sizeof *exc);
    int ninc = 0, nexc = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) llx_test_verbose = 1;
        else if (!strcmp(argv[i], "-l")) list = 1;
        else if (!strcmp(argv[i], "-x") && i + 1 < argc) exc[nexc++] = argv[++i];
        else inc[ninc++] = argv[i];
    }
    size_t n = (size_t)(__stop_llx_tests - __start_llx_tests);
    const llx_test **tests = malloc(n * sizeof *tests);
    for (size_t i = 0; i < n; i++) tests[i] = &__start_llx_tests[i];
    qsort(tests, n, sizeof *tests, cmp_test);

    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < n; i++) {
        const llx_test *t = tests[i];
        if (ninc && !matches(t->name, inc, ninc)) continue;
        if (nexc && matches(t->name, exc, nexc)) continue;
        if (list) {
            printf("%s\n", t->name);
            continue;
        }
        g_current = t->name;
        llx_test_failures = 0;
        llx_test_skipped = 0;
        double t0 = now();
        t->fn();
        double dt = now() - t0;
        if (llx_test_failures) {
            printf("FAIL %s (%.2fs)\n", t->name, dt);
            failed++;
        } else if (llx_test_skipped) {
            printf("skip %s\n", t->name);
            skipped++;
        } else {
            printf("ok   %s (%.2fs)\n", t->name, dt);
            passed++;
        }
    }
    free(tests);
    free(inc);
    free(exc);
    if (!list) printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
