/* serve/request.c - OpenAI completion and chat request bodies (jansson):
 * every known field is type-checked, fields this server cannot honour
 * (n > 1, logprobs, penalties, tools, ...) are refused with a 400 naming
 * them unless they hold their neutral value, unknown fields are ignored. */
#include "serve/request.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID "invalid_request_error"

int srv_fail(srv_error *e, int http, const char *type, const char *code, const char *param, const char *fmt, ...)
{
    va_list ap;
    e->http = http;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad_type(srv_error *e, const char *key, const char *want)
{
    return srv_fail(e, 400, INVALID, "invalid_type", key, "'%s' must be %s", key, want);
}

static int unsupported(srv_error *e, const char *key, const char *what)
{
    return srv_fail(e, 400, INVALID, "unsupported_parameter", key, "'%s': %s is not supported by this server", key,
                    what);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* A number field into *out within [lo, hi]; absent or null leaves *out. */
static int get_number(json_t *o, const char *key, double lo, double hi, double *out, srv_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return bad_type(e, key, "a number");
    const double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) return srv_fail(e, 400, INVALID, "invalid_value", key, "'%s' must be in [%g, %g] (got %g)", key, lo, hi, d);
    *out = d;
    return 1;
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long *out, srv_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return bad_type(e, key, "an integer");
    const long long n = json_integer_value(v);
    if (n < lo || n > hi)
        return srv_fail(e, 400, INVALID, "invalid_value", key, "'%s' must be in [%lld, %lld] (got %lld)", key, lo, hi, n);
    *out = n;
    return 1;
}

static int get_bool(json_t *o, const char *key, int *out, srv_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return bad_type(e, key, "a boolean");
    *out = json_is_true(v);
    return 1;
}

/* Fields of the OpenAI API that this server accepts only at their neutral value. */
static int check_neutral(json_t *o, srv_kind kind, srv_error *e)
{
    double d = 0;
    long long n = 1;
    int b = 0;
    if (get_number(o, "presence_penalty", -2, 2, &d, e) < 0) return -1;
    if (d != 0) return unsupported(e, "presence_penalty", "a non-zero penalty");
    if (get_number(o, "frequency_penalty", -2, 2, &d, e) < 0) return -1;
    if (d != 0) return unsupported(e, "frequency_penalty", "a non-zero penalty");
    if (get_int(o, "n", 1, 128, &n, e) < 0) return -1;
    if (n != 1) return unsupported(e, "n", "more than one choice");
    if (get_int(o, "best_of", 1, 20, &n, e) < 0) return -1;
    if (n != 1) return unsupported(e, "best_of", "more than one candidate");
    json_t *v = json_object_get(o, "logit_bias");
    if (v && !json_is_null(v) && !json_is_object(v)) return bad_type(e, "logit_bias", "an object");
    if (v && json_is_object(v) && json_object_size(v)) return unsupported(e, "logit_bias", "a logit bias");
    v = json_object_get(o, "user");
    if (v && !json_is_null(v) && !json_is_string(v)) return bad_type(e, "user", "a string");
    if (kind == SRV_COMPLETION) {
        n = 0;
        if (get_int(o, "logprobs", 0, 20, &n, e) < 0) return -1;
        if (n) return unsupported(e, "logprobs", "logprobs");
        if (get_bool(o, "echo", &b, e) < 0) return -1;
        if (b) return unsupported(e, "echo", "echoing the prompt");
        v = json_object_get(o, "suffix");
        if (v && !json_is_null(v) && !json_is_string(v)) return bad_type(e, "suffix", "a string");
        if (v && json_is_string(v) && json_string_length(v)) return unsupported(e, "suffix", "a suffix");
    } else {
        if (get_bool(o, "logprobs", &b, e) < 0) return -1;
        if (b) return unsupported(e, "logprobs", "logprobs");
        n = 0;
        if (get_int(o, "top_logprobs", 0, 20, &n, e) < 0) return -1;
        if (n) return unsupported(e, "top_logprobs", "logprobs");
        v = json_object_get(o, "tools");
        if (v && !json_is_null(v) && !json_is_array(v)) return bad_type(e, "tools", "an array");
        if (v && json_is_array(v) && json_array_size(v)) return unsupported(e, "tools", "tool calling");
        v = json_object_get(o, "response_format");
        if (v && !json_is_null(v)) {
            json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
            if (!t || !json_is_string(t)) return bad_type(e, "response_format", "an object with a string 'type'");
            if (strcmp(json_string_value(t), "text")) return unsupported(e, "response_format", "a structured response format");
        }
    }
    return 0;
}

static int parse_stop(json_t *o, srv_params *p, srv_error *e)
{
    json_t *v = json_object_get(o, "stop");
    if (!v || json_is_null(v)) return 0;
    json_t *one[1] = {v};
    json_t **items = one;
    size_t n = 1;
    if (json_is_array(v)) {
        n = json_array_size(v);
        if (n > SRV_MAX_STOP)
            return srv_fail(e, 400, INVALID, "invalid_value", "stop", "'stop' holds at most %d sequences (got %zu)",
                            SRV_MAX_STOP, n);
        items = NULL;
    } else if (!json_is_string(v)) {
        return bad_type(e, "stop", "a string or an array of strings");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = items ? items[i] : json_array_get(v, i);
        if (!json_is_string(s)) return bad_type(e, "stop", "a string or an array of strings");
        if (json_string_length(s) == 0) return srv_fail(e, 400, INVALID, "invalid_value", "stop", "a stop sequence is empty");
        p->stop_len[p->n_stop] = json_string_length(s);
        p->stop[p->n_stop] = dup_n(json_string_value(s), p->stop_len[p->n_stop]);
        if (!p->stop[p->n_stop]) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        p->n_stop++;
    }
    return 0;
}

static int parse_sampling(json_t *o, srv_params *p, srv_error *e)
{
    double d;
    long long n;
    p->so = (llx_sampler_opts){0, 1.0f, 0, 1.0f, 0};
    d = 1.0;
    if (get_number(o, "temperature", 0, 2, &d, e) < 0) return -1;
    p->so.temperature = (float)d;
    if (d == 0) p->so.greedy = 1;
    d = 1.0;
    if (get_number(o, "top_p", 0, 1, &d, e) < 0) return -1;
    if (!(d > 0)) return srv_fail(e, 400, INVALID, "invalid_value", "top_p", "'top_p' must be in (0, 1] (got 0)");
    p->so.top_p = (float)d;
    n = 0;
    if (get_int(o, "top_k", 0, 1 << 24, &n, e) < 0) return -1;
    p->so.top_k = (int)n;
    json_t *v = json_object_get(o, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) return bad_type(e, "seed", "an integer");
        p->so.seed = (uint64_t)json_integer_value(v);
        p->seed_set = 1;
    }
    n = 0;
    int r = get_int(o, "max_tokens", 1, 1 << 30, &n, e);
    if (r < 0) return -1;
    if (!r && p->kind == SRV_CHAT && get_int(o, "max_completion_tokens", 1, 1 << 30, &n, e) < 0) return -1;
    p->max_tokens = (int)n;
    return 0;
}

