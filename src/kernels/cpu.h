/* kernels/cpu.h - the instruction sets this machine lets the kernel tiers
 * use (cpu.c says how each is checked). */
#ifndef LLX_KERNELS_CPU_H
#define LLX_KERNELS_CPU_H

typedef struct llx_cpu {
    int avx2;     /* AVX2 + FMA, YMM state enabled by the OS */
    int avx512;   /* AVX-512 F, DQ, BW, VL and VNNI, ZMM state enabled */
    int amx_cpu;  /* CPUID: AMX-TILE and AMX-INT8 */
    int amx_os;   /* XCR0: tile configuration and tile data state enabled */
    int amx_perm; /* Linux granted this process the tile data state */
    int amx;      /* all of the above, and avx512 (the AMX tier's epilogue) */
} llx_cpu;

/* Probe the CPU (and, when AMX is present, request the tile permission). */
void llx_cpu_detect(llx_cpu *c);
/* The probe's result, computed once per process. */
const llx_cpu *llx_cpu_get(void);

#endif
