/* tests/test_serve_chat.c - chat completions of `looplynx serve` driven
 * with curl: a model whose tokenizer.json carries the Llama 3 and ChatML
 * markers (tests/serveutil.c), served with its own ChatML template, with
 * --chat-template llama3 and with a template file.  A chat answer equals
 * the completion of the rendered prompt's token ids (so the server renders
 * and tokenizes as the library does, special tokens included), streams the
 * same text, stops on end-of-generation tokens without showing special
 * tokens; bad message arrays, roles a template refuses and unusable
 * templates are 400 error objects; bad --chat-template values stop the
 * server with one line.  The shared tinyllama-shakespeare (skipped without
 * ../shared) chats through its own Llama 3 template, and a copy of it that
 * says <|eot_id|> where it would say "," ends its answer there. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "llx/chat.h"
#include "model/half.h"
#include "llx/tokenizer.h"
#include "serveutil.h"

/* ChatML that refuses roles out of turn, as many models' templates do. */
#define ALTERNATING                                                                                                    \
    "{%- for message in messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"                    \
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}"        \
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}"              \
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"

#define MESSAGES "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Name a ring.\"}]"

static const char *const SPECIALS[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>",
                                       "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>"};

static int start_chat(llx_serve_proc *p, const char *name, const char *tmpl, const char *flag, const char *value)
{
    const char *m = llx_serve_model_chat(name, tmpl);
    return m && llx_serve_start(p, m, 60, "-t", "1", "--alias", "chat", flag, value, NULL);
}

static void stop_clean(llx_serve_proc *p)
{
    CHECK_EQ_INT(llx_serve_stop(p, SIGTERM, 30), 0);
    CHECK_MSG(llx_serve_clean(p), "server stderr: %.600s", p->err);
}

/* The token ids the library makes of MESSAGES with template source src and
 * the tokenizer of model dir (rendered text checked against want), as a
 * JSON list; NULL when anything failed (noted). */
static char *rendered_ids(const char *dir, const char *src, const char *want)
{
    llx_tokenizer *tok = NULL;
    llx_chat_template *t = NULL;
    char *text = NULL, *list = NULL;
    int *ids = NULL, n = 0;
    const llx_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Name a ring."}};
    if (llx_tokenizer_load_dir(&tok, dir) != LLX_OK || llx_chat_template_parse_for(&t, src, strlen(src), tok) != LLX_OK ||
        llx_chat_render(t, msgs, 2, 1, &text) != LLX_OK || llx_tokenize_ex(tok, text, strlen(text), 0, &ids, &n) != LLX_OK) {
        llx_test_note("render: %s", llx_errmsg());
    } else {
        CHECK_MSG(!strcmp(text, want), "rendered %s", text);
        size_t cap = 16 + (size_t)n * 12, len = 0;
        list = malloc(cap);
        len += (size_t)snprintf(list + len, cap - len, "[");
        for (int i = 0; i < n; i++) len += (size_t)snprintf(list + len, cap - len, "%s%d", i ? "," : "", ids[i]);
        snprintf(list + len, cap - len, "]");
    }
    free(ids), free(text);
    llx_chat_template_free(t);
    llx_tokenizer_free(tok);
    return list;
}

static int has_special(const char *s)
{
    for (size_t i = 0; s && i < sizeof SPECIALS / sizeof *SPECIALS; i++)
        if (strstr(s, SPECIALS[i])) return 1;
    return 0;
}

/* A greedy chat answer equals the greedy completion of `ids` (the rendered
 * prompt): same text, finish reason and token counts; and streams the same. */
