/* llx/quant.h - quantizing a HuggingFace model into a .llx file.
 *
 * llx_quantize runs the FP32 engine over calibration text, gathers
 * per-channel activation maxima, migrates activation outliers into the
 * weights (SmoothQuant, strength alpha, folded into the LayerNorms), rounds
 * weights per the scheme (int8 per output row; int4 per row or per group,
 * to nearest or by GPTQ), derives static activation scales (per head for
 * q, k, v), and writes one self-contained .llx file atomically.  With
 * rotations or GPTQ the model is first transformed in fp32 and calibrated
 * again through the engine in its transformed form.  The arithmetic is in
 * docs/quantization.md. */
#ifndef LLX_QUANT_H
#define LLX_QUANT_H

#include <signal.h>
#include <stddef.h>

#include "llx/engine.h"
#include "llx/status.h"

/* Where GPTQ's Hessians come from: the fp32 transformed model in one pass
 * (FP); the partly quantized model, matrix by matrix in order (SEQ: every
 * matrix before the one being rounded is rounded and its activations are
 * quantized as the engine will); or SEQ's inputs with the asymmetric
 * target ||W X - Wq Xq||^2, X the fp32 model's inputs (ASYM). */
enum { LLX_GPTQ_CALIB_FP = 0, LLX_GPTQ_CALIB_SEQ = 1, LLX_GPTQ_CALIB_ASYM = 2 };
/* llx_quant_opts.rotate: none; folded norms + R1 + R2 + online R4
 * (--rotate hadamard or FILE); the online R4 alone, norms unfolded
 * (--rotate r4) */
enum { LLX_ROTATE_NONE = 0, LLX_ROTATE_HADAMARD = 1, LLX_ROTATE_R4 = 2 };

typedef struct llx_quant_opts {
    const char *calib_path; /* calibration text (UTF-8) */
    int calib_tokens;       /* tokens of it to run (0 = 16384) */
    int window;             /* tokens per calibration pass (0 = 128) */
    float alpha;            /* SmoothQuant strength in [0, 1]; 0 turns smoothing off */
    int act_mode;           /* 1 static (per-tensor), 2 dynamic (per-token) */
    int smooth_v;           /* also smooth the attention output projection through V (-1: the default, off) */
    int smooth_down;        /* Llama: also smooth down_proj through up_proj's rows (-1: the default) */
    int threads;            /* 0 = all cores */
    /* the scheme (docs/quantization.md) */
    llx_scheme scheme;      /* LLX_SCHEME_W8A8 (default), W4A8 or W4A4 */
    int group;              /* int4 weight columns per scale: 0 (one per row), 32, 64 or 128 */
    int scales_f16;         /* int4 weight scales stored as fp16 */
    int weight_clip;        /* int4 weights: MSE-optimal clip ratio per row/group (RTN and GPTQ scales) */
    int gptq;               /* round weights with GPTQ (else to nearest) */
    float gptq_damp;        /* GPTQ damping, fraction of the mean Hessian diagonal (0.01) */
    int gptq_act_order;     /* GPTQ columns in decreasing Hessian diagonal (1) */
    int gptq_hess_a4;       /* W4A4 GPTQ: the Hessian of the int4-quantized inputs (0: of the fp32 ones) */
    int gptq_calib;         /* GPTQ's Hessians: LLX_GPTQ_CALIB_FP (default), _SEQ or _ASYM (docs/quantization.md) */
    float gptq_asym_alpha;  /* _ASYM: the fraction of the asymmetric correction in (0, 1] (0.25, GPTAQ's) */
    size_t gptq_hess_bytes; /* _FP: Hessians held at once (0: 1 GiB); the layers that fit are calibrated per run,
                             * each run from where the last one stopped (the same file for any value) */
    int rotate;             /* LLX_ROTATE_*: Hadamard rotations (residual, V/O per head, online before
                               down), or the online one before down alone (R4) */
    int rotate_seed;        /* seed of the residual rotation's signs */
    const char *rotate_file; /* with rotate: R1 and R2 from this rotation file (docs/formats.md); NULL: Hadamard */
    int kv_int8;            /* int8 q/k/v and KV cache with static per-head scales (1), or fp32 (0) */
    int lm_bits;            /* LM head weights: 8, or 4 with an int4 scheme */
    float act_clip;         /* W4A4: int4 activation clip ratio in [0.5, 1]; 0 = none */
    int act_clip_auto;      /* W4A4: choose the ratio of least calibration loss (overrides act_clip) */
    llx_progress_cb progress;
    void *progress_ud;
    /* --act-clip auto: called with progress_ud, each ratio tried and its
     * calibration NLL (nats per token).  NULL = not reported. */
    void (*clip_report)(void *ud, float ratio, double nll);
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
