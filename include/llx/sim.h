/* llx/sim.h - cycle-level simulator of the LoopLynx FPGA design.
 *
 * The simulator times the schedule the engine executes (llx/schedule.h) on a
 * parameterised model of the accelerator: a platform (board datasheet
 * figures, a preset or a JSON file), an architecture (nodes, HBM channels,
 * MAC widths, clock, per-path shared-buffer widths, FIFO depths, operator
 * latencies, ring links, the paper's three optimisations) and a workload.
 * Every stage becomes a dataflow network of processes and bounded FIFOs
 * (a full FIFO stalls its producer; a cyclic wait is reported as a
 * deadlock) that one of two independent engines executes: a fast
 * token-level engine (the default) and a cycle-stepped reference.
 * docs/simulator.md lists every parameter with its value and source.
 */
#ifndef LLX_SIM_H
#define LLX_SIM_H

#include <stddef.h>

#include "llx/config.h"
#include "llx/schedule.h"
#include "llx/status.h"

#define LLX_SIM_MAX_CHANNELS 64 /* HBM channels per node */

/* A board: datasheet figures, a measured HBM efficiency, the vendor shell. */
typedef struct llx_sim_platform {
    char name[32];
    int hbm_pcs;             /* HBM pseudo-channels (AXI ports) on the device */
    double hbm_total_gbps;   /* peak bandwidth of the HBM subsystem, GB/s */
    double hbm_eff;          /* sustained sequential-read fraction of the peak */
    int slrs;                /* super logic regions */
    double dsp, lut, ff, bram, uram; /* device resources (BRAM in 36 Kb blocks) */
    double tdp_w;            /* board thermal design power, W */
    double static_w;         /* board power with the shell loaded and idle, W */
    double shell_dsp, shell_lut, shell_ff, shell_bram, shell_uram; /* platform (shell) footprint */
    double clock_min_mhz, clock_max_mhz; /* kernel clock range of the platform */
    double net_gbps;         /* device-to-device link (QSFP) payload rate, GB/s */
} llx_sim_platform;

/* The accelerator.  Times are kernel-clock cycles unless a name says ns;
 * widths are elements per cycle; FIFO depths are entries of the FIFO. */
