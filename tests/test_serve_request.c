/* tests/test_serve_request.c - the server's pieces without a server:
 * request bodies to parameters (defaults, every accepted form of prompt,
 * stop and content), and the text pipeline (UTF-8 repair, stop sequences
 * found across token boundaries, held-back prefixes released at the end). */
#include <stdlib.h>
#include <string.h>

#include "serve/request.h"
#include "serve/textout.h"
#include "test.h"

static int parse(srv_kind k, const char *body, srv_params *p, srv_error *e)
{
    return srv_parse_request(k, body, strlen(body), p, e);
}

TEST(serve_request_defaults_and_forms, LLX_T_ASAN)
{
    srv_params p;
    srv_error e;
    CHECK_EQ_INT(parse(SRV_COMPLETION, "{\"prompt\":\"hi\"}", &p, &e), 0);
    CHECK(p.prompt && !strcmp(p.prompt, "hi") && p.prompt_len == 2);
    CHECK_EQ_INT(p.max_tokens, 0); /* the server picks: 16 for completions */
    CHECK(!p.so.greedy && p.so.temperature == 1.0f && p.so.top_p == 1.0f && p.so.top_k == 0);
    CHECK(!p.seed_set && !p.stream && p.n_stop == 0 && !p.model);
    srv_params_free(&p);

    CHECK_EQ_INT(parse(SRV_COMPLETION, "{\"prompt\":[[3,4,5]],\"temperature\":0,\"seed\":-1,\"stop\":\"\\n\","
                                       "\"model\":\"m\",\"max_tokens\":7,\"top_k\":5}", &p, &e), 0);
    CHECK(p.prompt_ids && p.n_prompt_ids == 3 && p.prompt_ids[2] == 5 && !p.prompt);
    CHECK(p.so.greedy && p.seed_set && p.so.seed == (uint64_t)-1 && p.max_tokens == 7 && p.so.top_k == 5);
    CHECK(p.n_stop == 1 && p.stop_len[0] == 1 && p.stop[0][0] == '\n');
    CHECK(p.model && !strcmp(p.model, "m"));
    srv_params_free(&p);

    CHECK_EQ_INT(parse(SRV_COMPLETION, "{\"prompt\":[\"one\"],\"n\":1,\"echo\":false,\"logprobs\":0,\"user\":\"u\"}", &p, &e), 0);
    CHECK(p.prompt && !strcmp(p.prompt, "one"));
    srv_params_free(&p);

    CHECK_EQ_INT(parse(SRV_CHAT, "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":"
                                 "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"bc\"}]},"
                                 "{\"role\":\"assistant\",\"content\":null}],\"max_completion_tokens\":3,\"stream\":true,"
                                 "\"stream_options\":{\"include_usage\":true}}", &p, &e), 0);
    CHECK_EQ_INT(p.n_messages, 3);
    CHECK(!strcmp(p.messages[1].role, "user") && !strcmp(p.messages[1].content, "abc") && p.messages[1].content_len == 3);
    CHECK(!strcmp(p.messages[2].content, ""));
    CHECK(p.max_tokens == 3 && p.stream && p.include_usage);
    srv_params_free(&p);
}

