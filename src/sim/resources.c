/* sim/resources.c - FPGA resources of the modelled design, from its
 * buffers, FIFOs and operators (the TeraFly/LoopLynx structure, section 6
 * of docs/simulator.md).
 *
 * Memories map onto 18 Kb BRAM blocks in the best aspect ratio (16K x 1 ...
 * 512 x 36) and are counted in 36 Kb units; those under 64 entries go to
 * LUTRAM/SRL (one LUT per bit per 32 entries); the weights-side parameter
 * stores (biases, LayerNorm gamma/beta) go to URAM (4K x 72) when
 * params_uram is set.  DSPs: one per int8 multiplier (the MAC slices bind
 * their multiplies to DSPs), fp32 operators at Vitis HLS full-DSP costs.
 * LUT/FF: per-unit costs that are assumptions (docs), reported, not
 * validated.  The device total adds the shell; `fits` compares it with the
 * platform. */
#include <stdlib.h>
#include <string.h>

#include "llx/schedule.h"
#include "llx/sim.h"
#include "util/status.h"

/* Vitis HLS fp32 cores: fadd (full DSP) 2, fmul (max DSP) 3, fexp (full DSP) 7
 * as HeteroCL_Transformer's U280 3.33 ns reports give them; the 8-DSP
 * reciprocal square root is assumed (those builds use fsqrt + fdiv, no DSP). */
enum { D_FADD = 2, D_FMUL = 3, D_EXP = 7, D_RSQRT = 8 };

/* An m_axi adapter's logic grows with its data width: Vitis_Accel_Examples
 * port_width_widening (U200, one read/write adapter) measured 3452 LUT /
 * 4006 FF at 256 bits and 4205 / 6331 at 512: 753 LUT and 2325 FF per 256
 * bits.  The 256-bit cost itself (1500 LUT, 2500 FF) is assumed; the same
 * example's whole 256-bit kernel (3452 LUT, 4006 FF) is an upper bound. */
#define MAXI_LUT_256 1500.0
#define MAXI_FF_256 2500.0
#define MAXI_LUT_PER_BIT (753.0 / 256.0)
#define MAXI_FF_PER_BIT (2325.0 / 256.0)

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

static double uram(double depth, double width)
{
    return (double)((long long)((depth + 4095) / 4096)) * (double)((long long)((width + 71) / 72));
}

/* LUTs of a shallow memory (SRL / LUTRAM): a LUT per bit per 32 entries */
static double lutram(double depth, double width) { return depth < 64 ? width * (double)((long long)((depth + 31) / 32)) : 0; }

static int cdiv_i(long a, long b) { return (int)((a + b - 1) / b); }

static int max_i(int a, int b) { return a > b ? a : b; }

static int gcd_i(int a, int b) { return b ? gcd_i(b, a % b) : a; }

/* A write port of k elements per cycle into a buffer of `banks` banks of
 * `bits`-wide words (cyclic partitioning): each bank selects its word among
 * the elements that can land in it, a multiplexer per bit of
 * ceil((sources - 1) / 3) LUT6 (UG574: one LUT6 is a 4:1 multiplexer).  A
 * write-back puts a message at an offset read from its header, so any of
 * the k elements can land in any bank (k sources); a loop writing k
 * consecutive elements from a multiple of k (the LN&Res write of h, the
 * activation pass) gives bank b the elements j = b mod gcd(k, banks) apart:
 * k / gcd(k, banks) sources, none to select when k divides the banks.  One
 * element per cycle is a broadcast with a write enable per bank. */
static double wport_luts(int banks, int bits, int k, int aligned)
{
    const int sources = aligned ? k / gcd_i(k, banks) : k;
    return sources > 1 ? (double)banks * bits * (double)cdiv_i(sources - 1, 3) : 0;
}

/* banks of a buffer written k elements per cycle: each bank has one port
 * for the writer (UG573: a block RAM has two ports; the readers take the
 * other), so at least k banks */
static int banks_for(int banks, int k) { return max_i(banks, k); }

static void add(llx_sim_component *t, const llx_sim_component *c)
{
    t->dsp += c->dsp, t->lut += c->lut, t->ff += c->ff, t->bram += c->bram, t->uram += c->uram;
}

/* a memory of depth x width into BRAM (or URAM), or LUTRAM when shallow */
static void mem(llx_sim_component *c, double depth, double width, int to_uram)
{
    if (to_uram && depth >= 64) c->uram += uram(depth, width);
    else c->bram += bram36(depth, width);
    c->lut += lutram(depth, width);
}

