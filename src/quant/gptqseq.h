/* quant/gptqseq.h - sequential and asymmetric GPTQ calibration
 * (--gptq-calib seq|asym): gptqseq.c. */
#ifndef LLX_QUANT_GPTQSEQ_H
#define LLX_QUANT_GPTQSEQ_H

#include "llx/engine.h"
#include "llx/quant.h"
#include "model/llx_model.h"
#include "quant/hessian.h"

/* The engine of the fp32 transformed model fm for calibration windows
 * (o->window tokens from position 0, o->threads): the one the asymmetric
 * objective runs beside every partly quantized model (made once: fm does
 * not change), and lowbit.c's Hessian runs; llx_engine_free frees it. */
llx_status llx_gptq_seq_ref_engine(llx_engine **out, const llx_model *fm, const llx_quant_opts *o);

/* The residual streams one sequential calibration carries from input to
 * input: what enters layer `layer` at every calibration token, in the
 * partly quantized models (q) and in the fp32 one (f, asym).  The layers
 * before `layer` are final when it is taken, so every later pass starts
 * there (or at the layer before, to take the next layer's) instead of at
 * the embedding: one or two layers a pass instead of up to all of them,
 * with the same activations bit for bit (llx_engine_set_layer_begin).
 * Zeroed to start; llx_seq_streams_free after. */
typedef struct llx_seq_streams {
    int layer;      /* 0: nothing held, passes start at the embedding */
    float *q, *f;   /* [total][n_embd] entering `layer` */
    float *nq, *nf; /* the same entering the layer being taken next */
} llx_seq_streams;

void llx_seq_streams_free(llx_seq_streams *s);

/* Run ids[0 .. total) in windows of o->window tokens through the
 * (partly) quantized model qm and add to h the Hessian of the input of
 * layer `layer` at observation point `point` (llx_obs_point), as the
 * matrix multiplies it (codes times scales; h->a4_clip must be 0).  With
 * ref (llx_gptq_seq_ref_engine; h from llx_hess_init_cross) ref runs each
 * window too and h->c gets sum_t x_t xq_t^T of its input at the same
 * point.  The passes start at ss->layer (held streams); when `layer` is
 * the next one, its incoming streams are taken on the way and held
 * instead.  Layers may only stay or step up by one from call to call
 * (LLX_ERR_INTERNAL), and every layer before `layer` of qm must be as it
 * was when its streams were taken. */
llx_status llx_gptq_seq_observe(const llx_model *qm, llx_engine *ref, const llx_quant_opts *o, const int *ids,
                                int total, int layer, int point, llx_hess *h, llx_seq_streams *ss);

#endif
