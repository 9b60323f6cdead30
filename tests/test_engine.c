/* tests/test_engine.c - the FP32 engine against PyTorch goldens (token ids,
 * last-position logits, top-5, greedy continuations, NLL) and against an
 * independent naive forward pass on a synthetic model with awkward sizes;
 * invariance of results to prefill chunking and kernel choice. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/engine.h"
#include "golden.h"
#include "llx/quant.h"
#include "test.h"
#include "w8a8_fixtures.h"

static llx_engine *make_engine(const llx_model *m, int nodes, int threads, const char *kernels)
{
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes;
    o.threads = threads;
    o.kernels = kernels;
    llx_engine *e = NULL;
    if (llx_engine_create(&e, m, &o) != LLX_OK) llx_test_note("engine: %s", llx_errmsg());
    return e;
}

/* The shared shakespeare-gpt2 against its goldens (the repository's own
 * model is checked the same way in test_refmodel.c). */
TEST(engine_golden_prompts)
{
    const char *dir = llx_test_model_dir(), *gold = llx_test_shared("models/shakespeare-gpt2/golden");
    if (!dir || !gold) SKIP("shared shakespeare-gpt2 model not found");
    char gdir[1024];
    snprintf(gdir, sizeof gdir, "%s", gold);
    const golden_run r = {1, 2, "auto", 1e-4};
    llx_test_note("worst last-logit difference vs PyTorch: %.3g", golden_check_prompts(dir, gdir, &r));
}

TEST(engine_golden_nll)
{
    const char *dir = llx_test_model_dir(), *gold = llx_test_shared("models/shakespeare-gpt2/golden");
    if (!dir || !gold) SKIP("shared shakespeare-gpt2 model not found");
    char gdir[1024];
    snprintf(gdir, sizeof gdir, "%s", gold);
    json_t *g = golden_load(gdir, "nll.json");
    REQUIRE(g);
    const double want = json_real_value(json_object_get(g, "mean_nll_nats")), got = golden_nll(dir, gdir, 1, 2);
    CHECK_CLOSE(got, want, 1e-4, 0);
    llx_test_note("NLL %.6f (golden %.6f)", got, want);
    json_decref(g);
}

/* ---- an independent naive forward pass (double precision, no KV cache) ---- */

typedef struct naive {
    llx_config c;
    float *wte, *wpe, *lnf_g, *lnf_b;
    float *ln[4], *w[4], *b[4]; /* one layer's worth per layer index, concatenated */
} naive;

static void naive_ln(double *out, const double *x, const float *g, const float *b, int C, double eps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) / sqrt(var + eps) * g[i] + b[i];
}

static void naive_linear(double *out, const double *in, const float *w, const float *b, int R, int K)
{
    for (int r = 0; r < R; r++) {
        double s = b ? b[r] : 0;
        for (int k = 0; k < K; k++) s += (double)w[(size_t)r * K + k] * in[k];
        out[r] = s;
    }
}

