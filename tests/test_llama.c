/* tests/test_llama.c - Llama end to end: the shared tinyllama-shakespeare
 * against its golden outputs (last-position logits within a small multiple
 * of the float32-vs-float64 noise each golden records, greedy continuations,
 * NLL on valid.txt), W8A8 perplexity gates, and bit-identical logits for
 * N = 1..8 nodes and 1-2 threads in FP32 and W8A8 on a synthetic Llama with
 * grouped KV heads (N above the KV-head count replicates KV heads); Llama
 * configs the engine cannot run are refused with one line. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/engine.h"
#include "llx/quant.h"
#include "ckpt_util.h"
#include "rotfile_util.h"
#include "test.h"
#include "w8a8_fixtures.h"

static const char *tiny_llama(void) { return llx_test_shared("models/tinyllama-shakespeare/config.json") ? llx_test_shared("models/tinyllama-shakespeare") : NULL; }

static float *read_f32(const char *path, int n)
{
    FILE *f = fopen(path, "rb");
    float *v = f ? malloc(sizeof(float) * (size_t)n) : NULL;
    if (v && fread(v, sizeof(float), (size_t)n, f) != (size_t)n) free(v), v = NULL;
    if (f) fclose(f);
    return v;
}

/* golden/prompts.json of the shared model (a new reference) or NULL. */
static json_t *golden_prompts(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/prompts.json", dir);
    return json_load_file(path, 0, NULL);
}

/* Every golden prompt: logits of the last input position, then 32 greedy
 * steps (fed the golden ids, so one miss does not cascade). */
TEST(llama_golden_logits_and_greedy)
{
    const char *dir = tiny_llama();
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    char path[1024];
    json_t *root = golden_prompts(dir);
    CHECK(root != NULL);
    llx_model *m = NULL;
    CHECK(llx_model_open(&m, dir) == LLX_OK);
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 2;
    llx_engine *e = NULL;
    CHECK(m && llx_engine_create(&e, m, &o) == LLX_OK);
    if (!root || !e) {
        llx_engine_free(e), llx_model_close(m), json_decref(root);
        return;
    }
    const int V = llx_model_config(m)->n_vocab;
    float *lg = malloc(sizeof(float) * V);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(root, "prompts"), i, p)
    {
        json_t *ids = json_object_get(p, "input_ids"), *greedy = json_object_get(json_object_get(p, "greedy"), "ids");
        const int n = (int)json_array_size(ids);
        int toks[64];
        for (int k = 0; k < n && k < 64; k++) toks[k] = (int)json_integer_value(json_array_get(ids, k));
        llx_engine_reset(e);
        CHECK(llx_engine_forward(e, toks, n, lg, 0) == LLX_OK);
        snprintf(path, sizeof path, "%s/golden/%s", dir, json_string_value(json_object_get(p, "last_logits_file")));
        float *gold = read_f32(path, V);
        CHECK(gold != NULL);
        const double noise = json_real_value(json_object_get(p, "last_logits_f32_vs_f64_max_abs_diff"));
        double md = 0;
        for (int k = 0; gold && k < V; k++) md = fabs(lg[k] - gold[k]) > md ? fabs(lg[k] - gold[k]) : md;
        CHECK_MSG(md <= 4 * noise, "%s: max |logit - golden| %.3g above 4 x the f32-vs-f64 noise %.3g",
                  json_string_value(json_object_get(p, "name")), md, noise);
        int same = 0;
        const int steps = (int)json_array_size(greedy);
        for (int s = 0; s < steps; s++) {
            int want = (int)json_integer_value(json_array_get(greedy, s));
            same += llx_test_argmax(lg, V) == want;
            CHECK(llx_engine_forward(e, &want, 1, lg, 0) == LLX_OK);
        }
        CHECK_MSG(same == steps, "%s: greedy %d of %d", json_string_value(json_object_get(p, "name")), same, steps);
        llx_test_note("%-7s max |dlogit| %.2g (noise %.2g), greedy %d/%d", json_string_value(json_object_get(p, "name")),
                      md, noise, same, steps);
        free(gold);
    }
    free(lg);
    llx_engine_free(e);
    llx_model_close(m);
    json_decref(root);
}

