/* llx/quant.h - W8A8 SmoothQuant quantization and perplexity.
 *
 * llx_quantize runs the FP32 engine over calibration text, gathers
 * per-channel activation maxima, migrates activation outliers into the
 * weights (SmoothQuant, strength alpha, folded into the LayerNorms), rounds
 * weights to int8 per output row, derives static activation scales, and
 * writes one self-contained .llx file atomically.  The W8A8 arithmetic is
 * described in docs/quantization.md. */
#ifndef LLX_QUANT_H
#define LLX_QUANT_H

#include <signal.h>

#include "llx/engine.h"
#include "llx/status.h"

typedef struct llx_quant_opts {
    const char *calib_path; /* calibration text (UTF-8) */
    int calib_tokens;       /* tokens of it to run (0 = 16384) */
    int window;             /* tokens per calibration pass (0 = 128) */
    float alpha;            /* SmoothQuant strength in [0, 1]; 0 turns smoothing off */
    int act_mode;           /* 1 static (per-tensor), 2 dynamic (per-token) */
    int smooth_v;           /* also smooth the attention output projection through V */
    int threads;            /* 0 = all cores */
    llx_progress_cb progress;
    void *progress_ud;
    /* Polled between calibration passes, layers and tensor writes: once it
     * is non-zero the run stops with LLX_ERR_CANCELLED, leaving no output and
     * no temporary file (a signal handler may set it).  NULL = never. */
    const volatile sig_atomic_t *cancel;
} llx_quant_opts;

llx_quant_opts llx_quant_defaults(void);

/* Quantize the HuggingFace model in hf_dir into out_path.  Before any work
 * it refuses (LLX_ERR_ARG) an output that is a folder, an existing
 * non-regular file, or one of its own inputs (config.json,
 * model.safetensors, vocab.json, merges.txt, the calibration text), and
 * (LLX_ERR_IO) an output whose folder does not exist.  The output appears
 * only when complete; on any failure nothing is left behind. */
llx_status llx_quantize(const char *hf_dir, const llx_quant_opts *o, const char *out_path);

#endif
