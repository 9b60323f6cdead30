/* dse/search.h - the search's state, shared by search.c (enumeration,
 * bounds, pruning, timing) and front.c (the front or the top designs, the
 * paper's designs, re-timing and cycle-mode validation).  Internal. */
#ifndef LLX_DSE_SEARCH_H
#define LLX_DSE_SEARCH_H

#include "dse/map.h"
#include "dse/space.h"
#include "util/pool.h"

/* one kernel group timed at one setting of the knobs it reads */
typedef struct gslot {
    unsigned char idx[LLX_DSE_MAX_KNOBS]; /* the setting (other knobs canonical) */
    int kernel, sched, sib;               /* schedule slot; sibling set (best) */
    double bound;                         /* analytic cycles */
    double cycles, hbm, link;             /* simulated */
    int state;                            /* 0 untimed, 1 queued, 2 timed */
    int deadlock;                         /* timed: a stage deadlocked (the candidates using it are infeasible) */
} gslot;

typedef struct cand {
    long id;
    double lb_ms, dsp, lut, bram;
    uint64_t tie;
    int res;
    int g[DSE_GROUPS];
} cand;

typedef struct sched_slot {
    int nodes, block, w_bits;
    llx_schedule s;
} sched_slot;

typedef struct search {
    const llx_dse_opts *o;
    const llx_config *m;
    dse_space sp;
    int context;
    int kern[DSE_GROUPS], nkern;
    gslot *gs;
    int ngs, capgs;
    dse_map gmap[DSE_GROUPS], sibmap[DSE_GROUPS];
    double *best; /* per sibling set: least simulated cycles so far */
    int nbest, capbest;
    llx_sim_resources *rs;
    int nrs, caprs;
    dse_map rmap;
    sched_slot *sc;
    int nsc, capsc;
    cand *c;
    long nc, capc;
    llx_pool *pool;
    int *jobs;
    int njobs, capjobs;
    llx_dse_result *r;
    int capfront, capall;
} search;

/* search.c */
llx_status dse_candidate(search *x, long id, int *kept);
/* one of the candidate's kernel groups (timed) deadlocked */
int dse_deadlocks(const search *x, const cand *c);
llx_status dse_time_jobs(search *x);
int dse_queue(search *x, int slot);
/* the point of a candidate whose groups are all timed */
void dse_compose(search *x, const cand *c, llx_dse_point *p);

/* front.c */
int dse_pruned(const search *x, const cand *c);
llx_status dse_offer(search *x, const llx_dse_point *p);
llx_status dse_finish(search *x);

#endif
