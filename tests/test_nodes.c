/* tests/test_nodes.c - the LoopLynx ring: for N = 1..5 nodes (threads in this
 * process) greedy tokens and every step's logits are bit-identical to N = 1,
 * in FP32 and W8A8 (static and dynamic), on the shared trained model and on
 * a synthetic model whose 3 heads do not divide N (N = 4, 5 leave nodes
 * without heads). */
#include <stdlib.h>
#include <string.h>

#include "llx/engine.h"
#include "llx/quant.h"
#include "rotfile_util.h"
#include "test.h"
#include "w8a8_fixtures.h"

#define STEPS 12

typedef struct run_out {
    int tokens[STEPS];
    float *logits; /* STEPS x V */
} run_out;

/* prompt prefill, then STEPS greedy steps; logits of every step kept */
static int run_greedy_threads(const llx_model *m, int nodes, int threads, llx_precision prec, const int *prompt, int n,
                              run_out *out)
{
    const int V = llx_model_config(m)->n_vocab;
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes;
    o.threads = threads;
    o.precision = prec;
    o.block_rows = 24; /* several ring blocks per stage */
    llx_engine *e = NULL;
    if (llx_engine_create(&e, m, &o) != LLX_OK) {
        llx_test_note("nodes %d: %s", nodes, llx_errmsg());
        return 0;
    }
    out->logits = malloc(sizeof(float) * V * STEPS);
    int ok = llx_engine_forward(e, prompt, n, out->logits, 0) == LLX_OK;
    for (int s = 0; ok && s < STEPS; s++) {
        out->tokens[s] = llx_test_argmax(out->logits + (size_t)s * V, V);
        if (s + 1 < STEPS) ok = llx_engine_forward(e, &out->tokens[s], 1, out->logits + (size_t)(s + 1) * V, 0) == LLX_OK;
    }
    if (!ok) llx_test_note("nodes %d: %s", nodes, llx_errmsg());
    llx_engine_free(e);
    return ok;
}

static int run_greedy(const llx_model *m, int nodes, llx_precision prec, const int *prompt, int n, run_out *out)
{
    return run_greedy_threads(m, nodes, 1, prec, prompt, n, out);
}

static void check_identity(const char *path, llx_precision prec, int max_nodes)
{
    llx_model *m;
    CHECK(llx_model_open(&m, path) == LLX_OK);
    const int V = llx_model_config(m)->n_vocab;
    int prompt[20];
    for (int i = 0; i < 20; i++) prompt[i] = (i * 7919 + 13) % V;
    run_out base, other;
    CHECK(run_greedy(m, 1, prec, prompt, 20, &base));
    for (int n = 2; n <= max_nodes; n++) {
        memset(&other, 0, sizeof other);
        CHECK(run_greedy(m, n, prec, prompt, 20, &other));
        CHECK_MSG(!memcmp(base.tokens, other.tokens, sizeof base.tokens), "%s, %d nodes: greedy tokens differ",
                  llx_precision_name(prec), n);
        CHECK_MSG(other.logits && !memcmp(base.logits, other.logits, sizeof(float) * V * STEPS),
                  "%s, %d nodes: logits are not bit-identical", llx_precision_name(prec), n);
        free(other.logits);
    }
    free(base.logits);
    llx_model_close(m);
}

TEST(nodes_identity_fp32_shared_model)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    check_identity(dir, LLX_PREC_FP32, 5);
}

TEST(nodes_identity_fp32_awkward_heads, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_awkward(2);
    CHECK(dir != NULL);
    if (dir) check_identity(dir, LLX_PREC_FP32, 5);
}

TEST(nodes_identity_w8a8_static_awkward_heads, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *p = llx_fixture_awkward_llx(1);
    CHECK(p != NULL);
    if (p) check_identity(p, LLX_PREC_W8A8_STATIC, 5);
}