typedef struct dims {
    int P, G, N, L, C, F, kw, hp, lanes;
    int mp_wb, mha_wb, act, ln_wb; /* write ports into the shared buffers, elements per cycle */
    int llama;      /* RMSNorm (gamma only), no biases, SiLU-gated MLP */
    int widest;     /* widest activation slot of a layer (QKV, MID) */
    long rows;      /* output rows this node owns over the layer's matrices */
    long gate_rows; /* of which GATE rows (kept on the node for UP) */
    int k;          /* output rows per slice pass: 2 with int4 weights (layers or LM head), else 1 */
    int macs_per_dsp; /* MACs one multiplier DSP does (2: packed int4 weights) */
    int groups;     /* group-wise weight scales: a scale-and-add per row of a pass */
    int had;        /* the online Hadamard transform, F wide, on the LN&Res lanes */
} dims;

static llx_sim_component mp_unit(const llx_sim_arch *a, const dims *d)
{
    llx_sim_component mp = {"mp", 0, 0, 0, 0, 0};
    /* a slice multiplies k rows' weights by the shared activation word: P x
     * G x k MACs per cycle on P x G x k / macs_per_dsp DSPs */
    mp.dsp = (double)d->P * d->G * d->k / d->macs_per_dsp + D_FMUL + D_FADD;
    if (d->groups) mp.dsp += (double)d->P * d->k * (D_FMUL + D_FADD);
    if (d->llama) mp.dsp += D_EXP + D_FADD + D_FMUL + D_FMUL; /* SiLU epilogue, the product with GATE */
    for (int p = 0; p < d->P; p++) mem(&mp, a->out_fifo, 32, 0);
    mem(&mp, a->out_fifo, 32.0 * d->P, 0);         /* packed results */
    mem(&mp, a->out_fifo, 8.0 * a->flit_bytes, 0); /* repacked for the router */
    mem(&mp, 9.0 * d->L, 32, 0);                   /* scales */
    /* adder trees (G-1 adders of ~20 bits), accumulators, quantiser logic */
    mp.lut = d->P * (20.0 * d->k * (d->G - 1) + 64) + 1500, mp.ff = d->P * (24.0 * d->k * (d->G - 1) + 96) + 2500;
    return mp;
}

static llx_sim_component mha_unit(const llx_sim_arch *a, const dims *d)
{
    llx_sim_component m = {"mha", 0, 0, 0, 0, 0};
    double macs = 2.0 * d->hp * d->kw * d->G;
    /* per lane: score scale, max, exp(x - max) + eps, reciprocal, two normalising multiplies;
     * per channel: context requant */
    m.dsp = macs + d->hp * (D_FMUL + D_FADD + D_EXP + D_FADD + D_FMUL + D_FMUL) + d->hp * d->kw * D_FMUL;
    for (int l = 0; l < d->hp; l++) {
        mem(&m, a->score_fifo, 32, 0);
        mem(&m, a->exp_fifo, 32, 0);
        for (int c = 0; c < d->kw; c++) mem(&m, a->prob_fifo, 8, 0);
    }
    m.lut = 20.0 * macs + 3000.0 * d->hp, m.ff = 24.0 * macs + 4000.0 * d->hp;
    return m;
}

static llx_sim_component ln_unit(const llx_sim_arch *a, const dims *d, int params_uram)
{
    llx_sim_component ln = {"lnres", 0, 0, 0, 0, 0};
    int lanes = a->lnres_fusion ? d->lanes : 1;
    /* per lane: residual add, two accumulators, square, normalise (operators
     * shared by the passes, the rotary step's too) */
    ln.dsp = lanes * (3 * D_FADD + 2 * D_FMUL) + 2 * D_FMUL + 2 * D_FADD + D_RSQRT;
    double per_lane = cdiv_i(d->C, lanes);
    const int sets = d->llama ? 2 : 4; /* gamma of 2 RMSNorms; gamma, beta of 2 LayerNorms */
    for (int l = 0; l < lanes; l++) mem(&ln, per_lane * sets * d->L, 32, params_uram);
    ln.lut = 1200.0 * lanes + 2000, ln.ff = 1600.0 * lanes + 3000;
    if (d->had) {
        /* FlexLLM dec_FHT: per lane an adder and a subtractor, one 1/sqrt(F)
         * multiply; two ping-pong buffers and the shuffle buffer of F fp32
         * over the lanes; the shuffle lets every lane read from any lane, a
         * lanes:1 multiplexer per bit (UG574: a LUT6 is a 4:1 multiplexer) */
        ln.dsp += lanes * 2.0 * D_FADD + D_FMUL;
        for (int l = 0; l < 3 * lanes; l++) mem(&ln, cdiv_i(d->F, lanes), 32, 0);
        ln.lut += lanes > 1 ? (double)lanes * 32 * cdiv_i(lanes - 1, 3) : 0;
    }
    return ln;
}

