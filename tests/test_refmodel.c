/* tests/test_refmodel.c - the engine against an independent reference on
 * every checkout: tests/models/mini-shakespeare is a small GPT-2 trained on
 * tiny Shakespeare with its own byte-level BPE (scripts/
 * train_reference_model.py), with PyTorch goldens from a separate forward
 * pass in that script.  The tokenizer, FP32 (two kernel tiers, 1-4 ring
 * nodes, the CLI), W8A8 (accuracy gates against FP32) and the MPI ring are
 * checked against it; nothing here needs ../shared. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "golden.h"
#include "llx/engine.h"
#include "llx/model.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "test.h"

static llx_tokenizer *repo_tokenizer(void)
{
    char v[512], m[512];
    snprintf(v, sizeof v, "%s/vocab.json", golden_repo_model());
    snprintf(m, sizeof m, "%s/merges.txt", golden_repo_model());
    llx_tokenizer *t = NULL;
    CHECK_MSG(llx_tokenizer_load(&t, v, m) == LLX_OK, "%s", llx_errmsg());
    return t;
}

TEST(refmodel_tokenizer_golden, LLX_T_ASAN)
{
    llx_tokenizer *t = repo_tokenizer();
    REQUIRE(t);
    CHECK_EQ_INT(llx_tokenizer_vocab_size(t), 1025);
    CHECK_EQ_INT(llx_tokenizer_merge_count(t), 768);
    json_t *c = golden_load(golden_repo_dir(), "tokenizer_cases.json");
    json_t *p = golden_load(golden_repo_dir(), "prompts.json");
    const int n = c ? golden_check_tokenizer(t, json_object_get(c, "cases"), "tokenizer_cases") : 0;
    const int np = p ? golden_check_tokenizer(t, json_object_get(p, "prompts"), "prompts") : 0;
    CHECK(n > 400 && np == 6);
    llx_test_note("%d strings and %d prompts tokenize to the reference's ids and decode back", n, np);
    json_decref(c);
    json_decref(p);
    llx_tokenizer_free(t);
}

/* The token ids of valid.txt in nll.json come from the reference's
 * tokenizer: with ../shared present, the whole file is tokenized here too. */
TEST(refmodel_tokenizer_valid_txt, LLX_T_ASAN)
{
    const char *v = llx_test_shared("data/tinyshakespeare/valid.txt");
    if (!v) SKIP("tinyshakespeare not found");
    llx_tokenizer *t = repo_tokenizer();
    json_t *g = golden_load(golden_repo_dir(), "nll.json");
    size_t len;
    char *text = llx_test_read(v, &len);
    if (!text || !g || !t) json_decref(g), free(text), llx_tokenizer_free(t);
    REQUIRE(t && g && text);
    int n, *want = golden_ids(json_object_get(g, "token_ids"), &n), *ids = NULL, got = 0;
    CHECK(llx_tokenize(t, text, len, &ids, &got) == LLX_OK && got >= n);
    CHECK_MSG(got >= n && !memcmp(ids, want, sizeof(int) * (size_t)n), "valid.txt ids differ");
    free(ids), free(want), free(text);
    json_decref(g);
    llx_tokenizer_free(t);
}

TEST(refmodel_fp32_golden_prompts, LLX_T_ASAN)
{
    static const golden_run runs[] = {{1, 1, "ref", 1e-4}, {1, 2, "auto", 1e-4}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        const double worst = golden_check_prompts(golden_repo_model(), golden_repo_dir(), &runs[i]);
        llx_test_note("%s kernels: worst last-logit difference vs PyTorch %.3g", runs[i].kernels, worst);
    }
}

TEST(refmodel_fp32_golden_nll, LLX_T_ASAN)
{
    json_t *g = golden_load(golden_repo_dir(), "nll.json");
    REQUIRE(g);
    const double want = json_real_value(json_object_get(g, "mean_nll_nats"));
    const double got = golden_nll(golden_repo_model(), golden_repo_dir(), 1, 2);
    CHECK_CLOSE(got, want, 1e-4, 0);
    llx_test_note("valid NLL %.6f (PyTorch %.6f), ppl %.3f", got, want, exp(got));
    json_decref(g);
}

/* The ring: 2, 3 (uneven: 4 heads) and 4 nodes reproduce the goldens. */
TEST(refmodel_fp32_golden_ring, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int nodes = 2; nodes <= 4; nodes++) {
        const golden_run r = {nodes, 1, "auto", 1e-4};
        golden_check_prompts(golden_repo_model(), golden_repo_dir(), &r);
    }
}

/* The model quantized on calib.txt (text the model wrote, in the repo). */
static const char *repo_llx(int act)
{
    static char paths[3][512];
    char *p = paths[act == LLX_ACT_DYNAMIC ? 2 : 1];
    snprintf(p, sizeof paths[0], "%s", llx_test_tmpfile(act == LLX_ACT_DYNAMIC ? "mini-dyn.llx" : "mini-static.llx"));
    if (llx_test_exists(p)) return p;
    char calib[512];
    snprintf(calib, sizeof calib, "%s/calib.txt", golden_repo_model());
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.act_mode = act;
    if (llx_quantize(golden_repo_model(), &o, p) != LLX_OK) {
        CHECK_MSG(0, "quantize: %s", llx_errmsg());
        return NULL;
    }
    return p;
}

