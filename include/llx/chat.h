/* llx/chat.h - chat templates: render a list of messages into a prompt
 * with the model's tokenizer_config.json chat_template, as HF
 * transformers' apply_chat_template does (Jinja with trim_blocks and
 * lstrip_blocks), for the template shapes of the Llama 3 instruct family
 * and ChatML.
 *
 * The renderer understands the subset of Jinja these templates use (listed
 * in docs/chat.md): text, {{ }}, {% if/elif/else %}, {% for %} with loop.*,
 * {% set %} (also namespace attributes), break/continue, comments,
 * whitespace control, expressions with + ~ == != < > and or not in is,
 * subscripts and slices, a fixed set of filters, tests, methods and the
 * functions raise_exception, strftime_now, namespace, range.  Anything else
 * is refused when the template is parsed, with one line saying what, so a
 * server can answer 400 instead of rendering something wrong.
 *
 * The rendered text already holds the special tokens the template writes
 * (bos_token ...): tokenize it with llx_tokenize (no LLX_TOK_ADD_SPECIAL),
 * as apply_chat_template does.
 *
 * A parsed template is immutable and may be rendered from several threads. */
#ifndef LLX_CHAT_H
#define LLX_CHAT_H

#include <stddef.h>

#include "llx/status.h"
#include "llx/tokenizer.h"

typedef struct llx_chat_template llx_chat_template;

typedef struct llx_chat_msg {
    const char *role;    /* "system", "user", "assistant" ... */
    const char *content; /* NUL-terminated UTF-8 */
} llx_chat_msg;

/* Parse a template.  bos_token / eos_token are the strings the template
 * sees under those names (NULL = undefined).  Fails with LLX_ERR_UNSUPPORTED
 * (a construct outside the supported subset) or LLX_ERR_FORMAT (malformed),
 * with one line "chat template: line N: ...". */
llx_status llx_chat_template_parse(llx_chat_template **out, const char *source, size_t len, const char *bos_token,
                                   const char *eos_token);

/* The template of a loaded tokenizer (tokenizer_config.json chat_template,
 * with its bos/eos tokens).  *out is NULL with LLX_OK when the model has no
 * template; parse failures as above. */
llx_status llx_chat_template_of(llx_chat_template **out, const llx_tokenizer *t);

/* Parse source with the tokenizer's BOS / EOS token text as bos_token /
 * eos_token (how llx_chat_template_of parses the model's own template). */
llx_status llx_chat_template_parse_for(llx_chat_template **out, const char *source, size_t len, const llx_tokenizer *t);

void llx_chat_template_free(llx_chat_template *t); /* accepts NULL */

/* Template families (docs/chat.md).  "llama3": turns written as
 * <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|>; "chatml":
 * <|im_start|>ROLE\nTEXT<|im_end|>\n.
 *
 * The source of the built-in template of that name ("llama3": the Llama 3
 * instruct shape without tools; "chatml"), or NULL for any other name. */
const char *llx_chat_builtin(const char *name);
/* The family a template source belongs to, from the markers it writes
 * (all of the family's), or NULL when neither. */
const char *llx_chat_family(const char *source);
/* LLX_OK when tokenizer t carries family `name`: each marker is one special
 * token and the end-of-turn marker (<|eot_id|>, <|im_end|>) ends generation
 * (llx_tokenizer_is_eog).  Else LLX_ERR_UNSUPPORTED with one line naming
 * the token (LLX_ERR_ARG for an unknown family). */
llx_status llx_chat_check_tokenizer(const char *name, const llx_tokenizer *t);

/* Render msgs[0..n) into a new NUL-terminated string (free with free()).
 * add_generation_prompt is the template variable of that name.  Fails with
 * LLX_ERR_ARG when the template raises (raise_exception, e.g. roles that do
 * not alternate) or meets a value it cannot use; the message says why. */
llx_status llx_chat_render(const llx_chat_template *t, const llx_chat_msg *msgs, int n, int add_generation_prompt,
                           char **out);

/* Same, with the time strftime_now() reports (seconds since the epoch, UTC;
 * llx_chat_render uses the current local time). */
llx_status llx_chat_render_at(const llx_chat_template *t, const llx_chat_msg *msgs, int n, int add_generation_prompt,
                              long long now_utc, char **out);

#endif
