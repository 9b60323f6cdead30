/* sim/net_ln.c - the timing rules of the LayerNorm & residual kernel: its
 * NORM stages (LN1, RES_LN2, RES; LN_F when the LM head runs on the FPGA)
 * with LayerNorm (GPT-2) or RMSNorm (Llama), and the rotary step (ROPE,
 * Llama), which the schedule also runs on this unit.
 *
 * NORM: every node runs it on the whole hidden vector (split NONE), so one
 * process stands for all nodes.  The residual stream x stays in the kernel's
 * lane buffers; the branch (PROJ or FC2/DOWN output) is read from the
 * shared buffer ln_rd elements per cycle and h is written back ln_wb
 * elements per cycle (TeraFly Res_layer, layerNorm, write_buffer_ln).
 * Fused (the paper's optimisation): `lanes` elements per firing; residual
 * add and statistics (sum x and sum x^2 for LayerNorm, sum x^2 for RMSNorm,
 * in lat_fadd interleaved partial sums per lane, so the loop runs at
 * ln_acc_ii) in one pass; the drain of the adders, a reduction tree, the
 * finalisation (LayerNorm: mean, mean^2, variance, +eps, rsqrt; RMSNorm:
 * mean of squares, +eps, rsqrt); the normalising pass (LayerNorm: -mean,
 * *rstd, *gamma, +beta, round; RMSNorm: *rstd, *gamma, round); its drain.
 * Unfused (the paper's starting point): one lane; the residual is its own
 * kernel call and pass; the statistics go into one accumulator per quantity
 * (II = lat_fadd); then the normalising pass.
 *
 * ROPE: node n rotates q of its query heads and k of the KV heads it holds
 * (the partition), head_dim elements each per token.  The cos/sin of the
 * token's position come from a table in HBM (head_dim fp32 values, as
 * FlexLLM's RoPE takes precomputed PE_sin/PE_cos); then `lanes` elements
 * per firing, limited by the shared buffer's read (ln_rd) and write (ln_wb)
 * ports; an element pairs with the one half a head away, so the last
 * output waits half a head after the last input; x cos - y sin (two
 * multiplies, an add) and the int8 requantisation (multiply, round).
 *
 * HADAMARD: the fast Walsh-Hadamard transform of the MLP activation (below). */
#include <stdio.h>
#include <string.h>

#include "sim/hw.h"
#include "util/status.h"

typedef struct norm_lat {
    int finalize, norm;
} norm_lat;

static norm_lat latencies(const sim_hw *hw, llx_norm kind)
{
    norm_lat l;
    if (kind == LLX_NORM_RMS) {
        l.finalize = hw->fmul + hw->fadd + hw->rsqrt;           /* mean of squares, +eps, rsqrt */
        l.norm = hw->fmul + hw->fmul + hw->lat_logic;          /* *rstd, *gamma, round */
    } else {
        l.finalize = hw->fmul + hw->fmul + hw->fadd + hw->fadd + hw->rsqrt; /* mean, mean^2, var, +eps, rsqrt */
        l.norm = hw->fadd + hw->fmul + hw->fmul + hw->fadd + hw->lat_logic; /* -mean, *rstd, *gamma, +beta, round */
    }
    return l;
}

static void token(const sim_hw *hw, const llx_stage *st, sim_graph *g, int p)
{
    const long d = st->cols;
    const norm_lat lat = latencies(hw, st->norm);
    if (hw->fusion) {
        long lanes = hw->lanes;
        int ii1 = hw->ln_ii;
        if (st->residual && (int)cdiv_l(lanes, hw->ln_rd) > ii1) ii1 = (int)cdiv_l(lanes, hw->ln_rd);
        sim_phase_add(g, p, cdiv_l(d, lanes), ii1, 0, 0);
        if (st->norm == LLX_NORM_NONE) {
            sim_phase_add(g, p, 1, 1, hw->fadd, 0); /* the last residual adds drain */
            return;
        }
        long parts = lanes * cdiv_l(hw->fadd, hw->ln_ii); /* interleaved partial sums */
        int reduce = ilog2ceil(parts) * hw->fadd;
        int ii2 = (int)cdiv_l(lanes, hw->ln_wb);
        sim_phase_add(g, p, cdiv_l(d, lanes), ii2, hw->fadd + reduce + lat.finalize, 0);
        sim_phase_add(g, p, 1, 1, lat.norm, 0);
        return;
    }
    if (st->residual) {
        sim_phase_add(g, p, d, 1, 0, 0); /* one lane: one element per cycle */
        sim_phase_add(g, p, 1, 1, hw->fadd + (st->norm != LLX_NORM_NONE ? hw->sched : 0), 0);
    }
    if (st->norm != LLX_NORM_NONE) {
        sim_phase_add(g, p, d, hw->fadd, 0, 0); /* one accumulator: II = fadd latency */
        sim_phase_add(g, p, d, 1, hw->fadd + lat.finalize, 0);
        sim_phase_add(g, p, 1, 1, lat.norm, 0);
    }
}

