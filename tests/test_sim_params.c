/* tests/test_sim_params.c - the simulator's parameters: the table in
 * docs/simulator.md matches params.c (every key, every default, every
 * preset, which entries are assumed); every parameter cites a source unless
 * it is on the short list of assumed ones; the timing code has no constant
 * the table does not list; the HBM rate follows the port and the
 * pseudo-channel; presets, custom platform JSON, --set and dims: parsing,
 * bad configurations. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llx/sim.h"
#include "test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static const char *const plats[4] = {"u50", "u280", "u55c", "v80"};

/* the numeric cells of a table row "| `key` | a | b | ... |" (up to max) */
static int row_numbers(const char *line, double *out, int max)
{
    int n = 0;
    const char *p = strchr(line + 1, '|'); /* after the key cell */
    while (p && n < max) {
        char *end;
        double v = strtod(p + 1, &end);
        if (end == p + 1) break; /* the source text */
        while (*end == ' ') end++;
        if (*end != '|') break;
        out[n++] = v;
        p = end;
    }
    return n;
}

static int param_index(const char *name)
{
    for (int i = 0; i < llx_sim_param_count(); i++)
        if (!strcmp(llx_sim_param_name(i), name)) return i;
    return -1;
}

static double value_of(const llx_sim_config *c, int i)
{
    char buf[64];
    llx_sim_param_value(c, i, buf, sizeof buf);
    return strtod(buf, NULL);
}

static int is_platform_key(const char *k)
{
    llx_sim_config a, b;
    llx_sim_config_init(&a, "u50");
    llx_sim_config_init(&b, "v80");
    int i = param_index(k);
    return i >= 0 && (value_of(&a, i) != value_of(&b, i) || !strncmp(k, "shell_", 6) || !strcmp(k, "hbm_eff") ||
                      !strcmp(k, "slrs") || !strcmp(k, "clock_min_mhz"));
}

