/* sim/resources.c - FPGA resource estimate from per-component formulas in
 * the architecture parameters and the model dimensions.
 *
 * DSP: one DSP per int8 multiplier (the MAC slices bind their multipliers to
 * DSPs), fp32 operators at Vitis HLS full-DSP costs (fadd 2, fmul 3, exp 7,
 * rsqrt 8).  BRAM: every on-chip memory mapped onto 18 Kb blocks in the best
 * aspect ratio (16K x 1 ... 512 x 36), counted in 36 Kb units; memories
 * shallower than 64 entries go to LUTRAM/SRL.  LUT/FF: per-unit coefficients
 * scaled from the paper's Fig. 7 (reported, not validated).  Derivations and
 * the comparison with Table II are in docs/simulator.md. */
#include <string.h>

#include "llx/sim.h"
#include "util/status.h"

enum { D_FADD = 2, D_FMUL = 3, D_EXP = 7, D_RSQRT = 8 };

static double bram36(double depth, double width)
{
    static const int cfg[][2] = {{16384, 1}, {8192, 2}, {4096, 4}, {2048, 9}, {1024, 18}, {512, 36}};
    if (depth < 64 || width <= 0) return 0;
    double best = -1;
    for (int i = 0; i < 6; i++) {
        double n = (double)((long long)((depth + cfg[i][0] - 1) / cfg[i][0])) *
                   (double)((long long)((width + cfg[i][1] - 1) / cfg[i][1]));
        if (best < 0 || n < best) best = n;
    }
    return best / 2.0;
}

static int cdiv_i(long a, long b) { return (int)((a + b - 1) / b); }

static void add(llx_sim_component *t, const llx_sim_component *c)
{
    t->dsp += c->dsp, t->lut += c->lut, t->ff += c->ff, t->bram += c->bram, t->uram += c->uram;
}

/* Components of node n (the slice sizes decide the on-chip bias store). */
static int node_components(const llx_sim_config *c, const llx_config *m, int n, llx_sim_component *out)
{
    const llx_sim_arch *a = &c->arch;
    const int P = a->channels, G = a->word_bytes, N = a->nodes, L = m->n_layer;
    const int C = m->n_embd, F = m->n_inner;
    const int kw = cdiv_i(llx_config_head_dim(m), G), hp = a->heads_parallel;
    const double word_bits = 8.0 * G;
    int k = 0;

    /* Fused MP: MAC slices, quantisation unit, FIFOs, input words, biases */
    long rows = 0;
    for (int mat = LLX_MAT_QKV; mat <= LLX_MAT_FC2; mat++) {
        int r, cl;
        llx_matrix_shape(m, (llx_matrix)mat, &r, &cl);
        llx_range s = llx_split_range(r, N, n);
        rows += s.end - s.begin;
    }
    int max_cols = F > C ? F : C;
    llx_sim_component mp = {"mp", 0, 0, 0, 0, 0};
    mp.dsp = (double)P * G + D_FMUL + D_FADD;
    mp.bram = P * bram36(a->out_fifo, 32) + bram36(a->out_fifo, 32.0 * P) +
              bram36(cdiv_i(max_cols, G), word_bits) + bram36((double)rows * L, 32) + bram36(9.0 * L, 32);
    mp.lut = 66.0 * P * G, mp.ff = 109.0 * P * G;
    out[k++] = mp;

    /* Fused MHA: QK and SV multipliers, softmax lanes, score/probability FIFOs */
    llx_sim_component mha = {"mha", 0, 0, 0, 0, 0};
    double lanes_mac = 2.0 * hp * kw * G;
    mha.dsp = lanes_mac + hp * (D_FMUL + D_FADD + 2 * D_EXP + 2 * D_FMUL + D_FADD) + hp * kw * D_FMUL;
    mha.bram = hp * (bram36(a->score_fifo, 32) + bram36(a->score_fifo, 8));
    mha.lut = 148.0 * lanes_mac, mha.ff = 176.0 * lanes_mac;
    out[k++] = mha;

    /* Fused LN&Res: lanes x (fadd, fmul, fadd, fmul, fadd) shared by the two
     * passes, a scalar mean/var/rsqrt unit; gamma/beta of every LayerNorm
     * (full width: every node normalises the whole vector), x and a copy */
    int lanes = a->lnres_fusion ? a->ln_lanes : 1;
    llx_sim_component ln = {"lnres", 0, 0, 0, 0, 0};
    ln.dsp = lanes * (3 * D_FADD + 2 * D_FMUL) + 2 * D_FMUL + D_FADD + D_RSQRT;
    double per_lane = (double)cdiv_i(C, lanes);
    ln.bram = lanes * (bram36(per_lane * 4 * L, 32) + 2 * bram36(per_lane, 32));
    ln.lut = 1440.0 * lanes, ln.ff = 1875.0 * lanes;
    out[k++] = ln;

    /* HBM ports: a read buffer per channel, a write buffer on the K/V ports */
    llx_sim_component dma = {"dma", 0, 0, 0, 0, 0};
    dma.bram = P * bram36(a->dma_fifo, word_bits) + 2 * hp * kw * bram36(a->dma_fifo, word_bits);
    dma.lut = 1000.0 * P, dma.ff = 1750.0 * P;
    out[k++] = dma;

    /* shared buffer, staging quantiser, router, scheduler */
    llx_sim_component oth = {"other", 0, 0, 0, 0, 0};
    int widest = 3 * C > F ? 3 * C : F;
    int banks = a->flit_bytes / 4 > 0 ? a->flit_bytes / 4 : 1;
    oth.dsp = 2 * D_FMUL; /* staging quantiser, KV requant */
    oth.bram = banks * bram36(cdiv_i(widest, banks), 32);
    if (N > 1) oth.bram += bram36(64, 8.0 * a->flit_bytes); /* inter-node stream FIFO */
    oth.lut = 8500, oth.ff = 13000;
    out[k++] = oth;

    /* nodes outside the HBM's SLR: the linker's SLR-crossing data FIFOs on
     * every HBM port (the HBM controllers sit next to SLR0) */
    int slot = n % a->nodes_per_fpga;
    if (slot > 0) {
        llx_sim_component x = {"hbm_xing", 0, 0, 0, 0, 0};
        x.bram = 2.0 * P * bram36(a->dma_fifo, word_bits); /* R and W data channels */
        x.lut = 500.0 * P, x.ff = 1500.0 * P;
        out[k++] = x;
    }
    return k;
}