/* logits of the last of n tokens */
static void naive_forward(const naive *nv, const llx_hf *hf, const int *ids, int n, double *logits)
{
    const llx_config *c = &nv->c;
    const int C = c->n_embd, F = c->n_inner, H = c->n_head, hd = C / H, L = c->n_layer;
    double *x = calloc((size_t)n * C, 8), *h = calloc((size_t)n * C, 8), *qkv = calloc((size_t)n * 3 * C, 8);
    double *ctx = calloc((size_t)n * C, 8), *tmp = calloc((size_t)F + 3 * C, 8), *f = calloc((size_t)F, 8);
    float *w = malloc(sizeof(float) * (size_t)F * C * 3 + 64), *b = malloc(sizeof(float) * (F + 3 * C)),
          *g = malloc(sizeof(float) * C), *bb = malloc(sizeof(float) * C);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < C; i++)
            x[(size_t)t * C + i] = (double)nv->wte[(size_t)ids[t] * C + i] + nv->wpe[(size_t)t * C + i];
    for (int l = 0; l < L; l++) {
        llx_hf_read_vec(hf, l, LLX_VEC_LN1_G, g);
        llx_hf_read_vec(hf, l, LLX_VEC_LN1_B, bb);
        llx_hf_read_rows(hf, l, LLX_MAT_QKV, 0, 3 * C, w);
        llx_hf_read_bias(hf, l, LLX_MAT_QKV, 0, 3 * C, b);
        for (int t = 0; t < n; t++) {
            naive_ln(h + (size_t)t * C, x + (size_t)t * C, g, bb, C, c->ln_eps);
            naive_linear(qkv + (size_t)t * 3 * C, h + (size_t)t * C, w, b, 3 * C, C);
        }
        for (int hh = 0; hh < H; hh++)
            for (int t = 0; t < n; t++) {
                double sc[512], mx = -1e300, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int k = 0; k < hd; k++)
                        d += qkv[(size_t)t * 3 * C + hh * hd + k] * qkv[(size_t)s * 3 * C + C + hh * hd + k];
                    sc[s] = d / sqrt((double)hd);
                    mx = fmax(mx, sc[s]);
                }
                for (int s = 0; s <= t; s++) sum += sc[s] = exp(sc[s] - mx);
                for (int k = 0; k < hd; k++) {
                    double o = 0;
                    for (int s = 0; s <= t; s++) o += sc[s] / sum * qkv[(size_t)s * 3 * C + 2 * C + hh * hd + k];
                    ctx[(size_t)t * C + hh * hd + k] = o;
                }
            }
        llx_hf_read_rows(hf, l, LLX_MAT_PROJ, 0, C, w);
        llx_hf_read_bias(hf, l, LLX_MAT_PROJ, 0, C, b);
        for (int t = 0; t < n; t++) {
            naive_linear(tmp, ctx + (size_t)t * C, w, b, C, C);
            for (int i = 0; i < C; i++) x[(size_t)t * C + i] += tmp[i];
        }
        llx_hf_read_vec(hf, l, LLX_VEC_LN2_G, g);
        llx_hf_read_vec(hf, l, LLX_VEC_LN2_B, bb);
        for (int t = 0; t < n; t++) {
            naive_ln(h + (size_t)t * C, x + (size_t)t * C, g, bb, C, c->ln_eps);
            llx_hf_read_rows(hf, l, LLX_MAT_FC1, 0, F, w);
            llx_hf_read_bias(hf, l, LLX_MAT_FC1, 0, F, b);
            naive_linear(f, h + (size_t)t * C, w, b, F, C);
            for (int i = 0; i < F; i++) f[i] = 0.5 * f[i] * (1 + tanh(sqrt(2 / M_PI) * (f[i] + 0.044715 * pow(f[i], 3))));
            llx_hf_read_rows(hf, l, LLX_MAT_FC2, 0, C, w);
            llx_hf_read_bias(hf, l, LLX_MAT_FC2, 0, C, b);
            naive_linear(tmp, f, w, b, C, F);
            for (int i = 0; i < C; i++) x[(size_t)t * C + i] += tmp[i];
        }
    }
    naive_ln(h, x + (size_t)(n - 1) * C, nv->lnf_g, nv->lnf_b, C, c->ln_eps);
    naive_linear(logits, h, nv->wte, NULL, c->n_vocab, C);
    free(x), free(h), free(qkv), free(ctx), free(tmp), free(f), free(w), free(b), free(g), free(bb);
}

