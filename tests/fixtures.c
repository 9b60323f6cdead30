/* tests/fixtures.c - see w8a8_fixtures.h.  Each fixture is built on first
 * use and kept in the run's tmpdir for the rest of the run: tests run in
 * child processes of their own, so the cache is the file on disk (the
 * writers are atomic, and a synth folder is complete once config.json is). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "model/llx_model.h"
#include "test.h"
#include "w8a8_fixtures.h"

const char *llx_fixture_synth(char *dir, size_t cap, const char *name, const llx_config *c, uint64_t seed,
                              const char *dtype)
{
    snprintf(dir, cap, "%s", llx_test_tmpfile(name));
    if (llx_test_have_model(dir)) return dir;
    if (llx_synth_write(dir, c, seed, dtype, NULL) != LLX_OK) {
        llx_test_note("synth %s: %s", name, llx_errmsg());
        dir[0] = 0;
        return NULL;
    }
    return dir;
}

const char *llx_fixture_awkward(int layers)
{
    static char dirs[3][512];
    const llx_config c = {.n_vocab = 1000, .n_ctx = 64, .n_embd = 120, .n_layer = layers == 2 ? 2 : 1, .n_head = 3, .n_inner = 300, .ln_eps = 1e-5f};
    return llx_fixture_synth(dirs[layers == 2 ? 2 : 1], sizeof dirs[0], layers == 2 ? "awkward2" : "awkward1", &c, 7,
                             "F32");
}

const char *llx_fixture_calib_text(void)
{
    static char path[512], tmp[520];
    snprintf(path, sizeof path, "%s", llx_test_tmpfile("calib.txt"));
    if (llx_test_exists(path)) return path;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return NULL;
    static const char *words[] = {"the", "engine", "runs", "a", "ring", "of", "nodes", "and", "every", "node",
                                  "holds", "its", "slice", "while", "weights", "stream", "from", "memory", "into",
                                  "small", "dataflow", "kernels", "that", "compute", "tokens", "quickly"};
    unsigned x = 1;
    for (int i = 0; i < 6000; i++) {
        x = x * 1103515245u + 12345u;
        fprintf(f, "%s%s", words[(x >> 8) % (sizeof words / sizeof *words)], (x >> 20) % 11 == 0 ? ".\n" : " ");
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) return NULL;
    return path;
}

static const char *quantize_once(char *path, size_t cap, const char *dir, const char *calib, int act, int tokens,
                                 const char *name)
{
    if (!dir || !calib) return NULL;
    snprintf(path, cap, "%s", llx_test_tmpfile(name));
    if (llx_test_exists(path)) return path;
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = tokens;
    o.act_mode = act;
    if (llx_quantize(dir, &o, path) != LLX_OK) {
        llx_test_note("quantize %s: %s", name, llx_errmsg());
        path[0] = 0;
        return NULL;
    }
    return path;
}

const char *llx_fixture_awkward_llx(int act)
{
    static char paths[3][512];
    return quantize_once(paths[act == 2 ? 2 : 1], sizeof paths[0], llx_fixture_awkward(2), llx_fixture_calib_text(),
                         act, 2048, act == 2 ? "awkward2-dynamic.llx" : "awkward2-static.llx");
}

const char *llx_fixture_long_llx(int act)
{
    static char dir[512], paths[3][512];
    const llx_config c = {.n_vocab = 1000, .n_ctx = 320, .n_embd = 120, .n_layer = 1, .n_head = 3, .n_inner = 300, .ln_eps = 1e-5f};
    if (!llx_fixture_synth(dir, sizeof dir, "long1", &c, 5, "F32")) return NULL;
    return quantize_once(paths[act == 2 ? 2 : 1], sizeof paths[0], dir, llx_fixture_calib_text(), act, 2048,
                         act == 2 ? "long1-dynamic.llx" : "long1-static.llx");
}

const char *llx_fixture_shakespeare_llx(int act)
{
    static char paths[3][512];
    return quantize_once(paths[act == 2 ? 2 : 1], sizeof paths[0], llx_test_model_dir(),
                         llx_test_shared("data/tinyshakespeare/train.txt"), act, 16384,
                         act == 2 ? "shakespeare-dynamic.llx" : "shakespeare-static.llx");
}

/* A synthetic Llama with grouped KV heads whose count divides neither the
 * node counts nor the head count per node: 6 query heads on 2 KV heads of
 * 16, hidden 96, 2 layers; its static and dynamic .llx files. */
const char *llx_fixture_llama(void)
{
    static char dir[512];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s", llx_test_tmpfile("llama-gqa"));
    llx_config c = {.n_vocab = 700, .n_ctx = 96, .n_embd = 96, .n_layer = 2, .n_head = 6, .n_inner = 200,
                    .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = 2, .head_dim = 16, .rope_theta = 10000.0f,
                    .rope_llama3 = 1, .rope_factor = 8.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
                    .rope_orig_ctx = 32};
    if (llx_synth_write(dir, &c, 3, "BF16", NULL) != LLX_OK) {
        llx_test_note("synth: %s", llx_errmsg());
        dir[0] = 0;
        return NULL;
    }
    return dir;
}