/* 1 when the JSON array text at key in out equals want[0..n). */
static int json_ids_equal(const char *out, const char *key, const json_t *want, size_t n)
{
    json_t *root = json_loads(out, 0, NULL), *got = json_object_get(root, key);
    int ok = got && json_array_size(got) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_integer_value(json_array_get(got, i)) == json_integer_value(json_array_get(want, i));
    json_decref(root);
    return ok;
}

/* The CLI on the golden prompts: `tokenize` gives the golden input ids
 * (BOS first, as HF's tokenizer with this post-processor), `generate
 * --greedy` feeds the same ids and continues with the golden tokens. */
TEST(llama_golden_cli)
{
    const char *dir = tiny_llama();
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    json_t *root = golden_prompts(dir);
    REQUIRE(root);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(root, "prompts"), i, p)
    {
        if (i >= 3) break;
        const char *text = json_string_value(json_object_get(p, "text"));
        json_t *ids = json_object_get(p, "input_ids"), *greedy = json_object_get(json_object_get(p, "greedy"), "ids");
        llx_proc_result r;
        llx_cli(&r, "tokenize", "-m", dir, "-p", text, "--json", NULL);
        CHECK_MSG(r.status == 0 && json_ids_equal(r.out, "tokens", ids, json_array_size(ids)), "tokenize: %s%s", r.out,
                  r.err);
        llx_proc_free(&r);
        llx_cli(&r, "generate", "-m", dir, "-p", text, "-n", "8", "--greedy", "--json", "--threads", "2", NULL);
        CHECK_MSG(r.status == 0 && json_ids_equal(r.out, "prompt_tokens", ids, json_array_size(ids)) &&
                      json_ids_equal(r.out, "tokens", greedy, 8),
                  "generate: %s%s", r.out, r.err);
        llx_proc_free(&r);
    }
    json_decref(root);
}

/* The golden NLL protocol: the first 4096 ids of valid.txt (no special
 * tokens), 32 windows of 128, no BOS. */
static int valid_ids(const llx_model *m, int **ids)
{
    const char *valid = llx_test_shared("data/tinyshakespeare/valid.txt");
    FILE *f = valid ? fopen(valid, "rb") : NULL;
    if (!f) return 0;
    char *text = malloc(1 << 20);
    const size_t len = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    int n = 0;
    const int ok = llx_tokenize(llx_model_tokenizer(m), text, len, ids, &n) == LLX_OK;
    free(text);
    return ok ? n : 0;
}

static double model_nll(const char *path, llx_precision prec)
{
    llx_model *m = NULL;
    if (llx_model_open(&m, path) != LLX_OK) return -1;
    int *ids = NULL, n = valid_ids(m, &ids);
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 2;
    o.precision = prec;
    o.max_batch = 128;
    llx_engine *e = NULL;
    llx_ppl_result r = {0};
    double nll = -1;
    if (n >= 4096 && llx_engine_create(&e, m, &o) == LLX_OK && llx_perplexity(e, ids, 4096, 128, NULL, NULL, &r) == LLX_OK)
        nll = r.nll;
    else llx_test_note("%s: %s", path, llx_errmsg());
    free(ids);
    llx_engine_free(e);
    llx_model_close(m);
    return nll;
}