llx_status sim_net_ln(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net)
{
    const llx_stage *st = &s->stages[i];
    int p = sim_proc_add(&net->g, "n0.lnres", 0, SIM_PK_COMPUTE);
    for (int t = 0; t < st->tokens; t++) token(hw, st, &net->g, p);
    if (net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building a LayerNorm stage");
    return LLX_OK;
}

/* node n's rotary step: the table read, then its q and k elements */
static void rope_node(const sim_hw *hw, const llx_stage *st, int n, long heads, sim_graph *g)
{
    const long hd = st->head_dim, words = cdiv_l(hd * SIM_WORD_BYTES, hw->G);
    const long lanes = hw->fusion ? hw->lanes : 1;
    long ii = 1;
    if (cdiv_l(lanes, hw->ln_rd) > ii) ii = cdiv_l(lanes, hw->ln_rd);
    if (cdiv_l(lanes, hw->ln_wb) > ii) ii = cdiv_l(lanes, hw->ln_wb);
    const int half = (int)(cdiv_l(hd / 2, lanes) * ii); /* the pair's second element */
    const int lat = hw->fmul + hw->fadd + hw->fmul + hw->lat_logic;
    char name[SIM_NAME_LEN];
    snprintf(name, sizeof name, "n%d.rope_table", n);
    int dma = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
    snprintf(name, sizeof name, "n%d.rope_cs", n);
    int cs = sim_fifo_add(g, name, hw->dma_fifo, 0, SIM_BYTE_BITS * hw->G);
    if (cs >= 0) g->fifos[cs].reserve = 1; /* m_axi: requests hold their place */
    snprintf(name, sizeof name, "n%d.rope", n);
    int p = sim_proc_add(g, name, n, SIM_PK_COMPUTE);
    sim_proc_rate(g, dma, hw->hbm);
    for (int t = 0; t < st->tokens; t++) {
        int ph = sim_phase_add(g, dma, words, 1, 0, 1);
        sim_port_add(g, ph, cs, SIM_PUSH, 1, hw->L_hbm, sim_every());
        ph = sim_phase_add(g, p, words, 1, 0, 0);
        sim_port_add(g, ph, cs, SIM_POP, 1, 0, sim_every());
        sim_phase_add(g, p, cdiv_l(heads * hd, lanes), (int)ii, 0, 0);
        sim_phase_add(g, p, 1, 1, half + lat, 0);
    }
}

llx_status sim_net_rope(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net)
{
    const llx_stage *st = &s->stages[i];
    for (int n = 0; n < hw->nodes; n++) {
        llx_range q = llx_schedule_slice(s, i, n), kv = s->part.kv_heads[n];
        long heads = (long)(q.end - q.begin) + (kv.end - kv.begin);
        if (q.end <= q.begin) continue;
        rope_node(hw, st, n, heads, &net->g);
        net->hbm_bytes[0] += (double)st->tokens * st->head_dim * SIM_WORD_BYTES;
    }
    if (net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building a rotary stage");
    return LLX_OK;
}

/* HADAMARD (the online transform before the down projection, W4A4 with
 * rotation): every node transforms the whole gathered fp32 vector of F
 * elements on the LN&Res lanes, as FlexLLM's dec_FHT does on its
 * block_parallel lanes (Modules/FHT.h): a read pass into a ping-pong
 * buffer; per radix-2 stage (log2 of F's power-of-two part) a perfect-
 * shuffle pass (lanes elements per cycle) and a butterfly pass (two lane
 * vectors, u + v and u - v, per cycle), the next stage waiting for the
 * adders; an odd factor m of F (a Kronecker product with an m x m Hadamard
 * matrix) as a dense pass of m additions per element; a per-token min/max
 * pass when the output is quantized per token; the write pass, scaling by
 * 1/sqrt(F) and quantizing. */
static void had_token(const sim_hw *hw, const llx_stage *st, sim_graph *g, int p)
{
    const long F = st->cols, lanes = hw->fusion ? hw->lanes : 1, vec = cdiv_l(F, lanes);
    long odd = F;
    int stages = 0;
    while (odd > 1 && odd % 2 == 0) odd /= 2, stages++; /* not timing: F = 2^stages x odd */
    int rd = (int)cdiv_l(lanes, hw->ln_rd), wb = (int)cdiv_l(lanes, hw->ln_wb);
    sim_phase_add(g, p, vec, rd, 0, 0);
    for (int k = 0; k < stages; k++) {
        sim_phase_add(g, p, vec, 1, k ? hw->fadd : 0, 0); /* shuffle: after the last butterflies land */
        sim_phase_add(g, p, cdiv_l(vec, 2), 1, 0, 0);     /* butterflies */
    }
    if (odd > 1) sim_phase_add(g, p, vec * odd, 1, hw->fadd, 0);
    if (st->quant == LLX_QUANT_DYNAMIC || st->quant == LLX_QUANT_DYNAMIC4)
        sim_phase_add(g, p, vec, 1, hw->fadd, 0); /* the token's min and max */
    sim_phase_add(g, p, vec, wb, hw->fadd, 0);
    sim_phase_add(g, p, 1, 1, hw->fmul + hw->lat_logic, 0); /* 1/sqrt(F), round */
}

llx_status sim_net_had(const sim_hw *hw, const llx_schedule *s, int i, sim_stage_net *net)
{
    const llx_stage *st = &s->stages[i];
    int p = sim_proc_add(&net->g, "n0.had", 0, SIM_PK_COMPUTE);
    for (int t = 0; t < st->tokens; t++) had_token(hw, st, &net->g, p);
    if (net->g.oom) return llx_fail(LLX_ERR_NOMEM, "out of memory building a Hadamard stage");
    return LLX_OK;
}