const char *llx_fixture_llama_llx(int act)
{
    static char paths[3][512];
    char *p = paths[act == 2 ? 2 : 1];
    if (p[0]) return p;
    const char *dir = llx_fixture_llama(), *calib = llx_fixture_calib_text();
    if (!dir || !calib) return NULL;
    snprintf(p, sizeof paths[0], "%s", llx_test_tmpfile(act == 2 ? "llama-dynamic.llx" : "llama-static.llx"));
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 1024;
    o.act_mode = act;
    o.smooth_v = 1; /* the grouped V smoothing too */
    if (llx_quantize(dir, &o, p) != LLX_OK) {
        llx_test_note("quantize: %s", llx_errmsg());
        p[0] = 0;
        return NULL;
    }
    return p;
}

const char *llx_fixture_llama_paley(void)
{
    static char dir[512];
    const llx_config c = {.n_vocab = 700, .n_ctx = 96, .n_embd = 96, .n_layer = 2, .n_head = 6, .n_inner = 192,
                    .ln_eps = 1e-5f, .arch = LLX_ARCH_LLAMA, .n_kv_head = 2, .head_dim = 16, .rope_theta = 10000.0f,
                    .rope_llama3 = 1, .rope_factor = 8.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
                    .rope_orig_ctx = 32};
    return llx_fixture_synth(dir, sizeof dir, "llama-paley", &c, 5, "BF16");
}

/* The quantizer options of low-bit test variant v (0-3), shared by the
 * Llama and the serve fixtures; window is the calibration window. */
llx_quant_opts llx_fixture_lowbit_opts(int v, const char *calib, int window)
{
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.calib_tokens = 1024;
    o.window = window;
    o.threads = 1;
    o.scheme = v < 2 ? LLX_SCHEME_W4A8 : LLX_SCHEME_W4A4;
    o.gptq = v & 1 || v == 4;
    o.group = v & 1 ? 32 : 0;
    o.scales_f16 = v == 1;
    o.act_mode = v == 1 ? 2 : 1;
    o.kv_int8 = !(v & 1);
    o.rotate = v == 4 ? LLX_ROTATE_R4 : v >= 2 ? LLX_ROTATE_HADAMARD : LLX_ROTATE_NONE;
    o.gptq_calib = v == 4 ? LLX_GPTQ_CALIB_ASYM : LLX_GPTQ_CALIB_FP;
    o.lm_bits = v == 2 ? 4 : 8;
    o.act_clip = v == 2 ? 0.875f : 0.0f;
    if (o.gptq || o.rotate) o.alpha = 0; /* smoothing goes with neither */
    return o;
}

const char *llx_fixture_llama_lowbit(int v, const char **what)
{
    static const char *names[LLX_LLAMA_LOWBIT_VARIANTS] = {
        "llama w4a8 rtn", "llama w4a8 gptq g32 f16 fp32-kv dynamic", "llama w4a4 rtn rotated lm4 clip 0.875",
        "llama w4a4 gptq g32 rotated fp32-kv", "llama w4a4 gptq asym, r4 only"};
    static char paths[LLX_LLAMA_LOWBIT_VARIANTS][512];
    if (v < 0 || v >= LLX_LLAMA_LOWBIT_VARIANTS) return NULL;
    if (what) *what = names[v];
    char name[64];
    snprintf(name, sizeof name, "llama-lowbit%d.llx", v);
    snprintf(paths[v], sizeof paths[v], "%s", llx_test_tmpfile(name));
    if (llx_test_exists(paths[v])) return paths[v];
    const char *dir = llx_fixture_llama_paley(), *calib = llx_fixture_calib_text();
    if (!dir || !calib) return NULL;
    llx_quant_opts o = llx_fixture_lowbit_opts(v, calib, 96);
    if (llx_quantize(dir, &o, paths[v]) != LLX_OK) {
        llx_test_note("quantize %s: %s", names[v], llx_errmsg());
        paths[v][0] = 0;
        return NULL;
    }
    return paths[v];
}

float *llx_test_all_logits(const llx_model *m, llx_precision p, const int *ids, int n)
{
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 1;
    o.precision = p;
    llx_engine *e = NULL;
    float *l = malloc(sizeof(float) * n * m->cfg.n_vocab);
    if (llx_engine_create(&e, m, &o) != LLX_OK || llx_engine_forward(e, ids, n, l, 1) != LLX_OK) {
        llx_test_note("engine: %s", llx_errmsg());
        free(l);
        l = NULL;
    }
    llx_engine_free(e);
    return l;
}