TEST(nodes_identity_w8a8_dynamic_awkward_heads, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *p = llx_fixture_awkward_llx(2);
    CHECK(p != NULL);
    if (p) check_identity(p, LLX_PREC_W8A8_DYNAMIC, 5);
}

/* RTN with the online R4 alone (--rotate r4) on the small GPT-2: W4A4
 * int8 KV, W4A8 fp32 KV; 1-3 nodes */
TEST(nodes_identity_r4_rtn, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int v = 0; v < 2; v++) {
        const char *what = "", *p = llx_fixture_r4_lowbit(0, v, &what);
        CHECK_MSG(p != NULL, "%s: no model", what);
        if (p) check_identity(p, LLX_PREC_W8A8_STATIC, 3);
    }
}

TEST(nodes_identity_w8a8_shared_model)
{
    if (!llx_test_model_dir() || !llx_test_shared("data/tinyshakespeare/train.txt"))
        SKIP("shared shakespeare-gpt2 model or data not found");
    const char *p = llx_fixture_shakespeare_llx(1), *d = llx_fixture_shakespeare_llx(2);
    REQUIRE(p && d);
    check_identity(p, LLX_PREC_W8A8_STATIC, 5);
    check_identity(d, LLX_PREC_W8A8_DYNAMIC, 5);
}

/* Greedy tokens and every step's logits at each {nodes, threads} of cfg
 * equal one node with one thread, bit for bit. */
static void check_against_one_thread(llx_model *m, llx_precision prec, const int *prompt, int n,
                                     const int (*cfg)[2], size_t ncfg)
{
    const int V = llx_model_config(m)->n_vocab;
    run_out base, other;
    CHECK(run_greedy_threads(m, 1, 1, prec, prompt, n, &base));
    for (size_t c = 0; c < ncfg; c++) {
        memset(&other, 0, sizeof other);
        CHECK(run_greedy_threads(m, cfg[c][0], cfg[c][1], prec, prompt, n, &other));
        CHECK_MSG(!memcmp(base.tokens, other.tokens, sizeof base.tokens), "%s, %d nodes x %d threads: tokens differ",
                  llx_precision_name(prec), cfg[c][0], cfg[c][1]);
        CHECK_MSG(other.logits && !memcmp(base.logits, other.logits, sizeof(float) * V * STEPS),
                  "%s, %d nodes x %d threads: logits are not bit-identical", llx_precision_name(prec), cfg[c][0],
                  cfg[c][1]);
        free(other.logits);
    }
    free(base.logits);
}

/* Threads within a node: past a few dozen positions, decode attention
 * splits the cache by position among the threads (exec_w8a8.c); with 1, 2
 * and 3 threads, alone and on 2 nodes, a 300-token run gives the same
 * tokens and logits bit for bit. */
static void check_threads_long(llx_precision prec, int act)
{
    const char *p = llx_fixture_long_llx(act);
    CHECK(p != NULL);
    if (!p) return;
    llx_model *m;
    CHECK(llx_model_open(&m, p) == LLX_OK);
    const int V = llx_model_config(m)->n_vocab, n = 290;
    int *prompt = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) prompt[i] = (i * 7919 + 13) % V;
    static const int cfg[][2] = {{1, 2}, {1, 3}, {2, 2}};
    check_against_one_thread(m, prec, prompt, n, cfg, sizeof cfg / sizeof cfg[0]);
    free(prompt);
    llx_model_close(m);
}

TEST(nodes_threads_identity_w8a8_long_context, LLX_T_ASAN | LLX_T_TSAN)
{
    check_threads_long(LLX_PREC_W8A8_STATIC, 1);
    check_threads_long(LLX_PREC_W8A8_DYNAMIC, 2);
}

