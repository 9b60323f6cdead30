/* engine/rope.c - the rotary embedding's cos/sin table of a Llama model,
 * computed the way HuggingFace's float32 implementation computes it:
 * inv_freq[i] = 1 / theta^(2i/d) in float, optionally rescaled per band as
 * rope_type "llama3" does (long wavelengths divided by `factor`, short ones
 * kept, a smooth blend between), then angle = position * inv_freq[i] in
 * float, and its cos and sin.  Every node builds the same table. */
#include <math.h>

#include "engine/internal.h"

/* HF _compute_llama3_parameters, in float as torch evaluates it. */
static float llama3_freq(const llx_config *c, float f)
{
    const float old = (float)c->rope_orig_ctx;
    const float low_wl = old / c->rope_low_freq, high_wl = old / c->rope_high_freq;
    const float wl = 6.28318530717958647692f / f;
    if (wl > low_wl) return f / c->rope_factor;
    if (wl < high_wl) return f;
    const float smooth = (old / wl - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
    return (1.0f - smooth) * f / c->rope_factor + smooth * f;
}

float *llx_rope_table(const llx_config *c, int positions)
{
    const int d = llx_config_head_dim(c), half = d / 2;
    float *t = llx_alloc((size_t)positions * (size_t)d * sizeof *t);
    if (!t) return NULL;
    float inv[512];
    for (int i = 0; i < half && i < 512; i++) {
        const float e = (float)(2 * i) / (float)d;
        inv[i] = 1.0f / powf(c->rope_theta, e);
        if (c->rope_llama3) inv[i] = llama3_freq(c, inv[i]);
    }
    for (int p = 0; p < positions; p++) {
        float *row = t + (size_t)p * d;
        for (int i = 0; i < half; i++) {
            const float a = (float)p * inv[i];
            row[i] = (float)cos((double)a);
            row[half + i] = (float)sin((double)a);
        }
    }
    return t;
}
