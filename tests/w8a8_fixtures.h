/* tests/w8a8_fixtures.h - models built once per test run and shared by tests:
 * small synthetic checkpoints with awkward sizes and their quantized .llx
 * files, and quantized copies of the shared shakespeare model. */
#ifndef LLX_TEST_FIXTURES_H
#define LLX_TEST_FIXTURES_H

/* hidden 120 (not a multiple of 32), 3 heads of 40, vocab 1000, F 300, ctx 64;
 * one layer (layers = 1) or two (layers = 2).  NULL on failure (noted). */
const char *llx_fixture_awkward(int layers);
/* The two-layer awkward model quantized (act 1 static, 2 dynamic). */
const char *llx_fixture_awkward_llx(int act);
/* the same shape with one layer and a 320-token context (act as above) */
const char *llx_fixture_long_llx(int act);
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

#endif