static void chat_equals_completion(const llx_serve_proc *p, const char *ids)
{
    char *chat = NULL, *cmpl = NULL, *sse = NULL, body[4096];
    CHECK_EQ_INT(llx_http(p, "POST", "/v1/chat/completions",
                          "{\"model\": \"chat\", \"messages\": " MESSAGES ", \"max_tokens\": 8, \"temperature\": 0}", NULL,
                          &chat),
                 200);
    snprintf(body, sizeof body, "{\"prompt\": %s, \"max_tokens\": 8, \"temperature\": 0}", ids ? ids : "[1]");
    CHECK_EQ_INT(llx_http(p, "POST", "/v1/completions", body, NULL, &cmpl), 200);
    json_t *a = llx_json_parse(chat), *b = llx_json_parse(cmpl);
    const char *content = llx_jstr(a, "choices.0.message.content"), *text = llx_jstr(b, "choices.0.text");
    const char *fa = llx_jstr(a, "choices.0.finish_reason"), *fb = llx_jstr(b, "choices.0.finish_reason");
    CHECK(a && llx_jstr(a, "object") && !strcmp(llx_jstr(a, "object"), "chat.completion"));
    CHECK(a && llx_jstr(a, "id") && !strncmp(llx_jstr(a, "id"), "chatcmpl-", 9));
    CHECK(a && llx_jstr(a, "choices.0.message.role") && !strcmp(llx_jstr(a, "choices.0.message.role"), "assistant"));
    CHECK_MSG(content && text && !strcmp(content, text), "chat '%s' vs completion '%s'", content ? content : "(null)",
              text ? text : "(null)");
    CHECK(fa && fb && !strcmp(fa, fb));
    CHECK(!has_special(content));
    CHECK(llx_jint(a, "usage.prompt_tokens") > 10);
    CHECK_EQ_INT(llx_jint(a, "usage.prompt_tokens"), llx_jint(b, "usage.prompt_tokens"));
    CHECK_EQ_INT(llx_jint(a, "usage.completion_tokens"), llx_jint(b, "usage.completion_tokens"));
    /* streamed: the first chunk names the role, the deltas add up to the same text */
    CHECK_EQ_INT(llx_http(p, "POST", "/v1/chat/completions",
                          "{\"model\": \"chat\", \"messages\": " MESSAGES ", \"max_tokens\": 8, \"temperature\": 0, "
                          "\"stream\": true, \"stream_options\": {\"include_usage\": true}}",
                          NULL, &sse),
                 200);
    int chunks = 0;
    const char *finish = NULL;
    long long used = -1;
    char *streamed = sse ? llx_sse_text(sse, &chunks, &finish, &used) : NULL;
    CHECK_MSG(streamed && content && !strcmp(streamed, content), "streamed '%s'", streamed ? streamed : "(null)");
    CHECK(finish && fa && !strcmp(finish, fa));
    CHECK_EQ_INT(used, llx_jint(a, "usage.completion_tokens"));
    CHECK(sse && strstr(sse, "chat.completion.chunk"));
    const char *first = sse ? strstr(sse, "data: ") : NULL;
    CHECK(first && strstr(first, "\"role\"") && strstr(first, "assistant") && strstr(first, "\"role\"") < strchr(first, '\n'));
    free(streamed);
    json_decref(a), json_decref(b);
    free(chat), free(cmpl), free(sse);
}

TEST(serve_chat_model_template, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_chat(&p, "serve-chat-chatml", LLX_TEST_CHATML, NULL, NULL)) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "chat template chatml"), "ready line: %s", p.out);
    char *ids = rendered_ids(llx_serve_model_chat("serve-chat-chatml", LLX_TEST_CHATML), LLX_TEST_CHATML,
                             "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a ring.<|im_end|>\n"
                             "<|im_start|>assistant\n");
    CHECK(ids != NULL);
    chat_equals_completion(&p, ids);
    free(ids);
    /* text parts are joined: the same prompt as one string */
    char *a = NULL, *b = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Name a \"}, "
                          "{\"type\": \"text\", \"text\": \"ring.\"}]}], \"max_tokens\": 4, \"temperature\": 0}",
                          NULL, &a),
                 200);
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"Name a ring.\"}], \"max_tokens\": 4, "
                          "\"temperature\": 0}",
                          NULL, &b),
                 200);
    json_t *ja = llx_json_parse(a), *jb = llx_json_parse(b);
    CHECK(llx_jint(ja, "usage.prompt_tokens") > 0 && llx_jint(ja, "usage.prompt_tokens") == llx_jint(jb, "usage.prompt_tokens"));
    CHECK(llx_jstr(ja, "choices.0.message.content") && llx_jstr(jb, "choices.0.message.content") &&
          !strcmp(llx_jstr(ja, "choices.0.message.content"), llx_jstr(jb, "choices.0.message.content")));
    json_decref(ja), json_decref(jb);
    free(a), free(b);
    stop_clean(&p);
}

