/* tests/test.h - the test runner's registration macro and checks.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_CLOSE(y, 2.0, 1e-6, 0); }
 *   TEST(name, LLX_T_ASAN | LLX_T_TSAN) { ... }
 *
 * Tests register themselves in a linker section; the runner sorts them by
 * name and runs those matching its filters, each in a child process with a
 * time limit.  The optional second argument tags a test for the sanitizer
 * builds: make test runs the LLX_T_ASAN tests again under ASan+UBSan and the
 * LLX_T_TSAN tests under TSan (`looplynx-tests --tag asan`).  A CHECK prints
 * file:line and the expression and lets the test continue; SKIP() ends a test
 * that cannot run here (missing shared data) and counts it as skipped, not
 * passed. */
#ifndef LLX_TEST_H
#define LLX_TEST_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Tags (a bit set): LLX_T_ASAN / LLX_T_TSAN run the test again in that
 * sanitizer build; LLX_T_LONG gives it 5x the runner's time limit (a long
 * run over the shared model); LLX_T_MANUAL runs it only when a pattern names
 * it in full (the runner's own self-tests, which hang or crash on purpose). */
enum { LLX_T_ASAN = 1, LLX_T_TSAN = 2, LLX_T_LONG = 4, LLX_T_MANUAL = 8 };

typedef struct llx_test {
    const char *name;
    void (*fn)(void);
    const char *file;
    unsigned tags;
} llx_test;

#define LLX_TEST_REG_(name, tags_)                                                       \
    static void name(void);                                                              \
    static const llx_test name##_reg_ __attribute__((used, section("llx_tests"),         \
                                                     aligned(sizeof(void *)))) = {       \
        #name, name, __FILE__, (tags_)};                                                 \
    static void name(void)
#define LLX_TEST1_(name) LLX_TEST_REG_(name, 0u)
#define LLX_TEST2_(name, tags_) LLX_TEST_REG_(name, (unsigned)(tags_))
#define LLX_TEST_PICK_(a, b, which, ...) which
/* TEST(name) or TEST(name, tags). */
#define TEST(...) LLX_TEST_PICK_(__VA_ARGS__, LLX_TEST2_, LLX_TEST1_, unused)(__VA_ARGS__)

extern int llx_test_failures;
extern int llx_test_skipped;
extern int llx_test_verbose;

void llx_test_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void llx_test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) llx_test_fail_at(__FILE__, __LINE__, "CHECK(%s)", #cond);           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond)) llx_test_fail_at(__FILE__, __LINE__, __VA_ARGS__);                  \
    } while (0)

/* A CHECK that ends the test when it fails: for what the rest of the test
 * needs (fixtures).  A fixture that cannot be made fails the test; only
 * missing shared data is a SKIP. */
#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            llx_test_fail_at(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                  \
            return;                                                                      \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                               \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        if (a_ != b_)                                                                    \
            llx_test_fail_at(__FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_); \
    } while (0)

/* |got - want| <= atol + rtol * |want| */
#define CHECK_CLOSE(got, want, atol, rtol)                                               \
    do {                                                                                 \
        double g_ = (double)(got), w_ = (double)(want);                                  \
        double d_ = g_ > w_ ? g_ - w_ : w_ - g_;                                          \
        double t_ = (atol) + (rtol) * (w_ < 0 ? -w_ : w_);                               \
        if (!(d_ <= t_))                                                                 \
            llx_test_fail_at(__FILE__, __LINE__, "%s ~ %s (%.9g vs %.9g, diff %.3g > %.3g)", \
                             #got, #want, g_, w_, d_, t_);                               \
    } while (0)

#define SKIP(...)                                                                        \
    do {                                                                                 \
        llx_test_skipped = 1;                                                            \
        llx_test_note("skipped: " __VA_ARGS__);                                          \
        return;                                                                          \
    } while (0)

/* ---- helpers (tests/testutil.c) ---- */

/* Absolute path of a file in the shared data folder (env LLX_SHARED, else ../shared),
 * or NULL when it does not exist.  Returned string is static per call site use. */
const char *llx_test_shared(const char *rel);
/* The shakespeare-gpt2 model folder, or NULL when absent. */
const char *llx_test_model_dir(void);
/* A fresh empty directory for this test run, shared by all its tests
 * (removed at exit).  Fixtures built there by one test are found on disk by
 * the later ones: each test runs in a process of its own. */
const char *llx_test_tmpdir(void);
/* Path of a file inside the run's tmpdir (static buffer rotated over 8 calls). */
const char *llx_test_tmpfile(const char *name);
/* The CLI binary under test (env LLX_BIN, else build/looplynx). */
const char *llx_test_bin(void);

typedef struct llx_proc_result {
    int status;   /* exit code, or 128+signal, or -1 when it timed out */
    char *out;    /* captured stdout (NUL-terminated) */
    size_t out_len;
    char *err;    /* captured stderr */
    size_t err_len;
} llx_proc_result;

/* Run argv (argv[0] is the program) with optional stdin text, capturing
 * output; killed after timeout_s seconds.  Free with llx_proc_free. */
int llx_run_proc(char *const argv[], const char *stdin_text, double timeout_s, llx_proc_result *r);
void llx_proc_free(llx_proc_result *r);
/* llx_run_proc that calls watch(what was captured so far, ctx) after every
 * read of the child's output (to act on the child mid-run). */
int llx_run_proc_watch(char *const argv[], const char *stdin_text, double timeout_s, llx_proc_result *r,
                       void (*watch)(const llx_proc_result *so_far, void *ctx), void *ctx);
/* A failure-path test must prove it reached the failure: 1 when the run got
 * past argument checking and generated something (not a usage error, not
 * timed out, stdout longer than the echoed prompt of prompt_len bytes);
 * otherwise 0, with a note of what it saw. */
int llx_test_past_args(const llx_proc_result *r, size_t prompt_len);

/* Run the CLI: llx_cli(&r, "generate", "-m", dir, NULL).  Timeout 600 s. */
int llx_cli(llx_proc_result *r, ...);
int llx_cli_stdin(llx_proc_result *r, const char *stdin_text, ...);

/* 1 when path exists. */
int llx_test_exists(const char *path);
/* 1 when dir holds a complete checkpoint folder (synth writes config.json last). */
int llx_test_have_model(const char *dir);

/* Read a whole file (NULL on failure); *len gets its size. */
char *llx_test_read(const char *path, size_t *len);

/* The first index of the largest of x[0..n) (0 for n < 2): a plain loop
 * the tests trust, independent of the kernels' argmax. */
int llx_test_argmax(const float *x, int n);

#endif
