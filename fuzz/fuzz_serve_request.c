/* fuzz/fuzz_serve_request.c - OpenAI request bodies (serve/request.c):
 * every input is parsed or refused with an error object, never a crash or
 * leak; an accepted request satisfies the checks the server relies on.
 * The first byte picks the endpoint (even: completions, odd: chat). */
#include <string.h>

#include "fuzz.h"
#include "serve/request.h"
#include "serve/textout.h"

static void check_accepted(const srv_params *p)
{
    if (p->n_stop < 0 || p->n_stop > SRV_MAX_STOP) __builtin_trap();
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || p->stop_len[i] == 0) __builtin_trap();
    if (p->kind == SRV_COMPLETION && !p->prompt && !p->prompt_ids) __builtin_trap();
    if (p->kind == SRV_CHAT && (p->n_messages < 1 || !p->messages)) __builtin_trap();
    if (p->max_tokens < 0 || (p->stream == 0 && p->include_usage)) __builtin_trap();
    if (!p->so.greedy && !(p->so.temperature > 0 && p->so.top_p > 0 && p->so.top_p <= 1)) __builtin_trap();
    /* the stop matcher on the prompt text itself */
    if (p->prompt) {
        srv_textout t;
        srv_buf out = {0};
        srv_textout_init(&t, p->stop, p->stop_len, p->n_stop);
        for (size_t i = 0; i < p->prompt_len && !t.stopped; i += 3)
            srv_textout_push(&t, p->prompt + i, p->prompt_len - i < 3 ? p->prompt_len - i : 3, &out);
        srv_textout_finish(&t, &out);
        if (out.len > p->prompt_len * 3 + 3) __builtin_trap(); /* at most U+FFFD per byte */
        srv_textout_free(&t);
        srv_buf_free(&out);
    }
}

int llx_fuzz_serve_request(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const srv_kind kind = (data[0] & 1) ? SRV_CHAT : SRV_COMPLETION;
    srv_params p;
    srv_error e;
    if (srv_parse_request(kind, (const char *)data + 1, size - 1, &p, &e) == 0) {
        check_accepted(&p);
        srv_params_free(&p);
    } else if (e.http < 400 || e.http > 599 || !e.type || !e.msg[0] || !memchr(e.msg, 0, sizeof e.msg)) {
        __builtin_trap();
    }
    return 0;
}
