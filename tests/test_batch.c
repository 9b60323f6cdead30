/* tests/test_batch.c - continuous batching: a sequence's logits and tokens
 * are bit-identical whether it runs alone or in steps with other sequences
 * (that join late, leave early, prefill in chunks beside its decode, and
 * leave its KV blocks apart in the pool) and whether its prompt's blocks
 * start at the cache's first or later (the prompt attention kernels read
 * one stretch from wherever it starts), for FP32 and W8A8 (static and
 * dynamic), on 1 and 2 nodes with 1 and 2 threads; equal to the plain
 * forward path too; and the pool's limits (slots, blocks) are enforced. */
#include <stdlib.h>
#include <string.h>

#include "llx/engine.h"
#include "serveutil.h"
#include "test.h"

#define PROMPT 70
#define STEPS 20

typedef struct trace {
    float *logits; /* [STEPS + 1][V]: after the prompt, then after each decode step */
    int tokens[STEPS + 1];
} trace;

static void make_prompt(int *p, int n, int V, unsigned seed)
{
    for (int i = 0; i < n; i++) p[i] = (int)((seed * 2654435761u + (unsigned)i * 40503u) % (unsigned)V);
}

static int open_engine(llx_model **m, llx_engine **e, const char *path, llx_precision prec, int nodes, int threads)
{
    if (llx_model_open(m, path) != LLX_OK) {
        llx_test_note("open %s: %s", path, llx_errmsg());
        return 0;
    }
    llx_engine_opts o = llx_engine_defaults();
    o.precision = prec;
    o.nodes = nodes;
    o.threads = threads;
    o.max_seqs = 4;
    o.max_ctx = 256;
    o.max_batch = 32; /* long prompts take several passes inside a step */
    if (llx_engine_create(e, *m, &o) != LLX_OK) {
        llx_test_note("engine: %s", llx_errmsg());
        llx_model_close(*m);
        return 0;
    }
    return 1;
}

/* The sequence alone: its prompt in one step, then greedy decode. */
static int run_alone(llx_engine *e, const int *prompt, trace *tr, int V)
{
    int s;
    if (llx_seq_open(e, PROMPT + STEPS, &s) != LLX_OK) return 0;
    llx_seq_tokens it = {s, prompt, PROMPT};
    int ok = llx_engine_step(e, &it, 1, tr->logits) == LLX_OK;
    for (int k = 0; ok && k < STEPS; k++) {
        tr->tokens[k] = llx_test_argmax(tr->logits + (size_t)k * V, V);
        it = (llx_seq_tokens){s, &tr->tokens[k], 1};
        ok = llx_engine_step(e, &it, 1, tr->logits + (size_t)(k + 1) * V) == LLX_OK;
    }
    if (ok) tr->tokens[STEPS] = llx_test_argmax(tr->logits + (size_t)STEPS * V, V);
    llx_seq_close(e, s);
    return ok;
}

/* The same sequence (A) among others: B and C start first, B leaves so A's
 * blocks lie apart, A prefills in chunks beside C's decode, D joins while A
 * decodes, C leaves before A is done. */
typedef struct other {
    int seq, n, fed, last;
    int prompt[120];
} other;

