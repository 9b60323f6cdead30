/* model/wscan.h - the passes that touch every stored float weight at load,
 * each with the NaN/Inf check fused in: widening a checkpoint's F32, F16 or
 * BF16 run to fp32 (the HF reader), and the .llx checksum of a float tensor.
 *
 * The scalar functions here are the specification.  Vector tiers
 * (wscan_avx2.c, wscan_avx512.c) are chosen at run time from what the CPU
 * has (LLX_KERNELS=ref forces the scalar one, as it does for the kernels);
 * they write the same fp32 bits for every finite input and report a
 * non-finite value exactly when the scalar function does.  Where an element
 * is NaN or Inf the fp32 written for it is unspecified (the caller refuses
 * the tensor and finds the element with llx_wscan_first_bad).
 *
 * Built with -DLLX_WSCAN_NO_CHECK (bench/bench_load.c's comparison build
 * only) the passes do the same work without the check and report nothing. */
#ifndef LLX_MODEL_WSCAN_H
#define LLX_MODEL_WSCAN_H

#include <stddef.h>
#include <stdint.h>

/* One lane step of llx_hash64: a bijection of the lane state and of the
 * input word, so any change confined to one 8-byte word changes the result. */
static inline uint64_t llx_hash_mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9E3779B97F4A7C15ull;
    h = (h << 31) | (h >> 33);
    return h * 0xC2B2AE3D27D4EB4Full;
}

/* llx_hash64's four lane seeds */
#define LLX_HASH_SEEDS 0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull

/* Widen n little-endian elements at src (no alignment needed) into dst;
 * returns 1 when one of them is NaN or infinite, else 0. */
typedef int (*llx_wscan_conv_fn)(const void *src, size_t n, float *dst);

/* The .llx checksum (llx_hash64, same value) of n bytes of F32 (f16 = 0) or
 * F16 (f16 = 1) data; *bad = 1 when one of the floats is NaN or Inf. */
typedef uint64_t (*llx_wscan_hash_fn)(const void *data, size_t n, uint64_t seed, int f16, int *bad);

/* Widen a block stored transposed, with the same check: source row k
 * (k < kn) holds rn little-endian elements at src + k * stride bytes, and
 * its element r goes to dst[r * ld + k] (no alignment needed).  Returns 1
 * when one of the kn * rn elements is NaN or infinite, else 0.  This is
 * GPT-2's Conv1D transpose undone (model/hf_read.c); the vector tiers
 * transpose 8x8 blocks in registers. */
typedef int (*llx_wscan_tile_fn)(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld);

typedef struct {
    const char *name;
    llx_wscan_conv_fn f32, f16, bf16;
    llx_wscan_hash_fn hash_float;
    llx_wscan_tile_fn tile_f32, tile_f16, tile_bf16;
} llx_wscan;

enum { LLX_WSCAN_REF, LLX_WSCAN_AVX2, LLX_WSCAN_AVX512, LLX_WSCAN_COUNT };

/* Tier t, or NULL when this CPU/OS cannot run it. */
const llx_wscan *llx_wscan_tier(int t);

/* The best tier here (chosen once; thread-safe). */
const llx_wscan *llx_wscan_get(void);

/* 1 when one of n elements (esize bytes each) at src is NaN or Inf, by
 * running the pass f over them through a small buffer: the check of a
 * tensor the load does not convert (embedding tables read row by row). */
int llx_wscan_any_bad(llx_wscan_conv_fn f, const void *src, size_t n, size_t esize);

/* Index of the first NaN/Inf among n elements (dtype_bytes 4: F32, 2 with
 * bf16 0/1: F16/BF16), or -1; *nan says which it is.  Scalar: the error path. */
int64_t llx_wscan_first_bad(const void *src, size_t n, int dtype_bytes, int bf16, int *nan);

/* The scalar tiers' pieces the vector tiers share (wscan.c). */
int llx_wscan_f32_ref(const void *src, size_t n, float *dst);
int llx_wscan_f16_ref(const void *src, size_t n, float *dst);
int llx_wscan_bf16_ref(const void *src, size_t n, float *dst);
int llx_wscan_tile_f32_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld);
int llx_wscan_tile_f16_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld);
int llx_wscan_tile_bf16_ref(const void *src, size_t stride, size_t kn, size_t rn, float *dst, size_t ld);
uint64_t llx_wscan_hash_float_ref(const void *data, size_t n, uint64_t seed, int f16, int *bad);
/* The hash's end from byte i (a multiple of 32) given the four lane states
 * and the non-finite accumulator nf of the 64-bit words before i. */
uint64_t llx_wscan_hash_tail(const uint8_t *p, size_t i, size_t n, const uint64_t l[4], uint64_t nf, int f16,
                             int *bad);

void llx_wscan_fill_avx2(llx_wscan *w);
void llx_wscan_fill_avx512(llx_wscan *w);

#endif