/* W8A8 against the FP32 golden NLL: SmoothQuant static (the hardware's
 * scales) within 1 %, dynamic per-token scales within 0.5 %, and the ring
 * gives the same NLL bit for bit. */
TEST(refmodel_w8a8_accuracy, LLX_T_ASAN)
{
    json_t *g = golden_load(golden_repo_dir(), "nll.json");
    const char *st = repo_llx(LLX_ACT_STATIC), *dy = repo_llx(LLX_ACT_DYNAMIC);
    REQUIRE(g && st && dy);
    const double f = json_real_value(json_object_get(g, "mean_nll_nats"));
    const double s = golden_nll(st, golden_repo_dir(), 1, 2), d = golden_nll(dy, golden_repo_dir(), 1, 2);
    llx_test_note("valid NLL: fp32 %.5f | w8a8 static %.5f (ppl %+.2f%%) | dynamic %.5f (ppl %+.2f%%)", f, s,
                  100 * (exp(s - f) - 1), d, 100 * (exp(d - f) - 1));
    CHECK_MSG(s > 0 && exp(s - f) <= 1.01, "static W8A8 perplexity %.4f is more than 1%% above fp32 %.4f", exp(s),
              exp(f));
    CHECK_MSG(d > 0 && exp(d - f) <= 1.005, "dynamic W8A8 perplexity %.4f is more than 0.5%% above fp32 %.4f",
              exp(d), exp(f));
    CHECK_MSG(golden_nll(st, golden_repo_dir(), 3, 1) == s, "3 nodes changed the static W8A8 NLL");
    json_decref(g);
}

/* W8A8 greedy text stays close to the golden: over the prompts, the first
 * generated token (the golden's top-1) agrees in most of them. */
TEST(refmodel_w8a8_greedy_agrees, LLX_T_ASAN)
{
    json_t *g = golden_load(golden_repo_dir(), "prompts.json");
    const char *p = repo_llx(LLX_ACT_STATIC);
    REQUIRE(g && p);
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, p) == LLX_OK);
    llx_engine *e = NULL;
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 2;
    o.precision = golden_precision(m);
    if (llx_engine_create(&e, m, &o) != LLX_OK) llx_model_close(m), json_decref(g);
    REQUIRE(e);
    const int V = llx_model_config(m)->n_vocab;
    float *logits = malloc(sizeof(float) * V);
    size_t i;
    json_t *pr;
    int agree = 0, total = 0;
    json_array_foreach(json_object_get(g, "prompts"), i, pr)
    {
        int n, *ids = golden_ids(json_object_get(pr, "ids"), &n);
        llx_engine_reset(e);
        if (e && llx_engine_forward(e, ids, n, logits, 0) == LLX_OK) {
            int b = 0;
            for (int k = 1; k < V; k++) b = logits[k] > logits[b] ? k : b;
            agree += b == json_integer_value(json_array_get(json_object_get(pr, "top5_ids"), 0));
            total++;
        }
        free(ids);
    }
    llx_test_note("static W8A8 picks the golden's next token on %d of %d prompts", agree, total);
    CHECK(total == 6 && agree >= 5);
    free(logits);
    llx_engine_free(e);
    llx_model_close(m);
    json_decref(g);
}

/* The CLI end to end: greedy generation equals the golden continuation,
 * for 1 and 2 nodes. */
TEST(refmodel_cli_generate_golden, LLX_T_ASAN)
{
    json_t *g = golden_load(golden_repo_dir(), "prompts.json");
    REQUIRE(g);
    const json_t *p = json_array_get(json_object_get(g, "prompts"), 1); /* first_citizen */
    const json_t *greedy = json_object_get(p, "greedy");
    REQUIRE(p && json_is_true(json_object_get(greedy, "float64_model_gives_same_ids")));
    const char *nodes[2] = {"1", "2"};
    for (int k = 0; k < 2; k++) {
        llx_proc_result r;
        llx_cli(&r, "generate", "-m", golden_repo_model(), "-p", json_string_value(json_object_get(p, "text")), "-n",
                "32", "--greedy", "--json", "--nodes", nodes[k], "--threads", "1", NULL);
        json_t *j = json_loads(r.out, 0, NULL);
        CHECK_MSG(r.status == 0 && j, "exit %d: %s", r.status, r.err);
        CHECK_MSG(j && json_equal(json_object_get(j, "tokens"), json_object_get(greedy, "ids")),
                  "%s nodes: greedy tokens differ from the golden", nodes[k]);
        CHECK(j && !strcmp(json_string_value(json_object_get(j, "text")), json_string_value(json_object_get(greedy, "text"))));
        json_decref(j);
        llx_proc_free(&r);
    }
    json_decref(g);
}
