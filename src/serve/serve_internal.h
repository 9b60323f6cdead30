/* serve/serve_internal.h - the server's shared structures.
 *
 *   request.c   request bodies -> srv_params (validation, OpenAI errors)
 *   textout.c   token bytes -> client text (UTF-8, stop sequences)
 *   reply.c     JSON responses, stream chunks, error objects
 *   chat.c      chat messages -> prompt text (the model's template)
 *   job.c       a request in flight, shared by its connection and the batcher
 *   batcher.c   the engine loop: admission, steps, sampling, finishing
 *   metrics.c   counters and the Prometheus text
 *   http.c      libmicrohttpd: routing, bodies, auth, streaming, disconnects
 *   server.c    lifecycle: create, attach, run, stop, free
 *
 * Threads: libmicrohttpd runs one thread per connection; the batcher runs
 * on the thread that called llx_server_run.  They meet in jobs (each with
 * its own lock) and in the server's queue (the server lock). */
#ifndef LLX_SERVE_INTERNAL_H
#define LLX_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "llx/serve.h"
#include "serve/request.h"
#include "serve/textout.h"

typedef enum srv_state { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE } srv_state;
typedef enum srv_finish { FIN_NONE = 0, FIN_STOP, FIN_LENGTH, FIN_CANCELLED, FIN_ERROR } srv_finish;

typedef struct srv_job {
    /* set before the job is queued, then read-only */
    srv_params p;
    int *prompt;              /* token ids */
    int n_prompt;
    int max_tokens;
    char id[48];
    long long created;        /* unix seconds */
    double t_arrive;
    /* shared with the connection, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_state state;
    srv_finish finish;
    srv_buf text;             /* all text released so far */
    int n_completion;         /* tokens generated */
    char errmsg[256];         /* FIN_ERROR / FIN_CANCELLED reason */
    int err_http;             /* status for a non-streamed error answer */
    double t_first, t_done;
    atomic_int cancel;        /* the client went away */
    int refs;                 /* connection + server */
    /* the batcher's own */
    llx_sampler *sampler;
    srv_textout tout;
    int seq, fed, last;       /* engine sequence, prompt tokens run, last sampled id */
    double t_last;            /* when the last token came out */
    struct srv_job *next;     /* queue link */
} srv_job;

srv_job *srv_job_new(void);
void srv_job_unref(srv_job *j);
/* Mark done under the lock and wake the connection. */
void srv_job_finish(srv_job *j, srv_finish f, const char *errmsg);

#define SRV_LAT_BUCKETS 14

typedef struct srv_histogram {
    double sum;
    long long count;
    long long le[SRV_LAT_BUCKETS]; /* cumulative at render time; per bucket here */
} srv_histogram;

typedef struct srv_metrics {
    pthread_mutex_t mu;
    long long requests[2][6];  /* [completion/chat][2xx, 400, 401/404/405/413, 499 cancelled, 5xx, other] */
    long long http_errors;     /* errors answered before a request reached an endpoint */
    long long prompt_tokens, completion_tokens;
    long long steps, step_seqs, step_tokens;
    int queue_len, active;
    srv_histogram ttft, token_lat, request_lat, batch;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
void srv_metrics_destroy(srv_metrics *m);
void srv_hist_add(srv_histogram *h, double v, const double *bounds);
/* Prometheus text exposition (malloc'd). */
char *srv_metrics_render(srv_metrics *m, size_t *len);
extern const double srv_lat_bounds[SRV_LAT_BUCKETS];
extern const double srv_batch_bounds[SRV_LAT_BUCKETS];

typedef enum srv_phase { SRV_LOADING = 0, SRV_READY, SRV_DRAINING, SRV_STOPPED } srv_phase;

struct MHD_Daemon;
struct llx_chat_template;

struct llx_server {
    llx_serve_opts o;
    char host[256], model_id[256];
    struct MHD_Daemon *mhd;
    int port;
    const llx_model *model;
    llx_engine *engine;
    int vocab, max_ctx, slots;
    char *tpl_source;              /* o.chat_template copied, or NULL */
    struct llx_chat_template *tpl; /* the chat template in use, NULL when none */
    const char *tpl_family;        /* its family: "llama3", "chatml" */
    char tpl_err[400];             /* why the model's template cannot be used ("" when none is there) */
    /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* the batcher waits here for work or stop */
    srv_phase phase;
    srv_job *qhead, *qtail;
    int queued;
    int active;               /* jobs in the batch (the batcher updates it) */
    double drain_deadline;
    atomic_int phase_now;     /* phase, readable without the lock */
    atomic_int inflight;      /* completion requests whose answer is not yet sent */
    srv_metrics metrics;
    long long next_id;
};

/* Queue a job (takes a reference).  Returns 0, or -1 with err (503 when
 * loading, draining or the queue is full). */
int srv_submit(llx_server *s, srv_job *j, srv_error *err);
/* Tokenize / template / check the request against the model into j.
 * Returns 0 or -1 with err. */
int srv_prepare(llx_server *s, srv_job *j, srv_error *err);

/* The batching loop (batcher.c). */
llx_status srv_batcher_run(llx_server *s);

/* chat.c.  Pick the chat template when a model is attached: o.chat_template
 * when given (an error when unusable), else the model's (unusable: chat
 * requests answer 400 saying why). */
llx_status srv_chat_init(llx_server *s, const llx_tokenizer *tok);
void srv_chat_free(llx_server *s);
/* Chat messages -> prompt text (malloc'd) with the template; -1 with err
 * (400 when the model has no usable template or the template refuses the
 * messages). */
int srv_chat_prompt(const llx_server *s, const srv_message *msgs, int n, char **text, size_t *len, srv_error *err);
/* What a generated token adds to the reply: 1 when it ends generation (the
 * tokenizer's end-of-generation ids), else 0 with its bytes in *bytes, *n
 * (none for special tokens, whose text is never shown). */
int srv_token_visible(const llx_tokenizer *t, int id, const char **bytes, size_t *n);

/* reply.c: malloc'd JSON / SSE texts (NULL when out of memory). */
char *srv_reply_error(const srv_error *e, size_t *len);
char *srv_reply_final(const llx_server *s, const srv_job *j, size_t *len);
/* One stream event: a text delta (text may be empty), or with finish set
 * the closing chunk; first adds the assistant role (chat). */
char *srv_reply_chunk(const llx_server *s, const srv_job *j, const char *text, size_t n, int first, size_t *len);
char *srv_reply_usage_chunk(const llx_server *s, const srv_job *j, size_t *len);
char *srv_reply_models(const llx_server *s, size_t *len);
const char *srv_finish_name(srv_finish f);

/* http.c */
llx_status srv_http_start(llx_server *s);
void srv_http_quiesce(llx_server *s);
void srv_http_stop(llx_server *s);

#endif
