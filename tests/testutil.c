/* tests/testutil.c - helpers shared by the tests: shared-data paths, a
 * per-run temporary folder, and running the CLI as a child process with a
 * timeout while capturing its output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

const char *llx_test_shared(const char *rel)
{
    static char bufs[8][4096];
    static int k;
    const char *base = getenv("LLX_SHARED");
    if (!base || !*base) base = "../shared";
    char *b = bufs[k++ & 7], path[4096];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    /* absolute, so a test may link to it from a temporary folder (CI finds
     * the data as the relative ../shared, which a symlink elsewhere would
     * resolve against its own folder) */
    char *abs = realpath(path, NULL);
    if (!abs) return NULL;
    snprintf(b, sizeof bufs[0], "%s", abs);
    free(abs);
    return b;
}

const char *llx_test_model_dir(void)
{
    static char dir[4096];
    const char *d = llx_test_shared("models/shakespeare-gpt2");
    if (!d) return NULL;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/model.safetensors", d);
    struct stat st;
    if (stat(probe, &st) != 0) return NULL;
    snprintf(dir, sizeof dir, "%s", d);
    return dir;
}

static char g_tmpdir[256];
static pid_t g_tmpdir_owner;

static void rm_tmpdir(void)
{
    /* only the process that made it: tests run in child processes that exit */
    if (!g_tmpdir[0] || getpid() != g_tmpdir_owner || getenv("LLX_KEEP_TMP")) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmpdir);
}

const char *llx_test_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/llx-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        g_tmpdir_owner = getpid();
        atexit(rm_tmpdir);
    }
    return g_tmpdir;
}

const char *llx_test_tmpfile(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", llx_test_tmpdir(), name);
    return b;
}

const char *llx_test_bin(void)
{
    const char *b = getenv("LLX_BIN");
    return b && *b ? b : "build/looplynx";
}

int llx_test_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0;
}

int llx_test_have_model(const char *dir)
{
    static const char *const files[] = {"model.safetensors", "vocab.json", "merges.txt", "config.json"};
    char p[4200];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (!llx_test_exists(p)) return 0;
    }
    return 1;
}

char *llx_test_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void append(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, src, n);
    *len += n;
    (*buf)[*len] = 0;
}

int llx_run_proc(char *const argv[], const char *stdin_text, double timeout_s, llx_proc_result *r)
{
    return llx_run_proc_watch(argv, stdin_text, timeout_s, r, NULL, NULL);
}

int llx_run_proc_watch(char *const argv[], const char *stdin_text, double timeout_s, llx_proc_result *r,
                       void (*watch)(const llx_proc_result *so_far, void *ctx), void *ctx)
{
    memset(r, 0, sizeof *r);
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]), close(perr[0]), close(perr[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pin[0]), close(pout[1]), close(perr[1]);
    signal(SIGPIPE, SIG_IGN);
    size_t in_len = stdin_text ? strlen(stdin_text) : 0, in_off = 0;
    if (in_len == 0) close(pin[1]), pin[1] = -1;
    else fcntl(pin[1], F_SETFL, O_NONBLOCK);
    size_t ocap = 0, ecap = 0;
    append(&r->out, &r->out_len, &ocap, "", 0);
    append(&r->err, &r->err_len, &ecap, "", 0);
    double deadline = now() + timeout_s;
    int open_fds = 2, timed_out = 0;
    while (open_fds > 0) {
        struct pollfd fds[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
        int nf = pin[1] >= 0 ? 3 : 2;
        double left = deadline - now();
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        int rc = poll(fds, (nfds_t)nf, (int)(left * 1000) + 1);
        if (rc < 0 && errno != EINTR) break;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                close(fds[i].fd);
                if (i == 0) pout[0] = -1;
                else perr[0] = -1;
                open_fds--;
            } else if (i == 0) append(&r->out, &r->out_len, &ocap, buf, (size_t)got);
            else append(&r->err, &r->err_len, &ecap, buf, (size_t)got);
            if (got > 0 && watch) watch(r, ctx);
        }
        if (nf == 3 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(pin[1], stdin_text + in_off, in_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if (w < 0 || in_off == in_len) close(pin[1]), pin[1] = -1;
        }
        if (pout[0] < 0 && perr[0] < 0) break;
    }
    if (pin[1] >= 0) close(pin[1]);
    if (pout[0] >= 0) close(pout[0]);
    if (perr[0] >= 0) close(perr[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (timed_out) r->status = -1;
    else if (WIFEXITED(st)) r->status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) r->status = 128 + WTERMSIG(st);
    else r->status = -1;
    return 0;
}

int llx_test_past_args(const llx_proc_result *r, size_t prompt_len)
{
    const int ok = r->status != 2 && r->status != -1 && r->out_len > prompt_len;
    if (!ok)
        llx_test_note("the run did not get past argument checking to generate anything: exit %d, stdout %zu bytes "
                      "(prompt %zu), stderr: %.300s",
                      r->status, r->out_len, prompt_len, r->err);
    return ok;
}

void llx_proc_free(llx_proc_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static int run_cli_va(llx_proc_result *r, const char *stdin_text, va_list ap)
{
    char *argv[64];
    int n = 0;
    argv[n++] = dup_str(llx_test_bin());
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 63) argv[n++] = dup_str(a);
    argv[n] = NULL;
    if (llx_test_verbose) {
        printf("  $");
        for (int i = 0; i < n; i++) printf(" %s", argv[i]);
        printf("\n");
    }
    int rc = llx_run_proc(argv, stdin_text, 600.0, r);
    for (int i = 0; i < n; i++) free(argv[i]);
    return rc;
}

int llx_cli(llx_proc_result *r, ...)
{
    va_list ap;
    va_start(ap, r);
    int rc = run_cli_va(r, NULL, ap);
    va_end(ap);
    return rc;
}

int llx_cli_stdin(llx_proc_result *r, const char *stdin_text, ...)
{
    va_list ap;
    va_start(ap, stdin_text);
    int rc = run_cli_va(r, stdin_text, ap);
    va_end(ap);
    return rc;
}

int llx_test_argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}
