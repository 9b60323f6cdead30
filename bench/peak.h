/* bench/peak.h - the peak rate of each kernel tier's inner product
 * instruction on this core: long runs of independent accumulator chains
 * (no loads, no dependences between them), so the only limit is how many
 * of the instructions the core issues per cycle.  Each function runs
 * `iters` rounds and returns a value that depends on every result (so no
 * round can be dropped); ops per round are given by *_OPS. */
#ifndef LLX_BENCH_PEAK_H
#define LLX_BENCH_PEAK_H

#include <stdint.h>

#define PEAK_CHAINS 12
/* avx2 tier's int8 product: vpmaddubsw, vpmaddwd (x1), vpaddd on 32 bytes:
 * 32 multiply-adds, 64 ops */
#define PEAK_AVX2_I8_OPS (PEAK_CHAINS * 64.0)
/* avx512 tier's: one vpdpbusd on 64 bytes: 64 multiply-adds, 128 ops */
#define PEAK_VNNI_OPS (PEAK_CHAINS * 128.0)
/* fp32: one vfmadd231ps of 8 (ymm) or 16 (zmm) lanes: 16 or 32 flops */
#define PEAK_FMA256_OPS (PEAK_CHAINS * 16.0)
#define PEAK_FMA512_OPS (PEAK_CHAINS * 32.0)

uint32_t llx_peak_avx2_i8(long iters, int seed);
uint32_t llx_peak_fma256(long iters, int seed);
uint32_t llx_peak_vnni512(long iters, int seed);
uint32_t llx_peak_fma512(long iters, int seed);

#endif
