/* tests/serveutil.h - running `looplynx serve` in tests: a server child on
 * an ephemeral loopback port (the system picks a free port, so parallel
 * test runs never collide), curl as the client, and the models served. */
#ifndef LLX_TESTS_SERVEUTIL_H
#define LLX_TESTS_SERVEUTIL_H

#include <jansson.h>
#include <sys/types.h>

#include "test.h"

typedef struct llx_serve_proc {
    pid_t pid;
    int port;
    int out_fd, err_fd;  /* the child's stdout and stderr */
    char out[8192], err[16384];
    size_t out_len, err_len;
    char url[64];        /* http://127.0.0.1:PORT */
} llx_serve_proc;

/* Start `looplynx serve -m model --port 0 <args...> NULL` and wait (up to
 * timeout_s) for its "ready" line.  Returns 1 when ready, else 0 (noted). */
int llx_serve_start(llx_serve_proc *p, const char *model, double timeout_s, ...);
/* The same with a whole command line (argv[0] a path; e.g. mpirun ...). */
int llx_serve_start_argv(llx_serve_proc *p, char *const argv[], double timeout_s);
/* Send sig and wait up to timeout_s for the exit; returns the exit status
 * (128 + signal when killed by one), or -1 when it had to be killed. */
int llx_serve_stop(llx_serve_proc *p, int sig, double timeout_s);
/* Collect whatever the child has written so far into p->out / p->err. */
void llx_serve_drain_output(llx_serve_proc *p);
/* 1 when the child's stderr shows no sanitizer report. */
int llx_serve_clean(const llx_serve_proc *p);

/* Run curl (silent, 60 s cap) with args...NULL; r gets status, body (out)
 * and stderr.  With -w '%{http_code}' the code ends the body. */
int llx_curl(llx_proc_result *r, ...);

/* One request with curl: method, path (appended to p->url), body (NULL:
 * none; sent on stdin), and up to one extra header (NULL: none).  Returns
 * the HTTP status (-1 when curl failed); *body gets the answer (malloc'd,
 * free it) when body_out is not NULL. */
int llx_http(const llx_serve_proc *p, const char *method, const char *path, const char *body, const char *header,
             char **body_out);

/* curl in the background: POST body to p->url + path as a stream (-N),
 * its output into the file `out`.  Returns the pid (or -1). */
pid_t llx_curl_bg(const llx_serve_proc *p, const char *path, const char *body, const char *out);
/* Wait up to timeout_s for a background curl; its exit status, or -1
 * when it had to be killed. */
int llx_curl_bg_wait(pid_t pid, double timeout_s);
/* Tokens the server at p generates in about `seconds` for one request
 * (timed on a short one; clamped to [lo, hi]): sizes the requests that
 * must still be running when a test acts, on any build and load. */
int llx_serve_tokens_for(const llx_serve_proc *p, double seconds, int lo, int hi);

/* Random-weight GPT-2 folders for serving: small (ctx 256, fast) and slow
 * (ctx 1024, wide enough that 600 tokens take a good fraction of a second). */
const char *llx_serve_model_small(void);
const char *llx_serve_model_slow(void);
/* The small model quantized to W8A8 (static). */
const char *llx_serve_model_small_llx(void);
/* That model quantized by a low-bit scheme (variant 0..LLX_LOWBIT_VARIANTS-1,
 * serveutil.c); *what (if not NULL) gets the variant's description. */
#define LLX_LOWBIT_VARIANTS 5
const char *llx_serve_model_small_lowbit(int v, const char **what);

/* The integer after `name` (a Prometheus sample line "name value") in
 * text, or -1. */
long long llx_prom_value(const char *text, const char *name);

/* JSON of an answer: parsed (NULL, noted, when not JSON); the value at a
 * path "a.b.0.c" (object keys and array indexes); its string (or NULL)
 * and integer (or -1). */
json_t *llx_json_parse(const char *body);
json_t *llx_jget(json_t *o, const char *path);
const char *llx_jstr(json_t *o, const char *path);
long long llx_jint(json_t *o, const char *path);
/* The concatenated "text" (or delta content) of every chunk of an SSE
 * body (malloc'd; NUL bytes shown as 0x01), NULL when it lacks "data:
 * [DONE]"; *chunks counts the chunks, *finish the last finish_reason,
 * *usage_completion the usage chunk's completion_tokens (or -1). */
char *llx_sse_text(const char *body, int *chunks, const char **finish, long long *usage_completion);

/* A random-weight GPT-2-shaped model (vocab 569, ctx 256) with a
 * tokenizer.json tokenizer: tests/fixtures/hf_tokenizer's, plus the
 * special tokens <|start_header_id|> (567) and <|end_header_id|> (568), so
 * it carries both the Llama 3 and the ChatML markers.  tokenizer_config.json
 * gets chat_template `tmpl` (NULL: none).  `name` names the folder; built
 * once per name. */
const char *llx_serve_model_chat(const char *name, const char *tmpl);
/* The fixture's ChatML template (serve it as "serve-chat-chatml"). */
#define LLX_TEST_CHATML                                                                                                \
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + " \
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

#endif
