/* serve/server.c - the server's life: bind, attach a model and engine,
 * run the batcher until stopped, drain, free; and the checks that turn a
 * parsed request into a queued job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"
#include "util/status.h"
#include "util/timer.h"

llx_serve_opts llx_serve_defaults(void)
{
    llx_serve_opts o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = 8080;
    o.parallel = 4;
    o.queue = 64;
    o.max_body = 1 << 20;
    o.max_connections = 256;
    o.prefill_chunk = 256;
    o.drain_timeout_s = 30;
    o.idle_timeout_s = 60;
    return o;
}

static llx_status check_opts(const llx_serve_opts *o)
{
    if (o->port < 0 || o->port > 65535) return llx_fail(LLX_ERR_ARG, "port must be in [0, 65535] (got %d)", o->port);
    if (o->parallel < 1 || o->parallel > 256)
        return llx_fail(LLX_ERR_ARG, "parallel sequences must be in [1, 256] (got %d)", o->parallel);
    if (o->queue < 0) return llx_fail(LLX_ERR_ARG, "queue length must be >= 0 (got %d)", o->queue);
    if (o->max_body < 64) return llx_fail(LLX_ERR_ARG, "the body limit must be at least 64 bytes");
    if (o->max_connections < 1) return llx_fail(LLX_ERR_ARG, "connections must be at least 1");
    if (o->prefill_chunk < 1) return llx_fail(LLX_ERR_ARG, "the prefill chunk must be at least 1 token");
    if (!(o->drain_timeout_s >= 0) || !(o->idle_timeout_s > 0))
        return llx_fail(LLX_ERR_ARG, "timeouts must be positive");
    if (o->api_key && !o->api_key[0]) return llx_fail(LLX_ERR_ARG, "the API key is empty");
    return LLX_OK;
}

llx_status llx_server_create(llx_server **out, const llx_serve_opts *o)
{
    *out = NULL;
    LLX_TRY(check_opts(o));
    llx_server *s = calloc(1, sizeof *s);
    if (!s) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    s->o = *o;
    snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
    snprintf(s->model_id, sizeof s->model_id, "%s", o->model_id && o->model_id[0] ? o->model_id : "looplynx");
    s->o.host = s->host;
    s->o.model_id = s->model_id;
    if (o->chat_template && !(s->tpl_source = strdup(o->chat_template))) {
        free(s);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    s->o.chat_template = s->tpl_source;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    srv_metrics_init(&s->metrics);
    atomic_init(&s->phase_now, SRV_LOADING);
    atomic_init(&s->inflight, 0);
    const llx_status st = srv_http_start(s);
    if (st != LLX_OK) {
        llx_server_free(s);
        return st;
    }
    *out = s;
    return LLX_OK;
}

int llx_server_port(const llx_server *s) { return s->port; }

llx_status llx_server_attach(llx_server *s, const llx_model *m, llx_engine *e)
{
    const int seqs = llx_engine_max_seqs(e);
    LLX_TRY(srv_chat_init(s, llx_model_tokenizer(m))); /* before the lock below publishes it */
    pthread_mutex_lock(&s->mu);
    s->model = m;
    s->engine = e;
    s->vocab = llx_engine_config(e)->n_vocab;
    s->max_ctx = llx_engine_max_ctx(e);
    s->slots = s->o.parallel < seqs ? s->o.parallel : seqs;
    if (s->phase == SRV_LOADING) s->phase = SRV_READY;
    atomic_store(&s->phase_now, s->phase);
    pthread_mutex_unlock(&s->mu);
    return LLX_OK;
}

llx_status llx_server_run(llx_server *s)
{
    if (!s->engine) return llx_fail(LLX_ERR_ARG, "no model is attached to the server");
    const llx_status st = srv_batcher_run(s);
    pthread_mutex_lock(&s->mu);
    s->phase = SRV_STOPPED;
    atomic_store(&s->phase_now, s->phase);
    pthread_mutex_unlock(&s->mu);
    return st;
}

void llx_server_stop(llx_server *s)
{
    pthread_mutex_lock(&s->mu);
    const int was = s->phase;
    if (s->phase == SRV_LOADING || s->phase == SRV_READY) {
        s->phase = SRV_DRAINING;
        s->drain_deadline = llx_now_s() + s->o.drain_timeout_s;
    }
    atomic_store(&s->phase_now, s->phase);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (was == SRV_LOADING || was == SRV_READY) srv_http_quiesce(s);
}