static int run_batched(llx_engine *e, const int *prompt, trace *tr, int V)
{
    float *lg = malloc((size_t)4 * V * sizeof *lg);
    other B = {.n = 30}, C = {.n = 100}, D = {.n = 45};
    make_prompt(B.prompt, B.n, V, 11), make_prompt(C.prompt, C.n, V, 12), make_prompt(D.prompt, D.n, V, 13);
    int ok = lg && llx_seq_open(e, B.n + 10, &B.seq) == LLX_OK && llx_seq_open(e, C.n + 60, &C.seq) == LLX_OK;
    llx_seq_tokens it[4];
    it[0] = (llx_seq_tokens){B.seq, B.prompt, B.n};
    it[1] = (llx_seq_tokens){C.seq, C.prompt, C.n};
    ok = ok && llx_engine_step(e, it, 2, lg) == LLX_OK;
    C.last = llx_test_argmax(lg + V, V);
    llx_seq_close(e, B.seq); /* its block is now the lowest free one */
    int A;
    ok = ok && llx_seq_open(e, PROMPT + STEPS, &A) == LLX_OK;
    const int chunks[3] = {25, 25, PROMPT - 50};
    int fed = 0, k = 0, d_open = 0;
    for (int c = 0; ok && c < 3; c++) { /* A's prompt in chunks, C decoding beside it */
        it[0] = (llx_seq_tokens){C.seq, &C.last, 1};
        it[1] = (llx_seq_tokens){A, prompt + fed, chunks[c]};
        ok = llx_engine_step(e, it, 2, lg) == LLX_OK;
        fed += chunks[c];
        C.last = llx_test_argmax(lg, V);
    }
    if (ok) memcpy(tr->logits, lg + V, (size_t)V * sizeof *lg);
    for (; ok && k < STEPS; k++) {
        tr->tokens[k] = llx_test_argmax(tr->logits + (size_t)k * V, V);
        int n = 0;
        if (k == 5) { /* D joins with its whole prompt */
            ok = llx_seq_open(e, D.n + 30, &D.seq) == LLX_OK;
            d_open = 1;
            it[n++] = (llx_seq_tokens){D.seq, D.prompt, D.n};
        } else if (d_open) {
            it[n++] = (llx_seq_tokens){D.seq, &D.last, 1};
        }
        const int a_at = n;
        it[n++] = (llx_seq_tokens){A, &tr->tokens[k], 1};
        if (k < 12) it[n++] = (llx_seq_tokens){C.seq, &C.last, 1};
        if (k == 12) llx_seq_close(e, C.seq);
        ok = ok && llx_engine_step(e, it, n, lg) == LLX_OK;
        if (!ok) break;
        memcpy(tr->logits + (size_t)(k + 1) * V, lg + (size_t)a_at * V, (size_t)V * sizeof *lg);
        if (d_open) D.last = llx_test_argmax(lg, V);
        if (k < 12) C.last = llx_test_argmax(lg + (size_t)(n - 1) * V, V);
    }
    if (ok) tr->tokens[STEPS] = llx_test_argmax(tr->logits + (size_t)STEPS * V, V);
    if (!ok) llx_test_note("batched run: %s", llx_errmsg());
    llx_seq_close(e, A);
    llx_seq_close(e, D.seq);
    if (k < 12 || !ok) llx_seq_close(e, C.seq);
    free(lg);
    return ok;
}

/* The sequence's prompt alone in steps of its own tokens (the prompt
 * attention kernels), its blocks consecutive but after another sequence's
 * (the stretch starts at cache position 128, not 0), in chunks that cross
 * a block boundary; then greedy decode beside nothing. */
static int run_offset(llx_engine *e, const int *prompt, trace *tr, int V)
{
    other X = {.n = 100}; /* two blocks, filled with its own prompt */
    make_prompt(X.prompt, X.n, V, 14);
    int s, fed = 0, ok = llx_seq_open(e, X.n, &X.seq) == LLX_OK;
    const llx_seq_tokens xt = {X.seq, X.prompt, X.n};
    if (ok && (llx_engine_step(e, &xt, 1, tr->logits) != LLX_OK || llx_seq_open(e, PROMPT + STEPS, &s) != LLX_OK))
        llx_seq_close(e, X.seq), ok = 0;
    if (!ok) return 0;
    static const int chunks[3] = {40, 7, PROMPT - 47};
    for (int c = 0; ok && c < 3; fed += chunks[c++]) {
        const llx_seq_tokens it = {s, prompt + fed, chunks[c]};
        ok = llx_engine_step(e, &it, 1, tr->logits) == LLX_OK;
    }
    for (int k = 0; ok && k < STEPS; k++) {
        tr->tokens[k] = llx_test_argmax(tr->logits + (size_t)k * V, V);
        const llx_seq_tokens it = {s, &tr->tokens[k], 1};
        ok = llx_engine_step(e, &it, 1, tr->logits + (size_t)(k + 1) * V) == LLX_OK;
    }
    if (ok) tr->tokens[STEPS] = llx_test_argmax(tr->logits + (size_t)STEPS * V, V);
    llx_seq_close(e, s);
    llx_seq_close(e, X.seq);
    return ok;
}