typedef struct llx_sim_arch {
    int nodes;            /* ring size */
    int nodes_per_fpga;   /* nodes sharing one device (one per SLR) */
    int channels;         /* HBM channels (= MP slices) per node */
    int word_bytes;       /* bytes per HBM word = int8 MACs per slice (n_group) */
    int w4_macs_per_dsp;  /* int4-weight MACs per DSP48E2 (2: two weights of a column packed, sharing the activation) */
    double clock_mhz;     /* kernel clock */
    int heads_parallel;   /* heads the MHA kernel processes at once */
    int ln_lanes;         /* LN&Res vector width */
    int flit_bytes;       /* ring datapack (AXI-Stream beat) width */
    /* shared-buffer paths, elements per cycle (0: the HBM word width) */
    int mp_in_elems;      /* MP activation feed (packs words for the slices) */
    int mp_q_elems;       /* MP quantisation unit */
    int mp_wb_elems;      /* MP write-back of gathered results */
    int mha_q_elems;      /* MHA stage-in of q */
    int kv_in_elems;      /* MHA stage-in of k and v (on-chip copy) */
    int ctx_q_elems;      /* MHA context requantisation, per channel */
    int mha_wb_elems;     /* MHA write-back of gathered contexts */
    int ln_rd_elems;      /* LN&Res read of the branch */
    int ln_wb_elems;      /* LN&Res write of h */
    int act_elems;        /* activation (GELU) pass */
    int ln_acc_ii;        /* LN statistics loop initiation interval */
    int params_uram;      /* biases and LayerNorm parameters in URAM (else BRAM) */
    /* FIFO depths */
    int dma_fifo;         /* HBM read buffer per channel (words): outstanding + buffered */
    int disp_fifo;        /* activation words per MP slice */
    int out_fifo;         /* MP per-slice result FIFO */
    int tx_fifo;          /* kernel to router, flits */
    int wb_fifo;          /* router to write port, flits */
    int link_fifo;        /* ring link (AXI-Stream FIFO), flits */
    int sc_fifo;          /* MHA score stream into the softmax */
    int score_fifo;       /* MHA softmax bypass: scores waiting for the maximum */
    int exp_fifo;         /* MHA softmax bypass: exponentials waiting for the sum */
    int stat_fifo;        /* MHA softmax max / sum / reciprocal pipes */
    int prob_fifo;        /* MHA probabilities per V channel */
    int ctx_fifo;         /* MHA context accumulators to requantisation */
    /* latencies */
    double hbm_latency_ns;   /* HBM read latency (request to data) */
    double hop_ns_intra, hop_ns_inter; /* ring hop latency on one device / between devices */
    double link_gbps_intra;  /* ring link on one device, GB/s (0: one flit per cycle) */
    int router_cycles;    /* router handshake between sending and receiving a message */
    int sched_cycles;     /* scheduler hand-over between two kernel calls */
    int lat_fifo;         /* FIFO register stage */
    int lat_logic;        /* compare / round / clamp / pack register stage */
    int lat_imul;         /* int8 multiply (DSP) */
    int lat_iadd;         /* integer add (adder-tree level, accumulator) */
    int lat_i2f;          /* int32 to fp32 conversion */
    int lat_fadd, lat_fmul, lat_exp, lat_rsqrt, lat_recip; /* fp32 operators */
    /* switches */
    int lnres_fusion;        /* fused LN&Res kernel (paper Fig. 5) */
    int headwise_pipeline;   /* head-wise softmax pipeline (paper Fig. 5) */
    int transfer_hiding;     /* ring transfer of block k under compute of k+1 */
    int prefill_batched;     /* prefill as one T-token pass instead of T passes */
    int lm_head_fpga;        /* final LayerNorm + LM head on the FPGA (else host) */
    int cycle_mode;          /* 1: cycle-stepped engine, 0: fast engine */
    /* host (per token; not part of the accelerator latency) */
    double host_mem_gbps, host_gflops, pcie_gbps, pcie_us, launch_us;
    /* power model */
    double uw_per_mhz_dsp, uw_per_mhz_bram, uw_per_mhz_klut, uw_per_mhz_kff;
    double hbm_pj_per_bit, link_pj_per_bit;
} llx_sim_arch;

/* The numeric scheme the accelerator runs (docs/simulator.md section 1.3):
 * what a .llx model's header records, or `sim --scheme`.  Zeros are W8A8
 * (the paper's design). */
typedef struct llx_sim_scheme {
    int w_bits;      /* layer weights: 8 or 4 (0 = 8) */
    int act_bits;    /* matrix inputs: 8 or 4 (0 = 8; 4 = int4 per token, gathered in fp32) */
    int lm_bits;     /* LM head weights on the FPGA: 8 or 4 (0 = 8) */
    int group;       /* int4 weight columns per scale (0: one per row; 32, 64, 128) */
    int scale_bytes; /* bytes of an int4 weight scale: 2 (fp16) or 4 (fp32; 0 = 4) */
    int kv_f32;      /* fp32 q/k/v and KV cache (refused: the MHA unit is int8) */
    int hadamard;    /* online Hadamard transform before the down projection */
} llx_sim_scheme;

typedef struct llx_sim_config {
    llx_sim_platform plat;
    llx_sim_arch arch;
    int block_rows; /* MP rows per ring block (presets: 64, the router's block; 0 = the engine's automatic blocks) */
    llx_sim_scheme scheme;
} llx_sim_config;

/* "w8a8" | "w4a8" | "w4a4", then optional ",group=N", ",scales=fp16|fp32",
 * ",kv=int8|fp32", ",lm=8|4", ",hadamard=0|1" (scheme.c).  Refuses invalid
 * combinations with one line. */
llx_status llx_sim_scheme_parse(const char *spec, llx_sim_scheme *s);
/* The scheme is one the simulator models (checked by llx_sim_check too). */
llx_status llx_sim_scheme_check(const llx_sim_scheme *s);
/* "w4a8,group=64,scales=fp16,kv=int8,lm=4,hadamard=1" into buf. */
void llx_sim_scheme_format(const llx_sim_scheme *s, char *buf, int len);
/* The schedule options of one pass of this scheme (the fields a schedule's
 * options take from a .llx header, docs/design.md). */
