/* quant/gptqseq.h - sequential and asymmetric GPTQ calibration
 * (--gptq-calib seq|asym): gptqseq.c. */
#ifndef LLX_QUANT_GPTQSEQ_H
#define LLX_QUANT_GPTQSEQ_H

#include "llx/engine.h"
#include "llx/quant.h"
#include "model/llx_model.h"
#include "quant/hessian.h"

/* The engine of the fp32 transformed model fm that the asymmetric
 * objective runs beside every partly quantized model (made once: fm does
 * not change); llx_engine_free frees it. */
llx_status llx_gptq_seq_ref_engine(llx_engine **out, const llx_model *fm, const llx_quant_opts *o);

/* Run ids[0 .. total) in windows of o->window tokens through the
 * (partly) quantized model qm and add to h the Hessian of the input of
 * layer `layer` at observation point `point` (llx_obs_point), as the
 * matrix multiplies it (codes times scales; h->a4_clip must be 0).  With
 * ref (llx_gptq_seq_ref_engine; h from llx_hess_init_cross) ref runs each
 * window too and h->c gets sum_t x_t xq_t^T of its input at the same
 * point. */
llx_status llx_gptq_seq_observe(const llx_model *qm, llx_engine *ref, const llx_quant_opts *o, const int *ids,
                                int total, int layer, int point, llx_hess *h);

#endif
