/* sim/graph.h - one stage of the modelled accelerator as a dataflow network:
 * processes that fire, and bounded FIFOs that carry tokens between them.
 *
 * Kernel timing rules (net_*.c) describe a stage as such a network; two
 * independent engines execute it: fast.c (token-level max-plus: the time of
 * every firing from the times of the tokens it needs) and cycle.c (one clock
 * at a time, per-cycle FIFO occupancy and credit counters).  Both implement
 * exactly the semantics below, so they agree to the cycle; the issue-10 FIFO
 * sizer reads the same description (depths, widths, rates, latencies).
 *
 * Semantics (docs/simulator.md section 2):
 *  - A process runs its phases in order; a phase is `n` firings.  Firing j of
 *    a phase happens at the earliest cycle t that satisfies all of:
 *      t >= previous firing + ii of the previous firing's phase
 *           (+ `delay` when j == 0; the first firing of the process counts
 *           from cycle 0, or from the completion of its `after` processes);
 *      every active pop port finds n tokens visible and not yet popped;
 *      every active push port finds room: init + pushed + n - popped <= cap,
 *           where `popped` counts pops of earlier cycles and cap is the
 *           FIFO's depth plus the lat - 1 registers of the pipeline in front
 *           of it (tokens in flight sit in those registers), or just the
 *           depth for a `reserve` FIFO (an HLS m_axi read buffer, where an
 *           outstanding request holds its place);
 *      a rated phase finds credit >= cost (credit grows by `num` every cycle,
 *           capped at `cap`; a firing spends `cost`).
 *  - A token pushed at t through a port of latency lat (>= 1) becomes visible
 *    at max(t + lat, visibility of the FIFO's previous token).
 *  - A process completes at its last firing + that phase's ii.
 *  - Port k of a phase is active on firing j when ((j + shift) % period) is
 *    in [lo, hi], or when `last` is set and j is the phase's last firing.
 *  - A replica process fires exactly like the process it copies (its firings
 *    are a prefix of the original's); the fast engine evaluates the original
 *    only and ignores ports on replica FIFOs, the cycle engine runs all.
 */
#ifndef LLX_SIM_GRAPH_H
#define LLX_SIM_GRAPH_H

#include "llx/status.h"

typedef long long cyc;

/* units and sizes, not timing */
#define SIM_BYTE_BITS 8   /* not timing: bits per byte */
#define SIM_WORD_BITS 32  /* not timing: an fp32 or int32 value */
#define SIM_WORD_BYTES 4  /* not timing: bytes of an fp32 value */
#define SIM_NAME_LEN 40   /* not timing: process and FIFO names */
#define SIM_WHY_LEN 640   /* not timing: deadlock report */
#define SIM_NEVER_PERIOD (1L << 62) /* not timing: a pattern period longer than any phase */

enum { SIM_POP = 0, SIM_PUSH = 1 };

/* what a process is, for the time breakdown */
typedef enum sim_pkind {
    SIM_PK_STAGEIN, /* sequential preamble: kernels reading their inputs */
    SIM_PK_COMPUTE, /* the kernel proper */
    SIM_PK_ROUTER,  /* ring router */
    SIM_PK_WRITE,   /* write port: received/own results into the shared buffer */
    SIM_PK_TAIL,    /* sequential epilogue after the write-back (activation pass) */
} sim_pkind;

typedef struct sim_pat {
    long period, lo, hi, shift;
    int last;
} sim_pat;

static inline sim_pat sim_every(void) { return (sim_pat){1, 0, 0, 0, 0}; }
static inline sim_pat sim_first(void) { return (sim_pat){SIM_NEVER_PERIOD, 0, 0, 0, 0}; }
static inline sim_pat sim_last(void) { return (sim_pat){SIM_NEVER_PERIOD, 1, 0, 0, 1}; }
/* every `period`-th firing, starting with firing `first` (0-based) */
static inline sim_pat sim_each(long period, long first)
{
    return (sim_pat){period, 0, 0, (period - first % period) % period, 0};
}

typedef struct sim_rate {
    cyc num, cost, cap; /* credit per cycle, per firing, bucket size (>= cost) */
} sim_rate;

typedef struct sim_port {
    int phase, fifo, dir, n, lat;
    sim_pat pat;
    int kind; /* set by finalize: SIM_ON_EVERY, _FIRST, _LAST or _PATTERN */
    int seq;  /* order of addition (ports keep it within a phase) */
} sim_port;

enum { SIM_ON_EVERY, SIM_ON_FIRST, SIM_ON_LAST, SIM_ON_PATTERN };

typedef struct sim_phase {
    int proc, seq;
    long n;
    int ii, delay, rated;
    int port0, nports; /* after finalize */
} sim_phase;

