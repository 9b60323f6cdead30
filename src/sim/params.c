/* sim/params.c - platform presets, the paper's architecture parameters, the
 * key=value override table and configuration checks.
 * Every default here is justified in docs/simulator.md; nothing in this file
 * depends on the node count or the model being simulated. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/sim.h"
#include "util/status.h"

static const llx_sim_platform presets[] = {
    /* Alveo U50: Table I (201 GB/s, 5952 DSP, 75 W) and the U50 data sheet;
     * 8.49 GB/s sustained per pseudo-channel is the paper's simulation figure. */
    {"u50", 32, 201.0, 8.49, 2, 5952, 872000, 1743000, 1344, 640, 75.0, 18.0,
     4, 165000, 293000, 250},
    /* Alveo U280: Table I (460 GB/s, 9024 DSP, 215 W) and its data sheet;
     * 14.375 GB/s is the theoretical pseudo-channel rate (UG1393). */
    {"u280", 32, 460.0, 14.375, 3, 9024, 1304000, 2607000, 2016, 960, 215.0, 30.0,
     4, 165000, 293000, 250},
};

static void arch_default(llx_sim_arch *a)
{
    memset(a, 0, sizeof *a);
    a->nodes = 1;
    a->nodes_per_fpga = 2;
    a->channels = 8;
    a->word_bytes = 32;
    a->clock_mhz = 285.0;
    a->ln_lanes = 8;
    a->heads_parallel = 1;
    a->xfer_elems = 1;
    a->score_fifo = 4096;
    a->dma_fifo = 256;
    a->out_fifo = 128;
    a->hbm_latency_ns = 300.0;
    a->link_gbps_intra = 8.49;
    a->link_gbps_inter = 8.49;
    a->hop_ns_intra = 20.0;
    a->hop_ns_inter = 190.0;
    a->flit_bytes = 32;
    a->router_cycles = 2;
    a->sched_cycles = 4;
    a->lat_fadd = 4;
    a->lat_fmul = 3;
    a->lat_exp = 9;
    a->lat_rsqrt = 16;
    a->lat_recip = 12;
    a->lnres_fusion = 1;
    a->headwise_pipeline = 1;
    a->transfer_hiding = 1;
    a->host_mem_gbps = 20.0;
    a->host_gflops = 100.0;
    a->pcie_gbps = 12.0;
    a->pcie_us = 1.0;
    a->launch_us = 5.0;
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
    const char *name = platform ? platform : "u50";
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) {
            c->plat = presets[i];
            c->arch.nodes_per_fpga = presets[i].slrs; /* one node per SLR */
            return LLX_OK;
        }
    return llx_fail(LLX_ERR_ARG, "unknown platform '%s' (known: u50, u280)", name);
}

/* ---- the key table ---- */

enum { T_INT, T_DBL };

typedef struct param {
    const char *name;
    int type;
    size_t off; /* offset in llx_sim_config */
    double lo, hi;
    const char *help;
} param;

#define PI(field, lo, hi, help) {#field, T_INT, offsetof(llx_sim_config, arch.field), lo, hi, help}
#define PD(field, lo, hi, help) {#field, T_DBL, offsetof(llx_sim_config, arch.field), lo, hi, help}
#define PP(key, field, lo, hi, help) {key, T_DBL, offsetof(llx_sim_config, plat.field), lo, hi, help}

