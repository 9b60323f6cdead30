/* serve/batcher.c - continuous batching: the loop that owns the engine.
 *
 * Each round admits queued requests into free sequence slots (in arrival
 * order; a request whose KV room is not free yet waits at the head), then
 * runs one engine step over every active sequence: the next prompt chunk
 * of a sequence still in prefill, the last sampled token of one decoding.
 * A sequence whose prompt is done samples a token from its own logits with
 * its own sampler, so its results do not depend on its neighbours.
 * Finished and cancelled requests leave at once, freeing their slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"
#include "util/status.h"
#include "util/timer.h"

typedef struct batch {
    llx_server *s;
    srv_job **act;       /* active jobs, slots entries */
    int n;
    llx_seq_tokens *items;
    float *logits;       /* [slots][vocab] */
} batch;

/* A job ending with f counted in the metrics. */
static void record_end(llx_server *s, const srv_job *j, srv_finish f)
{
    srv_metrics *m = &s->metrics;
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += j->n_prompt;
    m->completion_tokens += j->n_completion;
    if (f == FIN_STOP || f == FIN_LENGTH) srv_hist_add(&m->request_lat, llx_now_s() - j->t_arrive, srv_lat_bounds);
    pthread_mutex_unlock(&m->mu);
}

/* Take job i out of the batch and tell its connection.  The metrics count
 * the job first: once it is finished its client may read /metrics.  (An
 * active job is finished only here, so it ends with f.) */
static void retire(batch *b, int i, srv_finish f, const char *why)
{
    srv_job *j = b->act[i];
    if (j->seq >= 0) llx_seq_close(b->s->engine, j->seq);
    j->seq = -1;
    record_end(b->s, j, f);
    srv_job_finish(j, f, why);
    srv_job_unref(j);
    b->act[i] = b->act[--b->n];
    b->s->active = b->n;
}

/* Under s->mu: drop queued jobs whose client went away. */
static void purge_queue(llx_server *s)
{
    srv_job **link = &s->qhead, *prev = NULL;
    while (*link) {
        srv_job *j = *link;
        if (!atomic_load(&j->cancel)) {
            prev = j;
            link = &j->next;
            continue;
        }
        *link = j->next;
        if (s->qtail == j) s->qtail = prev;
        s->queued--;
        srv_job_finish(j, FIN_CANCELLED, "the client went away");
        srv_job_unref(j);
    }
}

/* Under s->mu: move queued jobs into free slots while the engine has room. */
static void admit(batch *b)
{
    llx_server *s = b->s;
    while (s->qhead && b->n < s->slots) {
        srv_job *j = s->qhead;
        if (!atomic_load(&j->cancel)) {
            const llx_status st = llx_seq_open(s->engine, j->n_prompt + j->max_tokens - 1, &j->seq);
            if (st == LLX_ERR_BUSY) return; /* waits until a sequence leaves */
            if (st != LLX_OK) j->seq = -1;
        }
        s->qhead = j->next;
        if (!s->qhead) s->qtail = NULL;
        s->queued--;
        j->next = NULL;
        if (atomic_load(&j->cancel) || j->seq < 0) {
            const int never = !atomic_load(&j->cancel); /* more KV room than the whole pool */
            if (never) j->err_http = 400;
            srv_job_finish(j, never ? FIN_ERROR : FIN_CANCELLED, never ? llx_errmsg() : "the client went away");
            srv_job_unref(j);
            continue;
        }
        pthread_mutex_lock(&j->mu);
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&j->mu);
        b->act[b->n++] = j;
        s->active = b->n;
    }
}

/* Under s->mu: cancel everything (drain deadline passed, or the engine failed). */
static void cancel_all(batch *b, srv_finish f, const char *why)
{
    llx_server *s = b->s;
    while (b->n) retire(b, b->n - 1, f, why);
    for (srv_job *j = s->qhead, *n; j; j = n) {
        n = j->next;
        srv_job_finish(j, f, why);
        srv_job_unref(j);
    }
    s->qhead = s->qtail = NULL;
    s->queued = 0;
}

static void publish_gauges(llx_server *s, int active)
{
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.queue_len = s->queued;
    s->metrics.active = active;
    pthread_mutex_unlock(&s->metrics.mu);
}

