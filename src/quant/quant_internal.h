/* quant/quant_internal.h - what quantize.c (calibration, rounding, the
 * .llx writing) and smooth.c (SmoothQuant on a layer) share. */
#ifndef LLX_QUANT_INTERNAL_H
#define LLX_QUANT_INTERNAL_H

#include "engine/engine_impl.h"
#include "llx/quant.h"

/* Llama's default for smoothing down_proj through up_proj (measured in
 * docs/quantization.md). */
#define LLX_LLAMA_SMOOTH_DOWN 1

/* Per observation point LLX_OBS_LN1 .. LLX_OBS_GELU: [L][width] max |x|. */
#define CALIB_POINTS 5
typedef struct calib {
    int L, width[CALIB_POINTS];
    float *m[CALIB_POINTS];
} calib;

/* A layer's fp32 working copies: matrices [out][in], biases (NULL for
 * Llama), the two norms' weights and (GPT-2) biases. */
typedef struct qlayer {
    float *w[LLX_MAT_LAYER_COUNT], *b[LLX_MAT_LAYER_COUNT];
    float *g[2], *nb[2];
    int rows[LLX_MAT_LAYER_COUNT], cols[LLX_MAT_LAYER_COUNT];
} qlayer;

/* Smooth layer l in place (smooth.c) and fill its static scales sc[LLX_SC_COUNT]. */
llx_status llx_smooth_layer(const llx_config *c, const calib *cb, const llx_quant_opts *o, int l, qlayer *q,
                            float *sc);

#endif
