/* sim/params.c - platform presets, the architecture defaults (the LoopLynx
 * design of the paper), the key=value parameter table with a source for
 * every entry, and configuration checks.  docs/simulator.md carries the same
 * table with the full citations (a test compares the two); nothing here
 * depends on the node count or on the model being simulated. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/sim.h"
#include "util/status.h"

/* Shared by the Alveo presets: the static-region footprint UG1393 publishes
 * for an xdma platform (device total minus "Resource Availability"), and
 * Shuhai's 425 of 460 GB/s for sequential reads over all pseudo-channels. */
#define SHELL_XDMA 7, 135101, 178416, 264, 0
#define SHUHAI_EFF (425.0 / 460.0)

static const llx_sim_platform presets[] = {
    /* name, pcs, GB/s, eff, slrs, dsp, lut, ff, bram, uram, tdp, static, shell..., clock, net */
    {"u50", 32, 201.0, SHUHAI_EFF, 2, 5952, 872000, 1743000, 1344, 640, 75.0, 18.0, SHELL_XDMA, 200, 300, 12.12},
    {"u280", 32, 460.0, SHUHAI_EFF, 3, 9024, 1304000, 2607000, 2016, 960, 215.0, 30.0, SHELL_XDMA, 200, 300, 12.12},
    {"u55c", 32, 460.0, SHUHAI_EFF, 3, 9024, 1304000, 2607000, 2016, 960, 150.0, 25.0, SHELL_XDMA, 200, 300, 12.12},
    {"v80", 64, 819.2, SHUHAI_EFF, 3, 10848, 1301000, 2602000, 3741, 1301, 190.0, 35.0, SHELL_XDMA, 200, 400, 24.24},
};

#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

static void arch_default(llx_sim_arch *a)
{
    memset(a, 0, sizeof *a);
    a->nodes = 1;
    a->nodes_per_fpga = 2;
    a->channels = 8;
    a->word_bytes = 32;
    a->w4_macs_per_dsp = 2;
    a->clock_mhz = 285.0;
    a->heads_parallel = 1;
    a->ln_lanes = 8;
    a->flit_bytes = 32;
    a->mp_in_elems = 0;
    a->mp_wb_elems = 1;
    a->mha_q_elems = 8;
    a->kv_in_elems = 0;
    a->ctx_q_elems = 1;
    a->mha_wb_elems = 8;
    a->ln_rd_elems = 8;
    a->ln_wb_elems = 8;
    a->act_elems = 0;
    a->ln_acc_ii = 1;
    a->dma_fifo = 256;
    a->disp_fifo = 2;
    a->out_fifo = 128;
    a->tx_fifo = 32;
    a->wb_fifo = 32;
    a->link_fifo = 64;
    a->sc_fifo = 2;
    a->score_fifo = 4096;
    a->exp_fifo = 4096;
    a->stat_fifo = 64;
    a->prob_fifo = 1024;
    a->ctx_fifo = 32;
    a->hbm_latency_ns = 137.8;
    a->hop_ns_intra = 20.0;
    a->hop_ns_inter = 190.0;
    a->link_gbps_intra = 0;
    a->router_cycles = 2;
    a->sched_cycles = 4;
    a->lat_fifo = 1;
    a->lat_logic = 1;
    a->lat_imul = 3;
    a->lat_iadd = 1;
    a->lat_i2f = 4;
    a->lat_fadd = 6;
    a->lat_fmul = 3;
    a->lat_exp = 13;
    a->lat_rsqrt = 22;
    a->lat_recip = 11;
    a->lnres_fusion = 1;
    a->headwise_pipeline = 1;
    a->transfer_hiding = 1;
    a->host_mem_gbps = 20.0;
    a->host_gflops = 100.0;
    a->pcie_gbps = 3.2;
    a->pcie_us = 5.0;
    a->launch_us = 155.0;
    a->uw_per_mhz_dsp = 4.0;
    a->uw_per_mhz_bram = 6.0;
    a->uw_per_mhz_klut = 50.0;
    a->uw_per_mhz_kff = 10.0;
    a->hbm_pj_per_bit = 7.0;
    a->link_pj_per_bit = 10.0;
}