TEST(sim_param_table_matches_docs, LLX_T_ASAN)
{
    char *doc = slurp("docs/simulator.md");
    CHECK_MSG(doc != NULL, "docs/simulator.md not readable (run from the repository root)");
    if (!doc) return;
    int n = llx_sim_param_count();
    int *seen = calloc((size_t)n, sizeof *seen);
    llx_sim_config cfg[4];
    for (int k = 0; k < 4; k++) CHECK(llx_sim_config_init(&cfg[k], plats[k]) == LLX_OK);
    int rows = 0;
    for (char *line = strtok(doc, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| `", 3) != 0) continue;
        char key[64];
        const char *e = strchr(line + 3, '`');
        if (!e || e - (line + 3) >= (long)sizeof key) continue;
        memcpy(key, line + 3, (size_t)(e - (line + 3)));
        key[e - (line + 3)] = 0;
        int i = param_index(key);
        CHECK_MSG(i >= 0, "docs list '%s', which is not a parameter", key);
        if (i < 0) continue;
        double v[4];
        int nv = row_numbers(line, v, 4);
        int plat = nv == 4;
        CHECK_MSG(nv == 1 || nv == 4, "row of %s has %d numbers", key, nv);
        for (int k = 0; k < nv; k++) {
            double want = value_of(&cfg[plat ? k : 0], i);
            CHECK_MSG(fabs(v[k] - want) <= 1e-9 * fabs(want) + 1e-12, "docs say %s = %.10g on %s, params.c %.10g", key,
                      v[k], plats[plat ? k : 0], want);
        }
        const char *src = strrchr(line, '|');
        while (src > line && src[-1] == ' ') src--;
        CHECK_MSG(src && src - line > 0, "%s has no source", key);
        const char *cell = src;
        while (cell > line && cell[-1] != '|') cell--;
        while (*cell == ' ') cell++;
        CHECK_MSG(!strncmp(cell, "assumed", 7) == !strncmp(llx_sim_param_source(i), "assumed", 7),
                  "docs and params.c disagree on whether %s is assumed", key);
        seen[i]++;
        rows++;
    }
    for (int i = 0; i < n; i++) CHECK_MSG(seen[i] == 1, "parameter %s is in the docs table %d times", llx_sim_param_name(i), seen[i]);
    CHECK(rows == n);
    /* platform keys are in the four-preset table, architecture keys in the other */
    CHECK(is_platform_key("hbm_total_gbps") && !is_platform_key("channels"));
    free(seen);
    free(doc);
}

/* Parameters whose value no public source pins down; docs/simulator.md
 * section 3 says why for each and section 7.3 what they move.  Any other
 * parameter must name its source: sourcing one means taking it off this
 * list, and a new parameter cannot be "assumed" without being added here. */
static const char *const still_assumed[] = {
    "hop_ns_intra", "sched_cycles", "lat_logic", "lat_iadd", "host_mem_gbps", "host_gflops", "uw_per_mhz_dsp",
    "uw_per_mhz_bram", "uw_per_mhz_klut", "uw_per_mhz_kff", "link_pj_per_bit", "static_w"};

static int is_still_assumed(const char *name)
{
    for (size_t k = 0; k < sizeof still_assumed / sizeof still_assumed[0]; k++)
        if (!strcmp(still_assumed[k], name)) return 1;
    return 0;
}

TEST(sim_param_sources_cited, LLX_T_ASAN)
{
    for (size_t k = 0; k < sizeof still_assumed / sizeof still_assumed[0]; k++)
        CHECK_MSG(param_index(still_assumed[k]) >= 0, "'%s' is not a parameter", still_assumed[k]);
    int assumed = 0;
    for (int i = 0; i < llx_sim_param_count(); i++) {
        const char *name = llx_sim_param_name(i), *src = llx_sim_param_source(i);
        CHECK_MSG(src && strlen(src) > 3, "%s has no source", name);
        if (!src) continue;
        int says = strstr(src, "assumed") != NULL;
        if (is_still_assumed(name)) {
            CHECK_MSG(!strncmp(src, "assumed", 7), "%s is listed as assumed but its source reads '%s'", name, src);
            assumed++;
        } else {
            CHECK_MSG(!says, "%s: source '%s' says assumed (cite one or list it)", name, src);
        }
    }
    CHECK_EQ_INT(assumed, (int)(sizeof still_assumed / sizeof still_assumed[0]));
    /* the values this project took from measurements keep their sources */
    static const char *const cited[][2] = {{"hbm_latency_ns", "Shuhai"}, {"lat_imul", "UG579"},
                                           {"pcie_gbps", "XRT"},        {"pcie_us", "XRT"},
                                           {"launch_us", "TeraFly"},    {"hbm_eff", "Shuhai"},
                                           {"lat_i2f", "HeteroCL"},     {"lat_fadd", "HeteroCL"},
                                           {"lat_fmul", "HeteroCL"},    {"lat_exp", "HeteroCL"},
                                           {"lat_rsqrt", "HeteroCL"},   {"lat_recip", "HeteroCL"}};
    for (size_t k = 0; k < sizeof cited / sizeof cited[0]; k++) {
        int i = param_index(cited[k][0]);
        CHECK_MSG(i >= 0 && strstr(llx_sim_param_source(i), cited[k][1]), "%s should cite %s", cited[k][0],
                  cited[k][1]);
    }
}

/* Every number in the timing code is 0, 1, 2, a power of ten (a unit
 * conversion) or on a line marked "not timing": the cycle counts all come
 * from parameters. */
TEST(sim_no_unlisted_timing_constants, LLX_T_ASAN)
{
    static const char *files[] = {"graph.c", "graph.h", "fast.c", "cycle.c", "hw.c", "hw.h", "net_mp.c",
                                  "net_mha.c", "net_ln.c", "net_ring.c", "driver.c"};
    regex_t num;
    CHECK(regcomp(&num, "(^|[^A-Za-z0-9_.])([0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?)[uUlLfF]*($|[^A-Za-z0-9_.])",
                  REG_EXTENDED) == 0);
    int found = 0, scanned = 0;
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[128];
        snprintf(path, sizeof path, "src/sim/%s", files[k]);
        char *src = slurp(path);
        CHECK_MSG(src != NULL, "%s not readable", path);
        if (!src) continue;
        /* blank out comments and string literals, keeping line breaks */
        for (char *p = src; *p; p++) {
            if (p[0] == '/' && p[1] == '*') {
                char *e = strstr(p + 2, "*/");
                char *stop = e ? e + 2 : p + strlen(p);
                int marked = 0;
                for (char *q = p; q < stop; q++) {
                    if (!strncmp(q, "not timing", 10)) marked = 1;
                    if (*q != '\n') *q = ' ';
                }
                if (marked) { /* the mark exempts its line: blank the code before it too */
                    char *b = p;
                    while (b > src && b[-1] != '\n') *--b = ' ';
                }
                p = stop - 1;
            } else if (*p == '"') {
                char *q = p + 1;
                while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
                for (char *r = p + 1; r < q; r++) *r = ' ';
                p = *q ? q : q - 1;
            } else if (p[0] == '/' && p[1] == '/') {
                while (*p && *p != '\n') *p++ = ' ';
                p--;
            }
        }
        int line_no = 1;
        for (char *line = src; *line; line_no++) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            if (strncmp(line, "#include", 8) != 0) {
                const char *s = line;
                regmatch_t m[3];
                while (regexec(&num, s, 3, m, 0) == 0) {
                    char tok[32] = {0};
                    int len = (int)(m[2].rm_eo - m[2].rm_so);
                    memcpy(tok, s + m[2].rm_so, (size_t)(len < 31 ? len : 31));
                    int ok = !strcmp(tok, "0") || !strcmp(tok, "1") || !strcmp(tok, "2") ||
                             (tok[0] == '1' && (tok[1] == 'e' || tok[1] == 'E'));
                    CHECK_MSG(ok, "%s:%d: constant %s is not a listed parameter", path, line_no, tok);
                    found += !ok;
                    s += m[2].rm_eo;
                }
            }
            scanned++;
            if (!nl) break;
            line = nl + 1;
        }
        free(src);
    }
    regfree(&num);
    CHECK(scanned > 1000);
    CHECK_EQ_INT(found, 0);
}