/* Sampled chats until one ends on an end-of-generation token (no stop
 * sequences: "stop" can only come from one); none shows special text. */
TEST(serve_chat_stops_on_end_of_generation, LLX_T_ASAN)
{
    llx_serve_proc p;
    if (!start_chat(&p, "serve-chat-chatml", LLX_TEST_CHATML, NULL, NULL)) {
        CHECK(0);
        return;
    }
    int stopped = 0;
    for (int seed = 1; seed <= 60 && !stopped; seed++) {
        char body[512], *out = NULL;
        snprintf(body, sizeof body,
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 48, \"temperature\": 2, "
                 "\"seed\": %d}",
                 seed);
        CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions", body, NULL, &out), 200);
        json_t *j = llx_json_parse(out);
        const char *fin = llx_jstr(j, "choices.0.finish_reason"), *text = llx_jstr(j, "choices.0.message.content");
        CHECK(fin && text && !has_special(text));
        if (fin && !strcmp(fin, "stop")) {
            stopped = 1;
            CHECK(llx_jint(j, "usage.completion_tokens") < 48);
        }
        json_decref(j);
        free(out);
    }
    CHECK_MSG(stopped, "no sampled chat ended on an end-of-generation token in 60 seeds");
    stop_clean(&p);
}

typedef struct bad_chat {
    const char *body;
    const char *code, *param, *msg;
} bad_chat;

