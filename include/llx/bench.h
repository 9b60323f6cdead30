/* llx/bench.h - what `looplynx bench` measures besides the engine itself:
 * this machine's memory read bandwidth and the process's resident memory. */
#ifndef LLX_BENCH_H
#define LLX_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "llx/engine.h"
#include "llx/status.h"

/* Read bandwidth of `bytes` (touched beforehand) streamed by `threads`
 * threads, each reading its own contiguous part with the fastest read loop
 * this CPU has; the median of `reps` runs, in GB/s (1e9 bytes/s). */
llx_status llx_membw_measure(int threads, size_t bytes, int reps, double *gb_s);

/* Current and peak resident set size of this process, in bytes (0 if unknown). */
uint64_t llx_rss_bytes(void);
uint64_t llx_peak_rss_bytes(void);

/* Bytes of weight data the model holds on disk (safetensors data or .llx file). */
uint64_t llx_model_bytes(const llx_model *m);

#endif