void llx_sim_scheme_sched(const llx_sim_scheme *s, llx_sched_opts *o);

/* Fill c with a platform preset ("u50", "u280", "u55c", "v80") and the
 * paper's architecture (one node, 285 MHz, 8 channels of 32-byte words...). */
llx_status llx_sim_config_init(llx_sim_config *c, const char *platform);
/* Replace c->plat with a platform described by JSON text (docs/simulator.md
 * lists the keys); `what` names the source in error messages. */
llx_status llx_sim_platform_parse(llx_sim_config *c, const char *json, size_t len, const char *what);
/* The same from a file. */
llx_status llx_sim_platform_load(llx_sim_config *c, const char *path);
/* Override one field: "key=value" (keys listed by llx_sim_param_*). */
llx_status llx_sim_set(llx_sim_config *c, const char *key_value);
/* Check the configuration, alone and against a model. m may be NULL. */
llx_status llx_sim_check(const llx_sim_config *c, const llx_config *m);

/* The settable keys, for help text and docs. */
int llx_sim_param_count(void);
const char *llx_sim_param_name(int i);
const char *llx_sim_param_help(int i);
const char *llx_sim_param_source(int i);
/* Index of the parameter called `name`, or -1. */
int llx_sim_param_find(const char *name);
/* Value of parameter i in c, and setting it (range-checked like --set). */
double llx_sim_param_get(const llx_sim_config *c, int i);
llx_status llx_sim_param_set(llx_sim_config *c, int i, double v);
/* Current value of parameter i in c, formatted into buf. */
void llx_sim_param_value(const llx_sim_config *c, int i, char *buf, int len);

/* The sustained bytes per cycle of one HBM channel: the port (word_bytes per
 * cycle) capped by the pseudo-channel's share of the peak times hbm_eff. */
double llx_sim_hbm_bytes_per_cycle(const llx_sim_config *c);

/* "dims:hidden=2048,layers=24,heads=32,ffn=8192,vocab=50272[,ctx=2048]"
 * [",arch=llama,kv_heads=8,head_dim=64"] (arch gpt2 by default; ffn
 * defaults to 4 x hidden) */
llx_status llx_sim_parse_dims(const char *spec, llx_config *m);

/* Time categories of the breakdown. */
typedef enum llx_sim_cat {
    LLX_SIM_CAT_MP,        /* Fused MP: weight streaming, MACs, quantisation, activation pass */
    LLX_SIM_CAT_MHA,       /* Fused MHA */
    LLX_SIM_CAT_LNRES,     /* Fused LN&Res (or the unfused residual + LN kernels) */
    LLX_SIM_CAT_STAGE_IN,  /* kernels reading their input vectors before they start */
    LLX_SIM_CAT_WRITEBACK, /* write port busy after the kernel's last result */
    LLX_SIM_CAT_RING,      /* waiting for ring transfers after the kernel's last result */
    LLX_SIM_CAT_SCHED,     /* scheduler hand-overs between kernel calls */
    LLX_SIM_CAT_COUNT
} llx_sim_cat;
const char *llx_sim_cat_name(llx_sim_cat c);

/* A deadlock found while timing: where and what was waiting. */
typedef struct llx_sim_deadlock {
    int found;
    int stage;                /* schedule stage index */
    double cycle;             /* cycle (within the stage) after which nothing moved */
    char what[640];           /* "deadlock at cycle N: P waits on F (empty); ..." */
} llx_sim_deadlock;

/* One timed pass (one schedule). */
typedef struct llx_sim_pass {
    double cycles;                   /* accelerator cycles for the pass */
    double cat[LLX_SIM_CAT_COUNT];   /* cycles per category (sums to cycles) */
    double host_s;                   /* host work for the pass, seconds */
    double hbm_bytes[LLX_SIM_MAX_CHANNELS]; /* bytes read per channel, summed over nodes */
    double link_bytes;               /* bytes sent over all ring links */
    llx_sim_deadlock deadlock;       /* set when a stage could not finish */
} llx_sim_pass;

