/* tests/test_logits_direct.c - the LM head writes the caller's logits in
 * place (engine.c, llx_logits_dst): every decode step's logits bit for bit
 * and the greedy tokens are those of the copy after the pass it replaced,
 * at 1 and 2 threads, on 1 and 2 nodes, in W8A8 (GPT-2 and Llama) and FP32,
 * and for the all-logits passes of perplexity.  Each run checks which path
 * it took, and the caller's buffer is filled with NaN before every pass so
 * that a row the LM head left out shows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "test.h"
#include "w8a8_fixtures.h"

#define STEPS 10
#define PROMPT 6

typedef struct trace {
    int tokens[STEPS];
    float *logits; /* (STEPS + 1) x V: the prompt's, then each step's */
    float *all;    /* PROMPT x V: the prompt's all-logits pass */
    int direct;    /* how many passes wrote in place */
} trace;

static void poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

static int run(const llx_model *m, llx_precision prec, int nodes, int threads, int copy, const int *prompt, trace *t)
{
    const size_t V = (size_t)llx_model_config(m)->n_vocab;
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes;
    o.threads = threads;
    o.precision = prec;
    o.block_rows = 16; /* several ring blocks on the LM head */
    o.max_batch = 4;   /* the prompt takes two passes */
    llx_engine *e = NULL;
    if (llx_engine_create(&e, m, &o) != LLX_OK) {
        llx_test_note("%d x %d: %s", nodes, threads, llx_errmsg());
        return 0;
    }
    e->logits_copy = copy;
    memset(t, 0, sizeof *t);
    t->logits = malloc(sizeof(float) * V * (STEPS + 1));
    t->all = malloc(sizeof(float) * V * PROMPT);
    poison(t->all, V * PROMPT);
    int ok = llx_engine_forward(e, prompt, PROMPT, t->all, 1) == LLX_OK;
    t->direct += e->nd[0].logits_direct;
    llx_engine_reset(e);
    poison(t->logits, V * (STEPS + 1));
    ok = ok && llx_engine_forward(e, prompt, PROMPT, t->logits, 0) == LLX_OK;
    for (int s = 0; ok && s < STEPS; s++) {
        t->tokens[s] = llx_test_argmax(t->logits + (size_t)s * V, (int)V);
        ok = llx_engine_forward(e, &t->tokens[s], 1, t->logits + (size_t)(s + 1) * V, 0) == LLX_OK;
        t->direct += e->nd[0].logits_direct;
    }
    if (!ok) llx_test_note("%d x %d: %s", nodes, threads, llx_errmsg());
    llx_engine_free(e);
    return ok;
}

static void check_model(const char *path, llx_precision prec)
{
    llx_model *m;
    REQUIRE(llx_model_open(&m, path) == LLX_OK);
    const size_t V = (size_t)llx_model_config(m)->n_vocab;
    int prompt[PROMPT];
    for (int i = 0; i < PROMPT; i++) prompt[i] = (int)((i * 7919 + 13) % V);
    static const int cfg[][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        const int nodes = cfg[c][0], threads = cfg[c][1];
        trace copied, direct;
        CHECK(run(m, prec, nodes, threads, 1, prompt, &copied));
        CHECK(run(m, prec, nodes, threads, 0, prompt, &direct));
        CHECK_MSG(copied.direct == 0 && direct.direct == STEPS + 1, "%s %d x %d: %d and %d passes wrote in place",
                  llx_precision_name(prec), nodes, threads, copied.direct, direct.direct);
        CHECK_MSG(!memcmp(copied.tokens, direct.tokens, sizeof copied.tokens), "%s %d x %d: greedy tokens differ",
                  llx_precision_name(prec), nodes, threads);
        CHECK_MSG(!memcmp(copied.logits, direct.logits, sizeof(float) * V * (STEPS + 1)),
                  "%s %d x %d: decode logits are not bit-identical", llx_precision_name(prec), nodes, threads);
        CHECK_MSG(!memcmp(copied.all, direct.all, sizeof(float) * V * PROMPT),
                  "%s %d x %d: all-logits rows are not bit-identical", llx_precision_name(prec), nodes, threads);
        int finite = 1;
        for (size_t i = 0; i < V * (STEPS + 1); i++) finite &= isfinite(direct.logits[i]) != 0;
        for (size_t i = 0; i < V * PROMPT; i++) finite &= isfinite(direct.all[i]) != 0;
        CHECK_MSG(finite, "%s %d x %d: a logit was left unwritten", llx_precision_name(prec), nodes, threads);
        free(copied.logits), free(copied.all), free(direct.logits), free(direct.all);
    }
    llx_model_close(m);
}

TEST(logits_direct_match_the_copy_w8a8, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *g = llx_fixture_awkward_llx(1), *l = llx_fixture_llama_llx(2);
    REQUIRE(g && l);
    check_model(g, LLX_PREC_W8A8_STATIC);
    check_model(l, LLX_PREC_W8A8_DYNAMIC);
}

TEST(logits_direct_match_the_copy_fp32, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_awkward(2);
    REQUIRE(dir != NULL);
    check_model(dir, LLX_PREC_FP32);
}