TEST(serve_chat_bad_messages, LLX_T_ASAN | LLX_T_TSAN)
{
    llx_serve_proc p;
    if (!start_chat(&p, "serve-chat-chatml", LLX_TEST_CHATML, NULL, NULL)) {
        CHECK(0);
        return;
    }
    static const bad_chat cases[] = {
        {"{}", "missing_required_parameter", "messages", "'messages' is required"},
        {"{\"messages\": []}", "invalid_value", "messages", "'messages' is empty"},
        {"{\"messages\": \"hi\"}", "invalid_type", "messages", "an array"},
        {"{\"messages\": [5]}", "invalid_type", "messages", "message objects"},
        {"{\"messages\": [{\"content\": \"hi\"}]}", "invalid_type", "messages.role", "a string"},
        {"{\"messages\": [{\"role\": 3, \"content\": \"hi\"}]}", "invalid_type", "messages.role", "a string"},
        {"{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "invalid_value", "messages.role", "role 'wizard' is not one of"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"User\", \"content\": \"x\"}]}", "invalid_value", "messages.role", "message 1: role 'User'"},
        {"{\"messages\": [{\"role\": \"user\"}]}", "missing_required_parameter", "messages.content", "has no 'content'"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "invalid_type", "messages.content", "a string or a list of text parts"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}", "unsupported_parameter", "messages.content", "a non-text content part"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\\u0000b\"}]}", "invalid_json", NULL, "\\u0000 is not allowed"},
        {"{\"messages\": " MESSAGES ", \"max_tokens\": 1000}", "context_length_exceeded", "max_tokens", "context is 256"},
        {"{\"messages\": " MESSAGES ", \"model\": \"other\"}", "model_not_found", "model", "does not exist"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]", "invalid_json", NULL, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        const int code = llx_http(&p, "POST", "/v1/chat/completions", cases[i].body, NULL, &out);
        const int want = !strcmp(cases[i].code, "model_not_found") ? 404 : 400;
        json_t *j = llx_json_parse(out);
        const char *msg = llx_jstr(j, "error.message"), *c = llx_jstr(j, "error.code"), *param = llx_jstr(j, "error.param");
        CHECK_MSG(code == want, "case %zu: status %d: %.200s", i, code, out ? out : "");
        CHECK_MSG(msg && strstr(msg, cases[i].msg), "case %zu: message '%s' lacks '%s'", i, msg ? msg : "", cases[i].msg);
        CHECK_MSG(c && !strcmp(c, cases[i].code), "case %zu: code '%s'", i, c ? c : "");
        CHECK_MSG(cases[i].param ? param && !strcmp(param, cases[i].param) : !param, "case %zu: param '%s'", i,
                  param ? param : "(null)");
        CHECK_MSG(llx_jstr(j, "error.type") != NULL, "case %zu: no error.type", i);
        json_decref(j);
        free(out);
    }
    /* still serving */
    char *ok = NULL, *metrics = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions", "{\"messages\": " MESSAGES ", \"max_tokens\": 2}", NULL, &ok), 200);
    CHECK_EQ_INT(llx_http(&p, "GET", "/metrics", NULL, NULL, &metrics), 200);
    CHECK_EQ_INT(llx_prom_value(metrics, "llx_requests_total{endpoint=\"chat_completions\",outcome=\"ok\"}"), 1);
    CHECK_EQ_INT(llx_prom_value(metrics, "llx_requests_total{endpoint=\"chat_completions\",outcome=\"bad_request\"}"), (long long)(sizeof cases / sizeof *cases) - 1); /* all but the 404 */
    free(ok), free(metrics);
    stop_clean(&p);
}

static const char *write_template(const char *name, const char *text)
{
    const char *path = llx_test_tmpfile(name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

TEST(serve_chat_template_flag, LLX_T_ASAN | LLX_T_TSAN)
{
    /* the model has no template of its own: --chat-template llama3 gives one */
    llx_serve_proc p;
    if (!start_chat(&p, "serve-chat-none", NULL, "--chat-template", "llama3")) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "chat template llama3"), "ready line: %s", p.out);
    char *ids = rendered_ids(llx_serve_model_chat("serve-chat-none", NULL), llx_chat_builtin("llama3"),
                             "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                             "<|start_header_id|>user<|end_header_id|>\n\nName a ring.<|eot_id|>"
                             "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(ids != NULL);
    chat_equals_completion(&p, ids);
    free(ids);
    stop_clean(&p);

    /* a template file whose roles must alternate: its refusal is a 400 with its words */
    char path[1024];
    snprintf(path, sizeof path, "%s", write_template("alternating.jinja", ALTERNATING));
    if (!start_chat(&p, "serve-chat-none", NULL, "--chat-template", path)) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "chat template chatml"), "ready line: %s", p.out);
    char *out = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": "
                          "\"b\"}], \"max_tokens\": 2}",
                          NULL, &out),
                 400);
    json_t *j = llx_json_parse(out);
    CHECK(llx_jstr(j, "error.message") && strstr(llx_jstr(j, "error.message"), "Conversation roles must alternate"));
    CHECK(llx_jstr(j, "error.code") && !strcmp(llx_jstr(j, "error.code"), "invalid_value"));
    json_decref(j);
    free(out);
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"max_tokens\": 2}", NULL, &out),
                 200);
    free(out);
    stop_clean(&p);
}

