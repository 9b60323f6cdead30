/* dse/space.h - the design space of a search: the varied simulator
 * parameters (knobs), which kernels and whether the resource model read
 * each one, candidates as mixed-radix numbers over the knobs' values, and
 * the keys that let the search time a kernel group once per setting of the
 * knobs it reads.  Internal to src/dse. */
#ifndef LLX_DSE_SPACE_H
#define LLX_DSE_SPACE_H

#include <stdint.h>

#include "llx/dse.h"

#define DSE_GROUPS 8 /* kernel groups (llx_kernel values) */

typedef struct dse_space {
    int nk;
    llx_dse_knob knob[LLX_DSE_MAX_KNOBS];
    int param[LLX_DSE_MAX_KNOBS];      /* llx_sim_param index */
    unsigned kernels[LLX_DSE_MAX_KNOBS]; /* kernels whose timing reads it */
    int res[LLX_DSE_MAX_KNOBS];        /* the resource model reads it */
    int canon[LLX_DSE_MAX_KNOBS];      /* value index used where it is not read */
    int nodes_k, npf_k;                /* knob indices of nodes and nodes_per_fpga, or -1 */
    long total;                        /* product of the value counts */
} dse_space;

/* What the search knows of a simulator parameter: the kernels whose timing
 * reads it and whether the resource model does (unknown names: all, yes). */
unsigned dse_knob_kernels(const char *name);
int dse_knob_res(const char *name);

llx_status dse_space_init(dse_space *sp, const llx_dse_opts *o);
/* value indices of candidate `id` */
void dse_decode(const dse_space *sp, long id, unsigned char *idx);
long dse_encode(const dse_space *sp, const unsigned char *idx);
/* the same design as an earlier candidate (more nodes per device than nodes) */
int dse_duplicate(const dse_space *sp, const unsigned char *idx);
/* base with the candidate's values */
llx_status dse_apply(const dse_space *sp, const llx_sim_config *base, const unsigned char *idx, llx_sim_config *c);

/* Key of the knob values kernel group `kernel` reads (others canonical),
 * and those values: idx with every other knob at its canonical index. */
uint64_t dse_group_key(const dse_space *sp, const unsigned char *idx, int kernel, unsigned char *canon_idx);
/* Analytic lower bound on the cycles of the stages of s that run on
 * `kernel` (bound.c). */
double dse_bound_cycles(const llx_sim_config *c, const llx_schedule *s, int kernel);

/* Key of the values the resource model reads. */
uint64_t dse_res_key(const dse_space *sp, const unsigned char *idx, unsigned char *canon_idx);

#endif
