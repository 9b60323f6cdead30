/* quant/lowbit.h - quantization through a transformed fp32 model (Hadamard
 * rotations, GPTQ): lowbit.c. */
#ifndef LLX_QUANT_LOWBIT_H
#define LLX_QUANT_LOWBIT_H

#include "engine/internal.h"
#include "llx/quant.h"
#include "model/llx_model.h"

/* Run ids[0 .. total) through model m in windows of o->window tokens (a
 * fresh cache each), reporting activations to obs (progress: phase). */
llx_status llx_quant_run_calib(const llx_model *m, const llx_quant_opts *o, llx_precision prec, const int *ids,
                               int total, const llx_observer *obs, const char *phase);

/* Quantize HF model m (folder dir) per o into out: the calibration text
 * is ids[0 .. total). */
llx_status llx_quantize_lowbit(const llx_model *m, const llx_quant_opts *o, const int *ids, int total,
                               const char *dir, const char *out);

#endif
