/* tokenizer/chat_family.c - the chat template families a server can use:
 * the built-in templates `looplynx serve --chat-template` names (written
 * for this project in the shapes of the Llama 3 instruct family without
 * tools, and of ChatML), recognising which family a template belongs to,
 * and checking that a tokenizer carries the family's markers as special
 * tokens, with the end-of-turn marker among its end-of-generation ids. */
#include <string.h>

#include "llx/chat.h"
#include "util/status.h"

typedef struct family {
    const char *name, *source;
    const char *markers[4]; /* special tokens the template writes; the last ends a turn */
    int n_markers;
} family;

static const family FAMILIES[] = {
    {"llama3",
     "{{- bos_token }}"
     "{%- for message in messages %}"
     "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
     "{%- endfor %}"
     "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
     {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"},
     3},
    {"chatml",
     "{%- for message in messages %}"
     "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
     "{%- endfor %}"
     "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
     {"<|im_start|>", "<|im_end|>"},
     2},
};
#define N_FAMILIES ((int)(sizeof FAMILIES / sizeof *FAMILIES))

static const family *by_name(const char *name)
{
    for (int i = 0; name && i < N_FAMILIES; i++)
        if (!strcmp(FAMILIES[i].name, name)) return &FAMILIES[i];
    return NULL;
}

const char *llx_chat_builtin(const char *name)
{
    const family *f = by_name(name);
    return f ? f->source : NULL;
}

const char *llx_chat_family(const char *source)
{
    for (int i = 0; source && i < N_FAMILIES; i++) {
        int all = 1;
        for (int k = 0; k < FAMILIES[i].n_markers; k++) all &= strstr(source, FAMILIES[i].markers[k]) != NULL;
        if (all) return FAMILIES[i].name;
    }
    return NULL;
}

llx_status llx_chat_check_tokenizer(const char *name, const llx_tokenizer *t)
{
    const family *f = by_name(name);
    if (!f) return llx_fail(LLX_ERR_ARG, "unknown chat template family '%s' (llama3 or chatml)", name ? name : "");
    for (int k = 0; k < f->n_markers; k++) {
        const char *m = f->markers[k];
        const int id = llx_tokenizer_find(t, m, strlen(m));
        if (id < 0 || !llx_tokenizer_is_special(t, id))
            return llx_fail(LLX_ERR_UNSUPPORTED, "the %s chat template needs the special token %s, which the tokenizer lacks",
                            f->name, m);
        if (k == f->n_markers - 1 && !llx_tokenizer_is_eog(t, id))
            return llx_fail(LLX_ERR_UNSUPPORTED, "the %s chat template ends turns with %s, which does not end generation",
                            f->name, m);
    }
    return LLX_OK;
}