/* cycles of layer 0's FC1 (MP) stage */
static double fc1_cycles(const llx_sim_config *c)
{
    llx_config m;
    llx_config_preset("gpt2-medium", &m);
    llx_sched_opts o = {.nodes = c->arch.nodes, .tokens = 1, .pos = 0, .precision = LLX_PREC_W8A8_STATIC};
    llx_schedule s;
    if (llx_schedule_build(&s, &m, &o) != LLX_OK) return -1;
    double v = -1;
    for (int i = 0; i < s.n_stages; i++)
        if (s.stages[i].op == LLX_OP_FC1 && s.stages[i].layer == 0) {
            llx_sim_pass p;
            if (llx_sim_time_stage(c, &s, i, &p) == LLX_OK) v = p.cat[LLX_SIM_CAT_MP];
        }
    llx_schedule_free(&s);
    return v;
}

TEST(sim_hbm_rate_from_port_and_channel, LLX_T_ASAN)
{
    llx_sim_config u50, u280;
    llx_sim_config_init(&u50, "u50");
    llx_sim_config_init(&u280, "u280");
    /* U50: the pseudo-channel binds (201/32 x 425/460 GB/s), U280: the 256-bit port */
    double f = 285e6;
    CHECK_CLOSE(llx_sim_hbm_bytes_per_cycle(&u50) * f / 1e9, 201.0 / 32 * 425 / 460, 1e-9, 0);
    CHECK_CLOSE(llx_sim_hbm_bytes_per_cycle(&u280), 32, 1e-9, 0);
    /* the port moves the U280's weight stream: a 512-bit port is faster, but
     * only up to the pseudo-channel */
    llx_sim_config wide = u280;
    wide.arch.word_bytes = 64;
    CHECK_CLOSE(llx_sim_hbm_bytes_per_cycle(&wide) * f / 1e9, 460.0 / 32 * 425 / 460, 1e-9, 0);
    double t256 = fc1_cycles(&u280), t512 = fc1_cycles(&wide);
    llx_test_note("U280 FC1 MP cycles: 256-bit %.0f, 512-bit %.0f (x%.3f)", t256, t512, t256 / t512);
    CHECK_CLOSE(t256 / t512, 13.28 / 9.12, 0, 0.03);
    /* so does the clock: at 200 MHz the U280 port gives 6.4 GB/s */
    llx_sim_config slow = u280;
    slow.arch.clock_mhz = 200;
    CHECK_CLOSE(llx_sim_hbm_bytes_per_cycle(&slow), 32, 1e-9, 0);
    /* halving the U50's HBM peak halves the weight stream's rate */
    llx_sim_config half = u50;
    half.plat.hbm_total_gbps /= 2;
    double a = fc1_cycles(&u50), b = fc1_cycles(&half);
    CHECK_CLOSE(b / a, 2.0, 0, 0.03);
    /* more channels: faster until the device runs out of pseudo-channels */
    llx_sim_config c16 = u50;
    c16.arch.channels = 16;
    CHECK_CLOSE(a / fc1_cycles(&c16), 2.0, 0, 0.05);
    llx_sim_config bad = u50;
    bad.arch.nodes = 2, bad.arch.channels = 32;
    CHECK(llx_sim_check(&bad, NULL) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "pseudo-channels") != NULL);
}