#define SIM_MAX_AFTER 2

typedef struct sim_proc {
    char name[SIM_NAME_LEN];
    int node;
    sim_pkind kind;
    sim_rate rate;
    int has_rate;
    int replica_of;           /* -1 or the process it copies */
    int after[SIM_MAX_AFTER]; /* -1 or processes that must complete first */
    int trace;                /* record firing times (write ports) */
    int phase0, nphases;      /* after finalize */
} sim_proc;

typedef struct sim_fifo {
    char name[SIM_NAME_LEN];
    int depth, init, width_bits;
    int reserve;     /* tokens in flight count against the depth */
    int prod, cons;  /* processes (set by the ports) */
    int replica_of;  /* -1 or the FIFO it copies */
    long pushes, pops; /* totals over the stage (after finalize) */
} sim_fifo;

typedef struct sim_graph {
    sim_proc *procs;
    sim_phase *phases;
    sim_port *ports;
    sim_fifo *fifos;
    int nprocs, nphases, nports, nfifos;
    int cap_procs, cap_phases, cap_ports, cap_fifos;
    int oom;       /* an add failed; finalize reports it */
    int finalized;
    int want_occ;  /* engines fill sim_outcome.max_occ (else it stays 0) */
} sim_graph;

void sim_graph_init(sim_graph *g);
void sim_graph_free(sim_graph *g);

/* Builders.  They record failures in g->oom and return -1 then. */
int sim_fifo_add(sim_graph *g, const char *name, int depth, int init, int width_bits);
int sim_proc_add(sim_graph *g, const char *name, int node, sim_pkind kind);
void sim_proc_rate(sim_graph *g, int p, sim_rate r);
void sim_proc_after(sim_graph *g, int p, int q);
/* phases of a process fire in the order they are added */
int sim_phase_add(sim_graph *g, int p, long n, int ii, int delay, int rated);
void sim_port_add(sim_graph *g, int phase, int fifo, int dir, int n, int lat, sim_pat pat);

/* Sort phases and ports per process, count tokens per FIFO and check the
 * network (one producer and one consumer per FIFO, pushes = pops, ...). */
llx_status sim_graph_finalize(sim_graph *g);

/* Firings j in [0, n) of a phase on which a port with pattern p is active. */
long sim_pat_count(sim_pat p, long n);
/* room a push port of latency lat has on FIFO f */
static inline long sim_push_cap(const sim_fifo *f, int lat) { return f->depth + (f->reserve ? 0 : lat - 1); }
static inline int sim_pat_on(const sim_pat *p, long j, long n)
{
    long r = (j + p->shift) % p->period;
    return (r >= p->lo && r <= p->hi) || (p->last && j == n - 1);
}
/* the same for a finalized port (cheap for the common patterns) */
static inline int sim_port_on(const sim_port *pt, long j, long n)
{
    switch (pt->kind) {
    case SIM_ON_EVERY: return 1;
    case SIM_ON_FIRST: return j == 0;
    case SIM_ON_LAST: return j == n - 1;
    default: return sim_pat_on(&pt->pat, j, n);
    }
}

/* What an engine reports for one run of a network. */
typedef struct sim_trace {
    cyc *t;
    long n, cap;
} sim_trace;

typedef struct sim_outcome {
    cyc *done;           /* [nprocs] completion cycle, -1 if it never completed */
    sim_trace *trace;    /* [nprocs] firing times of traced processes */
    int *max_occ;        /* [nfifos] most tokens waiting (visible, not popped) at once */
    cyc end;             /* max completion */
    int deadlock;
    cyc deadlock_cycle;  /* 1 + the last cycle in which anything fired */
    char why[SIM_WHY_LEN]; /* which processes wait on which FIFOs */
    int nprocs;
} sim_outcome;

llx_status sim_outcome_alloc(sim_outcome *o, const sim_graph *g);
/* append a firing time to a trace; -1 when out of memory */
int sim_trace_add(sim_trace *tr, cyc t);
void sim_outcome_free(sim_outcome *o);

/* The two engines.  Both fill `o` (allocated by them); a deadlock is not an
 * error status: o->deadlock is set and o->why says where. */
llx_status sim_run_fast(const sim_graph *g, sim_outcome *o);
llx_status sim_run_cycle(const sim_graph *g, sim_outcome *o);

/* Shared by both engines: the deadlock report from the stuck state (tokens
 * pushed and popped per FIFO, each process's next phase and firing, and its
 * completion, -1 while unfinished).  Replica processes and ports on replica
 * FIFOs are left out so that both engines write the same text. */
void sim_deadlock_text(const sim_graph *g, const long *pushed, const long *popped, const int *next_phase,
                       const long *next_j, const cyc *done, cyc cycle, char *buf, size_t len);

#endif
