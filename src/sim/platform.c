/* sim/platform.c - custom platforms from JSON (`looplynx sim --platform
 * FILE.json`).  An object with a "name", optionally a "base" preset to start
 * from, and any of the platform keys of the parameter table (hbm_pcs,
 * hbm_total_gbps, hbm_eff, slrs, dsp, lut, ff, bram, uram, tdp_w, static_w,
 * shell_*, clock_min_mhz, clock_max_mhz, net_gbps).  Without a base every
 * key except the shell, power and link figures is required.  Values go
 * through llx_sim_set, so they get the same range checks as --set. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "llx/sim.h"
#include "util/status.h"

static const char *const keys[] = {"hbm_pcs", "hbm_total_gbps", "hbm_eff", "slrs", "dsp", "lut", "ff",
                                   "bram", "uram", "tdp_w", "static_w", "shell_dsp", "shell_lut", "shell_ff",
                                   "shell_bram", "shell_uram", "clock_min_mhz", "clock_max_mhz", "net_gbps"};
static const char *const required[] = {"hbm_pcs", "hbm_total_gbps", "slrs", "dsp", "lut", "ff", "bram",
                                       "clock_min_mhz", "clock_max_mhz"};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))
#define NREQ ((int)(sizeof required / sizeof required[0]))

static int known(const char *k)
{
    if (!strcmp(k, "name") || !strcmp(k, "base")) return 1;
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(k, keys[i])) return 1;
    return 0;
}

static llx_status parse_obj(llx_sim_config *c, json_t *root, const char *what)
{
    if (!json_is_object(root)) return llx_fail(LLX_ERR_FORMAT, "%s: a platform must be a JSON object", what);
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!known(k)) return llx_fail(LLX_ERR_FORMAT, "%s: unknown platform key '%s'", what, k);
    }
    json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) >= sizeof c->plat.name)
        return llx_fail(LLX_ERR_FORMAT, "%s: \"name\" must be a string of 1 to %zu characters", what,
                        sizeof c->plat.name - 1);
    json_t *base = json_object_get(root, "base");
    llx_sim_config t;
    if (base) {
        if (!json_is_string(base)) return llx_fail(LLX_ERR_FORMAT, "%s: \"base\" must be a preset name", what);
        if (llx_sim_config_init(&t, json_string_value(base)) != LLX_OK) {
            llx_errmsg_prefix(what);
            return LLX_ERR_FORMAT;
        }
    } else {
        llx_sim_config_init(&t, "u50");
        for (int i = 0; i < NREQ; i++)
            if (!json_object_get(root, required[i]))
                return llx_fail(LLX_ERR_FORMAT, "%s: missing \"%s\" (or give a \"base\" preset)", what, required[i]);
    }
    t.arch = c->arch;
    t.block_rows = c->block_rows;
    for (int i = 0; i < NKEYS; i++) {
        json_t *x = json_object_get(root, keys[i]);
        if (!x) continue;
        if (!json_is_number(x)) return llx_fail(LLX_ERR_FORMAT, "%s: \"%s\" must be a number", what, keys[i]);
        char kv[96];
        snprintf(kv, sizeof kv, "%s=%.17g", keys[i], json_number_value(x));
        if (llx_sim_set(&t, kv) != LLX_OK) {
            llx_errmsg_prefix(what);
            return LLX_ERR_FORMAT;
        }
    }
    if (t.plat.clock_min_mhz > t.plat.clock_max_mhz)
        return llx_fail(LLX_ERR_FORMAT, "%s: clock_min_mhz %g is above clock_max_mhz %g", what, t.plat.clock_min_mhz,
                        t.plat.clock_max_mhz);
    snprintf(t.plat.name, sizeof t.plat.name, "%s", json_string_value(name));
    c->plat = t.plat;
    c->arch.nodes_per_fpga = t.plat.slrs;
    return LLX_OK;
}

llx_status llx_sim_platform_parse(llx_sim_config *c, const char *text, size_t len, const char *what)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return llx_fail(LLX_ERR_FORMAT, "%s: line %d: %s", what, err.line, err.text);
    llx_status st = parse_obj(c, root, what);
    json_decref(root);
    return st;
}

llx_status llx_sim_platform_load(llx_sim_config *c, const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (err.line < 1) return llx_fail(LLX_ERR_IO, "%s: %s", path, err.text);
        return llx_fail(LLX_ERR_FORMAT, "%s: line %d: %s", path, err.line, err.text);
    }
    llx_status st = parse_obj(c, root, path);
    json_decref(root);
    return st;
}
