/* cli/sim_args.c - platform, model and --set handling shared by the
 * simulator's commands. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "llx/checkpoint.h"
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

int cli_sim_model(const char *spec, llx_config *m)
{
    if (strncmp(spec, "dims:", 5) == 0) {
        if (llx_sim_parse_dims(spec, m) != LLX_OK) return cli_usage_error("--model: %s", llx_errmsg());
        return EXIT_OK;
    }
    if (llx_config_preset(spec, m) == LLX_OK) return EXIT_OK;
    struct stat sb;
    if (stat(spec, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_usage_error("--model '%s' is not a preset, a dims: spec or a folder", spec);
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
