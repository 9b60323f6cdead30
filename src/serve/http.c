/* serve/http.c - the HTTP side, on libmicrohttpd (one thread per
 * connection): routing, request bodies with a size limit, the bearer key,
 * JSON answers, server-sent event streams, and noticing a client that went
 * away (its request is cancelled, freeing its sequence at the next step).
 * libmicrohttpd's own logging is off: the library never prints. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/serve_internal.h"
#include "util/status.h"

typedef enum route { R_NONE = 0, R_COMPLETIONS, R_CHAT, R_MODELS, R_HEALTH, R_METRICS } route;

typedef struct conn {
    llx_server *s;
    route r;
    srv_buf body;
    int too_big;
    int inflight;     /* counted in s->inflight until the answer is sent */
} conn;

typedef struct stream {
    llx_server *s;
    srv_job *j;
    int fd;
    size_t sent;      /* text bytes already sent */
    int started, ended;
    srv_buf pend;     /* encoded events not yet handed to MHD */
    size_t off;
} stream;

static route find_route(const char *url)
{
    static const struct {
        const char *path;
        route r;
    } t[] = {{"/v1/completions", R_COMPLETIONS}, {"/v1/chat/completions", R_CHAT}, {"/v1/models", R_MODELS},
             {"/health", R_HEALTH},           {"/metrics", R_METRICS},             {"/completions", R_COMPLETIONS},
             {"/chat/completions", R_CHAT},   {"/models", R_MODELS}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcmp(url, t[i].path)) return t[i].r;
    return R_NONE;
}

