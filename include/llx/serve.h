/* llx/serve.h - an OpenAI-compatible HTTP server over an engine.
 *
 *   llx_server *s;
 *   llx_serve_opts o = llx_serve_defaults();  o.port = 0;  // 0: any free port
 *   llx_server_create(&s, &o);                 // listens now; /health says "loading"
 *   ... open the model, create the engine ...
 *   llx_server_attach(s, model, engine);       // ready
 *   llx_server_run(s);                         // the engine loop, on this thread,
 *                                              // until llx_server_stop() and the drain
 *   llx_server_free(s);
 *
 * Endpoints: POST /v1/completions, POST /v1/chat/completions (JSON in and
 * out; "stream": true answers with server-sent events ending "data:
 * [DONE]"), GET /v1/models, GET /health, GET /metrics (Prometheus text).
 * Errors are OpenAI error objects.  Requests are decoded in continuous
 * batches of up to `parallel` sequences (docs/serve.md).
 *
 * llx_server_run drives the engine, so it runs on the thread that must
 * drive it (the main thread under MPI).  llx_server_stop may be called from
 * any thread (not from a signal handler). */
#ifndef LLX_SERVE_H
#define LLX_SERVE_H

#include <stddef.h>

#include "llx/engine.h"
#include "llx/status.h"

typedef struct llx_serve_opts {
    const char *host;        /* address to listen on (default "127.0.0.1") */
    int port;                /* 0: a free port chosen by the system (read it with llx_server_port) */
    int parallel;            /* sequences decoded together (default 4) */
    int queue;               /* requests that may wait for a slot; more are answered 503 (default 64) */
    const char *api_key;     /* when set, requests need "Authorization: Bearer <key>" (not /health) */
    const char *model_id;    /* the id in /v1/models and the accepted "model" (default: file name) */
    size_t max_body;         /* request bodies above this are answered 413 (default 1 MiB) */
    int max_connections;     /* concurrent connections (default 256) */
    int prefill_chunk;       /* prompt tokens a sequence runs per step (default 256) */
    double drain_timeout_s;  /* after stop, in-flight requests get this long to finish (default 30) */
    double idle_timeout_s;   /* an idle connection is closed after this (default 60) */
    const char *chat_template; /* chat template source (Jinja; llx_chat_builtin gives the built-in ones);
                                  NULL: the model's tokenizer_config.json chat_template (docs/serve.md) */
} llx_serve_opts;

llx_serve_opts llx_serve_defaults(void);

typedef struct llx_server llx_server;

/* Bind and start answering HTTP (completions answer 503 "loading" until a
 * model is attached).  Fails with LLX_ERR_IO when the address cannot be
 * bound, LLX_ERR_ARG on bad options. */
llx_status llx_server_create(llx_server **out, const llx_serve_opts *o);
/* The port actually bound. */
int llx_server_port(const llx_server *s);
/* Serve this model with this engine (both must outlive the server).
 * Fails when the engine cannot hold `parallel` sequences, or when
 * o.chat_template was given and cannot be used with the model's tokenizer
 * (not Llama 3 instruct or ChatML, a marker token missing, or a parse
 * error; one line says which). */
llx_status llx_server_attach(llx_server *s, const llx_model *m, llx_engine *e);
/* The chat template family in use ("llama3", "chatml"), or NULL when chat
 * requests answer 400; then *why (when why is not NULL) says why the
 * model's template cannot be used, or is NULL when it has none. */
const char *llx_server_chat_template(const llx_server *s, const char **why);

/* Run the batching loop until llx_server_stop, then drain: no new
 * requests are accepted, in-flight ones get drain_timeout_s to finish,
 * the rest are cancelled.  Returns LLX_OK after a clean drain, or the
 * engine's error when it failed (every waiting request is told). */
llx_status llx_server_run(llx_server *s);
/* Begin the drain (thread-safe, idempotent). */
void llx_server_stop(llx_server *s);
/* Stop listening, close connections, free (accepts NULL). */
void llx_server_free(llx_server *s);

#endif
