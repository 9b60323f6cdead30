/* tests/test_cli_edges.c - small CLI defects found together (issue 15):
 * a folder given as a text file, out-of-range seeds, the bandwidth probe's
 * size against the last-level cache, bench's progress lines on a pipe, and
 * sim --json's workload fields. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clitest.h"
#include "llx/bench.h"
#include "test.h"

TEST(ppl_bad_text_is_a_folder, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf();
    REQUIRE(hf);
    llx_proc_result r;
    llx_cli(&r, "ppl", "-m", hf, "-f", llx_test_tmpdir(), NULL);
    CHECK(llx_cli_failed(&r, 1, "it is a folder, not a text file"));
    llx_proc_free(&r);
    /* quantize already said so; keep it */
    llx_cli(&r, "quantize", "-m", hf, "--calib", llx_test_tmpdir(), "-o", llx_test_tmpfile("q.llx"), NULL);
    CHECK(llx_cli_failed(&r, 1, "is not a regular file"));
    llx_proc_free(&r);
}

TEST(synth_bad_seed_range, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "synth", "--config", "gpt2", "--seed", "18446744073709551615", "-o", llx_test_tmpfile("s"), NULL);
    CHECK(llx_cli_failed(&r, 2, "--seed must be in [0, 9223372036854775807], got 18446744073709551615"));
    llx_proc_free(&r);
    llx_cli(&r, "synth", "--config", "gpt2", "--layers", "99999999999999999999", "-o", llx_test_tmpfile("s"), NULL);
    CHECK(llx_cli_failed(&r, 2, "--layers must be in [1, 256], got 99999999999999999999"));
    llx_proc_free(&r);
}

/* A fake sysfs: two CPUs sharing one 96 MiB L3 and two sharing another (two
 * slices: 192 MiB), L2s per CPU that must not count. */
static const char *fake_sysfs(void)
{
    const char *root = llx_test_tmpfile("fake-cpu");
    char path[1024];
    for (int cpu = 0; cpu < 4; cpu++) {
        const char *l3share = cpu < 2 ? "0-1" : "2-3";
        const struct { int index, level; const char *size, *shared; } caches[] = {
            {0, 1, "32K", NULL}, {2, 2, "1024K", NULL}, {3, 3, "98304K", l3share}};
        for (int c = 0; c < 3; c++) {
            char own[16];
            snprintf(own, sizeof own, "%d", cpu);
            snprintf(path, sizeof path, "mkdir -p %s/cpu%d/cache/index%d", root, cpu, caches[c].index);
            if (system(path) != 0) return NULL;
            const char *files[3] = {"level", "size", "shared_cpu_list"};
            char level[8];
            snprintf(level, sizeof level, "%d\n", caches[c].level);
            char size[32], shared[32];
            snprintf(size, sizeof size, "%s\n", caches[c].size);
            snprintf(shared, sizeof shared, "%s\n", caches[c].shared ? caches[c].shared : own);
            const char *vals[3] = {level, size, shared};
            for (int f = 0; f < 3; f++) {
                snprintf(path, sizeof path, "%s/cpu%d/cache/index%d/%s", root, cpu, caches[c].index, files[f]);
                if (!llx_test_write(path, vals[f], strlen(vals[f]))) return NULL;
            }
        }
    }
    return root;
}

TEST(bench_llc_from_sysfs, LLX_T_ASAN)
{
    const char *root = fake_sysfs();
    REQUIRE(root);
    CHECK_EQ_INT(llx_llc_bytes_at(root), 2 * (96ull << 20));
    CHECK_EQ_INT(llx_llc_bytes_at(llx_test_tmpfile("no-such-sysfs")), 0);
}

/* (not under ASan: the default probe allocates and streams 1 GiB) */
TEST(bench_probe_is_larger_than_the_cache)
{
    const unsigned long long llc = llx_llc_bytes();
    llx_test_note("this machine's last-level cache: %llu MiB", llc >> 20);
    const char *hf = llx_tiny_hf();
    REQUIRE(hf);
    llx_proc_result r;
    if (llc >= (1u << 20)) {
        /* a probe below 4x the cache is refused, naming the cache */
        char small[32], want[128];
        snprintf(small, sizeof small, "%llu", (llc >> 20) * 4 - 1);
        snprintf(want, sizeof want, "less than 4 times this machine's last-level cache (%llu MiB)", llc >> 20);
        llx_cli(&r, "bench", "-m", hf, "--prompt", "4", "--gen", "2", "--reps", "1", "--membw-mb", small, NULL);
        CHECK(llx_cli_failed(&r, 2, want));
        llx_proc_free(&r);
    }
    /* the default probe is at least 4x the cache, and says how large it was */
    llx_cli(&r, "bench", "-m", hf, "--prompt", "4", "--gen", "2", "--reps", "1", "--membw", "--json", "--threads", "1",
            NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    const long long mib = j ? json_integer_value(json_object_get(j, "membw_probe_mib")) : 0;
    CHECK_MSG(r.status == 0 && mib >= 1024 && (unsigned long long)mib << 20 >= 4 * llc, "exit %d, probe %lld MiB: %s",
              r.status, mib, r.err);
    json_decref(j);
    llx_proc_free(&r);
}

/* On a pipe, each progress report is a line of its own (no carriage
 * returns running them together, nothing glued to the table). */
TEST(bench_cli_progress_lines, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf();
    REQUIRE(hf);
    llx_proc_result r;
    llx_cli(&r, "bench", "-m", hf, "--prompt", "4", "--gen", "2", "--reps", "2", "--threads", "1,2", NULL);
    CHECK_MSG(r.status == 0, "%s", r.err);
    CHECK_MSG(!strchr(r.err, '\r'), "carriage returns on a pipe: %s", r.err);
    CHECK_MSG(!strcmp(r.err, "bench: nodes 1 threads 1 rep 1/2\nbench: nodes 1 threads 1 rep 2/2\n"
                             "bench: nodes 1 threads 2 rep 1/2\nbench: nodes 1 threads 2 rep 2/2\n"),
              "stderr: %s", r.err);
    CHECK(!strncmp(r.out, "| model", 7));
    llx_proc_free(&r);
}

/* The workload fields: --prompt/--gen runs have no single context (null),
 * a --context run has no prompt or gen. */
TEST(sim_cli_json_workload_fields, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "sim", "--model", "gpt2", "--prompt", "16", "--gen", "8", "--json", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    CHECK_MSG(r.status == 0 && j, "%s", r.err);
    CHECK(j && json_integer_value(json_object_get(j, "prompt")) == 16 &&
          json_integer_value(json_object_get(j, "gen")) == 8 && json_is_null(json_object_get(j, "context")));
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "sim", "--model", "gpt2", "--context", "300", "--json", NULL);
    j = json_loads(r.out, 0, NULL);
    CHECK(j && json_is_null(json_object_get(j, "prompt")) && json_is_null(json_object_get(j, "gen")) &&
          json_integer_value(json_object_get(j, "context")) == 300);
    json_decref(j);
    llx_proc_free(&r);
}
