/* quant/scheme.h - what the quantizer's options mean for the file: the
 * scheme record, the checks of the options against the model, the
 * rounding of each matrix, and the per-head static scales of q, k, v. */
#ifndef LLX_QUANT_SCHEME_H
#define LLX_QUANT_SCHEME_H

#include "llx/quant.h"
#include "quant/qwrite.h"

/* The scheme record the options produce. */
llx_scheme_info llx_quant_scheme(const llx_quant_opts *o);
/* LLX_ERR_ARG with one line when the options do not form a scheme or do
 * not fit the model's shapes. */
llx_status llx_quant_check_scheme(const llx_quant_opts *o, const llx_config *c);
/* How the layers' matrices and the LM head are rounded. */
llx_qw_spec llx_quant_layer_spec(const llx_quant_opts *o);
llx_qw_spec llx_quant_lm_spec(const llx_quant_opts *o);
/* Per head (q heads, then k, then v heads) the static int8 step
 * max|x| / 127 over the head's channels of the QKV output maxima. */
void llx_quant_head_steps(const llx_config *c, const float *qkv_max, float *steps);

#endif