llx_status llx_sim_config_init(llx_sim_config *c, const char *platform)
{
    memset(c, 0, sizeof *c);
    arch_default(&c->arch);
    c->block_rows = 64; /* the router's round; 0 = the engine's automatic blocks */
    c->scheme = (llx_sim_scheme){.w_bits = 8, .act_bits = 8, .lm_bits = 8, .scale_bytes = 4}; /* W8A8 */
    const char *name = platform ? platform : "u50";
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) {
            c->plat = presets[i];
            c->arch.nodes_per_fpga = presets[i].slrs; /* one node per SLR (paper III-E) */
            return LLX_OK;
        }
    return llx_fail(LLX_ERR_ARG, "unknown platform '%s' (known: u50, u280, u55c, v80, or a .json file)", name);
}

/* ---- the key table ---- */

enum { T_INT, T_DBL };

typedef struct param {
    const char *name;
    int type;
    size_t off; /* offset in llx_sim_config */
    double lo, hi;
    const char *help;
    const char *source;
} param;

#define PI(f, lo, hi, help, src) {#f, T_INT, offsetof(llx_sim_config, arch.f), lo, hi, help, src}
#define PD(f, lo, hi, help, src) {#f, T_DBL, offsetof(llx_sim_config, arch.f), lo, hi, help, src}
#define PPI(f, lo, hi, help, src) {#f, T_INT, offsetof(llx_sim_config, plat.f), lo, hi, help, src}
#define PPD(f, lo, hi, help, src) {#f, T_DBL, offsetof(llx_sim_config, plat.f), lo, hi, help, src}