TEST(sim_presets_and_set, LLX_T_ASAN)
{
    llx_sim_config c;
    for (int k = 0; k < 4; k++) {
        CHECK(llx_sim_config_init(&c, plats[k]) == LLX_OK);
        CHECK(llx_sim_check(&c, NULL) == LLX_OK);
        CHECK_EQ_INT(c.arch.nodes_per_fpga, c.plat.slrs);
    }
    CHECK(llx_sim_config_init(&c, "u55c") == LLX_OK);
    CHECK_CLOSE(c.plat.hbm_total_gbps, 460, 0, 0);
    CHECK(llx_sim_config_init(&c, "v80") == LLX_OK);
    CHECK_EQ_INT(c.plat.hbm_pcs, 64);
    CHECK(llx_sim_config_init(&c, "vu9p") == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "u55c") != NULL);
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    CHECK(llx_sim_set(&c, "channels=4") == LLX_OK);
    CHECK_EQ_INT(c.arch.channels, 4);
    CHECK(llx_sim_set(&c, "clock_mhz=250.5") == LLX_OK);
    CHECK_CLOSE(c.arch.clock_mhz, 250.5, 0, 0);
    CHECK(llx_sim_set(&c, "hbm_pcs=16") == LLX_OK);
    CHECK_EQ_INT(c.plat.hbm_pcs, 16);
    CHECK(llx_sim_set(&c, "score_fifo=77") == LLX_OK);
    CHECK_EQ_INT(c.arch.score_fifo, 77);
    static const char *bad[] = {"channels=4.5", "channels=0", "channels=", "nosuch=1", "=1", "clock_mhz=nan",
                                "dma_fifo=0", "hbm_eff=1.5", "xfer_elems=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(llx_sim_set(&c, bad[i]) == LLX_ERR_ARG, "%s", bad[i]);
    CHECK(llx_sim_set(&c, "clock_mhz=nan") == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "clock_mhz") != NULL);
    for (int i = 0; i < llx_sim_param_count(); i++) {
        char buf[64], kv[128];
        llx_sim_param_value(&c, i, buf, sizeof buf);
        snprintf(kv, sizeof kv, "%s=%s", llx_sim_param_name(i), buf);
        CHECK_MSG(llx_sim_set(&c, kv) == LLX_OK, "round trip of %s", kv);
        CHECK(llx_sim_param_source(i) && strlen(llx_sim_param_source(i)) > 3);
    }
    /* the clock must lie in the platform's range */
    CHECK(llx_sim_config_init(&c, "u50") == LLX_OK);
    c.arch.clock_mhz = 350;
    CHECK(llx_sim_check(&c, NULL) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "range") != NULL);
}