TEST(llama_golden_nll_and_w8a8_perplexity, LLX_T_LONG)
{
    const char *dir = tiny_llama();
    const char *train = llx_test_shared("data/tinyshakespeare/train.txt");
    if (!dir || !train) SKIP("shared tinyllama-shakespeare or tinyshakespeare not found");
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/nll.json", dir);
    json_t *g = json_load_file(path, 0, NULL);
    const double want = json_real_value(json_object_get(g, "nll"));
    json_decref(g);
    const double fp32 = model_nll(dir, LLX_PREC_FP32);
    CHECK_MSG(fabs(fp32 - want) <= 1e-4, "fp32 NLL %.6f, golden %.6f", fp32, want);
    static const int acts[2] = {1, 2}; /* static, dynamic */
    static const double gate[2] = {0.01, 0.005};
    for (int a = 0; a < 2; a++) {
        const char *out = llx_test_tmpfile(a ? "tl-dynamic.llx" : "tl-static.llx");
        llx_quant_opts q = llx_quant_defaults();
        q.calib_path = train;
        q.act_mode = acts[a];
        CHECK(llx_quantize(dir, &q, out) == LLX_OK);
        const double nll = model_nll(out, a ? LLX_PREC_W8A8_DYNAMIC : LLX_PREC_W8A8_STATIC);
        const double rel = exp(nll) / exp(fp32) - 1;
        llx_test_note("%s W8A8: ppl %.4f vs fp32 %.4f (%+.3f%%, gate %.1f%%)", a ? "dynamic" : "static", exp(nll),
                      exp(fp32), 100 * rel, 100 * gate[a]);
        CHECK(nll > 0 && rel < gate[a]);
    }
}

#define STEPS 6

/* prefill of 30 tokens, then greedy steps; all logits */
static float *run(const char *path, int nodes, int threads, llx_precision prec)
{
    llx_model *m = NULL;
    if (llx_model_open(&m, path) != LLX_OK) return NULL;
    const int V = llx_model_config(m)->n_vocab;
    llx_engine_opts o = llx_engine_defaults();
    o.nodes = nodes, o.threads = threads, o.precision = prec, o.block_rows = 16;
    llx_engine *e = NULL;
    float *lg = malloc(sizeof(float) * V * (STEPS + 1));
    int ok = llx_engine_create(&e, m, &o) == LLX_OK;
    int prompt[30];
    for (int i = 0; i < 30; i++) prompt[i] = (i * 131 + 7) % V;
    ok = ok && llx_engine_forward(e, prompt, 30, lg, 0) == LLX_OK;
    for (int s = 0; ok && s < STEPS; s++) {
        int t = llx_test_argmax(lg + (size_t)s * V, V);
        ok = llx_engine_forward(e, &t, 1, lg + (size_t)(s + 1) * V, 0) == LLX_OK;
    }
    if (!ok) llx_test_note("%s, %d nodes: %s", path, nodes, llx_errmsg());
    llx_engine_free(e);
    llx_model_close(m);
    if (!ok) free(lg), lg = NULL;
    return lg;
}

static void check_identity(const char *path, llx_precision prec)
{
    llx_model *m = NULL;
    CHECK(llx_model_open(&m, path) == LLX_OK);
    if (!m) return;
    const size_t bytes = sizeof(float) * (size_t)llx_model_config(m)->n_vocab * (STEPS + 1);
    llx_model_close(m);
    float *base = run(path, 1, 1, prec);
    CHECK(base != NULL);
    for (int n = 1; base && n <= 8; n++)
        for (int t = 1; t <= 2; t++) {
            if (n == 1 && t == 1) continue;
            float *got = run(path, n, t, prec);
            CHECK_MSG(got && !memcmp(base, got, bytes), "%s: %d nodes x %d threads differ from 1 node",
                      llx_precision_name(prec), n, t);
            free(got);
        }
    free(base);
}

TEST(llama_nodes_identity_fp32, LLX_T_ASAN | LLX_T_TSAN)
{
    const char *dir = llx_fixture_llama();
    CHECK(dir != NULL);
    if (dir) check_identity(dir, LLX_PREC_FP32);
}

TEST(llama_nodes_identity_w8a8, LLX_T_TSAN)
{
    const char *s = llx_fixture_llama_llx(1), *d = llx_fixture_llama_llx(2);
    CHECK(s != NULL && d != NULL);
    if (s) check_identity(s, LLX_PREC_W8A8_STATIC);
    if (d) check_identity(d, LLX_PREC_W8A8_DYNAMIC);
}

