/* tests/test_w8a8_rows.c - the quantized datapath's prompt passes: past the
 * last layer's attention only the wanted tokens' rows are computed (every
 * token's K and V still reach the cache), and the fp32-KV mode's prompt
 * append in the pool; both must leave the wanted logits, the cache and so
 * the next decoded token bit for bit as before, for every scheme (W8A8
 * static and dynamic, W4A8, W4A4; int8 and fp32 KV), GPT-2 and Llama, one
 * and two threads, one and two nodes. */
#include <stdlib.h>
#include <string.h>

#include "llx/engine.h"
#include "serveutil.h"
#include "test.h"
#include "w8a8_fixtures.h"

typedef struct qmodel {
    const char *path, *what;
    llx_precision prec;
} qmodel;

/* The quantized fixtures; returns how many were built. */
static int quantized_models(qmodel *out)
{
    int n = 0;
    const char *p;
    if ((p = llx_fixture_awkward_llx(1))) out[n++] = (qmodel){p, "gpt2 w8a8 static", LLX_PREC_W8A8_STATIC};
    else CHECK(!"no awkward static .llx");
    if ((p = llx_fixture_awkward_llx(2))) out[n++] = (qmodel){p, "gpt2 w8a8 dynamic", LLX_PREC_W8A8_DYNAMIC};
    else CHECK(!"no awkward dynamic .llx");
    if ((p = llx_fixture_llama_llx(1))) out[n++] = (qmodel){p, "llama w8a8 static", LLX_PREC_W8A8_STATIC};
    else CHECK(!"no llama static .llx");
    if ((p = llx_fixture_llama_llx(2))) out[n++] = (qmodel){p, "llama w8a8 dynamic", LLX_PREC_W8A8_DYNAMIC};
    else CHECK(!"no llama dynamic .llx");
    for (int v = 0; v < LLX_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        if ((p = llx_serve_model_small_lowbit(v, &what))) out[n++] = (qmodel){p, what, LLX_PREC_W8A8_STATIC};
        CHECK_MSG(p != NULL, "gpt2 %s: no model", what);
    }
    for (int v = 0; v < LLX_LLAMA_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        if ((p = llx_fixture_llama_lowbit(v, &what))) out[n++] = (qmodel){p, what, LLX_PREC_W8A8_STATIC};
        CHECK_MSG(p != NULL, "%s: no model", what);
    }
    return n;
}

static llx_engine *make_engine(const llx_model *m, llx_precision prec, int nodes, int threads)
{
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes;
    o.threads = threads;
    o.precision = prec;
    llx_engine *e = NULL;
    if (llx_engine_create(&e, m, &o) != LLX_OK) llx_test_note("engine: %s", llx_errmsg());
    return e;
}

static const int shapes[][2] = {{1, 1}, {1, 2}, {2, 1}}; /* nodes, threads */

/* The two ways of computing a prompt gave the same last-token logits (l1,
 * l2) and the same next decoded token's (n1, n2), bit for bit. */
static void check_same(int ok, const qmodel *q, size_t s, int T, const float *l1, const float *l2, const float *n1,
                       const float *n2, int V)
{
    CHECK_MSG(ok, "%s: %s", q->what, llx_errmsg());
    CHECK_MSG(!ok || !memcmp(l1, l2, sizeof(float) * V), "%s nodes %d threads %d T %d: last-token logits differ",
              q->what, shapes[s][0], shapes[s][1], T);
    CHECK_MSG(!ok || !memcmp(n1, n2, sizeof(float) * V),
              "%s nodes %d threads %d T %d: next token's logits differ (the cache)", q->what, shapes[s][0],
              shapes[s][1], T);
}

/* Prompt ids[0..T) with every position's logits (all rows computed), then
 * one decode step, against the same prompt with the last token's logits
 * only on an engine whose buffers hold another prompt's rows (so a row
 * left uncomputed but read would show), then the same decode step. */
