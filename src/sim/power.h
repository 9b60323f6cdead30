/* sim/power.h - the power model (power.c).  Internal to src/sim. */
#ifndef LLX_SIM_POWER_H
#define LLX_SIM_POWER_H

#include "llx/sim.h"

typedef struct sim_power {
    double static_w, logic_w, hbm_w, link_w, total_w;
} sim_power;

/* Average power of every device over `seconds` of accelerator time during
 * which the HBM channels read hbm_bytes (summed over channels and nodes) and
 * the ring links carried link_bytes. */
void sim_power_estimate(const llx_sim_config *c, const llx_sim_resources *r, const double *hbm_bytes,
                        double link_bytes, double seconds, sim_power *out);

#endif
