/* llx/dse.h - design-space exploration and FIFO sizing on the simulator.
 *
 * llx_dse_run searches the LoopLynx design space (nodes, nodes per device,
 * HBM channels, clock, word width, heads in parallel, LayerNorm lanes and
 * fusion, ring block rows, write-port widths, or any other simulator
 * parameter the caller lists) for a model and platform under a utilisation
 * cap.  The search is hierarchical (docs/dse.md): candidates are pruned by
 * their budget and by analytic lower bounds before the event simulator
 * times what survives, and the time of a candidate is composed from timings
 * of its kernel groups that depend only on the parameters each kernel reads
 * (checked against a full simulation of every reported design).  The best
 * designs are validated on the cycle-stepped engine.
 *
 * llx_fifo_* size the FIFOs of one stage's dataflow network by linear
 * programming (GLPK): minimum total FIFO bits such that the stage runs as
 * fast as with unbounded FIFOs, with delay-balanced reconvergent paths.
 */
#ifndef LLX_DSE_H
#define LLX_DSE_H

#include <stdint.h>

#include "llx/config.h"
#include "llx/sim.h"
#include "llx/status.h"

#define LLX_DSE_MAX_KNOBS 16  /* parameters varied at once */
#define LLX_DSE_MAX_VALUES 16 /* values per parameter */
#define LLX_DSE_RES 5         /* resources: DSP, LUT, FF, BRAM, URAM */

typedef enum llx_dse_objective {
    LLX_DSE_PARETO,  /* latency against DSP, LUT and BRAM: the non-dominated designs */
    LLX_DSE_LATENCY, /* the `top` lowest decode latencies */
    LLX_DSE_TPJ,     /* the `top` highest tokens per joule */
} llx_dse_objective;

/* One varied parameter: a simulator --set key and its values (ascending). */
typedef struct llx_dse_knob {
    char name[32];
    int n;
    double v[LLX_DSE_MAX_VALUES];
} llx_dse_knob;

typedef void (*llx_dse_progress_fn)(void *ctx, double frac, const char *what);

typedef struct llx_dse_opts {
    llx_sim_config base;   /* platform and every parameter not varied */
    int nodes_lo, nodes_hi;
    llx_sim_workload work; /* one context, or prompt + gen (searched at the mean decode context) */
    llx_dse_objective objective;
    double cap;            /* utilisation cap per device and resource, (0, 1] */
    int top;               /* designs kept for the latency / tokens-per-joule objectives */
    uint64_t seed;         /* order of equal candidates and the sample (max_candidates) */
    long max_candidates;   /* > 0: a seeded sample of this many when the space is larger */
    int threads;           /* simulator threads (>= 1) */
    int validate;          /* best designs re-run on the cycle-stepped engine */
    int nknobs;
    llx_dse_knob knobs[LLX_DSE_MAX_KNOBS];
    llx_dse_progress_fn progress;
    void *progress_ctx;
} llx_dse_opts;

/* Defaults: the space of docs/dse.md for base's platform, nodes lo..hi,
 * context 640 (or the model's), Pareto, cap 0.8, top 10, seed 1, two
 * threads, three validations.  base is llx_sim_config_init(platform). */
llx_status llx_dse_opts_init(llx_dse_opts *o, const llx_sim_config *base, const llx_config *m, int nodes_lo,
                             int nodes_hi);
/* Replace (or add) the values of knob `name` from "v1,v2,...". */
llx_status llx_dse_set_knob(llx_dse_opts *o, const char *name, const char *values);
/* "N" or "A-B" into lo..hi (1 <= lo <= hi <= LLX_MAX_NODES). */
llx_status llx_dse_parse_range(const char *s, int *lo, int *hi);