/* every low-bit scheme of the synthetic Paley-size Llama (w8a8_fixtures.h) */
TEST(llama_nodes_identity_lowbit, LLX_T_TSAN)
{
    for (int v = 0; v < LLX_LLAMA_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *p = llx_fixture_llama_lowbit(v, &what);
        CHECK_MSG(p != NULL, "%s: no model", what);
        if (p) check_identity(p, LLX_PREC_W8A8_STATIC);
    }
}

/* RTN with the online R4 alone (--rotate r4): W4A4 int8 KV, W4A8 fp32 KV
 * (the GPTQ one is low-bit variant 4 above) */
TEST(llama_nodes_identity_r4_rtn, LLX_T_TSAN)
{
    for (int v = 0; v < 2; v++) {
        const char *what = "", *p = llx_fixture_r4_lowbit(1, v, &what);
        CHECK_MSG(p != NULL, "%s: no model", what);
        if (p) check_identity(p, LLX_PREC_W8A8_STATIC);
    }
}

TEST(llama_nodes_identity_shared_model)
{
    const char *dir = tiny_llama();
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    check_identity(dir, LLX_PREC_FP32);
}

/* A fresh copy of the synthetic Llama for one bad-input case. */
static const char *llama_copy(const char *name)
{
    static char dirs[8][512];
    static int k;
    char *dir = dirs[k++ & 7];
    snprintf(dir, sizeof dirs[0], "%s", llx_test_tmpfile(name));
    llx_config c = {.n_vocab = 600, .n_ctx = 32, .n_embd = 64, .n_layer = 1, .n_head = 4, .n_inner = 96,
                    .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = 2, .head_dim = 16, .rope_theta = 10000.0f};
    return llx_synth_write(dir, &c, 1, "F32", NULL) == LLX_OK ? dir : NULL;
}

static void expect_bad_config(const char *name, const char *key, const char *value, llx_status want_st,
                              const char *want)
{
    const char *dir = llama_copy(name);
    CHECK(dir && ckpt_config_set(dir, key, value));
    if (!dir) return;
    llx_hf *m = NULL;
    const llx_status st = llx_hf_open(&m, dir);
    CHECK_MSG(st == want_st && !m, "%s = %s: status %s (%s)", key, value, llx_status_str(st), llx_errmsg());
    CHECK_MSG(strstr(llx_errmsg(), want) != NULL, "message lacks '%s': %s", want, llx_errmsg());
    llx_hf_close(m);
    ckpt_expect_cli_error(dir, want); /* one line from `looplynx info` */
}

TEST(llama_bad_configs, LLX_T_ASAN)
{
    expect_bad_config("gqa", "num_key_value_heads", "3", LLX_ERR_FORMAT,
                      "num_attention_heads 4 is not a multiple of num_key_value_heads 3");
    expect_bad_config("rope", "rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", LLX_ERR_UNSUPPORTED,
                      "rope_scaling type 'yarn' is not supported (llama3 or default)");
    expect_bad_config("rope3", "rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0}", LLX_ERR_FORMAT,
                      "rope_scaling (llama3) needs 'low_freq_factor'");
    expect_bad_config("abias", "attention_bias", "true", LLX_ERR_UNSUPPORTED, "attention_bias = true is not supported");
    expect_bad_config("mbias", "mlp_bias", "true", LLX_ERR_UNSUPPORTED, "mlp_bias = true is not supported");
    expect_bad_config("window", "sliding_window", "4096", LLX_ERR_UNSUPPORTED,
                      "sliding_window attention is not supported");
    expect_bad_config("act", "hidden_act", "\"gelu\"", LLX_ERR_UNSUPPORTED, "hidden_act 'gelu' is not supported");
    expect_bad_config("untied", "tie_word_embeddings", "false", LLX_ERR_FORMAT,
                      "tie_word_embeddings false but there is no lm_head.weight");
    expect_bad_config("arch", "architectures", "[\"MistralForCausalLM\"]", LLX_ERR_UNSUPPORTED,
                      "architecture 'MistralForCausalLM' is not supported (LlamaForCausalLM)");
}

