/* serve/request.h - an OpenAI request body, parsed and validated.
 *
 * srv_parse_request turns the JSON body of /v1/completions or
 * /v1/chat/completions into srv_params, or fills an srv_error (HTTP status,
 * OpenAI error type, offending parameter, one-line message).  It needs no
 * model: checks against the model (the name, the context, token ids) are
 * the server's. */
#ifndef LLX_SERVE_REQUEST_H
#define LLX_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "llx/engine.h"

#define SRV_MAX_STOP 4 /* stop sequences per request (the OpenAI limit) */

typedef enum srv_kind { SRV_COMPLETION = 0, SRV_CHAT = 1 } srv_kind;

typedef struct srv_error {
    int http;          /* 400, 401, 404, 405, 413, 500, 503 */
    const char *type;  /* "invalid_request_error", "authentication_error", "server_error", ... */
    const char *code;  /* NULL or e.g. "model_not_found", "context_length_exceeded" */
    char param[64];    /* the offending field or "" */
    char msg[480];
} srv_error;

/* Fill e and return -1 (for `return srv_fail(...)`). */
int srv_fail(srv_error *e, int http, const char *type, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

typedef struct srv_message {
    char *role;     /* system, user, assistant, developer, tool */
    char *content;  /* text parts joined */
    size_t content_len;
} srv_message;

typedef struct srv_params {
    srv_kind kind;
    char *model;               /* NULL when absent */
    char *prompt;              /* completion prompt text (NULL when given as ids) */
    size_t prompt_len;
    int *prompt_ids;           /* completion prompt as token ids */
    int n_prompt_ids;
    srv_message *messages;     /* chat */
    int n_messages;
    int max_tokens;            /* 0: not given */
    llx_sampler_opts so;       /* greedy when temperature is 0 */
    int seed_set;
    char *stop[SRV_MAX_STOP];
    size_t stop_len[SRV_MAX_STOP];
    int n_stop;
    int stream, include_usage;
} srv_params;

/* Parse len bytes of body.  Returns 0, or -1 with *err filled (then p holds
 * nothing to free). */
int srv_parse_request(srv_kind kind, const char *body, size_t len, srv_params *p, srv_error *err);
void srv_params_free(srv_params *p);

#endif
