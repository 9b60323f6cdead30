/* tests/serveutil.c - see serveutil.h. */
#include "serveutil.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "w8a8_fixtures.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void read_some(int fd, char *buf, size_t cap, size_t *len)
{
    if (fd < 0) return;
    for (;;) {
        char tmp[4096];
        const ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) return;
        size_t take = (size_t)n;
        if (*len + take >= cap) take = cap - 1 - *len; /* keep the start; enough to diagnose */
        memcpy(buf + *len, tmp, take);
        *len += take;
        buf[*len] = 0;
    }
}

void llx_serve_drain_output(llx_serve_proc *p)
{
    read_some(p->out_fd, p->out, sizeof p->out, &p->out_len);
    read_some(p->err_fd, p->err, sizeof p->err, &p->err_len);
}

int llx_serve_start(llx_serve_proc *p, const char *model, double timeout_s, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)llx_test_bin();
    argv[n++] = "serve";
    argv[n++] = "-m";
    argv[n++] = (char *)model;
    argv[n++] = "--port";
    argv[n++] = "0";
    va_list ap;
    va_start(ap, timeout_s);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 62) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return llx_serve_start_argv(p, argv, timeout_s);
}

int llx_serve_start_argv(llx_serve_proc *p, char *const argv[], double timeout_s)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) return 0;
    fflush(stdout);
    p->pid = fork();
    if (p->pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        const int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    p->out_fd = po[0];
    p->err_fd = pe[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
    const double deadline = now_s() + timeout_s;
    while (now_s() < deadline) {
        struct pollfd f[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
        poll(f, 2, 50);
        llx_serve_drain_output(p);
        const char *l = strstr(p->out, "listening on http://127.0.0.1:");
        if (l && !p->port) p->port = atoi(l + strlen("listening on http://127.0.0.1:"));
        if (p->port && strstr(p->out, "\nready")) {
            snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d", p->port);
            return 1;
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = -1;
            llx_serve_drain_output(p);
            llx_test_note("server exited early: %.400s", p->err);
            return 0;
        }
    }
    llx_test_note("server not ready after %.0f s: out '%.200s' err '%.300s'", timeout_s, p->out, p->err);
    llx_serve_stop(p, SIGKILL, 5);
    return 0;
}

int llx_serve_stop(llx_serve_proc *p, int sig, double timeout_s)
{
    int rc = -1;
    if (p->pid > 0) {
        kill(p->pid, sig);
        const double deadline = now_s() + timeout_s;
        int st = 0;
        pid_t w = 0;
        while ((w = waitpid(p->pid, &st, WNOHANG)) == 0 && now_s() < deadline) {
            llx_serve_drain_output(p);
            usleep(10000);
        }
        if (w == p->pid) rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
        }
        p->pid = -1;
    }
    llx_serve_drain_output(p);
    if (p->out_fd > 0) close(p->out_fd);
    if (p->err_fd > 0) close(p->err_fd);
    p->out_fd = p->err_fd = -1;
    return rc;
}

int llx_serve_clean(const llx_serve_proc *p)
{
    return !strstr(p->err, "Sanitizer") && !strstr(p->err, "runtime error:") && !strstr(p->err, "LeakSanitizer");
}

int llx_curl(llx_proc_result *r, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = "curl";
    argv[n++] = "-sS";
    argv[n++] = "--max-time";
    argv[n++] = "60";
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 62) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return llx_run_proc(argv, NULL, 90, r);
}

int llx_http(const llx_serve_proc *p, const char *method, const char *path, const char *body, const char *header,
             char **body_out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", p->url, path);
    char *argv[32];
    int n = 0;
    argv[n++] = "curl";
    argv[n++] = "-sS";
    argv[n++] = "--max-time";
    argv[n++] = "60";
    argv[n++] = "-X";
    argv[n++] = (char *)method;
    argv[n++] = "-w";
    argv[n++] = "\n%{http_code}";
    if (body) {
        argv[n++] = "-H";
        argv[n++] = "Content-Type: application/json";
        argv[n++] = "--data-binary";
        argv[n++] = "@-";
    }
    if (header) {
        argv[n++] = "-H";
        argv[n++] = (char *)header;
    }
    argv[n++] = url;
    argv[n] = NULL;
    llx_proc_result r;
    if (body_out) *body_out = NULL;
    if (llx_run_proc(argv, body ? body : NULL, 90, &r) != 0) return -1;
    int code = -1;
    char *nl = strrchr(r.out, '\n');
    if (r.status == 0 && nl) {
        code = atoi(nl + 1);
        *nl = 0;
        if (body_out) {
            *body_out = r.out;
            r.out = NULL;
        }
    } else {
        llx_test_note("curl %s %s: status %d: %.200s", method, path, r.status, r.err);
    }
    llx_proc_free(&r);
    return code;
}

