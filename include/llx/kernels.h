/* llx/kernels.h - the compute kernel tiers, for --kernels and reports.
 *
 * A tier is one instruction set's kernels: "ref" (scalar reference),
 * "avx2", "avx512" (AVX-512 BW/VL/DQ + VNNI) and "amx" (AMX-INT8 tiles for
 * the int8 GEMM), plus "amx-emu", the amx tier's code on emulated tiles
 * (slow; for tests).  "auto" is the best tier this machine runs (never
 * amx-emu); the environment variable LLX_KERNELS overrides "auto". */
#ifndef LLX_KERNELS_PUBLIC_H
#define LLX_KERNELS_PUBLIC_H

/* Number of tiers; names by index 0 .. count-1, from ref upwards. */
int llx_kernel_tier_count(void);
const char *llx_kernel_tier_name(int i);
/* "" when this machine runs tier i, else why not (e.g. "CPU lacks AMX-TILE/AMX-INT8"). */
const char *llx_kernel_tier_missing(int i);
/* The tier `name` ("auto", NULL or a tier name) selects here, or NULL when
 * the name is unknown or its tier cannot run on this machine. */
const char *llx_kernels_resolve(const char *name);

#endif