llx_status llx_sim_resources_estimate(const llx_sim_config *c, const llx_config *m, llx_sim_resources *r)
{
    memset(r, 0, sizeof *r);
    LLX_TRY(llx_sim_check(c, m));
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    const llx_sim_component shell = {"shell", p->shell_dsp, p->shell_lut, p->shell_ff, p->shell_bram, 0};
    r->devices = (a->nodes + a->nodes_per_fpga - 1) / a->nodes_per_fpga;
    llx_sim_component comp[LLX_SIM_MAX_COMPONENTS];
    r->all_total.name = "all";
    for (int d = 0; d < r->devices; d++) {
        llx_sim_component dev = {"device", 0, 0, 0, 0, 0};
        add(&dev, &shell);
        for (int n = d * a->nodes_per_fpga; n < (d + 1) * a->nodes_per_fpga && n < a->nodes; n++) {
            int k = node_components(c, m, n, comp);
            llx_sim_component tot = {"node", 0, 0, 0, 0, 0};
            for (int j = 0; j < k; j++) add(&tot, &comp[j]);
            if (tot.bram + tot.dsp > r->node_total.bram + r->node_total.dsp) { /* the largest node */
                r->node_total = tot;
                r->n_comp = k;
                memcpy(r->node, comp, sizeof comp[0] * (size_t)k);
            }
            add(&dev, &tot);
        }
        if (dev.bram + dev.dsp > r->device_total.bram + r->device_total.dsp) r->device_total = dev;
        add(&r->all_total, &dev);
    }
    r->node_total.name = "node";
    r->device_total.name = "device";
    const llx_sim_component *t = &r->device_total;
    r->dsp_frac = p->dsp > 0 ? t->dsp / p->dsp : 0;
    r->lut_frac = p->lut > 0 ? t->lut / p->lut : 0;
    r->ff_frac = p->ff > 0 ? t->ff / p->ff : 0;
    r->bram_frac = p->bram > 0 ? t->bram / p->bram : 0;
    r->uram_frac = p->uram > 0 ? t->uram / p->uram : 0;
    r->fits = r->dsp_frac <= 1 && r->lut_frac <= 1 && r->ff_frac <= 1 && r->bram_frac <= 1 && r->uram_frac <= 1;
    return LLX_OK;
}