static const param params[] = {
    PI(nodes, 1, LLX_MAX_NODES, "ring size", "paper Table II (1, 2, 4)"),
    PI(nodes_per_fpga, 1, LLX_MAX_NODES, "nodes sharing one device", "paper III-E: one node per SLR"),
    PI(channels, 1, LLX_SIM_MAX_CHANNELS, "HBM channels (MP slices) per node", "LoopLynx xclbins: HBM[0..7] per node"),
    PI(word_bytes, 4, 256, "bytes per HBM word = int8 MACs per slice", "paper III-D n_group=32; 256-bit ports"),
    PI(w4_macs_per_dsp, 1, 2, "int4-weight MACs per DSP (2: two packed weights share the activation)",
       "FlexLLM PE.h PE_i4xi4_pack_1x2; Allo PE_8_4_pack; WP486"),
    PD(clock_mhz, 10, 1000, "kernel clock, MHz", "paper III-D, Table II"),
    PI(heads_parallel, 1, 64, "heads processed at once in the MHA kernel", "inferred from Fig. 7 MHA DSPs"),
    PI(ln_lanes, 1, 256, "LN&Res lanes", "TeraFly INP_PARALLEL"),
    PI(flit_bytes, 4, 1024, "ring datapack width, bytes", "256-bit AXI-Stream ring in the xclbins"),
    PI(mp_in_elems, 0, 4096, "MP activation feed, elements/cycle (0: word_bytes)", "TeraFly stream_copy"),
    PI(mp_wb_elems, 1, 4096, "MP write-back, elements/cycle", "TeraFly write_buffer"),
    PI(mha_q_elems, 1, 4096, "MHA stage-in of q, elements/cycle", "TeraFly q_writer"),
    PI(kv_in_elems, 0, 4096, "MHA stage-in of k, v, elements/cycle (0: word_bytes)", "TeraFly write_kv_buffer_onchip"),
    PI(ctx_q_elems, 1, 4096, "MHA context requantisation, elements/cycle per channel", "TeraFly requant_ctx"),
    PI(mha_wb_elems, 1, 4096, "MHA write-back, elements/cycle", "TeraFly write_buffer_int"),
    PI(ln_rd_elems, 1, 4096, "LN&Res branch read, elements/cycle", "TeraFly Res_layer"),
    PI(ln_wb_elems, 1, 4096, "LN&Res write of h, elements/cycle", "TeraFly write_buffer_ln"),
    PI(act_elems, 0, 4096, "activation pass, elements/cycle (0: word_bytes)", "TeraFly Gelu_layer"),
    PI(ln_acc_ii, 1, 64, "LN statistics loop II, cycles", "TeraFly layerNorm requests II=1"),
    PI(params_uram, 0, 1, "biases and LN parameters in URAM", "paper Table II: 4 URAM per device"),
    PI(dma_fifo, 1, 1 << 20, "HBM read buffer per channel, words", "UG1399 m_axi defaults 16 x 16"),
    PI(disp_fifo, 1, 1 << 20, "activation FIFO per MP slice", "TeraFly dispacher depth 2"),
    PI(out_fifo, 1, 1 << 20, "MP per-slice result FIFO", "TeraFly output depth 128"),
    PI(tx_fifo, 1, 1 << 20, "kernel to router FIFO, flits", "TeraFly for_router depth 32"),
    PI(wb_fifo, 1, 1 << 20, "router to write port FIFO, flits", "TeraFly from_router depth 32"),
    PI(link_fifo, 1, 1 << 20, "ring link FIFO, flits", "xclbin stream_connect depth 64"),
    PI(sc_fifo, 1, 1 << 20, "MHA score stream FIFO", "TeraFly attn_requant_result depth 2"),
    PI(score_fifo, 1, 1 << 22, "MHA scores waiting for the maximum", "TeraFly inp_value_bypass depth 4096"),
    PI(exp_fifo, 1, 1 << 22, "MHA exponentials waiting for the sum", "TeraFly inp_value_normalized_bypass 4096"),
    PI(stat_fifo, 1, 1 << 20, "MHA max / sum / reciprocal pipes", "TeraFly softmax pipes depth 64"),
    PI(prob_fifo, 1, 1 << 22, "MHA probability FIFO per V channel", "TeraFly sfm_out depth 1024"),
    PI(ctx_fifo, 1, 1 << 20, "MHA context accumulator FIFO", "TeraFly ctx_acc_drainer depth 32"),
    PD(hbm_latency_ns, 0, 1e5, "HBM read latency, ns",
       "Shuhai (FCCM'20) U280 HBM page miss, 62 cycles at 450 MHz (hit 106.7, closed 122.2 ns)"),
    PD(hop_ns_intra, 0, 1e6, "ring hop latency on one device, ns",
       "assumed: stream_connect FIFO and SLR-crossing registers (no published latency)"),
    PD(hop_ns_inter, 0, 1e6, "ring hop latency between devices, ns", "PG074 Aurora 64B/66B + cable"),
    PD(link_gbps_intra, 0, 1e4, "ring link on one device, GB/s (0: one flit/cycle)", "AXI-Stream at kernel clock"),
    PI(router_cycles, 0, 100000, "router handshake between send and receive", "TeraFly router delay FIFO"),
    PI(sched_cycles, 0, 100000, "scheduler hand-over per kernel call",
       "assumed: one ap_ctrl_hs start/done handshake (UG1399 gives no cycle count)"),
    PI(lat_fifo, 1, 100, "FIFO register stage, cycles", "HLS FIFO: one register"),
    PI(lat_logic, 1, 100, "compare/round/pack stage, cycles", "assumed: one pipeline register"),
    PI(lat_imul, 1, 100, "int8 multiply, cycles",
       "UG579 DSP48E2: A/B, M and P registers (the fully pipelined mode of DS923's Fmax)"),
    PI(lat_iadd, 1, 100, "integer add, cycles",
       "assumed: one register per level (TeraFly adder tree: an II=1 loop per level)"),
    PI(lat_i2f, 1, 100, "int32 to fp32, cycles",
       "HeteroCL_Transformer U280 3.33 ns HLS 2022.1: sitofp_32s_32_5_no_dsp_1, latency 4"),
    PI(lat_fadd, 1, 100, "fp32 add, cycles",
       "HeteroCL_Transformer U280 3.33 ns HLS 2022.1: fadd_32ns_32ns_32_7_full_dsp_1, latency 6"),
    PI(lat_fmul, 1, 100, "fp32 multiply, cycles",
       "HeteroCL_Transformer U280 3.33 ns HLS 2022.1: fmul_32ns_32ns_32_4_max_dsp_1, latency 3"),
    PI(lat_exp, 1, 200, "fp32 exp, cycles",
       "HeteroCL_Transformer U280 3.33 ns HLS 2022.1: fexp_32ns_32ns_32_14_full_dsp_1, latency 13"),
    PI(lat_rsqrt, 1, 200, "fp32 reciprocal square root, cycles",
       "TeraFly's 1/sqrt(x) as fsqrt + fdiv, 11 + 11 in HeteroCL_Transformer U280 3.33 ns HLS 2022.1"),
    PI(lat_recip, 1, 200, "fp32 reciprocal, cycles",
       "TeraFly's 1/x: HeteroCL_Transformer U280 3.33 ns HLS 2022.1: fdiv_32ns_32ns_32_12_no_dsp_1, latency 11"),
    PI(lnres_fusion, 0, 1, "fused LN&Res kernel", "paper Fig. 5"),
    PI(headwise_pipeline, 0, 1, "head-wise softmax pipeline", "paper Fig. 5"),
    PI(transfer_hiding, 0, 1, "hide ring transfers under compute", "paper III-C"),
    PI(prefill_batched, 0, 1, "prefill as one batched pass", "FlexLLM-style option"),
    PI(lm_head_fpga, 0, 1, "final LN + LM head on the FPGA", "option (TeraFly runs it on the host)"),
    PD(host_mem_gbps, 0.01, 1e5, "host memory bandwidth, GB/s", "assumed: x86 server (the paper names no host)"),
    PD(host_gflops, 0.01, 1e7, "host sustained GFLOP/s", "assumed: x86 server (the paper names no host)"),
    PD(pcie_gbps, 0.01, 1e4, "PCIe bandwidth, GB/s",
       "gen3x4 xdma shell of the LoopLynx xclbins; XRT PR 4439: 3.17-3.28 GB/s on a gen3x4 card"),
    PD(pcie_us, 0, 1e6, "PCIe transfer latency, us",
       "XRT issue 6787: U50 xbutil DMA test, 4 KB buffers at 666-865 MB/s (4.7-6.2 us each)"),
    PD(launch_us, 0, 1e6, "kernel launch + completion per token, us",
       "TeraFly host: 170 us per token less its two 8 KB input syncs (U50LV, XRT 2023.2)"),
    PD(uw_per_mhz_dsp, 0, 1e6, "dynamic power per DSP, uW/MHz", "assumed: XPE-style"),
    PD(uw_per_mhz_bram, 0, 1e6, "dynamic power per BRAM36, uW/MHz", "assumed: XPE-style"),
    PD(uw_per_mhz_klut, 0, 1e6, "dynamic power per 1000 LUTs, uW/MHz", "assumed: XPE-style"),
    PD(uw_per_mhz_kff, 0, 1e6, "dynamic power per 1000 FFs, uW/MHz", "assumed: XPE-style"),
    PD(hbm_pj_per_bit, 0, 1e4, "HBM access energy, pJ/bit", "AMD: ~7 pJ/bit for HBM2"),
    PD(link_pj_per_bit, 0, 1e4, "ring link energy, pJ/bit", "assumed: serdes"),
    {"w_bits", T_INT, offsetof(llx_sim_config, scheme.w_bits), 0, 8, "layer weight bits, 8 or 4 (the scheme)",
     "the scheme: --scheme or a .llx header"},
    {"block_rows", T_INT, offsetof(llx_sim_config, block_rows), 0, 1 << 20,
     "MP rows per ring block (0: the engine's, about 1 MiB of weights)", "64: TeraFly round of 64 fp32"},
    PPI(hbm_pcs, 1, LLX_SIM_MAX_CHANNELS * LLX_MAX_NODES, "HBM pseudo-channels on the device", "data sheet"),
    PPD(hbm_total_gbps, 0.01, 1e5, "HBM peak bandwidth of the device, GB/s", "data sheet / paper Table I"),
    PPD(hbm_eff, 0.01, 1, "sustained fraction of the HBM peak", "Shuhai (FCCM'20): 425 of 460 GB/s"),
    PPI(slrs, 1, 16, "super logic regions", "data sheet"),
    PPD(dsp, 0, 1e7, "device DSPs", "data sheet"),
    PPD(lut, 0, 1e9, "device LUTs", "data sheet"),
    PPD(ff, 0, 1e9, "device flip-flops", "data sheet"),
    PPD(bram, 0, 1e6, "device BRAM36 blocks", "data sheet"),
    PPD(uram, 0, 1e6, "device URAM blocks", "data sheet"),
    PPD(tdp_w, 0, 1e4, "board TDP, W", "data sheet / paper Table I"),
    PPD(static_w, 0, 1e4, "board idle power, W", "assumed"),
    PPD(shell_dsp, 0, 1e7, "shell DSPs", "UG1393 xdma platform example"),
    PPD(shell_lut, 0, 1e9, "shell LUTs", "UG1393 xdma platform example"),
    PPD(shell_ff, 0, 1e9, "shell FFs", "UG1393 xdma platform example"),
    PPD(shell_bram, 0, 1e6, "shell BRAM36", "UG1393 xdma platform example"),
    PPD(shell_uram, 0, 1e6, "shell URAM", "UG1393 xdma platform example"),
    PPD(clock_min_mhz, 1, 1e4, "lowest kernel clock, MHz", "paper Table I"),
    PPD(clock_max_mhz, 1, 1e4, "highest kernel clock, MHz", "paper Table I"),
    PPD(net_gbps, 0.01, 1e4, "device-to-device link payload, GB/s", "QSFP28 100 Gb/s, 64b/66b"),
};