/* The plain forward path (the default sequence) for the same prompt. */
static int run_forward(llx_engine *e, const int *prompt, trace *tr, int V)
{
    llx_engine_reset(e);
    int ok = llx_engine_forward(e, prompt, PROMPT, tr->logits, 0) == LLX_OK;
    for (int k = 0; ok && k < STEPS; k++) {
        tr->tokens[k] = llx_test_argmax(tr->logits + (size_t)k * V, V);
        ok = llx_engine_forward(e, &tr->tokens[k], 1, tr->logits + (size_t)(k + 1) * V, 0) == LLX_OK;
    }
    return ok;
}

static void check_invariance(const char *path, llx_precision prec, int nodes, int threads)
{
    llx_model *m;
    llx_engine *e;
    if (!path || !open_engine(&m, &e, path, prec, nodes, threads)) {
        CHECK(0);
        return;
    }
    const int V = llx_engine_config(e)->n_vocab;
    int prompt[PROMPT];
    make_prompt(prompt, PROMPT, V, 7);
    trace a = {.logits = calloc((size_t)(STEPS + 1) * V, sizeof(float))}, b = {.logits = calloc((size_t)(STEPS + 1) * V, sizeof(float))};
    trace f = {.logits = calloc((size_t)(STEPS + 1) * V, sizeof(float))};
    CHECK(run_alone(e, prompt, &a, V));
    CHECK(run_batched(e, prompt, &b, V));
    CHECK_MSG(!memcmp(a.logits, b.logits, (size_t)(STEPS + 1) * V * sizeof(float)),
              "%s, %d node(s) x %d thread(s): logits differ alone vs batched", llx_precision_name(prec), nodes, threads);
    CHECK(!memcmp(a.tokens, b.tokens, sizeof a.tokens));
    CHECK(run_offset(e, prompt, &b, V));
    CHECK_MSG(!memcmp(a.logits, b.logits, (size_t)(STEPS + 1) * V * sizeof(float)),
              "%s, %d node(s) x %d thread(s): logits differ with the prompt's stretch at cache position 128",
              llx_precision_name(prec), nodes, threads);
    CHECK_EQ_INT(llx_engine_kv_free(e), 4 * 4); /* every block back */
    free(b.logits);
    llx_engine_free(e);
    /* the forward path on an engine of one sequence */
    llx_engine_opts o = llx_engine_defaults();
    o.precision = prec, o.nodes = nodes, o.threads = threads, o.max_ctx = 256;
    if (llx_engine_create(&e, m, &o) == LLX_OK) {
        CHECK(run_forward(e, prompt, &f, V));
        CHECK_MSG(!memcmp(a.logits, f.logits, (size_t)(STEPS + 1) * V * sizeof(float)),
                  "%s: logits differ from llx_engine_forward", llx_precision_name(prec));
        llx_engine_free(e);
    }
    free(a.logits);
    free(f.logits);
    llx_model_close(m);
}

TEST(batch_invariance_fp32, LLX_T_ASAN | LLX_T_TSAN)
{
    check_invariance(llx_serve_model_small(), LLX_PREC_FP32, 1, 1);
    check_invariance(llx_serve_model_small(), LLX_PREC_FP32, 2, 2);
}