static int parse_stream(json_t *o, srv_params *p, srv_error *e)
{
    if (get_bool(o, "stream", &p->stream, e) < 0) return -1;
    json_t *v = json_object_get(o, "stream_options");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) return bad_type(e, "stream_options", "an object");
    if (!p->stream)
        return srv_fail(e, 400, INVALID, "invalid_value", "stream_options", "'stream_options' needs 'stream': true");
    json_t *u = json_object_get(v, "include_usage");
    if (u && !json_is_null(u) && !json_is_boolean(u)) return bad_type(e, "stream_options.include_usage", "a boolean");
    p->include_usage = u && json_is_true(u);
    return 0;
}

/* A list of token ids (each in [0, 2^31)); the model's vocabulary is checked later. */
static int parse_ids(json_t *a, srv_params *p, srv_error *e)
{
    const size_t n = json_array_size(a);
    if (n == 0) return srv_fail(e, 400, INVALID, "invalid_value", "prompt", "the prompt is empty");
    p->prompt_ids = malloc(n * sizeof *p->prompt_ids);
    if (!p->prompt_ids) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(a, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 0x7fffffff)
            return srv_fail(e, 400, INVALID, "invalid_type", "prompt",
                            "'prompt' as a list must hold token ids (non-negative integers)");
        p->prompt_ids[i] = (int)json_integer_value(t);
    }
    p->n_prompt_ids = (int)n;
    return 0;
}