TEST(serve_chat_unusable_model_template, LLX_T_ASAN)
{
    /* a construct the renderer refuses: chat is a 400 saying so, completions work */
    llx_serve_proc p;
    if (!start_chat(&p, "serve-chat-macro", "{% macro m() %}x{% endmacro %}<|im_start|>{{ m() }}<|im_end|>", NULL, NULL)) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "chat disabled: the model's chat template cannot be used: chat template: line 1"),
              "ready line: %s", p.out);
    char *out = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions", "{\"messages\": " MESSAGES "}", NULL, &out), 400);
    json_t *j = llx_json_parse(out);
    CHECK(llx_jstr(j, "error.code") && !strcmp(llx_jstr(j, "error.code"), "chat_template_unsupported"));
    CHECK(llx_jstr(j, "error.message") && strstr(llx_jstr(j, "error.message"), "chat template: line 1: "));
    json_decref(j);
    free(out);
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}", NULL, &out), 200);
    free(out);
    stop_clean(&p);
    /* no template at all */
    if (!start_chat(&p, "serve-chat-none", NULL, NULL, NULL)) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "no chat template"), "ready line: %s", p.out);
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions", "{\"messages\": " MESSAGES "}", NULL, &out), 400);
    CHECK(out && strstr(out, "chat_template_missing") && strstr(out, "--chat-template"));
    free(out);
    stop_clean(&p);
}

static void expect_serve_error(const char *model, const char *tmpl, int status, const char *want)
{
    llx_proc_result r;
    llx_cli(&r, "serve", "-m", model, "--port", "0", "-t", "1", "--chat-template", tmpl, NULL);
    CHECK_MSG(r.status == status, "--chat-template %s: status %d: %s", tmpl, r.status, r.err);
    CHECK_MSG(!strncmp(r.err, "looplynx: error: ", 17) && strchr(r.err, '\n') == r.err + r.err_len - 1,
              "not one error line: %s", r.err);
    CHECK_MSG(strstr(r.err, want), "stderr lacks '%s': %s", want, r.err);
    llx_proc_free(&r);
}

TEST(serve_chat_template_flag_errors, LLX_T_ASAN)
{
    const char *chat = llx_serve_model_chat("serve-chat-none", NULL), *gpt2 = llx_serve_model_small();
    CHECK(chat && gpt2);
    if (!chat || !gpt2) return;
    expect_serve_error(gpt2, "llama3", 1, "the llama3 chat template needs the special token <|start_header_id|>, which the tokenizer lacks");
    expect_serve_error(gpt2, "chatml", 1, "the chatml chat template needs the special token <|im_start|>");
    expect_serve_error(chat, "/no/such/template.jinja", 2, "--chat-template '/no/such/template.jinja' is neither llama3, chatml nor a readable file");
    expect_serve_error(chat, "", 2, "--chat-template is empty");
    char path[1024];
    snprintf(path, sizeof path, "%s", write_template("other.jinja", "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}"));
    expect_serve_error(chat, path, 1, "the chat template is neither of the Llama 3 instruct family nor ChatML");
    snprintf(path, sizeof path, "%s", write_template("broken.jinja", "<|im_start|>{% for m in messages %}<|im_end|>"));
    expect_serve_error(chat, path, 1, "chat template: line 1");
    snprintf(path, sizeof path, "%s", write_template("empty.jinja", ""));
    expect_serve_error(chat, path, 1, "is empty");
}

#define LLAMA3_RENDERED                                                                                                \
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"                               \
    "<|start_header_id|>user<|end_header_id|>\n\nName a ring.<|eot_id|>"                                               \
    "<|start_header_id|>assistant<|end_header_id|>\n\n"

/* The shared tinyllama-shakespeare served with the Llama 3 template of its
 * tokenizer_config.json: chat answers are the completions of the rendered
 * prompt, well formed, streamed the same, without special text; a greedy
 * answer of 48 tokens ends on the model's end token when `stops`, else at
 * the length. */
