/* llx/bench.h - what `looplynx bench` measures besides the engine itself:
 * this machine's memory read bandwidth and the process's resident memory. */
#ifndef LLX_BENCH_H
#define LLX_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "llx/engine.h"
#include "llx/status.h"

/* The memory read-bandwidth probe: the rate at which `threads` threads
 * can stream `bytes` of huge-page memory (as the engine's weights are), to
 * compare decode's weight rate against.  The buffer is faulted in and read
 * once at creation; a pass then reads all of it as consecutive 4 MiB blocks,
 * each split into one contiguous part per thread (as the engine splits a
 * matrix's rows), with one of two read patterns:
 *   seq       one sequential stream per part, two cache lines per step;
 *   4-stream  four streams from the part's quarters, prefetched, as the
 *             decode GEMVs read.
 * A run times `passes` passes of each pattern, alternating, and keeps each
 * pattern's fastest pass (other work only ever slows a pass down); the
 * probe's figure is the faster pattern's.  docs/performance.md says why. */
typedef struct llx_membw llx_membw;
enum { LLX_MEMBW_PATTERNS = 2, LLX_MEMBW_MAX_THREADS = 256 };
typedef struct llx_membw_result {
    double gb_s;                                /* the best pattern's fastest pass, GB/s (1e9 bytes/s) */
    int best;                                   /* which pattern that was */
    double pattern_gb_s[LLX_MEMBW_PATTERNS];    /* each pattern's fastest pass */
} llx_membw_result;
llx_status llx_membw_create(llx_membw **out, int threads, size_t bytes);
void llx_membw_run(llx_membw *p, int passes, llx_membw_result *out);
const char *llx_membw_pattern_name(int pattern); /* "seq", "4-stream" */
/* Bytes one pass reads (the buffer rounded down to whole blocks and parts
 * of 128 bytes), and the sum of the 64-bit words the last pass read. */
size_t llx_membw_pass_bytes(const llx_membw *p);
uint64_t llx_membw_checksum(const llx_membw *p);
void llx_membw_free(llx_membw *p); /* accepts NULL */

/* The probe's cache-line handoff: probe threads 0 and 1 pass a counter
 * in one cache line back and forth, `trips` round trips per batch, and the
 * fastest of `batches` batches gives the time of one round trip.  It is
 * what a decode on several threads pays whenever one thread waits for what
 * another wrote (every matrix stage's start and end, the norms' reads of
 * the other thread's rows, attention's barrier), and it varies between
 * machines and between the placements of one VM's vCPUs as much as the
 * bandwidth does (docs/performance.md).  With one probe thread, or more
 * probe threads than CPUs (the two would take turns on one CPU), both
 * figures are 0. */
typedef struct llx_handoff_result {
    double round_trip_ns; /* the fastest batch's time per round trip */
    long trips;           /* round trips thread 1 answered, over all batches */
} llx_handoff_result;
void llx_membw_handoff(llx_membw *p, int trips, int batches, llx_handoff_result *out);

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
