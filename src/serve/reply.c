/* serve/reply.c - the JSON the server answers with: OpenAI completion and
 * chat objects, their stream chunks (server-sent events), error objects
 * and the model list. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

const char *srv_finish_name(srv_finish f)
{
    switch (f) {
    case FIN_STOP: return "stop";
    case FIN_LENGTH: return "length";
    case FIN_CANCELLED: return "cancelled";
    case FIN_ERROR: return "error";
    default: return NULL;
    }
}

static char *dump(json_t *o, size_t *len, int sse)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return NULL;
    if (!sse) {
        *len = strlen(s);
        return s;
    }
    const size_t n = strlen(s);
    char *e = malloc(n + 9);
    if (e) {
        memcpy(e, "data: ", 6);
        memcpy(e + 6, s, n);
        memcpy(e + 6 + n, "\n\n", 3);
        *len = n + 8;
    }
    free(s);
    return e;
}

char *srv_reply_error(const srv_error *e, size_t *len)
{
    json_t *err = json_pack("{s:s, s:s, s:s?, s:s?}", "message", e->msg, "type", e->type ? e->type : "server_error",
                            "param", e->param[0] ? e->param : NULL, "code", e->code);
    return dump(err ? json_pack("{s:o}", "error", err) : NULL, len, 0);
}

/* text is well-formed UTF-8 (textout.c); the length-checked constructor
 * still refuses anything else rather than emit invalid JSON */
static json_t *str_n(const char *s, size_t n) { return json_stringn(s ? s : "", s ? n : 0); }

static json_t *head(const llx_server *s, const srv_job *j, const char *object)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", j->id, "object", object, "created", (json_int_t)j->created,
                     "model", s->model_id);
}

static json_t *usage(const srv_job *j)
{
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", j->n_prompt, "completion_tokens", j->n_completion,
                     "total_tokens", j->n_prompt + j->n_completion);
}

char *srv_reply_final(const llx_server *s, const srv_job *j, size_t *len)
{
    const int chat = j->p.kind == SRV_CHAT;
    json_t *o = head(s, j, chat ? "chat.completion" : "text_completion"), *choice;
    json_t *text = str_n(j->text.p, j->text.len);
    if (chat)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:n, s:s}", "index", 0, "message", "role", "assistant", "content", text,
                           "logprobs", "finish_reason", srv_finish_name(j->finish));
    else
        choice = json_pack("{s:o, s:i, s:n, s:s}", "text", text, "index", 0, "logprobs", "finish_reason",
                           srv_finish_name(j->finish));
    if (o && choice) {
        json_object_set_new(o, "choices", json_pack("[o]", choice));
        json_object_set_new(o, "usage", usage(j));
    } else {
        json_decref(choice);
        json_decref(o);
        o = NULL;
    }
    return dump(o, len, 0);
}

char *srv_reply_chunk(const llx_server *s, const srv_job *j, const char *text, size_t n, int first, size_t *len)
{
    const int chat = j->p.kind == SRV_CHAT;
    const char *fin = text ? NULL : srv_finish_name(j->finish);
    json_t *o = head(s, j, chat ? "chat.completion.chunk" : "text_completion"), *choice;
    if (chat) {
        json_t *delta = json_object();
        if (first) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", str_n(text, n));
        choice = json_pack("{s:i, s:o, s:n, s:s?}", "index", 0, "delta", delta, "logprobs", "finish_reason", fin);
    } else {
        choice = json_pack("{s:o, s:i, s:n, s:s?}", "text", str_n(text, n), "index", 0, "logprobs", "finish_reason", fin);
    }
    if (o && choice) json_object_set_new(o, "choices", json_pack("[o]", choice));
    else {
        json_decref(choice);
        json_decref(o);
        o = NULL;
    }
    return dump(o, len, 1);
}

char *srv_reply_usage_chunk(const llx_server *s, const srv_job *j, size_t *len)
{
    json_t *o = head(s, j, j->p.kind == SRV_CHAT ? "chat.completion.chunk" : "text_completion");
    if (o) {
        json_object_set_new(o, "choices", json_array());
        json_object_set_new(o, "usage", usage(j));
    }
    return dump(o, len, 1);
}

char *srv_reply_models(const llx_server *s, size_t *len)
{
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data", "id", s->model_id, "object",
                          "model", "created", 0, "owned_by", "looplynx"),
                len, 0);
}