pid_t llx_curl_bg(const llx_serve_proc *p, const char *path, const char *body, const char *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", p->url, path);
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 2);
        execlp("curl", "curl", "-sS", "-N", "--max-time", "300", "-H", "Content-Type: application/json", "-o", out,
               "--data-binary", body, url, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int llx_curl_bg_wait(pid_t pid, double timeout_s)
{
    const double deadline = now_s() + timeout_s;
    int st = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_s() < deadline) usleep(5000);
    if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int llx_serve_tokens_for(const llx_serve_proc *p, double seconds, int lo, int hi)
{
    const double t0 = now_s();
    char *body = NULL;
    const int code = llx_http(p, "POST", "/v1/completions", "{\"prompt\":\"time me\",\"max_tokens\":24,\"temperature\":0}",
                              NULL, &body);
    const double per = (now_s() - t0) / 24; /* an over-estimate: includes curl and the prompt */
    free(body);
    const double n = code == 200 && per > 0 ? seconds / per : hi;
    return n < lo ? lo : n > hi ? hi : (int)n;
}

static const char *synth_once(char *dir, size_t cap, const char *name, llx_config c, int *failed)
{
    if (dir[0]) return dir;
    if (*failed) return NULL;
    if (!llx_fixture_synth(dir, cap, name, &c, 21, "F32")) *failed = 1;
    return dir[0] ? dir : NULL;
}

const char *llx_serve_model_small(void)
{
    static char dir[512];
    static int failed;
    return synth_once(dir, sizeof dir, "serve-small", (llx_config){.n_vocab = 500, .n_ctx = 256, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_inner = 256, .ln_eps = 1e-5f}, &failed);
}

const char *llx_serve_model_slow(void)
{
    static char dir[512];
    static int failed;
    return synth_once(dir, sizeof dir, "serve-slow", (llx_config){.n_vocab = 500, .n_ctx = 1024, .n_embd = 256, .n_layer = 6, .n_head = 4, .n_inner = 1024, .ln_eps = 1e-5f}, &failed);
}

/* tokenizer.json of the fixture with the two Llama 3 header tokens added,
 * and a tokenizer_config.json with tmpl, into dir (no vocab.json/merges.txt,
 * so the model loads the tokenizer.json). */
static int write_chat_tokenizer(const char *dir, const char *tmpl)
{
    char path[600];
    json_t *tok = json_load_file("tests/fixtures/hf_tokenizer/tokenizer.json", 0, NULL);
    json_t *added = tok ? json_object_get(tok, "added_tokens") : NULL;
    if (!json_is_array(added)) {
        json_decref(tok);
        return 0;
    }
    static const char *extra[] = {"<|start_header_id|>", "<|end_header_id|>"};
    for (int i = 0; i < 2; i++)
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", 567 + i, "content", extra[i],
                                               "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int ok = json_dump_file(tok, path, JSON_COMPACT) == 0;
    json_decref(tok);
    json_t *cfg = json_pack("{s:s, s:s}", "bos_token", "<|begin_of_text|>", "eos_token", "<|end_of_text|>");
    if (tmpl) json_object_set_new(cfg, "chat_template", json_string(tmpl));
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    ok = ok && json_dump_file(cfg, path, JSON_INDENT(1)) == 0;
    json_decref(cfg);
    snprintf(path, sizeof path, "%s/vocab.json", dir), unlink(path);
    snprintf(path, sizeof path, "%s/merges.txt", dir), unlink(path);
    return ok;
}

const char *llx_serve_model_chat(const char *name, const char *tmpl)
{
    static char dirs[8][512], names[8][64];
    static int failed[8];
    int k = 0;
    while (k < 8 && names[k][0] && strcmp(names[k], name)) k++;
    if (k == 8) return NULL;
    if (!names[k][0]) snprintf(names[k], sizeof names[k], "%s", name);
    if (dirs[k][0] || failed[k]) return failed[k] ? NULL : dirs[k];
    const llx_config c = {.n_vocab = 569, .n_ctx = 256, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_inner = 256, .ln_eps = 1e-5f};
    if (!synth_once(dirs[k], sizeof dirs[k], name, c, &failed[k])) return NULL;
    if (!write_chat_tokenizer(dirs[k], tmpl)) {
        llx_test_note("cannot write the chat tokenizer into %s", dirs[k]);
        dirs[k][0] = 0;
        failed[k] = 1;
        return NULL;
    }
    return dirs[k];
}

const char *llx_serve_model_small_llx(void)
{
    static char path[512];
    static int failed;
    if (path[0]) return path;
    const char *dir = llx_serve_model_small(), *calib = llx_fixture_calib_text();
    if (failed || !dir || !calib) return NULL;
    snprintf(path, sizeof path, "%s", llx_test_tmpfile("serve-small.llx"));
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 1024;
    o.window = 128;
    o.threads = 1;
    if (llx_quantize(dir, &o, path) != LLX_OK) {
        llx_test_note("quantize serve-small: %s", llx_errmsg());
        path[0] = 0;
        failed = 1;
        return NULL;
    }
    return path;
}

/* The low-bit variants of llx_serve_model_small (LLX_LOWBIT_VARIANTS):
 * 0 w4a8 RTN per row, static int8 activations, int8 KV;
 * 1 w4a8 GPTQ groups of 32 with fp16 scales, dynamic activations, fp32 KV;
 * 2 w4a4 RTN rotated (Hadamard), int8 KV, int4 LM head, int4 activations
 *   clipped at 0.875 of their range;
 * 3 w4a4 GPTQ groups of 32 rotated, fp32 KV;
 * 4 w4a4 GPTQ per row (asymmetric calibration), the online R4 alone
 *   (--rotate r4), int8 KV. */
const char *llx_serve_model_small_lowbit(int v, const char **what)
{
    static const char *names[LLX_LOWBIT_VARIANTS] = {"w4a8 rtn", "w4a8 gptq g32 f16 fp32-kv dynamic",
                                                     "w4a4 rtn rotated lm4 clip 0.875", "w4a4 gptq g32 rotated fp32-kv",
                                                     "w4a4 gptq asym, r4 only"};
    static char paths[LLX_LOWBIT_VARIANTS][512];
    static int failed[LLX_LOWBIT_VARIANTS];
    if (v < 0 || v >= LLX_LOWBIT_VARIANTS) return NULL;
    if (what) *what = names[v];
    if (paths[v][0]) return paths[v];
    const char *dir = llx_serve_model_small(), *calib = llx_fixture_calib_text();
    if (failed[v] || !dir || !calib) return NULL;
    char name[64];
    snprintf(name, sizeof name, "serve-small-lowbit%d.llx", v);
    snprintf(paths[v], sizeof paths[v], "%s", llx_test_tmpfile(name));
    llx_quant_opts o = llx_fixture_lowbit_opts(v, calib, 128);
    if (llx_quantize(dir, &o, paths[v]) != LLX_OK) {
        llx_test_note("quantize serve-small (%s): %s", names[v], llx_errmsg());
        paths[v][0] = 0;
        failed[v] = 1;
        return NULL;
    }
    return paths[v];
}

long long llx_prom_value(const char *text, const char *name)
{
    const size_t n = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, n) && l[n] == ' ') return atoll(l + n + 1);
    return -1;
}