typedef struct llx_dse_point {
    double knob[LLX_DSE_MAX_KNOBS]; /* the value of every knob of the options */
    double latency_ms;      /* decode ms per token (the searched context) */
    double tokens_per_s, tokens_per_joule, power_w;
    double frac[LLX_DSE_RES];  /* largest device's use / the device (DSP, LUT, FF, BRAM, URAM) */
    double total[LLX_DSE_RES]; /* all devices */
    int devices;
    int paper_nodes;        /* > 0: the paper's design at this many nodes */
    double cycle_ms;        /* > 0: the same on the cycle-stepped engine */
    double workload_ms;     /* > 0 (prompt/gen workloads, validated designs): prefill + decode */
    int behind;             /* paper designs: -1 on the front, else a front point that dominates it */
} llx_dse_point;

typedef struct llx_dse_result {
    long considered;   /* candidates enumerated (the space, or its sample) */
    long invalid;      /* rejected by the simulator's checks (channels, widths) */
    long over_budget;  /* over the cap in some resource */
    long pruned;       /* dropped by an analytic lower bound against designs already timed */
    long deadlocked;   /* timed, but a stage deadlocks (infeasible, not reported) */
    long evaluated;    /* timed */
    long sim_runs;     /* event-simulator runs of a kernel group */
    int nknobs;
    llx_dse_knob knobs[LLX_DSE_MAX_KNOBS];
    int n_front;
    llx_dse_point *front;  /* Pareto: by latency; otherwise the top designs, best first */
    int n_paper;
    llx_dse_point paper[3];
    int n_all;
    llx_dse_point *all;    /* every timed design (for plots) */
    int validated;         /* front points re-run on the cycle engine */
    double max_cycle_dev;  /* largest |cycle - fast| / fast among them */
} llx_dse_result;

llx_status llx_dse_run(const llx_dse_opts *o, const llx_config *m, llx_dse_result *r);
void llx_dse_result_free(llx_dse_result *r);

/* Configuration of a point (o->base with the point's knob values). */
llx_status llx_dse_point_config(const llx_dse_opts *o, const llx_dse_point *p, llx_sim_config *c);

/* a weakly dominates b on (latency, DSP, LUT, BRAM) and differs in one. */
int llx_dse_dominates(const llx_dse_point *a, const llx_dse_point *b);

/* ---- FIFO sizing ---- */

/* A dataflow graph for the sizer: processes and FIFOs with the token times
 * of a reference run (the fastest schedule, every FIFO unbounded).  Built
 * from a simulator stage (llx_fifo_graph_from_stage) or by hand (tests). */
typedef struct llx_fifo_edge {
    char name[40];
    int prod, cons;        /* process indices */
    int width_bits;
    int init;              /* tokens present at the start */
    int reserve;           /* tokens in flight count against the depth (m_axi read buffer) */
    int min_depth;         /* at least this (one firing's tokens) */
    int design_depth;      /* the design's depth, for the saving */
    int copies;            /* physical FIFOs this edge stands for (replicas) */
    int sim_fifo;          /* its index in the stage's network (llx_sim_stage_run_depths), or -1 */
    long tokens;           /* pushed */
    long pops;             /* popped (init ones first) */
    const long long *push; /* [tokens] producer firing cycle */
    const int *lat;        /* [tokens] latency of the pushing port */
    const long long *vis;  /* [tokens] cycle visible to the consumer */
    const long long *pop;  /* [pops] cycle of each pop */
} llx_fifo_edge;

typedef struct llx_fifo_proc {
    char name[40];
    long long start, done; /* reference run */
    int after[2];          /* -1, or processes it waits for (their completion) */
} llx_fifo_proc;

typedef struct llx_fifo_graph {
    int nprocs, nedges;
    llx_fifo_proc *procs;
    llx_fifo_edge *edges;
    long long cycles;      /* reference latency */
    int sim_fifos;         /* FIFOs of the stage's network (replicas included), 0 by hand */
    void *own;             /* owned storage (from a stage) */
} llx_fifo_graph;