TEST(batch_invariance_w8a8, LLX_T_ASAN | LLX_T_TSAN)
{
    check_invariance(llx_serve_model_small_llx(), LLX_PREC_W8A8_STATIC, 1, 2);
    check_invariance(llx_serve_model_small_llx(), LLX_PREC_W8A8_STATIC, 2, 1);
    check_invariance(llx_serve_model_small_llx(), LLX_PREC_W8A8_DYNAMIC, 1, 1);
}

/* every low-bit scheme (int4 weights, int4 activations, fp32 or int8 KV,
 * the online Hadamard) on the block pool */
TEST(batch_invariance_lowbit, LLX_T_ASAN | LLX_T_TSAN)
{
    for (int v = 0; v < LLX_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_serve_model_small_lowbit(v, &what);
        llx_test_note("%s", what);
        check_invariance(p, LLX_PREC_W8A8_STATIC, 1, 2);
        check_invariance(p, LLX_PREC_W8A8_DYNAMIC, 2, 1);
    }
}

TEST(batch_pool_limits, LLX_T_ASAN)
{
    llx_model *m;
    llx_engine *e;
    const char *path = llx_serve_model_small();
    if (!path || llx_model_open(&m, path) != LLX_OK) {
        CHECK(0);
        return;
    }
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 1, o.max_seqs = 3, o.max_ctx = 256, o.kv_blocks = 5;
    if (llx_engine_create(&e, m, &o) != LLX_OK) {
        CHECK(0);
        llx_model_close(m);
        return;
    }
    CHECK_EQ_INT(llx_engine_max_seqs(e), 3);
    CHECK_EQ_INT(llx_engine_kv_free(e), 5);
    int a, b, c, d;
    CHECK_EQ_INT(llx_seq_open(e, 256, &a), LLX_OK); /* 4 blocks */
    CHECK_EQ_INT(llx_seq_open(e, 100, &b), LLX_ERR_BUSY); /* 2 blocks, 1 free */
    CHECK(strstr(llx_errmsg(), "free blocks") != NULL);
    CHECK_EQ_INT(llx_seq_open(e, 64, &b), LLX_OK);
    CHECK_EQ_INT(llx_engine_kv_free(e), 0);
    CHECK_EQ_INT(llx_seq_open(e, 1, &c), LLX_ERR_BUSY);
    CHECK_EQ_INT(llx_seq_open(e, 257, &c), LLX_ERR_ARG);
    llx_seq_close(e, a);
    CHECK_EQ_INT(llx_seq_open(e, 10, &c), LLX_OK);
    CHECK_EQ_INT(llx_seq_open(e, 10, &d), LLX_OK);
    int x;
    CHECK_EQ_INT(llx_seq_open(e, 10, &x), LLX_ERR_BUSY); /* three slots */
    CHECK(strstr(llx_errmsg(), "slots") != NULL);
    /* a step past a sequence's reservation, twice the same sequence, a closed one */
    int toks[20] = {0};
    float *lg = malloc((size_t)3 * llx_engine_config(e)->n_vocab * sizeof *lg);
    llx_seq_tokens it[2] = {{c, toks, 11}, {c, toks, 1}};
    CHECK_EQ_INT(llx_engine_step(e, it, 1, lg), LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "exceed the sequence's 10 positions") != NULL);
    it[0].n = 2;
    CHECK_EQ_INT(llx_engine_step(e, it, 2, lg), LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "twice") != NULL);
    it[0] = (llx_seq_tokens){d, toks, 3};
    CHECK_EQ_INT(llx_engine_step(e, it, 1, lg), LLX_OK);
    CHECK_EQ_INT(llx_seq_pos(e, d), 3);
    llx_seq_close(e, d);
    CHECK_EQ_INT(llx_engine_step(e, it, 1, lg), LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "not open") != NULL);
    free(lg);
    llx_engine_free(e);
    llx_model_close(m);
}