#define N_PARAMS ((int)(sizeof params / sizeof params[0]))

int llx_sim_param_count(void) { return N_PARAMS; }
const char *llx_sim_param_name(int i) { return i >= 0 && i < N_PARAMS ? params[i].name : NULL; }
const char *llx_sim_param_help(int i) { return i >= 0 && i < N_PARAMS ? params[i].help : NULL; }
const char *llx_sim_param_source(int i) { return i >= 0 && i < N_PARAMS ? params[i].source : NULL; }

static double get(const llx_sim_config *c, const param *p)
{
    const char *base = (const char *)c + p->off;
    return p->type == T_INT ? *(const int *)(const void *)base : *(const double *)(const void *)base;
}

void llx_sim_param_value(const llx_sim_config *c, int i, char *buf, int len)
{
    if (i < 0 || i >= N_PARAMS || len <= 0) return;
    const param *p = &params[i];
    if (p->type == T_INT) snprintf(buf, (size_t)len, "%d", (int)get(c, p));
    else snprintf(buf, (size_t)len, "%.10g", get(c, p));
}

int llx_sim_param_find(const char *name)
{
    for (int i = 0; i < N_PARAMS; i++)
        if (strcmp(params[i].name, name) == 0) return i;
    return -1;
}

double llx_sim_param_get(const llx_sim_config *c, int i) { return i >= 0 && i < N_PARAMS ? get(c, &params[i]) : 0; }

