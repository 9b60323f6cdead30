/* engine/sampler.h - what the sampler would draw from, for tests: the
 * public interface is llx_sampler_* in llx/engine.h. */
#ifndef LLX_ENGINE_SAMPLER_H
#define LLX_ENGINE_SAMPLER_H

#include "llx/engine.h"

/* The ids llx_sample(s, logits) can return, in the order it considers them
 * (after the top-k and top-p cuts: logit descending, then id ascending; with
 * no cut: every id in id order; greedy: the argmax alone).  ids must hold
 * the vocabulary size; returns the count.  Draws no random numbers. */
int llx_sampler_support(llx_sampler *s, const float *logits, int *ids);

#endif
