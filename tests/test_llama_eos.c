/* tests/test_llama_eos.c - generation of Llama models ends on the model's
 * end-of-generation ids: config.json's eos_token_id (one id or a list),
 * generation_config.json's, kept by a quantized .llx; `generate` reports
 * "stop": "eos" and prints nothing for the end token.  The end id is made a
 * token the model really produces (read from a first run), so the
 * stop is seen on the synthetic Llama fixture (no ../shared) and on the
 * shared tinyllama-shakespeare (skipped when absent). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_util.h"
#include "clitest.h"
#include "llx/model.h"
#include "llx/quant.h"
#include "llx/tokenizer.h"
#include "test.h"
#include "w8a8_fixtures.h"

/* A `generate --json` run sampled with a fixed seed (the same draws
 * whatever -n): its tokens, stop reason and text. */
typedef struct gen_run {
    int ok, n, tokens[64];
    char stop[16], *text;
} gen_run;

static gen_run sampled(const char *dir, const char *prompt, int n)
{
    gen_run g = {0};
    char ns[16];
    snprintf(ns, sizeof ns, "%d", n);
    llx_proc_result r;
    llx_cli(&r, "generate", "-m", dir, "-p", prompt, "-n", ns, "--seed", "11", "--json", NULL);
    json_t *root = r.status == 0 ? json_loads(r.out, 0, NULL) : NULL;
    json_t *t = json_object_get(root, "tokens");
    const char *stop = json_string_value(json_object_get(root, "stop"));
    const char *text = json_string_value(json_object_get(root, "text"));
    g.ok = root && json_is_array(t) && stop && text && json_array_size(t) <= 64;
    if (!g.ok) llx_test_note("generate -m %s: status %d: %.300s%.300s", dir, r.status, r.out, r.err);
    for (size_t i = 0; g.ok && i < json_array_size(t); i++) g.tokens[g.n++] = (int)json_integer_value(json_array_get(t, i));
    if (g.ok) snprintf(g.stop, sizeof g.stop, "%s", stop), g.text = strdup(text);
    json_decref(root);
    llx_proc_free(&r);
    return g;
}

/* First k >= 2 whose token did not occur before it, or -1. */
static int first_new(const gen_run *g)
{
    for (int k = 2; k < g->n; k++) {
        int seen = 0;
        for (int j = 0; j < k; j++) seen |= g->tokens[j] == g->tokens[k];
        if (!seen) return k;
    }
    return -1;
}

/* A folder `name` beside the run: config.json (and generation_config.json
 * when gen is not NULL) written, the other files linked to from's. */
static const char *variant(const char *from, const char *name, const char *gen)
{
    static char dirs[6][1024];
    static int k;
    char *dir = dirs[k++ % 6], a[1200], b[1200];
    snprintf(dir, sizeof dirs[0], "%s", llx_test_tmpfile(name));
    if (mkdir(dir, 0755) != 0) return NULL;
    static const char *const linked[] = {"model.safetensors", "tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", from, linked[i]);
        snprintf(b, sizeof b, "%s/%s", dir, linked[i]);
        if (access(a, F_OK) == 0 && symlink(a, b) != 0) return NULL;
    }
    snprintf(a, sizeof a, "%s/config.json", from);
    size_t n;
    char *cfg = llx_test_read(a, &n);
    snprintf(b, sizeof b, "%s/config.json", dir);
    int ok = cfg && llx_test_write(b, cfg, n);
    free(cfg);
    if (ok && gen) {
        snprintf(b, sizeof b, "%s/generation_config.json", dir);
        ok = llx_test_write(b, gen, strlen(gen));
    }
    return ok ? dir : NULL;
}

/* generate on dir stops at position k of base (the end id base->tokens[k]):
 * the same k + 1 tokens, "stop": "eos", and the text of the first k. */
static void stops_at(const char *dir, const char *prompt, const gen_run *base, int k, const char *what)
{
    gen_run g = sampled(dir, prompt, base->n), upto = sampled(dir, prompt, k);
    CHECK_MSG(g.ok && g.n == k + 1 && !memcmp(g.tokens, base->tokens, sizeof(int) * (size_t)(k + 1)),
              "%s: %d tokens, expected to stop after %d", what, g.n, k + 1);
    CHECK_MSG(g.ok && !strcmp(g.stop, "eos"), "%s: stop '%s'", what, g.stop);
    /* the end token prints nothing: the text is that of the k tokens before it */
    CHECK_MSG(g.ok && upto.ok && !strcmp(g.text, upto.text), "%s: text '%s' vs '%s'", what, g.text ? g.text : "",
              upto.text ? upto.text : "");
    free(g.text), free(upto.text);
}

static void eos_cases(const char *model, const char *prompt, const char *tag)
{
    gen_run base = sampled(model, prompt, 12);
    REQUIRE(base.ok && !strcmp(base.stop, "n"));
    const int k = first_new(&base);
    REQUIRE(k > 0);
    const int x = base.tokens[k];
    char name[64], val[64];
    /* config.json: a list holding x */
    snprintf(name, sizeof name, "%s-eos-list", tag);
    const char *d = variant(model, name, NULL);
    snprintf(val, sizeof val, "[%d, %d]", base.tokens[0] == 1 ? 2 : 1, x);
    REQUIRE(d && ckpt_config_set(d, "eos_token_id", val));
    stops_at(d, prompt, &base, k, "config.json list");
    /* config.json: x alone */
    snprintf(name, sizeof name, "%s-eos-int", tag);
    d = variant(model, name, NULL);
    snprintf(val, sizeof val, "%d", x);
    REQUIRE(d && ckpt_config_set(d, "eos_token_id", val));
    stops_at(d, prompt, &base, k, "config.json int");
    /* generation_config.json */
    char gen[96];
    snprintf(gen, sizeof gen, "{\"eos_token_id\": [%d]}", x);
    snprintf(name, sizeof name, "%s-eos-gen", tag);
    d = variant(model, name, gen);
    REQUIRE(d);
    stops_at(d, prompt, &base, k, "generation_config.json");
    free(base.text);
}

TEST(llama_generate_stops_on_model_eos, LLX_T_ASAN)
{
    const char *dir = llx_fixture_llama();
    REQUIRE(dir);
    eos_cases(dir, "The ring", "fixture");
    /* a .llx quantized from a folder whose config.json names the end id keeps it */
    const char *d = variant(dir, "fixture-eos-llx-src", NULL), *calib = llx_fixture_calib_text();
    REQUIRE(d && calib && ckpt_config_set(d, "eos_token_id", "[3, 77]"));
    const char *q = llx_test_tmpfile("fixture-eos.llx");
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 256;
    REQUIRE(llx_quantize(d, &o, q) == LLX_OK);
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, q) == LLX_OK);
    CHECK(llx_tokenizer_is_eog(llx_model_tokenizer(m), 77) && llx_tokenizer_is_eog(llx_model_tokenizer(m), 3));
    CHECK(!llx_tokenizer_is_eog(llx_model_tokenizer(m), 78));
    llx_model_close(m);
}

TEST(llama_generate_stops_on_model_eos_shared)
{
    const char *dir = llx_test_shared("models/tinyllama-shakespeare/config.json")
                          ? llx_test_shared("models/tinyllama-shakespeare")
                          : NULL;
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    eos_cases(dir, "To be, or not", "tinyllama");
}
