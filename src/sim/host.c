/* sim/host.c - the host's per-token work (EMBED, LN_F, LM_HEAD stages):
 * embedding lookup, PCIe transfers to and from the nodes, kernel launch,
 * and, when the LM head is not on the FPGA, the final LayerNorm and the
 * fp32 LM head on the CPU (memory- or FLOP-bound, whichever is slower).
 * This time is reported separately from the accelerator latency. */
#include "sim/hw.h"

static double pcie_s(const llx_sim_arch *a, double bytes) { return a->pcie_us * 1e-6 + bytes / (a->pcie_gbps * 1e9); }

double sim_host_stage_s(const llx_sim_config *c, const llx_stage *st)
{
    const llx_sim_arch *a = &c->arch;
    const double d = st->cols, T = st->tokens;
    switch (st->op) {
    case LLX_OP_EMBED: /* wte (+ wpe) rows, then the vector to every node */
        return (st->pos_embed ? 2 : 1) * d * 4 * T / (a->host_mem_gbps * 1e9) + a->nodes * pcie_s(a, 4 * d * T) +
               a->launch_us * 1e-6;
    case LLX_OP_LN_F:
        if (a->lm_head_fpga) return 0;
        return pcie_s(a, 4 * d * T) + 8 * d * T / (a->host_gflops * 1e9);
    case LLX_OP_LM_HEAD: {
        double rows = st->rows, cols = st->cols;
        if (a->lm_head_fpga) return pcie_s(a, 4 * rows * T); /* logits back to the host */
        double mem = rows * cols * 4 / (a->host_mem_gbps * 1e9);
        double flop = 2 * rows * cols * T / (a->host_gflops * 1e9);
        return mem > flop ? mem : flop;
    }
    default: return 0;
    }
}