/* generate (2 nodes), ppl (2 threads) and bench run on model m; what names
 * it in the messages. */
static void run_model_commands(const char *m, const char *what, const char *calib)
{
    llx_proc_result r;
    llx_cli(&r, "generate", "-m", m, "-p", "the engine", "-n", "4", "--greedy", "--threads", "1", "--nodes", "2",
            "--json", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "\"tokens\""), "generate %s: %s", what, r.err);
    llx_proc_free(&r);
    llx_cli(&r, "ppl", "-m", m, "-f", calib, "--ctx", "32", "--max-tokens", "96", "--json", "--threads", "2", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "\"ppl\""), "ppl %s: %s", what, r.err);
    llx_proc_free(&r);
    llx_cli(&r, "bench", "-m", m, "--prompt", "8", "--gen", "4", "-r", "1", "-t", "1", "--json", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "decode"), "bench %s: %s", what, r.err);
    llx_proc_free(&r);
}

/* Every command that takes a model takes a Llama: folder and .llx. */
TEST(llama_cli_commands, LLX_T_ASAN)
{
    const char *dir = llx_fixture_llama(), *q = llx_fixture_llama_llx(1), *calib = llx_fixture_calib_text();
    CHECK(dir && q && calib);
    if (!dir || !q || !calib) return;
    llx_proc_result r;
    llx_cli(&r, "info", "-m", dir, "--json", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "\"architecture\": \"llama\"") && strstr(r.out, "\"n_kv_head\": 2"), "%s",
              r.err);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", q, NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "n_kv_head") && strstr(r.out, "smooth down_proj"), "%s", r.err);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", dir, "-p", "the ring of nodes", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "ids:"), "%s", r.err);
    llx_proc_free(&r);
    for (int k = 0; k < 2; k++) {
        const char *m = k ? q : dir;
        run_model_commands(m, m, calib);
    }
    const char *out = llx_test_tmpfile("llama-cli.llx");
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "--calib-tokens", "256", "--act", "dynamic", "-o", out, NULL);
    CHECK_MSG(r.status == 0, "quantize: %s", r.err);
    llx_proc_free(&r);
    /* rotation needs Hadamard orders: this model's MLP width 200 = 8 * 25 has none */
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "--scheme", "w4a4", "--rotate", "hadamard", "--alpha", "0",
            "-o", out, NULL);
    CHECK_MSG(r.status == 1 && strstr(r.err, "looplynx: error: no Hadamard matrix of order 200 here") &&
                  !strchr(strchr(r.err, '\n') + 1, '\n'),
              "%s", r.err);
    llx_proc_free(&r);
}

/* The low-bit Llama files: info shows the scheme; generate (2 nodes), ppl
 * and bench run; quantize writes every scheme from the CLI. */
TEST(llama_lowbit_cli_commands, LLX_T_ASAN)
{
    const char *calib = llx_fixture_calib_text(), *dir = llx_fixture_llama_paley();
    CHECK(calib && dir);
    if (!calib || !dir) return;
    llx_proc_result r;
    for (int v = 0; v < LLX_LLAMA_LOWBIT_VARIANTS; v++) {
        const char *what = "";
        const char *m = llx_fixture_llama_lowbit(v, &what);
        CHECK_MSG(m != NULL, "%s: no model", what);
        if (!m) continue;
        llx_cli(&r, "info", "-m", m, NULL);
        CHECK_MSG(r.status == 0 && strstr(r.out, v < 2 ? "W4A8" : "W4A4") && strstr(r.out, "n_kv_head") &&
                      strstr(r.out, v < 2    ? "rotation            none"
                                    : v == 4 ? "rotation            r4: hadamard online before down_proj only"
                                             : "rotation            hadamard"),
                  "info %s: %s%s", what, r.out, r.err);
        llx_proc_free(&r);
        run_model_commands(m, what, calib);
    }
    const char *out = llx_test_tmpfile("llama-cli-w4a8.llx");
    llx_cli(&r, "quantize", "-m", dir, "--calib", calib, "--calib-tokens", "256", "--scheme", "w4a8", "--group", "32",
            "--method", "gptq", "--rotate", "hadamard", "--alpha", "0", "--kv", "fp32", "-o", out, NULL);
    CHECK_MSG(r.status == 0, "quantize: %s", r.err);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "GPTQ") && strstr(r.out, "kv cache            fp32"), "%s%s", r.out, r.err);
    llx_proc_free(&r);
}

