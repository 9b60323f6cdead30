/* sim/power.c - power model: board idle power per device, dynamic logic
 * power proportional to the resources in use and the clock (XPE-style
 * per-resource coefficients at typical toggle rates), and traffic energy for
 * HBM reads and ring links.  Coefficients and sources: docs/simulator.md. */
#include <string.h>

#include "sim/power.h"

void sim_power_estimate(const llx_sim_config *c, const llx_sim_resources *r, const double *hbm_bytes,
                        double link_bytes, double seconds, sim_power *out)
{
    const llx_sim_arch *a = &c->arch;
    const llx_sim_platform *p = &c->plat;
    memset(out, 0, sizeof *out);
    out->static_w = r->devices * p->static_w;
    /* accelerator logic = everything but the shells (in static power) */
    double dsp = r->all_total.dsp - r->devices * p->shell_dsp;
    double bram = r->all_total.bram - r->devices * p->shell_bram;
    double lut = r->all_total.lut - r->devices * p->shell_lut;
    double ff = r->all_total.ff - r->devices * p->shell_ff;
    out->logic_w = a->clock_mhz * 1e-6 *
                   (dsp * a->uw_per_mhz_dsp + bram * a->uw_per_mhz_bram + lut / 1000 * a->uw_per_mhz_klut +
                    ff / 1000 * a->uw_per_mhz_kff);
    double bytes = 0;
    for (int k = 0; k < LLX_SIM_MAX_CHANNELS; k++) bytes += hbm_bytes[k];
    if (seconds > 0) {
        out->hbm_w = bytes * 8 * a->hbm_pj_per_bit * 1e-12 / seconds;
        out->link_w = link_bytes * 8 * a->link_pj_per_bit * 1e-12 / seconds;
    }
    out->total_w = out->static_w + out->logic_w + out->hbm_w + out->link_w;
}

void llx_sim_power_of(const llx_sim_config *c, const llx_sim_resources *r, const llx_sim_pass *p, double seconds,
                      llx_sim_power *out)
{
    sim_power pw;
    sim_power_estimate(c, r, p->hbm_bytes, p->link_bytes, seconds, &pw);
    *out = (llx_sim_power){pw.static_w, pw.logic_w, pw.hbm_w, pw.link_w, pw.total_w};
}
