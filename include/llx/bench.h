/* llx/bench.h - what `looplynx bench` measures besides the engine itself:
 * this machine's memory read bandwidth and the process's resident memory. */
#ifndef LLX_BENCH_H
#define LLX_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "llx/engine.h"
#include "llx/status.h"

/* A memory read-bandwidth probe: `bytes` of huge-page memory (like the
 * engine's weights), streamed by `threads` threads, each reading its own
 * contiguous part with the fastest read loop this CPU has. */
typedef struct llx_membw llx_membw;
llx_status llx_membw_create(llx_membw **out, int threads, size_t bytes);
/* Median GB/s (1e9 bytes/s) of `reps` passes. */
double llx_membw_run(llx_membw *p, int reps);
void llx_membw_free(llx_membw *p); /* accepts NULL */

/* Continuous-batching decode speed (`looplynx serve-bench`): `parallel`
 * sequences, each with its own `prompt`-token prompt, prefilled and then
 * decoded together for `gen` steps through llx_engine_step (one pass of
 * the weights per step for all of them), greedy. */
typedef struct llx_batch_bench {
    int parallel;
    double prefill_s;      /* the prompts' passes */
    double decode_s;       /* the gen decode steps */
    double decode_tok_s;   /* parallel * gen / decode_s: aggregate decode tokens/s */
    double p50_ms, p99_ms; /* per-token latency: a step's duration (each sequence gets one token per step) */
} llx_batch_bench;

llx_status llx_bench_batch(llx_engine *e, int parallel, int prompt, int gen, llx_batch_bench *out);

/* This machine's last-level cache in bytes: the highest-level cache of every
 * CPU in sysfs, each distinct cache (by the CPUs sharing it) counted once, so
 * a processor with several L3 slices reports their sum (0 if unknown).  A
 * bandwidth probe must be several times larger, or it reads from cache.
 * _at reads another tree laid out like /sys/devices/system/cpu. */
uint64_t llx_llc_bytes(void);
uint64_t llx_llc_bytes_at(const char *cpu_root);

/* Current and peak resident set size of this process, in bytes (0 if unknown). */
uint64_t llx_rss_bytes(void);
uint64_t llx_peak_rss_bytes(void);

#endif
