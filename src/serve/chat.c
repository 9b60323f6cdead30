/* serve/chat.c - chat requests: the chat template picked when a model is
 * attached (--chat-template, else the model's tokenizer_config.json
 * chat_template; either must be of the Llama 3 instruct family or ChatML,
 * parse with llx/chat.h and fit the tokenizer), messages rendered with
 * add_generation_prompt as transformers' apply_chat_template does, and what
 * each generated token shows: nothing for special tokens, the end for
 * end-of-generation ids.  Without a usable template, chat requests answer
 * 400 saying why; completions still work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/chat.h"
#include "serve/serve_internal.h"
#include "util/status.h"

static llx_status pick(llx_server *s, const char *src, const llx_tokenizer *tok)
{
    const char *fam = llx_chat_family(src);
    if (!fam)
        return llx_fail(LLX_ERR_UNSUPPORTED, "the chat template is neither of the Llama 3 instruct family nor ChatML "
                                             "(looplynx serve --chat-template llama3|chatml|FILE picks one)");
    LLX_TRY(llx_chat_check_tokenizer(fam, tok));
    LLX_TRY(llx_chat_template_parse_for(&s->tpl, src, strlen(src), tok));
    s->tpl_family = fam;
    return LLX_OK;
}

llx_status srv_chat_init(llx_server *s, const llx_tokenizer *tok)
{
    llx_chat_template_free(s->tpl);
    s->tpl = NULL;
    s->tpl_family = NULL;
    s->tpl_err[0] = 0;
    if (s->tpl_source) return pick(s, s->tpl_source, tok); /* the operator's choice must work */
    const char *own = llx_tokenizer_chat_template(tok);
    if (own && pick(s, own, tok) != LLX_OK)
        snprintf(s->tpl_err, sizeof s->tpl_err, "the model's chat template cannot be used: %s", llx_errmsg());
    return LLX_OK;
}

void srv_chat_free(llx_server *s)
{
    llx_chat_template_free(s->tpl);
    free(s->tpl_source);
    s->tpl = NULL;
    s->tpl_source = NULL;
}

const char *llx_server_chat_template(const llx_server *s, const char **why)
{
    if (why) *why = s->tpl_err[0] ? s->tpl_err : NULL;
    return s->tpl_family;
}

int srv_chat_prompt(const llx_server *s, const srv_message *msgs, int n, char **text, size_t *len, srv_error *err)
{
    *text = NULL;
    *len = 0;
    if (!s->tpl && s->tpl_err[0])
        return srv_fail(err, 400, "invalid_request_error", "chat_template_unsupported", "messages", "%s", s->tpl_err);
    if (!s->tpl)
        return srv_fail(err, 400, "invalid_request_error", "chat_template_missing", "messages",
                        "the model '%s' has no chat template; use /v1/completions with a plain prompt, or start the "
                        "server with --chat-template",
                        s->model_id);
    for (int i = 0; i < n; i++)
        if (memchr(msgs[i].content, 0, msgs[i].content_len))
            return srv_fail(err, 400, "invalid_request_error", "invalid_value", "messages.content",
                            "message %d: the content holds a NUL character", i);
    llx_chat_msg *m = malloc((size_t)(n > 0 ? n : 1) * sizeof *m);
    if (!m) return srv_fail(err, 500, "server_error", NULL, NULL, "out of memory");
    for (int i = 0; i < n; i++) m[i] = (llx_chat_msg){msgs[i].role, msgs[i].content};
    const llx_status st = llx_chat_render(s->tpl, m, n, 1, text);
    free(m);
    if (st == LLX_ERR_ARG) /* the template refused the messages (raise_exception ...) */
        return srv_fail(err, 400, "invalid_request_error", "invalid_value", "messages", "%s", llx_errmsg());
    if (st != LLX_OK) return srv_fail(err, 500, "server_error", NULL, NULL, "%s", llx_errmsg());
    *len = strlen(*text);
    return 0;
}

int srv_token_visible(const llx_tokenizer *t, int id, const char **bytes, size_t *n)
{
    *bytes = "";
    *n = 0;
    if (llx_tokenizer_is_eog(t, id)) return 1;
    if (llx_tokenizer_is_special(t, id)) return 0;
    const char *b = llx_token_bytes(t, id, n);
    if (b) *bytes = b;
    else *n = 0;
    return 0;
}
