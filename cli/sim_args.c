/* cli/sim_args.c - platform, model and --set handling shared by the
 * simulator's commands. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "llx/checkpoint.h"
#include "llx/model.h"
#include "sim_args.h"

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cli_sim_platform(const char *platform, llx_sim_config *c)
{
    if (is_file(platform)) {
        llx_sim_config_init(c, "u50");
        if (llx_sim_platform_load(c, platform) != LLX_OK) return cli_usage_error("--platform: %s", llx_errmsg());
    } else if (llx_sim_config_init(c, platform) != LLX_OK) {
        return cli_usage_error("--platform: %s", llx_errmsg());
    }
    return EXIT_OK;
}

/* The scheme a .llx header records, as the simulator models it. */
static int scheme_of_llx(const char *path, const llx_model *md, llx_sim_scheme *s)
{
    llx_quant_info q;
    llx_model_quant_info(md, &q);
    memset(s, 0, sizeof *s);
    switch (q.s.scheme) {
    case LLX_SCHEME_W8A8: s->w_bits = 8, s->act_bits = 8; break;
    case LLX_SCHEME_W4A8: s->w_bits = 4, s->act_bits = 8; break;
    case LLX_SCHEME_W4A4: s->w_bits = 4, s->act_bits = 4; break;
    default:
        return cli_usage_error("--model '%s': scheme %s is not one the accelerator runs (w8a8, w4a8, w4a4)", path,
                               llx_scheme_name(q.s.scheme));
    }
    s->lm_bits = q.s.lm_bits == 4 ? 4 : 8;
    s->group = q.s.group;
    s->scale_bytes = q.s.scales_f16 ? 2 : 4;
    s->kv_f32 = !q.s.kv_int8;
    s->hadamard = q.s.had_down;
    if (llx_sim_scheme_check(s) != LLX_OK) return cli_usage_error("--model '%s': %s", path, llx_errmsg());
    return EXIT_OK;
}

static int model_llx(const char *spec, llx_config *m, llx_sim_scheme *scheme)
{
    llx_model *md = NULL;
    if (llx_model_open(&md, spec) != LLX_OK) return cli_lib_error();
    int rc = EXIT_OK;
    if (llx_model_kind_of(md) != LLX_MODEL_LLX) rc = cli_usage_error("--model '%s' is not a .llx model", spec);
    else *m = *llx_model_config(md);
    if (rc == EXIT_OK && scheme) rc = scheme_of_llx(spec, md, scheme);
    llx_model_close(md);
    return rc;
}

int cli_sim_model(const char *spec, llx_config *m, llx_sim_scheme *scheme)
{
    if (strncmp(spec, "dims:", 5) == 0) {
        if (llx_sim_parse_dims(spec, m) != LLX_OK) return cli_usage_error("--model: %s", llx_errmsg());
        return EXIT_OK;
    }
    if (llx_config_preset(spec, m) == LLX_OK) return EXIT_OK;
    if (is_file(spec)) return model_llx(spec, m, scheme);
    struct stat sb;
    if (stat(spec, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_usage_error("--model '%s' is not a preset, a dims: spec, a .llx file or a folder", spec);
    size_t n = strlen(spec) + 16;
    char *path = malloc(n);
    if (!path) return cli_runtime_error("out of memory");
    snprintf(path, n, "%s/config.json", spec);
    llx_status st = llx_config_load_json(path, m);
    free(path);
    return st == LLX_OK ? EXIT_OK : cli_lib_error();
}

int cli_sim_sets(llx_sim_config *c, const char *const *sets, int n)
{
    for (int i = 0; i < n; i++)
        if (llx_sim_set(c, sets[i]) != LLX_OK) return cli_usage_error("%s", llx_errmsg());
    return EXIT_OK;
}

void cli_sim_param_help(FILE *f)
{
    llx_sim_config c;
    llx_sim_config_init(&c, "u50");
    for (int i = 0; i < llx_sim_param_count(); i++) {
        char v[64];
        llx_sim_param_value(&c, i, v, sizeof v);
        fprintf(f, "  %-18s %-10s %s [%s]\n", llx_sim_param_name(i), v, llx_sim_param_help(i),
                llx_sim_param_source(i));
    }
}