TEST(engine_matches_naive_reference_awkward_sizes, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_awkward(1);
    CHECK(dir != NULL);
    if (!dir) return;
    llx_model *m;
    CHECK(llx_model_open(&m, dir) == LLX_OK);
    llx_hf *hf;
    CHECK(llx_hf_open(&hf, dir) == LLX_OK);
    naive nv;
    memset(&nv, 0, sizeof nv);
    nv.c = *llx_model_config(m);
    const int V = nv.c.n_vocab, C = nv.c.n_embd;
    nv.wte = malloc(sizeof(float) * V * C);
    nv.wpe = malloc(sizeof(float) * nv.c.n_ctx * C);
    nv.lnf_g = malloc(sizeof(float) * C);
    nv.lnf_b = malloc(sizeof(float) * C);
    llx_hf_read_wte(hf, 0, V, nv.wte);
    llx_hf_read_wpe(hf, 0, nv.c.n_ctx, nv.wpe);
    llx_hf_read_vec(hf, -1, LLX_VEC_LNF_G, nv.lnf_g);
    llx_hf_read_vec(hf, -1, LLX_VEC_LNF_B, nv.lnf_b);
    int ids[24];
    for (int i = 0; i < 24; i++) ids[i] = (i * 377 + 11) % V;
    const char *kernels[2] = {"ref", "auto"};
    float *logits = malloc(sizeof(float) * V);
    double *want = malloc(sizeof(double) * V);
    for (int kv = 0; kv < 2; kv++) {
        llx_engine *e = make_engine(m, 1, 2, kernels[kv]);
        /* prefill 10 tokens, then decode one at a time, checking every step */
        CHECK(llx_engine_forward(e, ids, 10, logits, 0) == LLX_OK);
        for (int n = 10; n <= 24; n++) {
            naive_forward(&nv, hf, ids, n, want);
            double maxd = 0, scale = 0;
            for (int i = 0; i < V; i++) maxd = fmax(maxd, fabs(logits[i] - want[i])), scale = fmax(scale, fabs(want[i]));
            CHECK_MSG(maxd <= 1e-5 + 1e-5 * scale, "%s kernels, %d tokens: logits differ by %.3g (scale %.3g)",
                      kernels[kv], n, maxd, scale);
            if (n < 24) CHECK(llx_engine_forward(e, &ids[n], 1, logits, 0) == LLX_OK);
        }
        llx_engine_free(e);
    }
    free(logits), free(want), free(nv.wte), free(nv.wpe), free(nv.lnf_g), free(nv.lnf_b);
    llx_hf_close(hf);
    llx_model_close(m);
}

/* Running a prompt in one pass, in chunks, or token by token gives the same bits. */
TEST(engine_prefill_chunking_is_bit_exact, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_awkward(1);
    CHECK(dir != NULL);
    if (!dir) return;
    llx_model *m;
    CHECK(llx_model_open(&m, dir) == LLX_OK);
    const int V = llx_model_config(m)->n_vocab;
    int ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 911 + 5) % V;
    float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
    llx_engine *e = make_engine(m, 1, 2, "auto");
    CHECK(llx_engine_forward(e, ids, 40, a, 0) == LLX_OK);
    static const int chunks[] = {1, 3, 7, 16};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        llx_engine_reset(e);
        for (int i = 0; i < 40; i += chunks[c]) {
            const int n = 40 - i < chunks[c] ? 40 - i : chunks[c];
            CHECK(llx_engine_forward(e, ids + i, n, b, 0) == LLX_OK);
        }
        CHECK_MSG(!memcmp(a, b, sizeof(float) * V), "chunks of %d changed the logits", chunks[c]);
    }
    llx_engine_free(e);
    free(a), free(b);
    llx_model_close(m);
}