json_t *llx_json_parse(const char *body)
{
    json_t *j = body ? json_loads(body, JSON_ALLOW_NUL, NULL) : NULL;
    if (!j) llx_test_note("not JSON: %.300s", body ? body : "(null)");
    return j;
}

/* "a.b.0.c": object keys and array indexes */
json_t *llx_jget(json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, "."))
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(tok)) : json_object_get(o, tok);
    return o;
}

const char *llx_jstr(json_t *o, const char *path)
{
    o = llx_jget(o, path);
    return json_is_string(o) ? json_string_value(o) : NULL;
}

long long llx_jint(json_t *o, const char *path)
{
    o = llx_jget(o, path);
    return json_is_integer(o) ? json_integer_value(o) : -1;
}

/* Concatenated "text" (or delta content) of every chunk of an SSE body,
 * NUL bytes included (a model may emit U+0000); checks its framing. */
char *llx_sse_text(const char *body, int *chunks, const char **finish, long long *usage_completion)
{
    size_t cap = 4096, len = 0;
    char *text = calloc(1, cap);
    *chunks = 0;
    *finish = NULL;
    *usage_completion = -1;
    const char *l = body;
    int done = 0;
    static char fin[32];
    while (l && *l) {
        const char *nl = strchr(l, '\n');
        const size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n > 6 && !strncmp(l, "data: ", 6)) {
            if (!strncmp(l, "data: [DONE]", 12)) done = 1;
            else {
                json_error_t je;
                json_t *j = json_loadb(l + 6, n - 6, JSON_ALLOW_NUL, &je);
                if (!j) llx_test_note("not JSON (%s): %.200s", je.text, l + 6);
                json_t *t = j ? llx_jget(j, "choices.0.text") : NULL;
                if (!t && j) t = llx_jget(j, "choices.0.delta.content");
                if (json_is_string(t)) {
                    const size_t tl = json_string_length(t);
                    while (len + tl + 1 > cap) text = realloc(text, cap *= 2);
                    memcpy(text + len, json_string_value(t), tl);
                    len += tl;
                    text[len] = 0;
                }
                if (j && llx_jstr(j, "choices.0.finish_reason")) {
                    snprintf(fin, sizeof fin, "%s", llx_jstr(j, "choices.0.finish_reason"));
                    *finish = fin;
                }
                if (j && llx_jint(j, "usage.completion_tokens") >= 0) *usage_completion = llx_jint(j, "usage.completion_tokens");
                (*chunks)++;
                json_decref(j);
            }
        }
        l = nl ? nl + 1 : NULL;
    }
    if (!done) llx_test_note("stream has no [DONE]: ...%.200s", body + (strlen(body) > 200 ? strlen(body) - 200 : 0));
    for (size_t i = 0; done && i < len; i++)
        if (!text[i]) text[i] = '\x01'; /* compare with strcmp, NULs kept visible */
    return done ? text : (free(text), NULL);
}