TEST(sim_platform_json, LLX_T_ASAN)
{
    llx_sim_config c;
    llx_sim_config_init(&c, "u50");
    c.arch.nodes = 3;
    const char *ok = "{\"name\":\"my-u280\",\"base\":\"u280\",\"hbm_eff\":0.85,\"clock_max_mhz\":350}";
    CHECK(llx_sim_platform_parse(&c, ok, strlen(ok), "t.json") == LLX_OK);
    CHECK(!strcmp(c.plat.name, "my-u280"));
    CHECK_CLOSE(c.plat.hbm_eff, 0.85, 0, 0);
    CHECK_CLOSE(c.plat.dsp, 9024, 0, 0);
    CHECK_EQ_INT(c.arch.nodes, 3); /* the architecture is kept */
    CHECK_EQ_INT(c.arch.nodes_per_fpga, 3);
    const char *full = "{\"name\":\"board\",\"hbm_pcs\":16,\"hbm_total_gbps\":100,\"slrs\":1,\"dsp\":2000,"
                       "\"lut\":400000,\"ff\":800000,\"bram\":600,\"clock_min_mhz\":100,\"clock_max_mhz\":300}";
    CHECK(llx_sim_platform_parse(&c, full, strlen(full), "t.json") == LLX_OK);
    CHECK_EQ_INT(c.plat.hbm_pcs, 16);
    CHECK_EQ_INT(c.arch.nodes_per_fpga, 1);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[1,2]", "object"},
        {"{\"name\":\"x\"}", "missing"},
        {"{\"name\":\"x\",\"base\":\"u280\",\"dsp\":\"many\"}", "number"},
        {"{\"name\":\"x\",\"base\":\"u280\",\"warp\":9}", "unknown platform key"},
        {"{\"name\":\"x\",\"base\":\"zz\"}", "unknown platform"},
        {"{\"name\":\"x\",\"base\":\"u280\",\"hbm_eff\":3}", "hbm_eff"},
        {"{\"name\":\"x\",\"base\":\"u280\",\"clock_min_mhz\":400}", "clock_min_mhz"},
        {"{\"name\":\"\",\"base\":\"u280\"}", "name"},
        {"{\"name\":\"x\",\"base\":\"u280\",\"dsp\":1,\"dsp\":2}", "line"},
        {"{\"name\":\"x\", ", "line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        llx_sim_config t = c;
        CHECK_MSG(llx_sim_platform_parse(&t, bad[i].json, strlen(bad[i].json), "bad.json") == LLX_ERR_FORMAT, "%s",
                  bad[i].json);
        CHECK_MSG(strstr(llx_errmsg(), bad[i].msg) != NULL && strstr(llx_errmsg(), "bad.json") != NULL, "%s: %s",
                  bad[i].json, llx_errmsg());
        CHECK(!strcmp(t.plat.name, "board")); /* untouched */
    }
    CHECK(llx_sim_platform_load(&c, "/nonexistent/platform.json") == LLX_ERR_IO);
}

TEST(sim_bad_configs_rejected, LLX_T_ASAN)
{
    llx_config m;
    llx_config_preset("gpt2-medium", &m);
    llx_sim_config c;
    llx_sim_config_init(&c, "u50");
    c.arch.heads_parallel = 3; /* 2 x 3 x 2 channels > 8 */
    CHECK(llx_sim_check(&c, &m) == LLX_ERR_ARG);
    llx_sim_config_init(&c, "u50");
    c.arch.clock_mhz = -1;
    CHECK(llx_sim_check(&c, NULL) == LLX_ERR_ARG);
    llx_sim_config_init(&c, "u50");
    c.arch.flit_bytes = 30;
    CHECK(llx_sim_check(&c, NULL) == LLX_ERR_ARG);
    CHECK(strstr(llx_errmsg(), "flit_bytes") != NULL);
    llx_sim_config_init(&c, "u50");
    llx_sim_workload w = {0, 0, 2000};
    llx_sim_result r;
    CHECK(llx_sim_run(&c, &m, &w, &r) == LLX_ERR_ARG);
}

TEST(sim_bad_dims, LLX_T_ASAN)
{
    llx_config m;
    CHECK(llx_sim_parse_dims("dims:hidden=2048,layers=24,heads=32,ffn=8192,vocab=50272", &m) == LLX_OK);
    CHECK_EQ_INT(m.n_embd, 2048);
    CHECK_EQ_INT(m.n_inner, 8192);
    CHECK_EQ_INT(m.n_ctx, 1024);
    CHECK(llx_sim_parse_dims("dims:hidden=64,layers=2,heads=4,vocab=10", &m) == LLX_OK);
    CHECK_EQ_INT(m.n_inner, 256);
    static const char *bad[] = {"hidden=64", "dims:", "dims:hidden=64,layers=2,heads=5,vocab=10",
                                "dims:hidden=64,layers=2,heads=4", "dims:hidden=64,layers=x,heads=4,vocab=1",
                                "dims:hidden=64,layers=2,heads=4,vocab=10,", "dims:hidden=64,bogus=2",
                                "dims:hidden=-4,layers=2,heads=4,vocab=10", "dims:hidden",
                                "dims:hidden=99999999999999999999,layers=1,heads=1,vocab=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(llx_sim_parse_dims(bad[i], &m) != LLX_OK, "%s", bad[i]);
}