static const param params[] = {
    PI(nodes, 1, LLX_MAX_NODES, "ring size"),
    PI(nodes_per_fpga, 1, LLX_MAX_NODES, "nodes sharing one device"),
    PI(channels, 1, LLX_SIM_MAX_CHANNELS, "HBM channels (MP slices) per node"),
    PI(word_bytes, 4, 256, "bytes per HBM word = int8 MACs per slice"),
    PD(clock_mhz, 10, 1000, "kernel clock, MHz"),
    PI(ln_lanes, 1, 256, "LN&Res vector width"),
    PI(heads_parallel, 1, 64, "heads processed at once in the MHA kernel"),
    PI(xfer_elems, 1, 256, "elements/cycle read from the shared buffer"),
    PI(score_fifo, 16, 1 << 20, "MHA score FIFO depth per head lane"),
    PI(dma_fifo, 2, 1 << 16, "HBM read buffer per channel, words"),
    PI(out_fifo, 2, 1 << 16, "MP per-slice result FIFO depth"),
    PD(hbm_latency_ns, 0, 1e5, "HBM read latency, ns"),
    PD(link_gbps_intra, 0.01, 1e4, "ring link on one device, GB/s"),
    PD(link_gbps_inter, 0.01, 1e4, "ring link between devices, GB/s"),
    PD(hop_ns_intra, 0, 1e6, "hop latency on one device, ns"),
    PD(hop_ns_inter, 0, 1e6, "hop latency between devices, ns"),
    PI(flit_bytes, 1, 1024, "ring datapack width, bytes"),
    PI(router_cycles, 0, 100000, "router handshake per message, cycles"),
    PI(sched_cycles, 0, 100000, "scheduler hand-over per stage, cycles"),
    PI(lat_fadd, 1, 100, "fp32 add latency, cycles"),
    PI(lat_fmul, 1, 100, "fp32 multiply latency, cycles"),
    PI(lat_exp, 1, 200, "fp32 exp latency, cycles"),
    PI(lat_rsqrt, 1, 200, "fp32 reciprocal square root latency, cycles"),
    PI(lat_recip, 1, 200, "fp32 reciprocal latency, cycles"),
    PI(lnres_fusion, 0, 1, "fused LN&Res kernel"),
    PI(headwise_pipeline, 0, 1, "head-wise softmax pipeline"),
    PI(transfer_hiding, 0, 1, "hide ring transfers under compute"),
    PI(prefill_batched, 0, 1, "prefill as one batched pass"),
    PI(lm_head_fpga, 0, 1, "final LN + LM head on the FPGA"),
    PD(host_mem_gbps, 0.01, 1e5, "host memory bandwidth, GB/s"),
    PD(host_gflops, 0.01, 1e7, "host sustained GFLOP/s"),
    PD(pcie_gbps, 0.01, 1e4, "PCIe bandwidth, GB/s"),
    PD(pcie_us, 0, 1e6, "PCIe transfer latency, us"),
    PD(launch_us, 0, 1e6, "kernel launch + completion per token, us"),
    PD(uw_per_mhz_dsp, 0, 1e6, "dynamic power per DSP, uW/MHz"),
    PD(uw_per_mhz_bram, 0, 1e6, "dynamic power per BRAM36, uW/MHz"),
    PD(uw_per_mhz_klut, 0, 1e6, "dynamic power per 1000 LUTs, uW/MHz"),
    PD(uw_per_mhz_kff, 0, 1e6, "dynamic power per 1000 FFs, uW/MHz"),
    PD(hbm_pj_per_bit, 0, 1e4, "HBM access energy, pJ/bit"),
    PD(link_pj_per_bit, 0, 1e4, "ring link energy, pJ/bit"),
    {"block_rows", T_INT, offsetof(llx_sim_config, block_rows), 0, 1 << 20, "MP rows per ring block"},
    PP("hbm_pcs", hbm_pcs, 1, 1024, "HBM pseudo-channels on the device"),
    PP("hbm_total_gbps", hbm_total_gbps, 0.01, 1e5, "device HBM bandwidth, GB/s"),
    PP("hbm_pc_gbps", hbm_pc_gbps, 0.01, 1e4, "sustained bandwidth per pseudo-channel, GB/s"),
    PP("slrs", slrs, 1, 16, "super logic regions"),
    PP("dsp", dsp, 0, 1e7, "device DSPs"),
    PP("lut", lut, 0, 1e9, "device LUTs"),
    PP("ff", ff, 0, 1e9, "device flip-flops"),
    PP("bram", bram, 0, 1e6, "device BRAM36 blocks"),
    PP("uram", uram, 0, 1e6, "device URAM blocks"),
    PP("tdp_w", tdp_w, 0, 1e4, "board TDP, W"),
    PP("static_w", static_w, 0, 1e4, "board idle power, W"),
    PP("shell_dsp", shell_dsp, 0, 1e7, "shell DSPs"),
    PP("shell_lut", shell_lut, 0, 1e9, "shell LUTs"),
    PP("shell_ff", shell_ff, 0, 1e9, "shell FFs"),
    PP("shell_bram", shell_bram, 0, 1e6, "shell BRAM36"),
};

#define N_PARAMS ((int)(sizeof params / sizeof params[0]))