/* The loader reads q | k | v as one matrix across the three tensors, o_proj
 * and the MLP as stored ([out, in]), norms without biases. */
TEST(llama_checkpoint_rows_cross_tensors, LLX_T_ASAN)
{
    const char *dir = llama_copy("rows");
    CHECK(dir != NULL);
    if (!dir) return;
    ckpt_img img;
    CHECK(ckpt_img_load(dir, &img));
    llx_hf *m = NULL;
    CHECK(llx_hf_open(&m, dir) == LLX_OK);
    if (!m) return;
    const int C = 64, Q = 4 * 16, K = 2 * 16;
    float got[8 * 64];
    /* rows Q-3 .. Q+K+2 of layer 0's QKV: the end of q, all of k, the start of v */
    const int r0 = Q - 3, r1 = Q + K + 3;
    for (int r = r0; r < r1; r += 8) {
        const int e = r + 8 < r1 ? r + 8 : r1;
        CHECK(llx_hf_read_rows(m, 0, LLX_MAT_QKV, r, e, got) == LLX_OK);
        for (int i = r; i < e; i++) {
            const char *t = i < Q ? "model.layers.0.self_attn.q_proj.weight"
                            : i < Q + K ? "model.layers.0.self_attn.k_proj.weight"
                                        : "model.layers.0.self_attn.v_proj.weight";
            const int row = i < Q ? i : i < Q + K ? i - Q : i - Q - K;
            size_t n = 0;
            const uint8_t *raw = ckpt_img_raw(&img, t, &n);
            CHECK(raw != NULL);
            for (int k = 0; raw && k < C; k++)
                CHECK_MSG(got[(size_t)(i - r) * C + k] == ckpt_f32_at(raw, (size_t)row * C + k), "row %d col %d", i, k);
        }
    }
    float b[64];
    CHECK(!llx_hf_has_bias(m));
    CHECK(llx_hf_read_bias(m, 0, LLX_MAT_QKV, 0, 64, b) == LLX_OK && b[0] == 0.0f && b[63] == 0.0f);
    CHECK(llx_hf_read_vec(m, 0, LLX_VEC_LN1_B, b) == LLX_OK && b[5] == 0.0f);
    CHECK(llx_hf_read_vec(m, 0, LLX_VEC_LN2_G, b) == LLX_OK && b[5] == 1.0f); /* synth: RMSNorm weights 1 */
    CHECK(llx_hf_read_wpe(m, 0, 1, b) == LLX_ERR_ARG);                       /* no learned positions */
    CHECK(strstr(llx_errmsg(), "no such table") != NULL);
    llx_hf_close(m);
    ckpt_img_free(&img);
}

/* `sim --model` takes the Llama-3.2-1B preset and a Llama folder. */
TEST(llama_sim_preset_and_folder, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--platform", "u280", "--nodes", "2", "--model", "llama-3.2-1b", "--json", NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    CHECK_MSG(strstr(r.out, "\"arch\":\"llama\"") && strstr(r.out, "\"kv_heads\":8") && strstr(r.out, "\"heads\":32") &&
                  strstr(r.out, "\"ffn\":8192"), "%s", r.out);
    llx_proc_free(&r);
    const char *dir = llx_test_shared("models/tinyllama-shakespeare");
    if (!dir) SKIP("shared tinyllama-shakespeare not found");
    llx_cli(&r, "sim", "--model", dir, "--nodes", "3", NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "llama, ") && strstr(r.out, "8 heads (2 KV"), "%s%s", r.out, r.err);
    llx_proc_free(&r);
}
