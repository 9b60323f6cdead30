/* llx/sim.h - cycle-level simulator of the LoopLynx FPGA design.
 *
 * The simulator times the schedule the engine executes (llx/schedule.h) on a
 * parameterised model of the accelerator: a platform (board datasheet
 * figures), an architecture (nodes, HBM channels, MAC widths, clock, FIFO
 * depths, ring links, the paper's three optimisations) and a workload.  It
 * keeps no description of the model of its own: every stage it times comes
 * from llx_schedule_build.  Two modes time the same hardware rules: a fast
 * event-level mode (the default) and a slow cycle-stepped reference for small
 * configurations; docs/simulator.md states the model, every parameter and
 * the agreement bound between the two modes.
 */
#ifndef LLX_SIM_H
#define LLX_SIM_H

#include "llx/config.h"
#include "llx/schedule.h"
#include "llx/status.h"

#define LLX_SIM_MAX_CHANNELS 32 /* HBM channels per node */

/* A board: datasheet figures (the paper's Table I plus the device
 * resources) and the footprint of the vendor shell. */
typedef struct llx_sim_platform {
    char name[16];
    int hbm_pcs;             /* HBM pseudo-channels on the device */
    double hbm_total_gbps;   /* datasheet total HBM bandwidth, GB/s */
    double hbm_pc_gbps;      /* sustained bandwidth of one pseudo-channel, GB/s */
    int slrs;                /* super logic regions */
    double dsp, lut, ff, bram, uram; /* device resources (BRAM in 36 Kb blocks) */
    double tdp_w;            /* board thermal design power, W */
    double static_w;         /* board power with the shell loaded and idle, W */
    double shell_dsp, shell_lut, shell_ff, shell_bram; /* platform (shell) footprint */
} llx_sim_platform;

/* The accelerator.  Times are in kernel-clock cycles unless a name says ns. */
typedef struct llx_sim_arch {
    int nodes;            /* ring size */
    int nodes_per_fpga;   /* nodes sharing one device (one per SLR on a U50) */
    int channels;         /* HBM channels (= MP slices) per node */
    int word_bytes;       /* bytes per HBM word = int8 MACs per slice (n_group) */
    double clock_mhz;     /* kernel clock */
    int ln_lanes;         /* LayerNorm / residual vector width (fused kernel) */
    int heads_parallel;   /* heads the MHA kernel processes at once */
    int xfer_elems;       /* elements per cycle a kernel reads from the shared buffer */
    int score_fifo;       /* MHA score FIFO depth per head lane (elements) */
    int dma_fifo;         /* HBM read buffer per channel (words), resources only */
    int out_fifo;         /* MP per-slice result FIFO depth, resources only */
    double hbm_latency_ns;   /* HBM read latency (request to first word) */
    double link_gbps_intra;  /* ring link between nodes on one device */
    double link_gbps_inter;  /* ring link between devices */
    double hop_ns_intra, hop_ns_inter; /* per-hop latency of those links */
    int flit_bytes;       /* ring datapack (AXI-Stream beat) width */
    int router_cycles;    /* router handshake per message */
    int sched_cycles;     /* scheduler hand-over between two stages */
    int lat_fadd, lat_fmul, lat_exp, lat_rsqrt, lat_recip; /* fp32 operator latencies */
    int lnres_fusion;        /* fused LN&Res kernel (paper Fig. 5) */
    int headwise_pipeline;   /* head-wise softmax pipeline (paper Fig. 5) */
    int transfer_hiding;     /* ring transfer of block k under compute of k+1 */
    int prefill_batched;     /* prefill as one T-token pass instead of T passes */
    int lm_head_fpga;        /* final LayerNorm + LM head on the FPGA (else host) */
    int cycle_mode;          /* 1: cycle-stepped reference, 0: fast */
    /* host (per token; not part of the accelerator latency) */
    double host_mem_gbps, host_gflops, pcie_gbps, pcie_us, launch_us;
    /* power model */
    double uw_per_mhz_dsp, uw_per_mhz_bram, uw_per_mhz_klut, uw_per_mhz_kff;
    double hbm_pj_per_bit, link_pj_per_bit;
} llx_sim_arch;