/* One stage's graph; replicas folded into their original (copies). */
llx_status llx_fifo_graph_from_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_fifo_graph *g);
void llx_fifo_graph_free(llx_fifo_graph *g);

typedef struct llx_fifo_size {
    int depth;          /* the sized depth */
    long long shift;    /* consumer delay minus producer delay chosen by the LP */
    int critical;       /* no schedule as fast as the reference does with less */
    double lp_depth;    /* the LP's linear estimate at its optimum */
} llx_fifo_size;

typedef struct llx_fifo_plan {
    int nedges;
    llx_fifo_size *size;  /* [nedges] */
    long long *delay;     /* [nprocs] start delay of each process chosen by the LP */
    double bits, design_bits;       /* total FIFO bits (copies included) */
    double bram, design_bram;       /* 36 Kb blocks (llx_sim_bram36, copies included) */
    double lp_objective;
} llx_fifo_plan;

/* Solve the LP for g (GLPK) and size every FIFO.  Free with llx_fifo_plan_free. */
llx_status llx_fifo_size_graph(const llx_fifo_graph *g, llx_fifo_plan *p);
void llx_fifo_plan_free(llx_fifo_plan *p);

/* Depth FIFO f of the graph needs when its consumer is delayed by `shift`
 * cycles relative to its producer (the exact count the plan uses). */
int llx_fifo_need(const llx_fifo_edge *e, long long shift);

/* ---- FIFO sizing of several stages (a layer) and its proof ---- */

#define LLX_FIFO_MAX_STAGES 16

/* A FIFO of the design, by name: stages that use the same kernel share it,
 * so its depth is the largest any of them needs. */
typedef struct llx_fifo_class {
    char name[40];
    int width_bits, copies, design_depth;
    int depth;              /* sized */
    int critical;           /* critical in the stage that needs `depth` */
    int stage;              /* that stage (schedule index) */
    int prod;               /* its producer process in that stage's network */
    char prod_name[40];
} llx_fifo_class;

typedef struct llx_fifo_layer_plan {
    int nstages;
    int stages[LLX_FIFO_MAX_STAGES];
    long long ref_cycles[LLX_FIFO_MAX_STAGES]; /* each stage with unbounded FIFOs */
    int nclasses;
    llx_fifo_class *cls;
    double bits, design_bits, bram, design_bram; /* copies included; BRAM36 by llx_sim_bram36 */
} llx_fifo_layer_plan;

/* Size the FIFOs of the given stages of s (accelerator stages). */
llx_status llx_fifo_size_stages(const llx_sim_config *c, const llx_schedule *s, const int *stages, int n,
                                llx_fifo_layer_plan *p);
void llx_fifo_layer_plan_free(llx_fifo_layer_plan *p);

/* One critical FIFO one entry shallower, in the stage that needs its depth. */
typedef struct llx_fifo_check {
    int cls, stage;
    long long cycles;      /* the stage, -1 on a deadlock */
    long long sized;       /* the stage with the sized depths */
    long late;             /* producer firings later than with the sized depths */
    long long late_cycles; /* summed over those firings */
    int deadlock;
    char what[640];        /* the deadlock report */
} llx_fifo_check;

typedef struct llx_fifo_proof {
    int nstages;
    long long unbounded[LLX_FIFO_MAX_STAGES], sized[LLX_FIFO_MAX_STAGES], design[LLX_FIFO_MAX_STAGES];
    double worst;          /* largest (sized - unbounded) / unbounded */
    int nchecks;
    llx_fifo_check *checks;
} llx_fifo_proof;

/* Run every stage of p with unbounded, sized and the design's FIFOs, then
 * every critical FIFO one entry shallower (cycle-stepped engine when
 * cycle_mode, else the fast one). */
llx_status llx_fifo_prove(const llx_sim_config *c, const llx_schedule *s, const llx_fifo_layer_plan *p, int cycle_mode,
                          llx_fifo_proof *out);
void llx_fifo_proof_free(llx_fifo_proof *p);

#endif