llx_status llx_sim_param_set(llx_sim_config *c, int i, double v)
{
    if (i < 0 || i >= N_PARAMS) return llx_fail(LLX_ERR_ARG, "parameter %d out of range", i);
    const param *p = &params[i];
    if (!(v >= p->lo && v <= p->hi))
        return llx_fail(LLX_ERR_ARG, "%s: %g out of range [%g, %g]", p->name, v, p->lo, p->hi);
    char *base = (char *)c + p->off;
    if (p->type == T_INT) {
        if (v != floor(v)) return llx_fail(LLX_ERR_ARG, "%s: %g is not an integer", p->name, v);
        *(int *)(void *)base = (int)v;
    } else {
        *(double *)(void *)base = v;
    }
    return LLX_OK;
}

llx_status llx_sim_set(llx_sim_config *c, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return llx_fail(LLX_ERR_ARG, "--set expects key=value, got '%s'", kv);
    size_t klen = (size_t)(eq - kv);
    const char *val = eq + 1;
    for (int i = 0; i < N_PARAMS; i++) {
        const param *p = &params[i];
        if (strlen(p->name) != klen || strncmp(p->name, kv, klen) != 0) continue;
        char *end = NULL;
        errno = 0;
        double v = strtod(val, &end);
        if (!*val || *end || errno == ERANGE || !isfinite(v))
            return llx_fail(LLX_ERR_ARG, "--set %s: '%s' is not a number", p->name, val);
        llx_status st = llx_sim_param_set(c, i, v);
        if (st != LLX_OK) {
            char msg[256];
            snprintf(msg, sizeof msg, "--set %s", llx_errmsg());
            llx_errmsg_set(msg);
        }
        return st;
    }
    return llx_fail(LLX_ERR_ARG, "--set: unknown key '%.*s' (see 'looplynx sim --help')", (int)klen, kv);
}

