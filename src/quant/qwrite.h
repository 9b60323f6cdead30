/* quant/qwrite.h - adding one weight matrix to a .llx file in the scheme's
 * format: int8 rows with fp32 row scales (the W8A8 rounding), int4 (two per
 * byte) with row or group scales in fp32 or fp16, by RTN or GPTQ, or fp32
 * as it is.  Names: "<pre>.w" and "<pre>.s" (docs/formats.md). */
#ifndef LLX_QUANT_QWRITE_H
#define LLX_QUANT_QWRITE_H

#include "model/llx_file.h"
#include "quant/wquant.h"

typedef struct llx_qw_spec {
    int bits;           /* 8, 4 or 32 */
    int group;          /* int4: columns per scale (0 = per row) */
    int f16;            /* int4: fp16 scales */
    int clip;           /* int4: MSE-optimal clip ratio per group (wquant.h) */
    llx_gptq_opts gptq; /* with a Hessian */
} llx_qw_spec;

/* w (R x K, [out][in]) rounded per q and added; with h (K x K) by GPTQ
 * (w and h are then overwritten), else to nearest. */
llx_status llx_qw_add(llx_llx_writer *wr, const char *pre, float *w, int R, int K, const llx_qw_spec *q, double *h);

/* Why an input width K cannot hold `bits`-bit weights in groups of
 * `group` (one phrase), or NULL. */
const char *llx_qw_shape_error(int K, int bits, int group);

#endif
