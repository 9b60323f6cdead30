/* fuzz/fuzz_sim.c - simulator parameters: `--set` strings, dims: specs and
 * the checks after them must reject bad input, never crash; an accepted
 * small configuration is timed (fast mode) and must give a finite,
 * positive latency whose categories add up. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "llx/sim.h"

int llx_fuzz_sim(const uint8_t *data, size_t size)
{
    char buf[4096];
    if (size >= sizeof buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    llx_sim_config c;
    llx_config m;
    llx_config_preset("gpt2", &m);
    llx_sim_config_init(&c, "u50");
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "platform:", 9)) llx_sim_config_init(&c, line + 9);
        else if (!strncmp(line, "dims:", 5)) llx_sim_parse_dims(line, &m);
        else llx_sim_set(&c, line);
    }
    c.arch.cycle_mode = 0;
    if (llx_sim_check(&c, &m) != LLX_OK) return 0;
    /* keep each input cheap: small models, rings and blocks */
    if (m.n_embd > 1024 || m.n_inner > 4096 || m.n_layer > 2 || m.n_vocab > 4096 || c.arch.nodes > 8 ||
        c.block_rows == 1 || c.arch.xfer_elems > 64 || c.arch.clock_mhz > 500)
        return 0;
    llx_sim_workload w = {0, 0, m.n_ctx < 64 ? m.n_ctx : 64};
    llx_sim_result r;
    if (llx_sim_run(&c, &m, &w, &r) != LLX_OK) return 0;
    double sum = 0;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) sum += r.breakdown_ms[k];
    if (!(r.decode_ms_per_token > 0) || !isfinite(r.decode_ms_per_token)) __builtin_trap();
    if (fabs(sum - r.decode_ms_per_token) > 1e-6 * r.decode_ms_per_token) __builtin_trap();
    return 0;
}