TEST(engine_bad_calls, LLX_T_ASAN)
{
    const char *dir = llx_fixture_awkward(1);
    CHECK(dir != NULL);
    if (!dir) return;
    llx_model *m;
    CHECK(llx_model_open(&m, dir) == LLX_OK);
    llx_engine *e = make_engine(m, 1, 1, "auto");
    float *lg = malloc(sizeof(float) * 1000);
    int bad = 1000, ok = 1, many[65] = {0};
    CHECK(llx_engine_forward(e, &bad, 1, lg, 0) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "outside the vocabulary") != NULL);
    CHECK(llx_engine_forward(e, &ok, 0, lg, 0) == LLX_ERR_ARG);
    CHECK(llx_engine_forward(e, many, 65, lg, 0) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "exceed the context") != NULL);
    CHECK_EQ_INT(llx_engine_pos(e), 0);
    llx_engine_opts o = llx_engine_defaults();
    o.precision = LLX_PREC_W8A8_STATIC;
    llx_engine *e2 = NULL;
    CHECK(llx_engine_create(&e2, m, &o) == LLX_ERR_UNSUPPORTED);
    o = llx_engine_defaults();
    o.kernels = "sse9";
    CHECK(llx_engine_create(&e2, m, &o) == LLX_ERR_ARG);
    llx_model *m2;
    CHECK(llx_model_open(&m2, llx_test_tmpfile("no-such-model")) == LLX_ERR_IO);
    free(lg);
    llx_engine_free(e);
    llx_model_close(m);
}

/* Past the last layer's attention the fp32 datapath computes only the
 * tokens whose logits are wanted (exec_fp32.c, row0): the last token's
 * logits equal those of the pass that computes every row (all_logits),
 * and the next token decoded after either prefill is the same (every
 * token's K and V of the last layer reached the cache).  GPT-2 of one
 * layer (the only layer is the last) and three, a Llama (gate/up/down),
 * prompts not a multiple of the 16-token attention block, over threads and
 * nodes. */
TEST(engine_fp32_last_layer_wanted_rows_only, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dirs[3] = {llx_fixture_awkward(1), llx_fixture_awkward(3), llx_fixture_llama()};
    static const int shapes[][2] = {{1, 1}, {1, 2}, {2, 1}}; /* nodes, threads */
    for (int d = 0; d < 3; d++) {
        CHECK(dirs[d] != NULL);
        if (!dirs[d]) continue;
        llx_model *m;
        CHECK(llx_model_open(&m, dirs[d]) == LLX_OK);
        const int V = llx_model_config(m)->n_vocab;
        int ids[37], other[37];
        for (int i = 0; i < 37; i++) ids[i] = (i * 577 + 11) % V, other[i] = (i * 131 + 5) % V;
        float *all = malloc(sizeof(float) * 37 * V), *last = malloc(sizeof(float) * V);
        float *n1 = malloc(sizeof(float) * V), *n2 = malloc(sizeof(float) * V), *junk = malloc(sizeof(float) * 37 * V);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int T = 17; T <= 37; T += 20) { /* 17: one query block past the first */
                llx_engine *e = make_engine(m, shapes[s][0], shapes[s][1], "auto");
                CHECK(e != NULL);
                if (!e) continue;
                CHECK(llx_engine_forward(e, ids, T, all, 1) == LLX_OK);
                CHECK(llx_engine_forward(e, ids + 1, 1, n1, 0) == LLX_OK);
                llx_engine_reset(e);
                /* every row of the buffers from another prompt, so a row left
                 * uncomputed but read shows (with one layer it would otherwise
                 * still hold the all-rows pass's value) */
                CHECK(llx_engine_forward(e, other, T, junk, 1) == LLX_OK);
                llx_engine_reset(e);
                CHECK(llx_engine_forward(e, ids, T, last, 0) == LLX_OK);
                CHECK(llx_engine_forward(e, ids + 1, 1, n2, 0) == LLX_OK);
                CHECK_MSG(!memcmp(all + (size_t)(T - 1) * V, last, sizeof(float) * V),
                          "model %d nodes %d threads %d T %d: last-token logits differ", d, shapes[s][0],
                          shapes[s][1], T);
                CHECK_MSG(!memcmp(n1, n2, sizeof(float) * V), "model %d nodes %d threads %d T %d: next token differs",
                          d, shapes[s][0], shapes[s][1], T);
                llx_engine_free(e);
            }
        free(all), free(last), free(n1), free(n2), free(junk);
        llx_model_close(m);
    }
}