/* Wait for work; returns 0 to run a step, 1 when drained. */
static int wait_for_work(batch *b)
{
    llx_server *s = b->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->phase == SRV_DRAINING && llx_now_s() >= s->drain_deadline)
            cancel_all(b, FIN_CANCELLED, "the server shut down before the request finished");
        for (int i = b->n - 1; i >= 0; i--)
            if (atomic_load(&b->act[i]->cancel)) retire(b, i, FIN_CANCELLED, "the client went away");
        purge_queue(s);
        admit(b);
        publish_gauges(s, b->n);
        if (b->n || (s->phase != SRV_READY && !s->qhead)) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000; /* wake to check cancellations and the drain deadline */
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    const int done = b->n == 0;
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* A sampled token: text out, then the end tests.  Returns the finish reason or FIN_NONE. */
static srv_finish take_token(llx_server *s, srv_job *j, int id)
{
    const double now = llx_now_s();
    pthread_mutex_lock(&s->metrics.mu);
    if (j->n_completion == 0) srv_hist_add(&s->metrics.ttft, now - j->t_arrive, srv_lat_bounds);
    else srv_hist_add(&s->metrics.token_lat, now - j->t_last, srv_lat_bounds);
    pthread_mutex_unlock(&s->metrics.mu);
    j->t_last = now;
    j->last = id;
    srv_finish f = FIN_NONE;
    pthread_mutex_lock(&j->mu);
    j->n_completion++;
    if (j->n_completion == 1) j->t_first = now;
    int r = 0;
    const char *bytes = NULL;
    size_t n = 0;
    if (srv_token_visible(llx_model_tokenizer(s->model), id, &bytes, &n)) {
        f = FIN_STOP;
    } else {
        r = srv_textout_push(&j->tout, bytes, n, &j->text);
        if (r == 1) f = FIN_STOP;
        else if (j->n_completion >= j->max_tokens) f = FIN_LENGTH;
    }
    if (f != FIN_NONE && r == 0 && srv_textout_finish(&j->tout, &j->text) == 1) f = FIN_STOP;
    if (r < 0) f = FIN_ERROR;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return f;
}

static void record_step(llx_server *s, const batch *b)
{
    int tokens = 0;
    for (int i = 0; i < b->n; i++) tokens += b->items[i].n;
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.steps++;
    s->metrics.step_tokens += tokens;
    srv_hist_add(&s->metrics.batch, b->n, srv_batch_bounds);
    pthread_mutex_unlock(&s->metrics.mu);
}

/* One engine step over the batch; finished jobs leave it. */
static llx_status step(batch *b)
{
    llx_server *s = b->s;
    for (int i = 0; i < b->n; i++) {
        srv_job *j = b->act[i];
        llx_seq_tokens *it = &b->items[i];
        it->seq = j->seq;
        if (j->fed < j->n_prompt) {
            it->tokens = j->prompt + j->fed;
            it->n = j->n_prompt - j->fed < s->o.prefill_chunk ? j->n_prompt - j->fed : s->o.prefill_chunk;
        } else {
            it->tokens = &j->last;
            it->n = 1;
        }
    }
    LLX_TRY(llx_engine_step(s->engine, b->items, b->n, b->logits));
    record_step(s, b);
    for (int i = b->n - 1; i >= 0; i--) {
        srv_job *j = b->act[i];
        if (j->fed < j->n_prompt) {
            j->fed += b->items[i].n;
            if (j->fed < j->n_prompt) continue;
        }
        const srv_finish f = take_token(s, j, llx_sample(j->sampler, b->logits + (size_t)i * s->vocab));
        if (f != FIN_NONE) {
            pthread_mutex_lock(&s->mu);
            retire(b, i, f, f == FIN_ERROR ? "out of memory" : NULL);
            pthread_mutex_unlock(&s->mu);
        }
    }
    return LLX_OK;
}

llx_status srv_batcher_run(llx_server *s)
{
    batch b = {.s = s};
    b.act = calloc((size_t)s->slots, sizeof *b.act);
    b.items = calloc((size_t)s->slots, sizeof *b.items);
    b.logits = malloc((size_t)s->slots * (size_t)s->vocab * sizeof *b.logits);
    llx_status st = LLX_OK;
    if (!b.act || !b.items || !b.logits) st = llx_fail(LLX_ERR_NOMEM, "out of memory for %d sequences", s->slots);
    while (st == LLX_OK && !wait_for_work(&b)) st = step(&b);
    pthread_mutex_lock(&s->mu);
    if (st != LLX_OK) {
        char why[256];
        snprintf(why, sizeof why, "the engine failed: %s", llx_errmsg());
        cancel_all(&b, FIN_ERROR, why);
        s->phase = SRV_STOPPED;
        atomic_store(&s->phase_now, s->phase);
    }
    pthread_mutex_unlock(&s->mu);
    free(b.act);
    free(b.items);
    free(b.logits);
    return st;
}