static llx_sim_component buf_unit(const dims *d, int params_uram)
{
    llx_sim_component b = {"buffers", 0, 0, 0, 0, 0};
    /* float_buffer (MP write-back, activation pass) and int_buffer (MHA
     * write-back), cyclic over G banks or as many as a write port needs */
    const int fb = banks_for(banks_for(d->G, d->mp_wb), d->act), ib = banks_for(d->G, d->mha_wb);
    for (int k = 0; k < fb; k++) mem(&b, cdiv_i(d->widest, fb), 32, 0);
    for (int k = 0; k < ib; k++) mem(&b, cdiv_i(d->widest, ib), 8, 0);
    for (int k = 0; k < d->G && d->gate_rows > 0; k++) mem(&b, cdiv_i(d->gate_rows, d->G), 32, 0); /* GATE rows */
    /* input_buffer and res_buffer over the lanes, or as many banks as the write of h needs */
    const int lb = banks_for(d->lanes, d->ln_wb);
    for (int k = 0; k < lb; k++) {
        mem(&b, cdiv_i(d->C, lb), 32, 0); /* input_buffer */
        mem(&b, cdiv_i(d->C, lb), 32, 0); /* res_buffer */
    }
    if (!d->llama) mem(&b, (double)d->rows * d->L, 32, params_uram); /* biases of the node's rows, every layer */
    b.dsp = 2 * D_FMUL; /* staging requantisers (q, k, v) */
    b.lut = 8000 + wport_luts(fb, 32, d->mp_wb, 0) + wport_luts(fb, 32, d->act, 1) +
            wport_luts(ib, 8, d->mha_wb, 0) + wport_luts(lb, 32, d->ln_wb, 1);
    b.ff = 12000;
    return b;
}

static llx_sim_component dma_unit(const llx_sim_arch *a, const dims *d)
{
    llx_sim_component dm = {"dma", 0, 0, 0, 0, 0};
    int kv = 2 * d->hp * d->kw; /* the K/V channels also write */
    for (int p = 0; p < d->P; p++) mem(&dm, a->dma_fifo, 8.0 * d->G, 0);
    for (int p = 0; p < kv; p++) mem(&dm, a->dma_fifo, 8.0 * d->G, 0);
    const double bits = 8.0 * d->G;
    dm.lut = d->P * (MAXI_LUT_256 + MAXI_LUT_PER_BIT * (bits - 256));
    dm.ff = d->P * (MAXI_FF_256 + MAXI_FF_PER_BIT * (bits - 256));
    return dm;
}

static llx_sim_component ring_unit(const llx_sim_arch *a, int N)
{
    llx_sim_component r = {"ring", 0, 0, 0, 0, 0};
    double w = 8.0 * a->flit_bytes;
    mem(&r, a->tx_fifo, w, 0);
    mem(&r, a->wb_fifo, w, 0);
    if (N > 1) mem(&r, a->link_fifo, w, 0);
    r.lut += 1500, r.ff += 2500;
    return r;
}

/* Components of node n (its rows in the partition decide the bias and
 * GATE stores). */