TEST(serve_request_bad_forms, LLX_T_ASAN)
{
    static const struct {
        srv_kind k;
        const char *body, *param, *msg;
    } bad[] = {
        {SRV_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", "prompt", "more than one prompt"},
        {SRV_COMPLETION, "{\"prompt\":[1,-2]}", "prompt", "token ids"},
        {SRV_COMPLETION, "{\"prompt\":[1,2.5]}", "prompt", "token ids"},
        {SRV_COMPLETION, "{}", "prompt", "is required"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"stop\":[\"\"]}", "stop", "empty"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", "stream_options", "needs 'stream'"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"top_p\":0}", "top_p", "(0, 1]"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"echo\":true}", "echo", "not supported"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"prompt\":\"y\"}", "", "not valid JSON"},
        {SRV_COMPLETION, "{\"prompt\":\"x\",\"seed\":1.5}", "seed", "an integer"},
        {SRV_CHAT, "{\"messages\":[]}", "messages", "empty"},
        {SRV_CHAT, "{\"messages\":[{\"role\":\"user\"}]}", "messages.content", "no 'content'"},
        {SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "messages.content", "not supported"},
        {SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{}]}", "tools", "not supported"},
        {SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true}", "logprobs", "not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        srv_params p;
        srv_error e;
        CHECK_MSG(parse(bad[i].k, bad[i].body, &p, &e) == -1, "case %zu accepted", i);
        CHECK_MSG(e.http == 400 && !strcmp(e.param, bad[i].param) && strstr(e.msg, bad[i].msg),
                  "case %zu: %d '%s' '%s'", i, e.http, e.param, e.msg);
    }
}

/* Push pieces through a textout with the given stops; returns the shown text. */
static char *run_textout(const char *const *pieces, int n, char *const *stops, int n_stop, int *stopped)
{
    size_t lens[4];
    for (int i = 0; i < n_stop; i++) lens[i] = strlen(stops[i]);
    srv_textout t;
    srv_buf out = {0};
    srv_textout_init(&t, stops, lens, n_stop);
    *stopped = 0;
    for (int i = 0; i < n && !*stopped; i++) *stopped = srv_textout_push(&t, pieces[i], strlen(pieces[i]), &out) == 1;
    if (!*stopped) *stopped = srv_textout_finish(&t, &out) == 1;
    srv_textout_free(&t);
    if (!out.p) srv_buf_add(&out, "", 0);
    return out.p;
}

TEST(serve_textout_stop_sequences, LLX_T_ASAN)
{
    int stopped;
    char *stops[] = {"END", "\n\n"};
    const char *a[] = {"hello E", "N", "D and more"};
    char *s = run_textout(a, 3, stops, 2, &stopped);
    CHECK(stopped && !strcmp(s, "hello "));
    free(s);
    const char *b[] = {"one\n", "\ntwo"}; /* the second stop across a boundary */
    s = run_textout(b, 2, stops, 2, &stopped);
    CHECK(stopped && !strcmp(s, "one"));
    free(s);
    const char *c[] = {"almost E", "N"}; /* a prefix that never completes is released at the end */
    s = run_textout(c, 2, stops, 2, &stopped);
    CHECK(!stopped && !strcmp(s, "almost EN"));
    free(s);
    const char *d[] = {"xENDyEND"}; /* the first occurrence wins */
    s = run_textout(d, 1, stops, 2, &stopped);
    CHECK(stopped && !strcmp(s, "x"));
    free(s);
}

TEST(serve_textout_utf8, LLX_T_ASAN)
{
    int stopped;
    const char *a[] = {"caf\xc3", "\xa9 \xe2\x82", "\xac"}; /* characters split over tokens come out whole */
    char *s = run_textout(a, 3, NULL, 0, &stopped);
    CHECK(!strcmp(s, "caf\xc3\xa9 \xe2\x82\xac"));
    free(s);
    const char *b[] = {"a\xff" "b\xc0\xaf" "c\xed\xa0\x80"}; /* ill-formed bytes become U+FFFD each */
    s = run_textout(b, 1, NULL, 0, &stopped);
    CHECK(!strcmp(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    free(s);
    const char *c[] = {"end \xe2\x82"}; /* a truncated character at the end */
    s = run_textout(c, 1, NULL, 0, &stopped);
    CHECK(!strcmp(s, "end \xef\xbf\xbd\xef\xbf\xbd"));
    free(s);
    char *stops[] = {"\xc3\xa9"};
    const char *d[] = {"caf\xc3", "\xa9!"}; /* a stop sequence that is one split character */
    s = run_textout(d, 2, stops, 1, &stopped);
    CHECK(stopped && !strcmp(s, "caf"));
    free(s);
}