/* Progress of long runs: called with passes done / total and stages done /
 * total within the current pass.  May be NULL. */
typedef void (*llx_sim_progress_fn)(void *ctx, int pass, int passes, int stage, int stages);

/* Time one schedule.  A deadlock is not an error: out->deadlock says where
 * (and out->cycles stops at that stage). */
llx_status llx_sim_time_schedule(const llx_sim_config *c, const llx_schedule *s, llx_sim_pass *out);
/* Time one stage (cycles, attributed to categories); for tests. */
llx_status llx_sim_time_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_pass *out);

/* Per-FIFO report of one stage (for FIFO sizing): name, depth, width in
 * bits and the highest occupancy reached.  Fills up to `max` entries and
 * returns the number of FIFOs in the stage's network (or -1 on error). */
typedef struct llx_sim_fifo_stat {
    char name[40];
    int depth, width_bits, max_occ;
} llx_sim_fifo_stat;
int llx_sim_stage_fifos(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_fifo_stat *out, int max);

typedef struct llx_sim_workload {
    int prompt;   /* prompt tokens (prefill) */
    int gen;      /* tokens to generate (gen decode passes follow the prefill) */
    int context;  /* > 0: time one decode token attending `context` keys instead */
} llx_sim_workload;

typedef struct llx_sim_component {
    const char *name;
    double dsp, lut, ff, bram, uram;
} llx_sim_component;

#define LLX_SIM_MAX_COMPONENTS 8

typedef struct llx_sim_resources {
    int n_comp;
    llx_sim_component node[LLX_SIM_MAX_COMPONENTS]; /* the largest node, by component */
    llx_sim_component node_total;   /* the largest node */
    llx_sim_component device_total; /* nodes_per_fpga nodes + shell */
    llx_sim_component all_total;    /* every device */
    int devices;
    double dsp_frac, lut_frac, ff_frac, bram_frac, uram_frac; /* device / platform */
    int fits;  /* device total within the platform budget */
} llx_sim_resources;

typedef struct llx_sim_result {
    double decode_ms_per_token;   /* accelerator time per decode token (Table II) */
    double prefill_ms;            /* accelerator time for the whole prompt */
    double prefill_ms_per_token;
    double tokens_per_s;          /* 1000 / decode_ms_per_token (Table III) */
    double host_ms_per_token;     /* host work per decode token (not in the above) */
    double e2e_ms_per_token;      /* decode + host */
    double total_ms;              /* prefill + all decode passes, accelerator */
    double breakdown_ms[LLX_SIM_CAT_COUNT]; /* per decode token */
    double hbm_util[LLX_SIM_MAX_CHANNELS];  /* per channel, mean over nodes, decode */
    int channels;
    double hbm_gbps_per_channel;  /* the sustained rate the model uses */
    double ring_exposed_ms;       /* = breakdown_ms[RING] */
    llx_sim_resources res;
    double power_w;               /* all devices while decoding */
    double power_static_w, power_logic_w, power_hbm_w, power_link_w;
    double tokens_per_joule;
    int decode_passes, prefill_passes;
    llx_sim_deadlock deadlock;    /* the run stopped at a deadlock (latencies are then 0) */
} llx_sim_result;

llx_status llx_sim_resources_estimate(const llx_sim_config *c, const llx_config *m, llx_sim_resources *r);
/* Time a workload.  A deadlock is reported in r->deadlock (status LLX_OK). */
llx_status llx_sim_run(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w, llx_sim_result *r);
/* The same with a progress callback (called about once per stage). */
llx_status llx_sim_run_progress(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w,
                                llx_sim_result *r, llx_sim_progress_fn fn, void *ctx);

/* One decode token at `context` keys, fast engine, no power or resources:
 * the evaluation a design-space search calls many times.  *ms < 0 when the
 * design deadlocks. */
llx_status llx_sim_eval_decode(const llx_sim_config *c, const llx_config *m, int context, double *ms);

/* ---- hooks for design-space exploration and FIFO sizing (src/dse) ---- */