TEST(w8a8_last_layer_wanted_rows_only, LLX_T_ASAN | LLX_T_TSAN)
{
    qmodel qm[16];
    const int nm = quantized_models(qm);
    for (int i = 0; i < nm; i++) {
        llx_model *m = NULL;
        CHECK_MSG(llx_model_open(&m, qm[i].path) == LLX_OK, "%s: %s", qm[i].what, llx_errmsg());
        if (!m) continue;
        const int V = llx_model_config(m)->n_vocab;
        int ids[37], other[37];
        for (int t = 0; t < 37; t++) ids[t] = (t * 577 + 11) % V, other[t] = (t * 131 + 5) % V;
        float *all = malloc(sizeof(float) * 37 * V), *last = malloc(sizeof(float) * V);
        float *n1 = malloc(sizeof(float) * V), *n2 = malloc(sizeof(float) * V);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int T = 17; T <= 37; T += 20) {
                llx_engine *a = make_engine(m, qm[i].prec, shapes[s][0], shapes[s][1]);
                llx_engine *b = make_engine(m, qm[i].prec, shapes[s][0], shapes[s][1]);
                CHECK(a && b);
                int ok = a && b;
                ok = ok && llx_engine_forward(b, other, T, all, 1) == LLX_OK; /* b's buffers: other rows */
                if (b) llx_engine_reset(b);
                ok = ok && llx_engine_forward(a, ids, T, all, 1) == LLX_OK;
                ok = ok && llx_engine_forward(a, ids + 1, 1, n1, 0) == LLX_OK;
                ok = ok && llx_engine_forward(b, ids, T, last, 0) == LLX_OK;
                ok = ok && llx_engine_forward(b, ids + 1, 1, n2, 0) == LLX_OK;
                check_same(ok, &qm[i], s, T, all + (size_t)(T - 1) * V, last, n1, n2, V);
                llx_engine_free(a);
                llx_engine_free(b);
            }
        free(all), free(last), free(n1), free(n2);
        llx_model_close(m);
    }
}

/* The fp32-KV schemes' prompt append runs in the pool, a block of 16
 * tokens at a time (attn_f32.c): a prompt in one pass gives the last
 * token's logits and the next decoded token's of the same prompt fed one
 * token per pass (the serial append), bit for bit. */
TEST(w8a8_fp32kv_prompt_append_in_pool, LLX_T_ASAN | LLX_T_TSAN)
{
    qmodel qm[4];
    int nm = 0;
    for (int v = 1; v < 4; v += 2) { /* the fp32-KV variants (w8a8_fixtures.h) */
        const char *what = "", *p = llx_serve_model_small_lowbit(v, &what);
        if (p) qm[nm++] = (qmodel){p, what, LLX_PREC_W8A8_STATIC};
        CHECK_MSG(p != NULL, "gpt2 %s: no model", what);
        if ((p = llx_fixture_llama_lowbit(v, &what))) qm[nm++] = (qmodel){p, what, LLX_PREC_W8A8_STATIC};
        CHECK_MSG(p != NULL, "%s: no model", what);
    }
    for (int i = 0; i < nm; i++) {
        llx_model *m = NULL;
        CHECK_MSG(llx_model_open(&m, qm[i].path) == LLX_OK, "%s: %s", qm[i].what, llx_errmsg());
        if (!m) continue;
        const int V = llx_model_config(m)->n_vocab;
        int ids[37];
        for (int t = 0; t < 37; t++) ids[t] = (t * 389 + 3) % V;
        float *l1 = malloc(sizeof(float) * V), *l2 = malloc(sizeof(float) * V);
        float *n1 = malloc(sizeof(float) * V), *n2 = malloc(sizeof(float) * V);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int T = 17; T <= 37; T += 20) {
                llx_engine *a = make_engine(m, qm[i].prec, shapes[s][0], shapes[s][1]);
                llx_engine *b = make_engine(m, qm[i].prec, shapes[s][0], shapes[s][1]);
                CHECK(a && b);
                int ok = a && b;
                for (int t = 0; ok && t < T; t++) ok = llx_engine_forward(a, ids + t, 1, l1, 0) == LLX_OK;
                ok = ok && llx_engine_forward(a, ids + 1, 1, n1, 0) == LLX_OK;
                ok = ok && llx_engine_forward(b, ids, T, l2, 0) == LLX_OK;
                ok = ok && llx_engine_forward(b, ids + 1, 1, n2, 0) == LLX_OK;
                check_same(ok, &qm[i], s, T, l1, l2, n1, n2, V);
                llx_engine_free(a);
                llx_engine_free(b);
            }
        free(l1), free(l2), free(n1), free(n2);
        llx_model_close(m);
    }
}