void llx_server_free(llx_server *s)
{
    if (!s) return;
    srv_http_stop(s);
    for (srv_job *j = s->qhead, *n; j; j = n) {
        n = j->next;
        srv_job_finish(j, FIN_CANCELLED, "the server stopped");
        srv_job_unref(j);
    }
    srv_chat_free(s);
    srv_metrics_destroy(&s->metrics);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int srv_submit(llx_server *s, srv_job *j, srv_error *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->phase == SRV_LOADING) rc = srv_fail(err, 503, "server_error", "model_loading", NULL, "the model is still loading");
    else if (s->phase != SRV_READY) rc = srv_fail(err, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
    else if (s->queued + s->active >= s->slots + s->o.queue)
        rc = srv_fail(err, 503, "server_error", "server_busy", NULL, "the server is busy (%d requests waiting); retry later",
                      s->queued);
    if (!rc) {
        j->refs++; /* the server's reference; no other thread has j yet */
        if (s->qtail) s->qtail->next = j;
        else s->qhead = j;
        s->qtail = j;
        s->queued++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int tokenize_prompt(llx_server *s, srv_job *j, srv_error *err)
{
    const llx_tokenizer *tok = llx_model_tokenizer(s->model);
    if (j->p.prompt_ids) {
        for (int i = 0; i < j->p.n_prompt_ids; i++)
            if (j->p.prompt_ids[i] >= s->vocab)
                return srv_fail(err, 400, "invalid_request_error", "invalid_value", "prompt",
                                "token id %d is outside the vocabulary [0, %d)", j->p.prompt_ids[i], s->vocab);
        j->prompt = j->p.prompt_ids;
        j->n_prompt = j->p.n_prompt_ids;
        j->p.prompt_ids = NULL;
        return 0;
    }
    char *chat = NULL;
    const char *text = j->p.prompt;
    size_t len = j->p.prompt_len;
    if (j->p.kind == SRV_CHAT) {
        if (srv_chat_prompt(s, j->p.messages, j->p.n_messages, &chat, &len, err)) return -1;
        text = chat;
    }
    /* a template writes its own special tokens (BOS ...); a plain prompt gets the tokenizer's */
    const llx_status st = llx_tokenize_ex(tok, text, len, chat ? 0 : LLX_TOK_ADD_SPECIAL, &j->prompt, &j->n_prompt);
    free(chat);
    if (st != LLX_OK) return srv_fail(err, 500, "server_error", NULL, NULL, "%s", llx_errmsg());
    if (j->n_prompt == 0) return srv_fail(err, 400, "invalid_request_error", "invalid_value", "prompt", "the prompt is empty");
    return 0;
}

int srv_prepare(llx_server *s, srv_job *j, srv_error *err)
{
    pthread_mutex_lock(&s->mu); /* orders the reads below after llx_server_attach */
    const int loaded = s->model != NULL;
    pthread_mutex_unlock(&s->mu);
    if (!loaded) return srv_fail(err, 503, "server_error", "model_loading", NULL, "the model is still loading");
    if (j->p.model && strcmp(j->p.model, s->model_id))
        return srv_fail(err, 404, "invalid_request_error", "model_not_found", "model",
                        "the model '%.200s' does not exist (this server has '%.200s')", j->p.model, s->model_id);
    if (tokenize_prompt(s, j, err)) return -1;
    /* the last generated token is never fed back: n_prompt + max_tokens - 1 positions */
    const int room = s->max_ctx - j->n_prompt + 1;
    j->max_tokens = j->p.max_tokens ? j->p.max_tokens : j->p.kind == SRV_CHAT ? room : (room < 16 ? room : 16);
    if (room < 1 || (long)j->n_prompt + j->max_tokens - 1 > s->max_ctx)
        return srv_fail(err, 400, "invalid_request_error", "context_length_exceeded", j->p.max_tokens ? "max_tokens" : "prompt",
                        "this model's context is %d tokens; the prompt has %d and %d were asked for", s->max_ctx,
                        j->n_prompt, j->max_tokens > 0 ? j->max_tokens : 1);
    pthread_mutex_lock(&s->mu);
    const long long id = ++s->next_id;
    pthread_mutex_unlock(&s->mu);
    if (!j->p.seed_set) j->p.so.seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)id;
    if (llx_sampler_create(&j->sampler, &j->p.so, s->vocab) != LLX_OK)
        return srv_fail(err, 400, "invalid_request_error", "invalid_value", NULL, "%s", llx_errmsg());
    snprintf(j->id, sizeof j->id, "%s-%llx%06llx", j->p.kind == SRV_CHAT ? "chatcmpl" : "cmpl", (long long)time(NULL), id);
    j->created = (long long)time(NULL);
    j->t_arrive = llx_now_s();
    srv_textout_init(&j->tout, j->p.stop, j->p.stop_len, j->p.n_stop);
    return 0;
}