static int node_components(const llx_sim_config *c, const llx_config *m, const llx_partition *part, int n,
                           llx_sim_component *out)
{
    const llx_sim_arch *a = &c->arch;
    dims d = {a->channels, a->word_bytes, a->nodes, m->n_layer, m->n_embd, m->n_inner,
              cdiv_i(llx_config_head_dim(m), a->word_bytes), a->heads_parallel, a->ln_lanes,
              a->mp_wb_elems, a->mha_wb_elems, a->act_elems > 0 ? a->act_elems : a->word_bytes, a->ln_wb_elems,
              m->arch == LLX_ARCH_LLAMA, 0, 0, 0, 1, 1, 0, 0};
    const llx_sim_scheme *sc = &c->scheme;
    const int int4 = sc->w_bits == 4 || (a->lm_head_fpga && sc->lm_bits == 4);
    d.k = int4 ? 2 : 1; /* not timing: int4 weights per byte */
    d.macs_per_dsp = int4 ? a->w4_macs_per_dsp : 1;
    d.groups = int4 && sc->group > 0;
    d.had = sc->hadamard;
    const llx_slot wide[] = {LLX_SLOT_X, LLX_SLOT_QKV, LLX_SLOT_CTX, LLX_SLOT_MID};
    for (size_t k = 0; k < sizeof wide / sizeof wide[0]; k++)
        if (llx_slot_width(m, wide[k]) > d.widest) d.widest = llx_slot_width(m, wide[k]);
    for (int mat = LLX_MAT_QKV; mat < LLX_MAT_LAYER_COUNT; mat++) {
        llx_range s = part->rows[mat][n];
        d.rows += s.end - s.begin;
        if (mat == LLX_MAT_GATE) d.gate_rows = s.end - s.begin;
    }
    const int pu = c->plat.uram > 0 && a->params_uram;
    int k = 0;
    out[k++] = mp_unit(a, &d);
    out[k++] = mha_unit(a, &d);
    out[k++] = ln_unit(a, &d, pu);
    out[k++] = dma_unit(a, &d);
    out[k++] = buf_unit(&d, pu);
    out[k++] = ring_unit(a, d.N);
    return k;
}

llx_status llx_sim_resources_estimate(const llx_sim_config *c, const llx_config *m, llx_sim_resources *r)
{
    memset(r, 0, sizeof *r);
    LLX_TRY(llx_sim_check(c, m));
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    const llx_sim_component shell = {"shell", p->shell_dsp, p->shell_lut, p->shell_ff, p->shell_bram, p->shell_uram};
    r->devices = (a->nodes + a->nodes_per_fpga - 1) / a->nodes_per_fpga;
    llx_partition *part = malloc(sizeof *part);
    if (!part) return llx_fail(LLX_ERR_NOMEM, "out of memory");
    const llx_part_opts po = {a->nodes, 1, c->block_rows}; /* int8 weights */
    llx_status st = llx_partition_build(part, m, &po);
    if (st != LLX_OK) {
        free(part);
        return st;
    }
    llx_sim_component comp[LLX_SIM_MAX_COMPONENTS];
    r->all_total.name = "all";
    for (int dv = 0; dv < r->devices; dv++) {
        llx_sim_component dev = {"device", 0, 0, 0, 0, 0};
        add(&dev, &shell);
        for (int n = dv * a->nodes_per_fpga; n < (dv + 1) * a->nodes_per_fpga && n < a->nodes; n++) {
            int k = node_components(c, m, part, n, comp);
            llx_sim_component tot = {"node", 0, 0, 0, 0, 0};
            for (int j = 0; j < k; j++) add(&tot, &comp[j]);
            if (tot.bram + tot.dsp + tot.uram > r->node_total.bram + r->node_total.dsp + r->node_total.uram) {
                r->node_total = tot; /* the largest node */
                r->n_comp = k;
                memcpy(r->node, comp, sizeof comp[0] * (size_t)k);
            }
            add(&dev, &tot);
        }
        if (dev.bram + dev.dsp + dev.uram > r->device_total.bram + r->device_total.dsp + r->device_total.uram)
            r->device_total = dev;
        add(&r->all_total, &dev);
    }
    free(part);
    r->node_total.name = "node";
    r->device_total.name = "device";
    const llx_sim_component *t = &r->device_total;
    r->dsp_frac = p->dsp > 0 ? t->dsp / p->dsp : 0;
    r->lut_frac = p->lut > 0 ? t->lut / p->lut : 0;
    r->ff_frac = p->ff > 0 ? t->ff / p->ff : 0;
    r->bram_frac = p->bram > 0 ? t->bram / p->bram : 0;
    r->uram_frac = p->uram > 0 ? t->uram / p->uram : (t->uram > 0 ? 2 : 0);
    r->fits = r->dsp_frac <= 1 && r->lut_frac <= 1 && r->ff_frac <= 1 && r->bram_frac <= 1 && r->uram_frac <= 1;
    return LLX_OK;
}

double llx_sim_bram36(double depth, double width_bits) { return bram36(depth, width_bits); }
