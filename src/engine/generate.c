/* engine/generate.c - prompt prefill then token-by-token decode, streaming
 * whole UTF-8 characters to a callback. */
#include <stdlib.h>
#include <string.h>

#include "llx/engine.h"
#include "util/status.h"
#include "util/timer.h"

void llx_generation_free(llx_generation *g)
{
    free(g->tokens);
    memset(g, 0, sizeof *g);
}

/* The end of generation: the tokenizer's end ids (Llama 3: <|eot_id|>,
 * <|end_of_text|>, ...), and GPT-2's <|endoftext|> id as before. */
static int is_end(const llx_tokenizer *tok, int id)
{
    return llx_tokenizer_is_eog(tok, id) || (!llx_tokenizer_is_hf(tok) && id == LLX_EOT_TOKEN);
}

/* Special added tokens and the end token print nothing. */
static int emit(const llx_gen_hooks *h, const llx_tokenizer *tok, llx_utf8_stream *us, int id)
{
    size_t n = 0;
    const char *b = is_end(tok, id) || llx_tokenizer_is_special(tok, id) ? "" : llx_token_bytes(tok, id, &n);
    char buf[1024];
    if (!b || n + 4 > sizeof buf) b = "", n = 0;
    size_t m = llx_utf8_stream_push(us, b, n, buf);
    return h && h->on_token ? h->on_token(h->ud, id, buf, m) : 0;
}

llx_status llx_generate(llx_engine *e, const llx_tokenizer *tok, const int *prompt, int n_prompt, int n_gen,
                        llx_sampler *s, const llx_gen_hooks *hooks, llx_generation *out)
{
    memset(out, 0, sizeof *out);
    if (n_prompt < 1) return llx_fail(LLX_ERR_ARG, "the prompt is empty");
    if (n_gen < 1) return llx_fail(LLX_ERR_ARG, "nothing to generate (-n must be at least 1)");
    const int cap = llx_engine_max_ctx(e) - llx_engine_pos(e);
    if (n_prompt > cap)
        return llx_fail(LLX_ERR_ARG, "the prompt (%d tokens) does not fit the context of %d tokens", n_prompt, cap);
    /* the last generated token is never fed back, so n_prompt + k - 1
     * positions hold k generated tokens: at most cap - n_prompt + 1 fit */
    const int room = cap - n_prompt + 1;
    const int n_max = n_gen < room ? n_gen : room;
    const int V = llx_engine_config(e)->n_vocab;
    out->tokens = malloc((size_t)n_max * sizeof *out->tokens);
    float *logits = malloc((size_t)V * sizeof *logits);
    llx_status st = LLX_OK;
    if (!out->tokens || !logits) {
        free(logits);
        llx_generation_free(out);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    llx_utf8_stream us = {{0}, 0};
    double t0 = llx_now_s();
    st = llx_engine_forward(e, prompt, n_prompt, logits, 0);
    out->prefill_s = llx_now_s() - t0;
    t0 = llx_now_s();
    while (st == LLX_OK) {
        if (hooks && hooks->on_logits) hooks->on_logits(hooks->ud, logits, V);
        const int id = llx_sample(s, logits);
        out->tokens[out->n_tokens++] = id;
        const int stop = emit(hooks, tok, &us, id);
        if (is_end(tok, id)) {
            out->stopped_eot = 1;
            break;
        }
        if (stop) break;
        if (out->n_tokens == n_max) {
            out->stopped_length = n_max < n_gen;
            break;
        }
        st = llx_engine_forward(e, &id, 1, logits, 0);
        out->decode_passes++;
    }
    out->decode_s = llx_now_s() - t0;
    char tail[8];
    size_t m = llx_utf8_stream_flush(&us, tail);
    if (m && hooks && hooks->on_token) hooks->on_token(hooks->ud, -1, tail, m);
    free(logits);
    if (st != LLX_OK) llx_generation_free(out);
    return st;
}
