/* serve/metrics.c - the server's counters and their Prometheus text
 * exposition (format 0.0.4): requests by endpoint and outcome, tokens,
 * queue length, batch size, and latency histograms. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

/* seconds: time to first token, per-token latency, request latency */
const double srv_lat_bounds[SRV_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                1,     2.5,  5,     10,   30,  60,  120};
/* sequences per decode step */
const double srv_batch_bounds[SRV_LAT_BUCKETS] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256};

void srv_metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void srv_metrics_destroy(srv_metrics *m) { pthread_mutex_destroy(&m->mu); }

void srv_hist_add(srv_histogram *h, double v, const double *bounds)
{
    h->sum += v;
    h->count++;
    for (int i = 0; i < SRV_LAT_BUCKETS; i++)
        if (v <= bounds[i]) {
            h->le[i]++;
            break;
        }
}

typedef struct out {
    char *p;
    size_t len, cap;
    int oom;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        const int n = o->oom ? 0 : vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (o->oom || n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *p = realloc(o->p, o->cap * 2 + (size_t)n);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

static void hist(out *o, const char *name, const char *help, const srv_histogram *h, const double *bounds)
{
    put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    long long cum = 0;
    for (int i = 0; i < SRV_LAT_BUCKETS; i++) {
        cum += h->le[i];
        put(o, "%s_bucket{le=\"%g\"} %lld\n", name, bounds[i], cum);
    }
    put(o, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.6f\n%s_count %lld\n", name, h->count, name, h->sum, name, h->count);
}

static void counter(out *o, const char *name, const char *help, long long v)
{
    put(o, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", name, help, name, name, v);
}

static void gauge(out *o, const char *name, const char *help, long long v)
{
    put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

char *srv_metrics_render(srv_metrics *m, size_t *len)
{
    static const char *endpoint[2] = {"completions", "chat_completions"};
    static const char *outcome[6] = {"ok", "bad_request", "refused", "cancelled", "server_error", "other"};
    out o = {malloc(4096), 0, 4096, 0};
    if (!o.p) return NULL;
    pthread_mutex_lock(&m->mu);
    put(&o, "# HELP llx_requests_total Requests answered, by endpoint and outcome.\n# TYPE llx_requests_total counter\n");
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 6; k++)
            put(&o, "llx_requests_total{endpoint=\"%s\",outcome=\"%s\"} %lld\n", endpoint[e], outcome[k], m->requests[e][k]);
    counter(&o, "llx_http_errors_total", "Requests refused before reaching an endpoint (404, 405, 401, 413).", m->http_errors);
    counter(&o, "llx_prompt_tokens_total", "Prompt tokens processed.", m->prompt_tokens);
    counter(&o, "llx_completion_tokens_total", "Tokens generated.", m->completion_tokens);
    counter(&o, "llx_steps_total", "Engine steps (one pass of the weights each).", m->steps);
    counter(&o, "llx_step_tokens_total", "Tokens run in engine steps (prompt and generated).", m->step_tokens);
    gauge(&o, "llx_queue_length", "Requests waiting for a sequence slot.", m->queue_len);
    gauge(&o, "llx_active_sequences", "Sequences in the current batch.", m->active);
    hist(&o, "llx_batch_size", "Sequences per engine step.", &m->batch, srv_batch_bounds);
    hist(&o, "llx_time_to_first_token_seconds", "From arrival to the first generated token.", &m->ttft, srv_lat_bounds);
    hist(&o, "llx_token_latency_seconds", "Between consecutive generated tokens of a request.", &m->token_lat, srv_lat_bounds);
    hist(&o, "llx_request_duration_seconds", "From arrival to the last token.", &m->request_lat, srv_lat_bounds);
    pthread_mutex_unlock(&m->mu);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
