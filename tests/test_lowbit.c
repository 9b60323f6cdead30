/* tests/test_lowbit.c - the transformed fp32 model the low-bit quantizer
 * calibrates on: after folding the norms and rotating (residual mixing
 * rotation, V/O per head, the down projection's input offline and online),
 * the engine's logits match the HuggingFace model's in fp32, on a model
 * whose widths need Paley factors (96 = 12 * 8, heads of 24, F = 384 =
 * 12 * 32) and on the shared GPT-2; the same for Llama (RMSNorm folded, V
 * per KV head) on a synthetic GQA model and the shared tiny Llama.  Each
 * also with the online rotation before the down projection alone
 * (--rotate r4: norms unfolded, no R1/R2, no LM-head bias). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "llx/checkpoint.h"
#include "model/llx_model.h"
#include "quant/fmodel.h"
#include "test.h"
#include "w8a8_fixtures.h"

static const char *paley_model(void)
{
    static char dir[512];
    const llx_config c = {.n_vocab = 500, .n_ctx = 32, .n_embd = 96, .n_layer = 2, .n_head = 4, .n_inner = 384,
                          .ln_eps = 1e-5f};
    return llx_fixture_synth(dir, sizeof dir, "paley-gpt2", &c, 3, "F32");
}

/* r4: the online rotation before the down projection alone (--rotate r4) */
static void invariance_of(const char *dir, double tol, int r4)
{
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, dir) == LLX_OK);
    llx_fmodel fm;
    REQUIRE(llx_fmodel_load(&fm, m) == LLX_OK);
    REQUIRE((r4 ? llx_fmodel_rotate_down(&fm, 7) : llx_fmodel_rotate(&fm, 7, NULL)) == LLX_OK);
    void *img = NULL;
    size_t size = 0;
    REQUIRE(llx_fmodel_image(&fm, dir, &img, &size) == LLX_OK);
    llx_model *r = NULL;
    REQUIRE(llx_model_open_mem(&r, img, size, "rotated") == LLX_OK);
    const int llama = m->cfg.arch == LLX_ARCH_LLAMA; /* RMSNorm: no bias to fold into the LM head */
    const llx_scheme_info *si = &llx_llx_qinfo(r->qf)->s;
    CHECK(si->had_down && si->rotate == !r4 && si->lm_bias == (!llama && !r4));
    if (r4) { /* the norms stay: the image's final norm is the model's */
        float *g = malloc(sizeof(float) * (size_t)m->cfg.n_embd);
        REQUIRE(g);
        REQUIRE(llx_hf_read_vec(m->hf, -1, LLX_VEC_LNF_G, g) == LLX_OK);
        const float *rg = llx_llx_tensor(r->qf, "ln_f.g", LLX_DT_F32, m->cfg.n_embd, 0);
        CHECK(rg && !memcmp(rg, g, sizeof(float) * (size_t)m->cfg.n_embd));
        free(g);
    }
    enum { N = 24 };
    int ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 11) % m->cfg.n_vocab;
    float *a = llx_test_all_logits(m, LLX_PREC_FP32, ids, N), *b = llx_test_all_logits(r, LLX_PREC_W8A8_STATIC, ids, N);
    REQUIRE(a && b);
    double diff = 0, mag = 0;
    for (size_t i = 0; i < (size_t)N * m->cfg.n_vocab; i++) diff = fmax(diff, fabs(a[i] - b[i])), mag = fmax(mag, fabs(a[i]));
    llx_test_note("%s: max |logit| %.3g, max difference %.3g", dir, mag, diff);
    CHECK(mag > 0.1);
    CHECK(diff <= tol * mag);
    free(a), free(b);
    llx_model_close(r);
    free(img);
    llx_model_close(m);
}

static void invariance(const char *dir, double tol)
{
    invariance_of(dir, tol, 0);
    invariance_of(dir, tol, 1);
}

TEST(lowbit_rotation_keeps_logits_paley)
{
    const char *dir = paley_model();
    REQUIRE(dir);
    invariance(dir, 1e-4);
}

/* Llama: RMSNorm folded, R1, R2 per KV head (GQA 6/2), R4 of 192 = 12 * 16 */
TEST(lowbit_rotation_keeps_logits_llama, LLX_T_ASAN)
{
    const char *dir = llx_fixture_llama_paley();
    REQUIRE(dir);
    invariance(dir, 1e-4);
}

/* the shared tiny Llama: tied embeddings, 640 = 20 * 32 */
TEST(lowbit_rotation_keeps_logits_tinyllama, LLX_T_LONG)
{
    if (!llx_test_shared("models/tinyllama-shakespeare/config.json")) SKIP("shared tinyllama-shakespeare not found");
    invariance(llx_test_shared("models/tinyllama-shakespeare"), 1e-4);
}

TEST(lowbit_rotation_keeps_logits_shared, LLX_T_LONG)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    invariance(dir, 1e-4);
}