typedef struct llx_sim_config {
    llx_sim_platform plat;
    llx_sim_arch arch;
    int block_rows; /* schedule's MP transmission block (0 = schedule default) */
} llx_sim_config;

/* Fill c with a platform preset ("u50", "u280") and the paper's
 * architecture (one node, 285 MHz, 8 channels of 32-byte words, ...). */
llx_status llx_sim_config_init(llx_sim_config *c, const char *platform);
/* Override one field: "key=value" (keys listed by llx_sim_param_*). */
llx_status llx_sim_set(llx_sim_config *c, const char *key_value);
/* Check the configuration, alone and against a model. m may be NULL. */
llx_status llx_sim_check(const llx_sim_config *c, const llx_config *m);

/* The settable keys, for help text and docs. */
int llx_sim_param_count(void);
const char *llx_sim_param_name(int i);
const char *llx_sim_param_help(int i);
/* Current value of parameter i in c, formatted into buf. */
void llx_sim_param_value(const llx_sim_config *c, int i, char *buf, int len);

/* "dims:hidden=2048,layers=24,heads=32,ffn=8192,vocab=50272[,ctx=2048]" */
llx_status llx_sim_parse_dims(const char *spec, llx_config *m);

/* Time categories of the breakdown (the paper's Fig. 5 plus ring). */
typedef enum llx_sim_cat {
    LLX_SIM_CAT_MP,       /* Fused MP: weight streaming, MACs, quantisation */
    LLX_SIM_CAT_MHA,      /* Fused MHA */
    LLX_SIM_CAT_LNRES,    /* Fused LN&Res (or the unfused residual + LN kernels) */
    LLX_SIM_CAT_STAGE_IN, /* kernels reading their input vectors from the shared buffer */
    LLX_SIM_CAT_RING,     /* exposed (not hidden) ring all-gather time */
    LLX_SIM_CAT_COUNT
} llx_sim_cat;
const char *llx_sim_cat_name(llx_sim_cat c);

/* One timed pass (one schedule). */
typedef struct llx_sim_pass {
    double cycles;                   /* accelerator cycles for the pass */
    double cat[LLX_SIM_CAT_COUNT];   /* cycles per category (sums to cycles) */
    double host_s;                   /* host work for the pass, seconds */
    double hbm_bytes[LLX_SIM_MAX_CHANNELS]; /* bytes read per channel, summed over nodes */
    double link_bytes;               /* bytes sent over all ring links */
} llx_sim_pass;

/* Time one schedule. */
llx_status llx_sim_time_schedule(const llx_sim_config *c, const llx_schedule *s, llx_sim_pass *out);
/* Time one stage (cycles, attributed to categories); for tests. */
llx_status llx_sim_time_stage(const llx_sim_config *c, const llx_schedule *s, int stage, llx_sim_pass *out);

typedef struct llx_sim_workload {
    int prompt;   /* prompt tokens (prefill) */
    int gen;      /* tokens to generate (gen - 1 decode passes follow the prefill) */
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
    double ring_exposed_ms;       /* = breakdown_ms[RING] */
    llx_sim_resources res;
    double power_w;               /* all devices while decoding */
    double power_static_w, power_logic_w, power_hbm_w, power_link_w;
    double tokens_per_joule;
    int decode_passes, prefill_passes;
} llx_sim_result;

llx_status llx_sim_resources_estimate(const llx_sim_config *c, const llx_config *m, llx_sim_resources *r);
llx_status llx_sim_run(const llx_sim_config *c, const llx_config *m, const llx_sim_workload *w,
                       llx_sim_result *r);

#endif