static void llama_chat_checks(const char *dir, int stops)
{
    llx_serve_proc p;
    if (!llx_serve_start(&p, dir, 120, "-t", "1", "--alias", "chat", NULL)) {
        CHECK(0);
        return;
    }
    CHECK_MSG(strstr(p.out, "chat template llama3"), "ready line: %s", p.out);
    llx_tokenizer *tok = NULL;
    char *ids = NULL;
    if (llx_tokenizer_load_dir(&tok, dir) == LLX_OK && llx_tokenizer_chat_template(tok))
        ids = rendered_ids(dir, llx_tokenizer_chat_template(tok), LLAMA3_RENDERED);
    llx_tokenizer_free(tok);
    CHECK(ids != NULL);
    chat_equals_completion(&p, ids);
    free(ids);
    char *out = NULL;
    CHECK_EQ_INT(llx_http(&p, "POST", "/v1/chat/completions",
                          "{\"messages\": " MESSAGES ", \"max_tokens\": 48, \"temperature\": 0}", NULL, &out),
                 200);
    json_t *j = llx_json_parse(out);
    const char *fin = llx_jstr(j, "choices.0.finish_reason"), *text = llx_jstr(j, "choices.0.message.content");
    llx_test_note("answer (%s): %s", fin ? fin : "?", text ? text : "?");
    CHECK(text && !has_special(text));
    CHECK_MSG(fin && !strcmp(fin, stops ? "stop" : "length"), "finish_reason %s", fin ? fin : "(none)");
    if (stops) CHECK(llx_jint(j, "usage.completion_tokens") < 48 && !strchr(text ? text : ",", ','));
    json_decref(j);
    free(out);
    stop_clean(&p);
}

/* A copy of the tiny Llama (model from) in the run's folder `name` whose
 * <|eot_id|> embedding row - tied, so also its LM head row - is 1.05 times
 * the row of `like`: wherever `like` would be the answer (a positive
 * logit), <|eot_id|> is.  The tokenizer files are links to from's. */
static const char *eot_like(const char *from, const char *name, const char *like)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s", llx_test_tmpfile(name));
    llx_tokenizer *tok = NULL;
    if (llx_tokenizer_load_dir(&tok, from) != LLX_OK) return NULL;
    const int eot = llx_tokenizer_find(tok, "<|eot_id|>", 10), x = llx_tokenizer_find(tok, like, strlen(like));
    llx_tokenizer_free(tok);
    ckpt_img img;
    if (eot < 0 || x < 0 || mkdir(dir, 0755) != 0 || !ckpt_img_load(from, &img)) return NULL;
    size_t n = 0;
    uint8_t *e = (uint8_t *)ckpt_img_raw(&img, "model.embed_tokens.weight", &n);
    const size_t C = n / 128256 / 2;
    for (size_t j = 0; e && C == 256 && j < C; j++) {
        const uint16_t h = llx_f32_to_bf16(1.05f * llx_bf16_to_f32(ckpt_u16_at(e + (size_t)x * C * 2, j)));
        e[((size_t)eot * C + j) * 2] = (uint8_t)h, e[((size_t)eot * C + j) * 2 + 1] = (uint8_t)(h >> 8);
    }
    int ok = e && C == 256 && ckpt_img_save(dir, &img);
    ckpt_img_free(&img);
    static const char *const linked[] = {"config.json", "generation_config.json", "tokenizer.json",
                                         "tokenizer_config.json"};
    for (size_t i = 0; ok && i < 4; i++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", from, linked[i]);
        snprintf(b, sizeof b, "%s/%s", dir, linked[i]);
        ok = symlink(a, b) == 0;
    }
    return ok ? dir : NULL;
}

TEST(serve_chat_llama_shared)
{
    const char *dir = llx_test_shared("models/tinyllama-shakespeare/config.json")
                          ? llx_test_shared("models/tinyllama-shakespeare")
                          : NULL;
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    llama_chat_checks(dir, 0);
    /* a model that says <|eot_id|> where it would say ",": the answer ends there */
    const char *eot = eot_like(dir, "tinyllama-eot", ",");
    REQUIRE(eot);
    llama_chat_checks(eot, 1);
}
