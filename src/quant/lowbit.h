/* quant/lowbit.h - quantization through a transformed fp32 model (Hadamard
 * rotations, GPTQ): lowbit.c. */
#ifndef LLX_QUANT_LOWBIT_H
#define LLX_QUANT_LOWBIT_H

#include "engine/internal.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "model/llx_model.h"

/* Report phase progress f in [0, 1] to o's callback, if any. */
void llx_quant_progress(const llx_quant_opts *o, const char *phase, double f);

/* The end of every quantizer: st != LLX_OK frees writer wr and returns st;
 * else wr writes out atomically (cancellable, "write" progress) and is
 * spent.  With o->act_clip_auto the clip ratio is chosen first on the
 * calibration tokens ids[0 .. total) (actclip.c). */
llx_status llx_quant_finish_write(llx_llx_writer *wr, llx_status st, const llx_quant_opts *o, const int *ids,
                                  int total, const char *out);
/* actclip.c: write wr into memory, record the grid's clip ratio of least
 * calibration NLL (windows of o->window tokens over ids[0 .. total)), and
 * write the image to out atomically; wr is spent. */
llx_status llx_quant_write_clip_auto(llx_llx_writer *wr, const llx_quant_opts *o, const int *ids, int total,
                                     const char *out);

/* The tokenizer files of HF folder dir for a model of config c (GPT-2:
 * vocab.json, merges.txt; Llama: tokenizer.json and, when present,
 * tokenizer_config.json and generation_config.json), added to wr. */
llx_status llx_quant_add_tokenizer(llx_llx_writer *wr, const llx_config *c, const char *dir);

/* The threads that share out the GPTQ Hessians' products (hessian.h):
 * --threads (0: every CPU), members asleep between calls; NULL for one. */
llx_status llx_quant_hess_pool(llx_pool **pool, const llx_quant_opts *o);

/* Tokens per calibration window: o->window, at most the model's context. */
int llx_quant_window(const llx_model *m, const llx_quant_opts *o);

/* Run ids[0 .. total) through model m in windows of o->window tokens (a
 * fresh cache each), reporting activations to obs (progress: phase). */
llx_status llx_quant_run_calib(const llx_model *m, const llx_quant_opts *o, llx_precision prec, const int *ids,
                               int total, const llx_observer *obs, const char *phase);

/* Quantize HF model m (folder dir) per o into out: the calibration text
 * is ids[0 .. total). */
llx_status llx_quantize_lowbit(const llx_model *m, const llx_quant_opts *o, const int *ids, int total,
                               const char *dir, const char *out);

#endif
