/* tests/test_chat_family.c - the chat template families the server uses
 * (llx_chat_builtin, llx_chat_family, llx_chat_check_tokenizer): the
 * built-in llama3 and chatml templates render the expected prompts, which
 * templates belong to which family, which tokenizers can carry them; and
 * what a generated token shows in a server reply (srv_token_visible). */
#include <stdlib.h>
#include <string.h>

#include "llx/chat.h"
#include "llx/tokenizer.h"
#include "serve/serve_internal.h"
#include "test.h"

#define FIXTURE "tests/fixtures/hf_tokenizer"

static char *render_builtin(const llx_tokenizer *tok, const char *name, const llx_chat_msg *m, int n)
{
    llx_chat_template *t = NULL;
    char *out = NULL;
    const char *src = llx_chat_builtin(name);
    CHECK(src != NULL);
    if (src && llx_chat_template_parse_for(&t, src, strlen(src), tok) == LLX_OK) llx_chat_render(t, m, n, 1, &out);
    else llx_test_note("%s: %s", name, llx_errmsg());
    llx_chat_template_free(t);
    return out;
}

TEST(chat_family_builtins_render, LLX_T_ASAN)
{
    llx_tokenizer *tok = NULL;
    CHECK(llx_tokenizer_load_hf(&tok, FIXTURE) == LLX_OK);
    if (!tok) return;
    const llx_chat_msg m[] = {{"system", "Be brief."}, {"user", "  Hi there \n"}, {"assistant", "Hello."}, {"user", "Bye"}};
    char *a = render_builtin(tok, "llama3", m, 4), *b = render_builtin(tok, "chatml", m, 4);
    /* llama3: BOS first, contents trimmed */
    CHECK_MSG(a && !strcmp(a, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                              "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                              "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                              "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                              "<|start_header_id|>assistant<|end_header_id|>\n\n"),
              "%s", a ? a : "(null)");
    CHECK_MSG(b && !strcmp(b, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  Hi there \n<|im_end|>\n"
                              "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
                              "<|im_start|>assistant\n"),
              "%s", b ? b : "(null)");
    free(a), free(b);
    CHECK(llx_chat_builtin("llama-3") == NULL && llx_chat_builtin("") == NULL && llx_chat_builtin(NULL) == NULL);
    llx_tokenizer_free(tok);
}

TEST(chat_family_recognised, LLX_T_ASAN)
{
    CHECK(!strcmp(llx_chat_family(llx_chat_builtin("llama3")), "llama3"));
    CHECK(!strcmp(llx_chat_family(llx_chat_builtin("chatml")), "chatml"));
    llx_tokenizer *tok = NULL;
    CHECK(llx_tokenizer_load_hf(&tok, FIXTURE) == LLX_OK);
    const char *own = tok ? llx_tokenizer_chat_template(tok) : NULL;
    CHECK(own && llx_chat_family(own) && !strcmp(llx_chat_family(own), "chatml"));
    llx_tokenizer_free(tok);
    CHECK(llx_chat_family("{% for m in messages %}{{ m['content'] }}{% endfor %}") == NULL);
    CHECK(llx_chat_family("{{ '<|im_start|>' + messages[0]['content'] }}") == NULL); /* no end marker */
    CHECK(llx_chat_family("<|start_header_id|>{{ x }}<|end_header_id|>") == NULL);   /* no <|eot_id|> */
    CHECK(llx_chat_family(NULL) == NULL);
    /* the Llama 3 instruct template as shipped */
    const char *tl = llx_test_shared("models/tinyllama-shakespeare");
    if (!tl) SKIP("no ../shared/models/tinyllama-shakespeare");
    tok = NULL;
    CHECK(llx_tokenizer_load_hf(&tok, tl) == LLX_OK);
    own = tok ? llx_tokenizer_chat_template(tok) : NULL;
    CHECK(own && llx_chat_family(own) && !strcmp(llx_chat_family(own), "llama3"));
    CHECK(tok && llx_chat_check_tokenizer("llama3", tok) == LLX_OK);
    llx_tokenizer_free(tok);
}

TEST(chat_family_fits_tokenizer, LLX_T_ASAN)
{
    llx_tokenizer *hf = NULL, *gpt2 = NULL;
    CHECK(llx_tokenizer_load_hf(&hf, FIXTURE) == LLX_OK);
    CHECK(llx_tokenizer_load_dir(&gpt2, "tests/models/mini-shakespeare") == LLX_OK);
    if (!hf || !gpt2) goto out;
    CHECK(llx_chat_check_tokenizer("chatml", hf) == LLX_OK);
    /* the fixture has <|eot_id|> but not the header tokens */
    CHECK(llx_chat_check_tokenizer("llama3", hf) == LLX_ERR_UNSUPPORTED &&
          strstr(llx_errmsg(), "the llama3 chat template needs the special token <|start_header_id|>, which the tokenizer lacks"));
    CHECK(llx_chat_check_tokenizer("chatml", gpt2) == LLX_ERR_UNSUPPORTED &&
          strstr(llx_errmsg(), "needs the special token <|im_start|>"));
    CHECK(llx_chat_check_tokenizer("zephyr", hf) == LLX_ERR_ARG && strstr(llx_errmsg(), "unknown chat template family 'zephyr'"));
out:
    llx_tokenizer_free(hf);
    llx_tokenizer_free(gpt2);
}

static int id_of(const llx_tokenizer *t, const char *s) { return llx_tokenizer_find(t, s, strlen(s)); }

TEST(chat_family_reply_tokens, LLX_T_ASAN)
{
    llx_tokenizer *hf = NULL, *gpt2 = NULL;
    CHECK(llx_tokenizer_load_hf(&hf, FIXTURE) == LLX_OK);
    CHECK(llx_tokenizer_load_dir(&gpt2, "tests/models/mini-shakespeare") == LLX_OK);
    if (!hf || !gpt2) goto out;
    const char *b = NULL;
    size_t n = 99;
    /* end-of-generation ids end the reply */
    static const char *const eog[] = {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>"};
    for (int i = 0; i < 3; i++) CHECK_MSG(id_of(hf, eog[i]) >= 0 && srv_token_visible(hf, id_of(hf, eog[i]), &b, &n) == 1, "%s", eog[i]);
    /* other special tokens show nothing */
    static const char *const hidden[] = {"<|im_start|>", "<|begin_of_text|>"};
    for (int i = 0; i < 2; i++) {
        n = 99;
        CHECK_MSG(id_of(hf, hidden[i]) >= 0 && srv_token_visible(hf, id_of(hf, hidden[i]), &b, &n) == 0 && n == 0 && b,
                  "%s", hidden[i]);
    }
    /* ordinary tokens show their bytes */
    const int a = id_of(hf, "a");
    CHECK(a >= 0 && srv_token_visible(hf, a, &b, &n) == 0 && n == 1 && b[0] == 'a');
    const int eot = id_of(gpt2, "<|endoftext|>");
    CHECK(eot >= 0 && srv_token_visible(gpt2, eot, &b, &n) == 1);
    const int the = id_of(gpt2, "the");
    CHECK(the >= 0 && srv_token_visible(gpt2, the, &b, &n) == 0 && n == 3 && !memcmp(b, "the", 3));
out:
    llx_tokenizer_free(hf);
    llx_tokenizer_free(gpt2);
}
