/* sim/hw.h - the modelled hardware in integer cycles, derived once from an
 * llx_sim_config (hw.c), and the stage network builders (the timing rule of
 * each kernel).  Internal to src/sim. */
#ifndef LLX_SIM_HW_H
#define LLX_SIM_HW_H

#include "llx/schedule.h"
#include "llx/sim.h"
#include "sim/graph.h"

/* Rate limiters count credit in thousandths of a byte, so fractional bytes
 * per cycle stay exact integers (a unit, not a timing constant). */
#define SIM_CREDIT_SCALE 1000 /* not timing: credit unit */

typedef struct sim_hw {
    const llx_sim_config *cfg;
    int nodes, P, G, hp, npf;
    double f_hz;
    sim_rate hbm;            /* one HBM channel, per word */
    int L_hbm;               /* HBM read latency, cycles */
    sim_rate link[LLX_MAX_NODES]; /* link node i -> i+1, per flit */
    int hop[LLX_MAX_NODES];
    int flit_bytes;
    int router, sched;
    /* widths, elements per cycle */
    int mp_in, mp_q, mp_wb, mha_q, kv_in, ctx_q, mha_wb, ln_rd, ln_wb, act, lanes, ln_ii;
    /* FIFO depths */
    int dma_fifo, disp_fifo, out_fifo, tx_fifo, wb_fifo, link_fifo;
    int sc_fifo, score_fifo, exp_fifo, stat_fifo, prob_fifo, ctx_fifo;
    /* latencies, cycles */
    int lat_fifo, lat_logic, fadd, fmul, exp_, rsqrt, recip, i2f, imul, iadd;
    int tree_lat;            /* multiply, adder tree (a process per level), accumulate */
    int quant_lat;           /* requantisation: int to float, scale, bias, clamp */
    int score_lat;           /* QK tree, channel merge, score scale */
    int max_lat;             /* running maximum */
    int exp_lat;             /* subtract maximum, exponential, add epsilon */
    int sum_lat;             /* fixed-point sum of a head's exponentials */
    int inv_lat;             /* sum to float, reciprocal */
    int norm_lat;            /* two multiplies, round to int8 */
    int sv_lat;              /* SV multiply, accumulate, drain to the FIFO */
    int ctxq_lat;            /* context requantisation */
    int act_lat[LLX_ACT_SILU + 1]; /* an activation function on fp32 values, by llx_act */
    int fusion, headwise, hiding;
} sim_hw;

llx_status sim_hw_init(sim_hw *hw, const llx_sim_config *c);

static inline long cdiv_l(long a, long b) { return (a + b - 1) / b; }
static inline int ilog2ceil(long v)
{
    int n = 0;
    while ((1L << n) < v) n++;
    return n;
}

/* Flits of a message carrying `elems` elements of `bytes` each (>= 1: a
 * message always has a header beat). */
static inline long sim_flits(const sim_hw *hw, long elems, int bytes)
{
    long f = cdiv_l(elems * bytes, hw->flit_bytes);
    return f < 1 ? 1 : f;
}

/* What the driver needs to know about a built stage network. */
typedef struct sim_stage_net {
    sim_graph g;
    double hbm_bytes[LLX_SIM_MAX_CHANNELS]; /* summed over nodes */
    double link_bytes;
    int gathered;        /* the stage has a ring all-gather / write-back */
} sim_stage_net;

/* Build the network of stage i: the timing rule of its work (MATMUL
 * net_mp.c, ATTN net_mha.c, NORM and ROPE net_ln.c; the ring and write
 * ports in net_ring.c). */
llx_status sim_net_mp(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net);
llx_status sim_net_mha(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net);
llx_status sim_net_ln(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net);
llx_status sim_net_rope(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net);
llx_status sim_net_had(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net);

/* Bits of the weights a MATMUL stage streams: the LM head's (lm_bits) or
 * the layers' (w_bits); 8 unless the schedule says 4 (an fp32 LM head
 * moved onto the FPGA is int8 there, as the paper's design). */
static inline int sim_weight_bits(const llx_schedule *s, const llx_stage *st)
{
    int b = st->matrix == LLX_MAT_LM_HEAD ? s->opt.lm_bits : s->opt.w_bits;
    return b == 4 ? 4 : 8; /* not timing: bit widths */
}

/* The ring all-gather and write-back of one stage.  own[n] is the FIFO that
 * carries node n's result flits (pushed by its kernel), msgs[n*nblk+b] the
 * flits of node n's b-th message and elems[...] its elements of `bytes`
 * bytes; the write ports write `wb` elements per cycle.  gate[n] (or -1) is
 * a process node n's router waits for before its first message (transfer
 * hiding off).  ring = 0: no all-gather, each node writes its own results.
 * wproc[n] gets node n's write port.  Returns -1 when out of memory. */
int sim_net_ring(const sim_hw *hw, sim_stage_net *net, int nblk, const int *own, const long *msgs,
                 const long *elems, int bytes, int wb, const int *gate, int ring, int *wproc);

/* A node with fewer messages than the busiest one (fewer rows or heads)
 * still takes part in every round: its kernel process `proc` pushes
 * header-only messages (one flit, no elements) for blocks from..nblk-1. */
void sim_net_headers(const sim_hw *hw, sim_graph *g, int proc, int tx, int from, int nblk, long *msgs, long *elems);

/* Build and finalize the network of stage i as `kernel` (driver.c); *cat is
 * the category its compute counts in.  Free net->g with sim_graph_free. */
llx_status sim_build_stage(const sim_hw *hw, const llx_schedule *s, int i, int kernel, sim_stage_net *net,
                           llx_sim_cat *cat);

/* The configuration is valid and s is planned for its node count. */
llx_status sim_check_schedule(const llx_sim_config *c, const llx_schedule *s);

/* Host work of a host stage, seconds (host.c). */
double sim_host_stage_s(const llx_sim_config *c, const llx_stage *st);

#endif
