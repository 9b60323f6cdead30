/* serve/chat.c - chat messages to a prompt, through the model's chat
 * template (tokenizer_config.json).  The template renderer lives with the
 * tokenizer; until a model carries a template this answers 400. */
#include "serve/serve_internal.h"

int srv_chat_prompt(const llx_model *m, const srv_message *msgs, int n, char **text, size_t *len, srv_error *err)
{
    (void)msgs;
    (void)n;
    *text = NULL;
    *len = 0;
    return srv_fail(err, 400, "invalid_request_error", "chat_template_missing", "messages",
                    "the model '%s' has no chat template; use /v1/completions with a plain prompt",
                    llx_model_path(m));
}