/* Kernel masks for llx_sim_time_kernels: bit (1 << llx_kernel). */
#define LLX_SIM_KERNEL_BIT(k) (1u << (unsigned)(k))
#define LLX_SIM_ALL_KERNELS (~0u)

/* Time only the stages of schedule s that run on a kernel in the mask (a
 * host stage counts as LLX_KERNEL_HOST, or as the kernel that runs it with
 * lm_head_fpga).  Stages of the same shape are timed once.  For any split
 * of the kernels into masks the passes add up to llx_sim_time_schedule. */
llx_status llx_sim_time_kernels(const llx_sim_config *c, const llx_schedule *s, unsigned kernels, llx_sim_pass *out);

/* Power of every device while the accelerator spends `seconds` on the work
 * of pass p (its HBM and ring traffic) with resources r (the power model of
 * llx_sim_run). */
typedef struct llx_sim_power {
    double static_w, logic_w, hbm_w, link_w, total_w;
} llx_sim_power;
void llx_sim_power_of(const llx_sim_config *c, const llx_sim_resources *r, const llx_sim_pass *p, double seconds,
                      llx_sim_power *out);

/* 36 Kb BRAM blocks the resource model gives a memory of depth x width bits
 * (0 under 64 entries: those go to LUTRAM). */
double llx_sim_bram36(double depth, double width_bits);

/* A stage's dataflow network, as the FIFO sizer reads it, with a reference
 * run in which every FIFO is unbounded (the fastest the stage can go). */
typedef struct llx_sim_df_proc {
    char name[40];
    int node;
    int replica_of;          /* -1, or the process it copies (fires like it) */
    int after[2];            /* -1, or processes that must complete before it starts */
    long long start, done;   /* reference run: first firing, completion */
} llx_sim_df_proc;

typedef struct llx_sim_df_fifo {
    char name[40];
    int prod, cons;          /* producer and consumer processes */
    int depth;               /* the design's depth (entries) */
    int width_bits;
    int init;                /* tokens in the FIFO at the start */
    int reserve;             /* m_axi read buffer: tokens in flight count against the depth */
    int min_depth;           /* the largest push or pop of one firing */
    int replica_of;          /* -1, or the FIFO it copies (same depth in hardware) */
    long tokens;             /* tokens pushed over the stage */
    long pops;               /* tokens popped (the init ones first) */
    /* reference run (NULL for replicas): per pushed token k the producer's
     * firing cycle push[k], the latency lat[k] of the port that pushed it and
     * the cycle vis[k] it became visible; pop[i] is the cycle of the i-th pop
     * (i < pops; token i < init is an initial one, i >= init is pushed
     * token i - init) */
    long long *push, *vis, *pop;
    int *lat;
} llx_sim_df_fifo;

typedef struct llx_sim_dataflow {
    int nprocs, nfifos;
    llx_sim_df_proc *procs;
    llx_sim_df_fifo *fifos;
    long long cycles;        /* reference run: the stage's last completion */
} llx_sim_dataflow;

/* The network of stage `stage` (not a host stage) and its reference run on
 * the fast engine.  Free with llx_sim_dataflow_free. */
llx_status llx_sim_stage_dataflow(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_dataflow *out);
void llx_sim_dataflow_free(llx_sim_dataflow *d);

/* Run stage `stage` with FIFO f of its network (llx_sim_stage_dataflow's
 * order) `depths[f]` deep (0: unbounded; NULL: the design's; a replica
 * always takes its original's depth), on the cycle-stepped engine when
 * cycle_mode, else the fast one.  cycles = the stage's last completion (as
 * llx_sim_dataflow.cycles), -1 on a deadlock (then `deadlock` says where);
 * `fire` = the firing cycles of process `watch` (>= 0) up to the end or the
 * deadlock.  Free with llx_sim_stage_run_free. */
typedef struct llx_sim_stage_run {
    long long cycles;
    llx_sim_deadlock deadlock;
    long long *fire;
    long nfire;
} llx_sim_stage_run;
llx_status llx_sim_stage_run_depths(const llx_sim_config *c, const llx_schedule *s, int stage, const int *depths,
                                    int cycle_mode, int watch, llx_sim_stage_run *out);
void llx_sim_stage_run_free(llx_sim_stage_run *r);

#endif
