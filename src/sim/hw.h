/* sim/hw.h - the modelled hardware in integer cycles, derived once from an
 * llx_sim_config, and the small timing primitives both simulation modes
 * share (credit-based rate limiters).  Internal to src/sim. */
#ifndef LLX_SIM_HW_H
#define LLX_SIM_HW_H

#include "llx/schedule.h"
#include "llx/sim.h"

typedef long long cyc;

/* A rate limiter: every cycle a request gains `num` credits, one unit costs
 * `cost` (cost >= num, so at most one unit per cycle).  A request started at
 * cycle t0 issues its k-th unit (k >= 1) at t0 + ceil(k*cost/num) - 1; the
 * cycle-stepped mode implements exactly this with a credit counter. */
typedef struct sim_rate {
    cyc num, cost;
} sim_rate;

static inline cyc cdiv(cyc a, cyc b) { return (a + b - 1) / b; }
static inline cyc rate_issue(sim_rate r, cyc t0, cyc k) { return t0 + cdiv(k * r.cost, r.num) - 1; }
/* Same rate but each unit also occupies the consumer for `per` cycles. */
static inline sim_rate rate_slow(sim_rate r, cyc per)
{
    sim_rate s = r;
    if (per * r.num > s.cost) s.cost = per * r.num;
    return s;
}
static inline cyc max_c(cyc a, cyc b) { return a > b ? a : b; }

typedef struct sim_hw {
    const llx_sim_config *cfg;
    int nodes, P, G;         /* nodes, channels (slices) per node, int8 lanes per word */
    double f_hz;
    sim_rate hbm;            /* one HBM channel, per word */
    cyc L_hbm;               /* read latency */
    sim_rate link[LLX_MAX_NODES]; /* link node i -> i+1, per flit */
    cyc hop[LLX_MAX_NODES];
    int flit_bytes;
    cyc router;              /* per-message router handshake */
    cyc sched;               /* stage hand-over */
    int xfer;                /* shared-buffer read port, elements/cycle */
    int lanes, hp;
    cyc score_fifo;
    /* pipeline latencies, cycles */
    cyc tree_lat;            /* multiplier + adder tree + accumulator of a slice */
    cyc quant_lat;           /* quantisation unit: scale, bias, round */
    cyc gelu_lat;            /* GELU table lookup after quantisation */
    cyc score_lat;           /* QK tree + channel merge + score requant */
    cyc s1_lat;              /* online max/exp/sum update after the last score */
    cyc s2_lat;              /* reciprocal of the sum + first normalised probability */
    cyc sv_lat;              /* SV accumulate + context requant */
    int fadd, fmul, exp_, rsqrt, recip;
    int fusion, headwise, hiding;
} sim_hw;

llx_status sim_hw_init(sim_hw *hw, const llx_sim_config *c);

/* Word rate of an MP slice: the HBM channel, slowed to the MAC (T cycles per
 * word in a T-token pass) and to the quantisation unit (P x T elements per
 * row group of wpr words), i.e. the steady state the bounded FIFOs between
 * them enforce by back-pressure. */
static inline sim_rate sim_mp_rate(const sim_hw *hw, int T, cyc wpr)
{
    sim_rate r = rate_slow(hw->hbm, T);
    cyc q = cdiv((cyc)hw->P * T * r.num, wpr);
    if (q > r.cost) r.cost = q;
    return r;
}

/* What one stage took on the modelled hardware. */
typedef struct sim_stage {
    cyc end;       /* stage length, cycles (max over nodes, incl. hand-over) */
    cyc stage_in;  /* part spent reading input vectors from the shared buffer */
    cyc ring;      /* part spent waiting for the ring after local work ended */
    double hbm_bytes[LLX_SIM_MAX_CHANNELS]; /* summed over nodes */
    double link_bytes;
} sim_stage;

/* Ring all-gather of per-node blocks (router.c).  ready[n*nblk+b] is when
 * node n's block b may leave, flits[n*nblk+b] its size on the ring and
 * elems[n*nblk+b] the elements every node writes into its shared buffer.
 * Returns the cycle at which the last node has written every block (-1 when
 * out of memory); *bytes gets the link traffic. */
cyc sim_ring_fast(const sim_hw *hw, int nblk, const cyc *ready, const int *flits, const long *elems,
                  double *bytes);

/* Fast (event-level) stage models. */
llx_status sim_mp_fast(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out);
llx_status sim_mha_fast(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out);
void sim_lnres_time(const sim_hw *hw, const llx_stage *st, sim_stage *out);

/* Cycle-stepped reference (cycle.c): same rules, one cycle at a time. */
llx_status sim_mp_cycle(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out);
llx_status sim_mha_cycle(const sim_hw *hw, const llx_schedule *s, int i, sim_stage *out);
void sim_lnres_cycle(const sim_hw *hw, const llx_stage *st, sim_stage *out);

/* Flits of a message carrying `elems` elements of `bytes` each (>= 1: a
 * message always has a header beat). */
static inline int sim_flits(const sim_hw *hw, long elems, int bytes)
{
    long f = (elems * bytes + hw->flit_bytes - 1) / hw->flit_bytes;
    return f < 1 ? 1 : (int)f;
}

/* Host work of a host stage, seconds (host.c). */
double sim_host_stage_s(const llx_sim_config *c, const llx_stage *st);

#endif
