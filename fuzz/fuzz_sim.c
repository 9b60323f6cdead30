/* fuzz/fuzz_sim.c - simulator inputs: a platform JSON document (input that
 * starts with '{'), or lines of `--set` strings, dims: specs,
 * scheme:SPEC (`sim --scheme`) and platform:NAME.  Bad input must be rejected, never crash; an accepted small
 * configuration is timed (fast engine) and must give a finite, positive
 * latency whose categories add up, or a reported deadlock. */
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
    if (size > 0 && buf[0] == '{') {
        if (llx_sim_platform_parse(&c, buf, size, "fuzz") != LLX_OK) return 0;
        if (c.plat.hbm_pcs < 1 || c.plat.clock_min_mhz > c.plat.clock_max_mhz) __builtin_trap();
        c.arch.clock_mhz = c.plat.clock_min_mhz;
    } else {
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(line, "platform:", 9)) llx_sim_config_init(&c, line + 9);
            else if (!strncmp(line, "dims:", 5)) llx_sim_parse_dims(line, &m);
            else if (!strncmp(line, "scheme:", 7)) llx_sim_scheme_parse(line + 7, &c.scheme);
            else llx_sim_set(&c, line);
        }
    }
    c.arch.cycle_mode = 0;
    if (llx_sim_check(&c, &m) != LLX_OK) return 0;
    /* keep each input cheap: small models, rings, blocks and FIFOs that move */
    if (m.n_embd > 1024 || m.n_inner > 4096 || m.n_layer > 2 || m.n_vocab > 4096 || c.arch.nodes > 8 ||
        c.block_rows == 1 || c.arch.clock_mhz > 500 || c.arch.dma_fifo < 4 || c.arch.mp_wb_elems > 64 ||
        llx_sim_hbm_bytes_per_cycle(&c) < 1)
        return 0;
    llx_sim_workload w = {0, 0, m.n_ctx < 64 ? m.n_ctx : 64};
    llx_sim_result r;
    if (llx_sim_run(&c, &m, &w, &r) != LLX_OK) return 0;
    if (r.deadlock.found) {
        if (strncmp(r.deadlock.what, "deadlock at cycle ", 18) != 0) __builtin_trap();
        return 0;
    }
    double sum = 0;
    for (int k = 0; k < LLX_SIM_CAT_COUNT; k++) sum += r.breakdown_ms[k];
    if (!(r.decode_ms_per_token > 0) || !isfinite(r.decode_ms_per_token)) __builtin_trap();
    if (fabs(sum - r.decode_ms_per_token) > 1e-6 * r.decode_ms_per_token) __builtin_trap();
    return 0;
}