double llx_sim_hbm_bytes_per_cycle(const llx_sim_config *c)
{
    const double f = c->arch.clock_mhz * 1e6;
    double sustained = c->plat.hbm_total_gbps / c->plat.hbm_pcs * c->plat.hbm_eff * 1e9 / f;
    return sustained < c->arch.word_bytes ? sustained : c->arch.word_bytes;
}

static llx_status check_ranges(const llx_sim_config *c)
{
    for (int i = 0; i < N_PARAMS; i++) { /* also after direct struct edits */
        const param *q = &params[i];
        double v = get(c, q);
        if (!(v >= q->lo && v <= q->hi))
            return llx_fail(LLX_ERR_ARG, "%s = %g out of range [%g, %g]", q->name, v, q->lo, q->hi);
    }
    return LLX_OK;
}

llx_status llx_sim_check(const llx_sim_config *c, const llx_config *m)
{
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    LLX_TRY(check_ranges(c));
    LLX_TRY(llx_sim_scheme_check(&c->scheme));
    if (a->clock_mhz < p->clock_min_mhz || a->clock_mhz > p->clock_max_mhz)
        return llx_fail(LLX_ERR_ARG, "clock %g MHz is outside the %s's range [%g, %g] MHz", a->clock_mhz, p->name,
                        p->clock_min_mhz, p->clock_max_mhz);
    int per_dev = a->nodes < a->nodes_per_fpga ? a->nodes : a->nodes_per_fpga;
    if ((long)per_dev * a->channels > p->hbm_pcs)
        return llx_fail(LLX_ERR_ARG, "%d nodes x %d channels per device exceed the %s's %d HBM pseudo-channels",
                        per_dev, a->channels, p->name, p->hbm_pcs);
    if (a->flit_bytes % 4)
        return llx_fail(LLX_ERR_ARG, "flit_bytes %d is not a multiple of 4 (a datapack carries fp32 values)",
                        a->flit_bytes);
    if ((c->scheme.w_bits == 4 || c->scheme.lm_bits == 4) && a->out_fifo < 2)
        return llx_fail(LLX_ERR_ARG, "out_fifo %d cannot take a pass's two results: int4 weights need at least 2",
                        a->out_fifo);
    if (!m) return LLX_OK;
    int hd = llx_config_head_dim(m);
    int kw = (hd + a->word_bytes - 1) / a->word_bytes;
    if (2 * a->heads_parallel * kw > a->channels)
        return llx_fail(LLX_ERR_ARG,
                        "MHA needs 2 x heads_parallel(%d) x %d channels for K and V but a node has %d channels",
                        a->heads_parallel, kw, a->channels);
    return LLX_OK;
}