/* Answer with a malloc'd NUL-terminated body (NULL: out of memory). */
static enum MHD_Result send_buf(struct MHD_Connection *c, int status, char *body, const char *type, int retry_after)
{
    if (!body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
        char *b = strdup(oom);
        return b ? send_buf(c, 500, b, "application/json", 0) : MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (retry_after) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    const enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static void count_outcome(llx_server *s, route r, int status)
{
    pthread_mutex_lock(&s->metrics.mu);
    if (r == R_COMPLETIONS || r == R_CHAT) {
        const int k = status < 300 ? 0 : status == 400 ? 1 : status == 499 ? 3 : status >= 500 ? 4 : status < 500 ? 2 : 5;
        s->metrics.requests[r == R_CHAT][k]++;
    } else if (status >= 400) {
        s->metrics.http_errors++;
    }
    pthread_mutex_unlock(&s->metrics.mu);
}

static enum MHD_Result send_error(llx_server *s, struct MHD_Connection *c, route r, const srv_error *e)
{
    size_t len = 0;
    count_outcome(s, r, e->http);
    return send_buf(c, e->http, srv_reply_error(e, &len), "application/json", e->http == 503);
}

static int authorized(const llx_server *s, struct MHD_Connection *c)
{
    if (!s->o.api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    const size_t n = strlen(h), k = strlen(s->o.api_key);
    unsigned diff = (unsigned)(n ^ k);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)h[i] ^ (unsigned char)s->o.api_key[i % k];
    return diff == 0;
}

/* The client closed its end (or the socket failed). */
static int gone(int fd)
{
    if (fd < 0) return 0;
    struct pollfd p = {fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* The error answer of a job that ended without finishing: 400 when the
 * batcher found the request could never run, 500 when the engine failed,
 * 503 when it was cancelled by the drain. */
static void job_error(const srv_job *j, srv_error *e)
{
    if (j->err_http == 400) srv_fail(e, 400, "invalid_request_error", "context_length_exceeded", "max_tokens", "%s", j->errmsg);
    else srv_fail(e, j->finish == FIN_ERROR ? 500 : 503, "server_error", NULL, NULL, "%s", j->errmsg);
}

/* Under j->mu: wait a little for the batcher. */
static void wait_job(srv_job *j)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* Append a malloc'd event (NULL: out of memory). */
static int stream_add(stream *x, char *ev)
{
    const int rc = ev ? srv_buf_add(&x->pend, ev, strlen(ev)) : -1;
    free(ev);
    return rc;
}

/* Under j->mu: encode what the job has produced since the last call. */
static int stream_events(stream *x)
{
    srv_job *j = x->j;
    size_t n = 0;
    if (!x->started && j->p.kind == SRV_CHAT && stream_add(x, srv_reply_chunk(x->s, j, "", 0, 1, &n))) return -1;
    x->started = 1;
    if (j->text.len > x->sent) {
        if (stream_add(x, srv_reply_chunk(x->s, j, j->text.p + x->sent, j->text.len - x->sent, 0, &n))) return -1;
        x->sent = j->text.len;
    }
    if (j->state != JOB_DONE) return 0;
    if (j->finish == FIN_ERROR || j->finish == FIN_CANCELLED) {
        srv_error e;
        job_error(j, &e);
        char *body = srv_reply_error(&e, &n);
        const int bad = !body || srv_buf_add(&x->pend, "data: ", 6) || srv_buf_add(&x->pend, body, strlen(body)) ||
                        srv_buf_add(&x->pend, "\n\n", 2);
        free(body);
        if (bad) return -1;
    } else {
        if (stream_add(x, srv_reply_chunk(x->s, j, NULL, 0, 0, &n))) return -1;
        if (j->p.include_usage && stream_add(x, srv_reply_usage_chunk(x->s, j, &n))) return -1;
    }
    x->ended = 1;
    return srv_buf_add(&x->pend, "data: [DONE]\n\n", 14);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *x = cls;
    srv_job *j = x->j;
    while (x->off == x->pend.len) {
        if (x->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        x->pend.len = x->off = 0;
        pthread_mutex_lock(&j->mu);
        while (x->started && j->text.len == x->sent && j->state != JOB_DONE) {
            wait_job(j);
            if (j->text.len == x->sent && j->state != JOB_DONE && gone(x->fd)) break;
        }
        const int rc = j->text.len == x->sent && j->state != JOB_DONE && x->started ? 1 : stream_events(x);
        pthread_mutex_unlock(&j->mu);
        if (rc) { /* the client went away, or out of memory */
            atomic_store(&j->cancel, 1);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    const size_t n = x->pend.len - x->off < max ? x->pend.len - x->off : max;
    memcpy(buf, x->pend.p + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *x = cls;
    const int done = x->ended;
    atomic_store(&x->j->cancel, 1); /* no-op when finished; frees the slot when the client left */
    count_outcome(x->s, x->j->p.kind == SRV_CHAT ? R_CHAT : R_COMPLETIONS, done ? 200 : 499);
    srv_job_unref(x->j);
    srv_buf_free(&x->pend);
    free(x);
}

static enum MHD_Result start_stream(llx_server *s, struct MHD_Connection *c, srv_job *j)
{
    stream *x = calloc(1, sizeof *x);
    if (!x) {
        atomic_store(&j->cancel, 1);
        srv_job_unref(j);
        return MHD_NO;
    }
    x->s = s;
    x->j = j;
    x->fd = conn_fd(c);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, x, stream_free);
    if (!r) {
        stream_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    const enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* Non-streamed: wait for the whole answer, watching the client. */
static enum MHD_Result finish_plain(llx_server *s, struct MHD_Connection *c, route r, srv_job *j)
{
    const int fd = conn_fd(c);
    pthread_mutex_lock(&j->mu);
    while (j->state != JOB_DONE) {
        wait_job(j);
        if (j->state != JOB_DONE && gone(fd)) {
            pthread_mutex_unlock(&j->mu);
            atomic_store(&j->cancel, 1);
            count_outcome(s, r, 499);
            srv_job_unref(j);
            return MHD_NO;
        }
    }
    pthread_mutex_unlock(&j->mu);
    enum MHD_Result ok;
    if (j->finish == FIN_ERROR || j->finish == FIN_CANCELLED) {
        srv_error e;
        job_error(j, &e);
        ok = send_error(s, c, r, &e);
    } else {
        size_t len = 0;
        count_outcome(s, r, 200);
        ok = send_buf(c, 200, srv_reply_final(s, j, &len), "application/json", 0);
    }
    srv_job_unref(j);
    return ok;
}

static enum MHD_Result completion(llx_server *s, struct MHD_Connection *c, conn *x)
{
    srv_error e;
    srv_job *j = srv_job_new();
    if (!j) return MHD_NO;
    x->inflight = 1;
    atomic_fetch_add(&s->inflight, 1);
    if (srv_parse_request(x->r == R_CHAT ? SRV_CHAT : SRV_COMPLETION, x->body.p ? x->body.p : "", x->body.len, &j->p, &e) ||
        srv_prepare(s, j, &e) || srv_submit(s, j, &e)) {
        srv_job_unref(j);
        return send_error(s, c, x->r, &e);
    }
    return j->p.stream ? start_stream(s, c, j) : finish_plain(s, c, x->r, j);
}

static enum MHD_Result simple_get(llx_server *s, struct MHD_Connection *c, route r)
{
    size_t len = 0;
    if (r == R_MODELS) return send_buf(c, 200, srv_reply_models(s, &len), "application/json", 0);
    if (r == R_METRICS) {
        char *body = srv_metrics_render(&s->metrics, &len);
        return send_buf(c, 200, body, "text/plain; version=0.0.4", 0);
    }
    const int ph = atomic_load(&s->phase_now);
    const char *state = ph == SRV_LOADING ? "loading" : ph == SRV_READY ? "ok" : "shutting_down";
    char buf[64];
    snprintf(buf, sizeof buf, "{\"status\":\"%s\"}", state);
    return send_buf(c, ph == SRV_READY ? 200 : 503, strdup(buf), "application/json", ph != SRV_READY);
}

/* Checks that need only the headers: path, method, key, declared size. */
static int early_check(llx_server *s, struct MHD_Connection *c, const char *url, const char *method, conn *x, srv_error *e)
{
    x->r = find_route(url);
    const int post = x->r == R_COMPLETIONS || x->r == R_CHAT;
    if (x->r == R_NONE)
        return srv_fail(e, 404, "invalid_request_error", "not_found", NULL, "no such endpoint: %s %.200s", method, url);
    if (strcmp(method, post ? "POST" : "GET"))
        return srv_fail(e, 405, "invalid_request_error", "method_not_allowed", NULL, "%.200s takes %s, not %.20s", url,
                        post ? "POST" : "GET", method);
    if (x->r != R_HEALTH && !authorized(s, c))
        return srv_fail(e, 401, "invalid_request_error", "invalid_api_key", NULL,
                        "a valid API key is needed (Authorization: Bearer <key>)");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->o.max_body)
        return srv_fail(e, 413, "invalid_request_error", "request_too_large", NULL, "the body exceeds the limit of %zu bytes",
                        s->o.max_body);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    llx_server *s = cls;
    conn *x = *con_cls;
    if (!x) {
        srv_error e;
        x = calloc(1, sizeof *x);
        if (!x) return MHD_NO;
        x->s = s;
        *con_cls = x;
        if (early_check(s, c, url, method, x, &e)) {
            x->r = R_NONE;
            return send_error(s, c, find_route(url), &e); /* libmicrohttpd closes after an early answer */
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!x->too_big && x->body.len + *upload_size > s->o.max_body) {
            x->too_big = 1;
            srv_buf_free(&x->body);
        }
        if (!x->too_big && srv_buf_add(&x->body, upload, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->too_big) {
        srv_error e;
        srv_fail(&e, 413, "invalid_request_error", "request_too_large", NULL, "the body exceeds the limit of %zu bytes",
                 s->o.max_body);
        return send_error(s, c, x->r, &e);
    }
    if (x->r == R_COMPLETIONS || x->r == R_CHAT) return completion(s, c, x);
    return simple_get(s, c, x->r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    conn *x = *con_cls;
    if (!x) return;
    if (x->inflight) atomic_fetch_sub(&x->s->inflight, 1);
    srv_buf_free(&x->body);
    free(x);
    *con_cls = NULL;
}

static llx_status resolve(const llx_server *s, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    const int rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc || !res) return llx_fail(LLX_ERR_ARG, "cannot resolve host '%s': %s", s->host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return LLX_OK;
}

llx_status srv_http_start(llx_server *s)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    LLX_TRY(resolve(s, &ss, &sl));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->o.idle_timeout_s + 0.5),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->mhd) return llx_fail(LLX_ERR_IO, "cannot listen on %s port %d (in use, or not allowed)", s->host, s->o.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->o.port;
    return LLX_OK;
}

void srv_http_quiesce(llx_server *s)
{
    if (!s->mhd) return;
    const MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void srv_http_stop(llx_server *s)
{
    /* let answers still on their way finish (the batcher is done with them) */
    for (int i = 0; i < 500 && atomic_load(&s->inflight) > 0; i++) usleep(10000);
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
