/* tests/test_tiers_engine.c - the engine on every kernel tier this machine
 * runs (including amx-emu, the amx tier's code on emulated tiles):
 *   - W8A8 (static and dynamic, int8 LM head): a prompt prefilled whole or
 *     in chunks and then decoded gives logits bit-identical to the ref
 *     tier's, on 1-3 nodes and 1-2 threads (integer products are exact and
 *     every float step has one formula in all tiers);
 *   - FP32: avx2 and avx512 share the 8-lane summation order, so their
 *     logits are bit-identical too, for any node and thread count.
 * Tiers the machine lacks are noted. */
#include <stdlib.h>
#include <string.h>

#include "kernels/amx_tile.h"
#include "kernels/kernels.h"
#include "llx/engine.h"
#include "serveutil.h"
#include "test.h"
#include "w8a8_fixtures.h"

#define STEPS 6

/* prefill `prompt` in pieces of `chunk` tokens, then STEPS greedy steps; the
 * logits of the prefill's last token and of every step */
static float *run(const llx_model *m, const char *kernels, llx_precision prec, int nodes, int threads, const int *prompt,
                  int n, int chunk)
{
    const int V = llx_model_config(m)->n_vocab;
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes, o.threads = threads, o.precision = prec, o.kernels = kernels;
    llx_engine *e = NULL;
    if (llx_engine_create(&e, m, &o) != LLX_OK) {
        llx_test_note("%s: %s", kernels, llx_errmsg());
        return NULL;
    }
    float *lg = malloc(sizeof(float) * V * (STEPS + 1));
    int ok = 1;
    for (int i = 0; ok && i < n; i += chunk) ok = llx_engine_forward(e, prompt + i, n - i < chunk ? n - i : chunk, lg, 0) == LLX_OK;
    for (int s = 0; ok && s < STEPS; s++) {
        int best = 0;
        const float *l = lg + (size_t)s * V;
        for (int v = 1; v < V; v++) best = l[v] > l[best] ? v : best;
        ok = llx_engine_forward(e, &best, 1, lg + (size_t)(s + 1) * V, 0) == LLX_OK;
    }
    llx_engine_free(e);
    if (!ok) free(lg), lg = NULL;
    return lg;
}

static void same_on_tiers(const char *path, llx_precision prec, const char *base, const char *const *tiers, int ntiers)
{
    llx_model *m;
    CHECK(llx_model_open(&m, path) == LLX_OK);
    const int V = llx_model_config(m)->n_vocab, n = 41;
    int prompt[41];
    for (int i = 0; i < n; i++) prompt[i] = (i * 7919 + 13) % V;
    float *want = run(m, base, prec, 1, 1, prompt, n, n);
    CHECK(want != NULL);
    static const int cfg[][3] = {/* nodes, threads, chunk */ {1, 1, 41}, {1, 2, 17}, {2, 2, 41}, {3, 1, 9}};
    for (int t = 0; t < ntiers && want; t++) {
        if (!llx_kernels_select(tiers[t])) {
            llx_test_note("tier %s not run here", tiers[t]);
            continue;
        }
        const long faults = llx_amx_emu_faults();
        for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
            float *got = run(m, tiers[t], prec, cfg[c][0], cfg[c][1], prompt, n, cfg[c][2]);
            CHECK_MSG(got && !memcmp(want, got, sizeof(float) * V * (STEPS + 1)),
                      "%s, tier %s, %d nodes x %d threads, chunks of %d: logits differ from %s", llx_precision_name(prec),
                      tiers[t], cfg[c][0], cfg[c][1], cfg[c][2], base);
            free(got);
        }
        CHECK_EQ_INT(llx_amx_emu_faults(), faults);
    }
    free(want);
    llx_model_close(m);
}

static const char *const int_tiers[] = {"avx2", "avx512", "amx", "amx-emu"};

TEST(tiers_engine_w8a8_static_identical, LLX_T_ASAN)
{
    const char *p = llx_fixture_awkward_llx(1);
    CHECK(p != NULL);
    if (p) same_on_tiers(p, LLX_PREC_W8A8_STATIC, "ref", int_tiers, 4);
}

TEST(tiers_engine_w8a8_dynamic_identical, LLX_T_ASAN)
{
    const char *p = llx_fixture_awkward_llx(2);
    CHECK(p != NULL);
    if (p) same_on_tiers(p, LLX_PREC_W8A8_DYNAMIC, "ref", int_tiers, 4);
}

TEST(tiers_engine_fp32_vector_tiers_identical, LLX_T_ASAN)
{
    if (!llx_kernels_select("avx2")) SKIP("no vector tier here");
    const char *dir = llx_fixture_awkward(2);
    CHECK(dir != NULL);
    static const char *const f32_tiers[] = {"avx512"};
    if (dir) same_on_tiers(dir, LLX_PREC_FP32, "avx2", f32_tiers, 1);
}

/* A low-bit file on every tier.  With an int8 KV cache every tier must
 * match the ref tier bit for bit.  With an fp32 KV cache attention is the
 * fp32 kernels', whose summation order the ref tier does not share
 * (docs/quantization.md): the vector tiers must agree with avx2 bit for bit,
 * and the ref tier is not compared (a value on a rounding boundary would
 * differ from it). */
static void lowbit_on_tiers(const char *path, int fp32_kv, const char *what)
{
    static const char *const vec_tiers[] = {"avx512", "amx-emu"};
    if (!fp32_kv) same_on_tiers(path, LLX_PREC_W8A8_STATIC, "ref", int_tiers, 4);
    else if (llx_kernels_select("avx2")) same_on_tiers(path, LLX_PREC_W8A8_STATIC, "avx2", vec_tiers, 2);
    else llx_test_note("%s: no vector tier here", what);
}

/* the low-bit schemes: int4 weight panels, int4 per-token activations, the
 * FWHT and fp32 attention on every tier, 1-3 nodes, 1-2 threads (variants
 * 1 and 3 keep an fp32 KV cache) */
TEST(tiers_engine_lowbit_identical, LLX_T_ASAN)
{
    for (int v = 0; v < LLX_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_serve_model_small_lowbit(v, &what);
        CHECK_MSG(p != NULL, "%s: no model", what);
        if (p) lowbit_on_tiers(p, v & 1, what);
    }
}

/* the same for Llama's low-bit files: rotary step, grouped KV heads,
 * SiLU-gated MLP, int4 and the online Hadamard of 192 = 12 * 16 (variant 3
 * differs from the ref tier here) */
TEST(tiers_engine_llama_lowbit_identical, LLX_T_ASAN)
{
    for (int v = 0; v < LLX_LLAMA_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_fixture_llama_lowbit(v, &what);
        CHECK_MSG(p != NULL, "%s: no model", what);
        if (p) lowbit_on_tiers(p, v & 1, what);
    }
}