static int parse_prompt(json_t *o, srv_params *p, srv_error *e)
{
    json_t *v = json_object_get(o, "prompt");
    if (!v || json_is_null(v)) return srv_fail(e, 400, INVALID, "missing_required_parameter", "prompt", "'prompt' is required");
    if (json_is_array(v)) {
        const size_t n = json_array_size(v);
        json_t *first = json_array_get(v, 0);
        if (n >= 1 && (json_is_string(first) || json_is_array(first))) {
            if (n > 1) return unsupported(e, "prompt", "more than one prompt per request");
            v = first;
            if (json_is_array(v)) return parse_ids(v, p, e);
        } else {
            return parse_ids(v, p, e);
        }
    }
    if (!json_is_string(v)) return bad_type(e, "prompt", "a string, a list of token ids, or a list of one of those");
    if (json_string_length(v) == 0) return srv_fail(e, 400, INVALID, "invalid_value", "prompt", "the prompt is empty");
    p->prompt_len = json_string_length(v);
    p->prompt = dup_n(json_string_value(v), p->prompt_len);
    return p->prompt ? 0 : srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

/* content: a string, or a list of {"type": "text", "text": ...} parts (joined). */
static int parse_content(json_t *c, srv_message *m, srv_error *e)
{
    if (json_is_string(c)) {
        m->content_len = json_string_length(c);
        m->content = dup_n(json_string_value(c), m->content_len);
        return m->content ? 0 : srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    if (json_is_null(c)) {
        m->content = dup_n("", 0);
        return m->content ? 0 : srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    if (!json_is_array(c)) return bad_type(e, "messages.content", "a string or a list of text parts");
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *t = json_is_object(part) ? json_object_get(part, "type") : NULL, *x = json_object_get(part, "text");
        if (!t || !json_is_string(t)) return bad_type(e, "messages.content", "a string or a list of text parts");
        if (strcmp(json_string_value(t), "text")) return unsupported(e, "messages.content", "a non-text content part");
        if (!json_is_string(x)) return bad_type(e, "messages.content.text", "a string");
        total += json_string_length(x);
    }
    m->content = malloc(total + 1);
    if (!m->content) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    json_array_foreach(c, i, part) {
        json_t *x = json_object_get(part, "text");
        memcpy(m->content + m->content_len, json_string_value(x), json_string_length(x));
        m->content_len += json_string_length(x);
    }
    m->content[m->content_len] = 0;
    return 0;
}

static int parse_messages(json_t *o, srv_params *p, srv_error *e)
{
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool"};
    json_t *v = json_object_get(o, "messages");
    if (!v || json_is_null(v)) return srv_fail(e, 400, INVALID, "missing_required_parameter", "messages", "'messages' is required");
    if (!json_is_array(v)) return bad_type(e, "messages", "an array of messages");
    const size_t n = json_array_size(v);
    if (n == 0) return srv_fail(e, 400, INVALID, "invalid_value", "messages", "'messages' is empty");
    if (n > 4096) return srv_fail(e, 400, INVALID, "invalid_value", "messages", "'messages' holds more than 4096 messages");
    p->messages = calloc(n, sizeof *p->messages);
    if (!p->messages) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i), *r = json_is_object(m) ? json_object_get(m, "role") : NULL;
        if (!json_is_object(m)) return bad_type(e, "messages", "an array of message objects");
        if (!r || !json_is_string(r)) return bad_type(e, "messages.role", "a string");
        size_t k = 0;
        while (k < sizeof roles / sizeof *roles && strcmp(roles[k], json_string_value(r))) k++;
        if (k == sizeof roles / sizeof *roles)
            return srv_fail(e, 400, INVALID, "invalid_value", "messages.role",
                            "message %zu: role '%.40s' is not one of system, developer, user, assistant, tool", i,
                            json_string_value(r));
        p->n_messages = (int)i + 1;
        p->messages[i].role = dup_n(roles[k], strlen(roles[k]));
        if (!p->messages[i].role) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        json_t *c = json_object_get(m, "content");
        if (!c) return srv_fail(e, 400, INVALID, "missing_required_parameter", "messages.content", "message %zu has no 'content'", i);
        if (parse_content(c, &p->messages[i], e) < 0) return -1;
    }
    return 0;
}

static int parse_object(srv_kind kind, json_t *o, srv_params *p, srv_error *e)
{
    json_t *v = json_object_get(o, "model");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) return bad_type(e, "model", "a string");
        p->model = dup_n(json_string_value(v), json_string_length(v));
        if (!p->model) return srv_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    if (kind == SRV_COMPLETION ? parse_prompt(o, p, e) : parse_messages(o, p, e)) return -1;
    if (parse_sampling(o, p, e) || parse_stop(o, p, e) || parse_stream(o, p, e)) return -1;
    return check_neutral(o, kind, e);
}

int srv_parse_request(srv_kind kind, const char *body, size_t len, srv_params *p, srv_error *err)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return srv_fail(err, 400, INVALID, "invalid_json", NULL, "the body is not valid JSON: %s (line %d, column %d)",
                        je.text, je.line, je.column);
    int rc = 0;
    if (!json_is_object(o)) rc = srv_fail(err, 400, INVALID, "invalid_json", NULL, "the body must be a JSON object");
    else rc = parse_object(kind, o, p, err);
    json_decref(o);
    if (rc) srv_params_free(p);
    return rc;
}

void srv_params_free(srv_params *p)
{
    free(p->model);
    free(p->prompt);
    free(p->prompt_ids);
    for (int i = 0; i < p->n_messages; i++) {
        free(p->messages[i].role);
        free(p->messages[i].content);
    }
    free(p->messages);
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    memset(p, 0, sizeof *p);
}
