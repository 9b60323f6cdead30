/* tests/w8a8_fixtures.h - models built once per test run and shared by tests:
 * small synthetic checkpoints with awkward sizes and their quantized .llx
 * files, and quantized copies of the shared shakespeare model. */
#ifndef LLX_TEST_FIXTURES_H
#define LLX_TEST_FIXTURES_H

#include "llx/quant.h"

/* hidden 120 (not a multiple of 32), 3 heads of 40, vocab 1000, F 300, ctx 64;
 * one layer (layers = 1) or two (layers = 2).  NULL on failure (noted). */
const char *llx_fixture_awkward(int layers);
/* The two-layer awkward model quantized (act 1 static, 2 dynamic). */
const char *llx_fixture_awkward_llx(int act);
/* the same shape with one layer and a 320-token context (act as above) */
const char *llx_fixture_long_llx(int act);
/* A synthetic checkpoint folder written once per test run: dir (cap
 * bytes) gets the run's temporary path `name`; a complete folder already
 * there (an earlier test of this run) is kept, else llx_synth_write makes
 * it.  dir, or NULL (noted, dir emptied) when writing fails. */
const char *llx_fixture_synth(char *dir, size_t cap, const char *name, const llx_config *c, uint64_t seed,
                              const char *dtype);
/* A text file of plain English sentences for calibration. */
const char *llx_fixture_calib_text(void);
/* shakespeare-gpt2 quantized on train.txt with alpha 0.5 (NULL when the
 * shared data is absent). */
const char *llx_fixture_shakespeare_llx(int act);

/* A synthetic Llama (6 query heads on 2 KV heads of 16, hidden 96, 2
 * layers, vocab 700, ctx 96, llama3 rope) and its static (act 1) and dynamic
 * (act 2) .llx files (V smoothing on). */
const char *llx_fixture_llama(void);
const char *llx_fixture_llama_llx(int act);

/* A synthetic Llama of Hadamard-friendly widths for the low-bit schemes
 * (hidden 96 = 12 * 8, F 192 = 12 * 16, 6 query heads on 2 KV heads of 16,
 * 2 layers, vocab 700, ctx 96, llama3 rope), and its low-bit .llx files:
 * 0 w4a8 RTN per row (SmoothQuant 0.5, down_proj smoothed), static, int8 KV;
 * 1 w4a8 GPTQ groups of 32, fp16 scales, dynamic, fp32 KV;
 * 2 w4a4 RTN rotated (R1, R2, online R4), int8 KV, int4 LM head, activations
 *   clipped at 0.875;
 * 3 w4a4 GPTQ groups of 32 rotated, fp32 KV;
 * 4 w4a4 GPTQ per row (--gptq-calib asym), the online R4 alone (--rotate
 *   r4: norms unfolded, no R1/R2), int8 KV.  *what gets a description. */
#define LLX_LLAMA_LOWBIT_VARIANTS 5
const char *llx_fixture_llama_paley(void);
const char *llx_fixture_llama_lowbit(int v, const char **what);
/* The quantizer options of low-bit variant v (0-4, as listed above; also
 * the serve fixture's llx_serve_model_small_lowbit), calibrating on calib
 * with the given window. */
llx_quant_opts llx_fixture_lowbit_opts(int v, const char *calib, int window);

/* All positions' logits (n x vocab, malloc'ed) of n tokens through model m
 * at precision p on one thread; NULL (noted) on failure. */
float *llx_test_all_logits(const llx_model *m, llx_precision p, const int *ids, int n);

#endif