/* Platform integer fields stored as int in the struct. */
static int is_plat_int(const param *p)
{
    return p->off == offsetof(llx_sim_config, plat.hbm_pcs) || p->off == offsetof(llx_sim_config, plat.slrs);
}

int llx_sim_param_count(void) { return N_PARAMS; }
const char *llx_sim_param_name(int i) { return i >= 0 && i < N_PARAMS ? params[i].name : NULL; }
const char *llx_sim_param_help(int i) { return i >= 0 && i < N_PARAMS ? params[i].help : NULL; }

void llx_sim_param_value(const llx_sim_config *c, int i, char *buf, int len)
{
    if (i < 0 || i >= N_PARAMS || len <= 0) return;
    const param *p = &params[i];
    const char *base = (const char *)c + p->off;
    if (p->type == T_INT || is_plat_int(p)) snprintf(buf, (size_t)len, "%d", *(const int *)(const void *)base);
    else snprintf(buf, (size_t)len, "%g", *(const double *)(const void *)base);
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
        if (v < p->lo || v > p->hi)
            return llx_fail(LLX_ERR_ARG, "--set %s: %g out of range [%g, %g]", p->name, v, p->lo, p->hi);
        char *base = (char *)c + p->off;
        if (p->type == T_INT || is_plat_int(p)) {
            if (v != floor(v)) return llx_fail(LLX_ERR_ARG, "--set %s: %s is not an integer", p->name, val);
            *(int *)(void *)base = (int)v;
        } else {
            *(double *)(void *)base = v;
        }
        return LLX_OK;
    }
    return llx_fail(LLX_ERR_ARG, "--set: unknown key '%.*s' (see 'looplynx sim --help')", (int)klen, kv);
}

static int ceil_div_i(int a, int b) { return (a + b - 1) / b; }

llx_status llx_sim_check(const llx_sim_config *c, const llx_config *m)
{
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    for (int i = 0; i < N_PARAMS; i++) { /* ranges (also after direct struct edits) */
        const param *q = &params[i];
        const char *base = (const char *)c + q->off;
        double v = (q->type == T_INT || is_plat_int(q)) ? *(const int *)(const void *)base
                                                          : *(const double *)(const void *)base;
        if (!(v >= q->lo && v <= q->hi))
            return llx_fail(LLX_ERR_ARG, "%s = %g out of range [%g, %g]", q->name, v, q->lo, q->hi);
    }
    int per_dev = a->nodes < a->nodes_per_fpga ? a->nodes : a->nodes_per_fpga;
    if ((long)per_dev * a->channels > p->hbm_pcs)
        return llx_fail(LLX_ERR_ARG, "%d nodes x %d channels per device exceed the %s's %d HBM pseudo-channels",
                        per_dev, a->channels, p->name, p->hbm_pcs);
    if (!m) return LLX_OK;
    int hd = llx_config_head_dim(m);
    int kw = ceil_div_i(hd, a->word_bytes);
    if (2 * a->heads_parallel * kw > a->channels)
        return llx_fail(LLX_ERR_ARG,
                        "MHA needs 2 x heads_parallel(%d) x %d channels for K and V but a node has %d channels",
                        a->heads_parallel, kw, a->channels);
    if (m->n_ctx > a->score_fifo)
        return llx_fail(LLX_ERR_ARG, "score_fifo %d is smaller than the model's context of %d", a->score_fifo,
                        m->n_ctx);
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
        else return llx_fail(LLX_ERR_ARG, "model dims: unknown key '%.*s' (hidden, layers, heads, ffn, vocab, ctx)",
                             (int)klen, s);
        *dst = (int)v;
        if (!comma) break;
        s = comma + 1;
        if (!*s) return llx_fail(LLX_ERR_ARG, "model dims: trailing comma");
    }
    if (!c.n_embd || !c.n_layer || !c.n_head || !c.n_vocab)
        return llx_fail(LLX_ERR_ARG, "model dims need hidden, layers, heads and vocab");
    if (!have_ffn) c.n_inner = 4 * c.n_embd;
    LLX_TRY(llx_config_check(&c));
    *m = c;
    return LLX_OK;
}

const char *llx_sim_cat_name(llx_sim_cat c)
{
    static const char *names[] = {"mp", "mha", "lnres", "stage_in", "ring"};
    return (unsigned)c < LLX_SIM_CAT_COUNT ? names[c] : "?";
}