/* ---- dims:hidden=..,layers=..,heads=..,ffn=..,vocab=..[,ctx=..] ---- */

llx_status llx_sim_parse_dims(const char *spec, llx_config *m)
{
    if (strncmp(spec, "dims:", 5) != 0) return llx_fail(LLX_ERR_ARG, "model dims must start with 'dims:'");
    llx_config c = {0};
    c.n_ctx = 1024;
    c.ln_eps = 1e-5f;
    int have_ffn = 0;
    const char *s = spec + 5;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (!eq) return llx_fail(LLX_ERR_ARG, "model dims: expected key=value in '%.*s'", (int)len, s);
        size_t klen = (size_t)(eq - s);
        char val[32];
        size_t vlen = len - klen - 1;
        if (vlen == 0 || vlen >= sizeof val)
            return llx_fail(LLX_ERR_ARG, "model dims: bad value for '%.*s'", (int)klen, s);
        memcpy(val, eq + 1, vlen);
        val[vlen] = 0;
        if (klen == 4 && !strncmp(s, "arch", 4)) {
            if (!strcmp(val, "gpt2")) c.arch = LLX_ARCH_GPT2;
            else if (!strcmp(val, "llama")) c.arch = LLX_ARCH_LLAMA;
            else return llx_fail(LLX_ERR_ARG, "model dims: arch '%s' is not gpt2 or llama", val);
            if (!comma) break;
            s = comma + 1;
            if (!*s) return llx_fail(LLX_ERR_ARG, "model dims: trailing comma");
            continue;
        }
        char *end = NULL;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (*end || errno == ERANGE || v < 1 || v > 1000000)
            return llx_fail(LLX_ERR_ARG, "model dims: '%s' is not a positive integer", val);
        int *dst = NULL;
        if (klen == 6 && !strncmp(s, "hidden", 6)) dst = &c.n_embd;
        else if (klen == 6 && !strncmp(s, "layers", 6)) dst = &c.n_layer;
        else if (klen == 5 && !strncmp(s, "heads", 5)) dst = &c.n_head;
        else if (klen == 3 && !strncmp(s, "ffn", 3)) dst = &c.n_inner, have_ffn = 1;
        else if (klen == 5 && !strncmp(s, "vocab", 5)) dst = &c.n_vocab;
        else if (klen == 3 && !strncmp(s, "ctx", 3)) dst = &c.n_ctx;
        else if (klen == 8 && !strncmp(s, "kv_heads", 8)) dst = &c.n_kv_head;
        else if (klen == 8 && !strncmp(s, "head_dim", 8)) dst = &c.head_dim;
        else return llx_fail(LLX_ERR_ARG,
                             "model dims: unknown key '%.*s' (hidden, layers, heads, ffn, vocab, ctx, kv_heads, "
                             "head_dim, arch)",
                             (int)klen, s);
        *dst = (int)v;
        if (!comma) break;
        s = comma + 1;
        if (!*s) return llx_fail(LLX_ERR_ARG, "model dims: trailing comma");
    }
    if (!c.n_embd || !c.n_layer || !c.n_head || !c.n_vocab)
        return llx_fail(LLX_ERR_ARG, "model dims need hidden, layers, heads and vocab");
    if (!have_ffn) c.n_inner = 4 * c.n_embd;
    if (c.arch == LLX_ARCH_LLAMA) c.rope_theta = 10000.0f; /* LlamaConfig's default; timing does not depend on it */
    LLX_TRY(llx_config_check(&c));
    *m = c;
    return LLX_OK;
}

const char *llx_sim_cat_name(llx_sim_cat c)
{
    static const char *names[] = {"mp", "mha", "lnres", "stage_in", "writeback", "ring", "sched"};
    return (unsigned)c < LLX_SIM_CAT_COUNT ? names[c] : "?";
}