/* Threads within a node at short contexts: one-token decode attention is
 * one pool run (attn_w8a8.c): each thread appends the k and v of its own
 * heads and computes every head's scores over a share of the positions
 * (the last one's new position from the pass's k row), then past a
 * barrier the softmax and context of its own heads.  Greedy tokens and every step's logits from a 5-token prompt
 * match one thread bit for bit with 2 and 3 threads, alone and on 2 and 3
 * nodes: 3 heads that no thread count divides (threads without heads or
 * without positions), and a Llama whose 6 query heads share 2 KV heads (a
 * KV head per thread; ring nodes that start inside a group take the
 * by-heads path). */
static void check_threads_short(const char *path, llx_precision prec)
{
    llx_model *m;
    CHECK(llx_model_open(&m, path) == LLX_OK);
    const int V = llx_model_config(m)->n_vocab;
    int prompt[5];
    for (int i = 0; i < 5; i++) prompt[i] = (i * 7919 + 13) % V;
    static const int cfg[][2] = {{1, 2}, {1, 3}, {2, 2}, {3, 2}};
    check_against_one_thread(m, prec, prompt, 5, cfg, sizeof cfg / sizeof cfg[0]);
    llx_model_close(m);
}

TEST(nodes_threads_identity_w8a8_short_decode, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *g = llx_fixture_awkward_llx(1), *l = llx_fixture_llama_llx(1), *ld = llx_fixture_llama_llx(2);
    REQUIRE(g && l && ld);
    check_threads_short(g, LLX_PREC_W8A8_STATIC);
    check_threads_short(l, LLX_PREC_W8A8_STATIC);
    check_threads_short(ld, LLX_PREC_W8A8_DYNAMIC);
}

/* Ring accounting: node 0 forwards every origin's blocks except its
 * successor's (those stop one hop short of their origin), so the payload it
 * sends per pass follows from the schedule exactly; the uncovered ring time
 * can never exceed node 0's own wait. */
TEST(nodes_ring_bytes_follow_the_schedule, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_awkward(2);
    CHECK(dir != NULL);
    if (!dir) return;
    llx_model *m;
    CHECK(llx_model_open(&m, dir) == LLX_OK);
    for (int nodes = 2; nodes <= 3; nodes++) {
        llx_engine_opts o = llx_engine_defaults();
        o.nodes = nodes;
        o.threads = 1;
        llx_engine *e = NULL;
        CHECK(llx_engine_create(&e, m, &o) == LLX_OK);
        if (!e) continue;
        float *logits = malloc(sizeof(float) * llx_model_config(m)->n_vocab);
        int prompt[5] = {1, 2, 3, 4, 5}, tok = 6;
        CHECK(llx_engine_forward(e, prompt, 5, logits, 0) == LLX_OK);
        llx_engine_clear_stats(e);
        CHECK(llx_engine_forward(e, &tok, 1, logits, 0) == LLX_OK);
        llx_engine_stats st;
        llx_engine_get_stats(e, &st);
        llx_sched_opts so = {.nodes = nodes, .tokens = 1, .pos = 5};
        llx_schedule s;
        CHECK(llx_schedule_build(&s, llx_model_config(m), &so) == LLX_OK);
        long long want = 0;
        for (int i = 0; i < s.n_stages; i++) {
            const llx_stage *sg = &s.stages[i];
            if (!sg->gather) continue;
            for (int origin = 0; origin < nodes; origin++) {
                if (origin == 1) continue;
                const llx_range r = llx_schedule_slice(&s, i, origin);
                const long long elems = (long long)(r.end - r.begin) * (sg->split == LLX_SPLIT_HEADS ? sg->head_dim : 1);
                want += elems * sg->gather_bytes * sg->tokens;
            }
        }
        llx_schedule_free(&s);
        CHECK_EQ_INT(st.ring_bytes, want);
        CHECK(st.ring_exposed_s >= 0 && st.ring_exposed_s <= st.ring_wait_s + 1e-12);
        free(logits);
        llx_engine_free(e);
    }
    llx_model_close(m);
}
