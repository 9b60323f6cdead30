/* tests/test_dse_cli.c - `looplynx dse` and `looplynx fifo` as a user runs
 * them: the full GPT-2 medium search on the U50 prints the front and the
 * paper's designs behind it and draws the plot; --json, --csv and the
 * FIFO report parse; bad input is one error line. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "test.h"

#define SMALL "dims:hidden=256,layers=2,heads=4,ffn=1024,vocab=1000,ctx=256"

TEST(dse_cli_gpt2_medium_on_u50)
{
    const char *svg = llx_test_tmpfile("front.svg");
    llx_proc_result r;
    llx_cli(&r, "dse", "--platform", "u50", "--model", "gpt2-medium", "--nodes", "1-4", "--plot", svg, NULL);
    CHECK_EQ_INT(r.status, 0);
    const char *s = strstr(r.out, "searched ");
    long considered = s ? strtol(s + 9, NULL, 10) : 0;
    CHECK_MSG(considered >= 10000, "%ld designs considered", considered);
    CHECK(strstr(r.out, "Pareto front:") != NULL);
    for (int n = 1; n <= 4; n *= 2) {
        char tag[24]; /* room for any int */
        snprintf(tag, sizeof tag, "  N=%d ", n);
        const char *row = strstr(r.out, tag);
        CHECK_MSG(row && (strstr(row, "behind the front") || strstr(row, "on the front")), "paper design N=%d", n);
    }
    CHECK(strstr(r.out, "re-run on the cycle-stepped engine: largest difference 0.0000%") != NULL);
    CHECK(strstr(r.err, "dse 100%") != NULL && strstr(r.err, "dse  10%") != NULL); /* progress */
    size_t n;
    char *plot = llx_test_read(svg, &n);
    CHECK(plot && strstr(plot, "<svg") && strstr(plot, "LoopLynx N=4") && strstr(plot, "BRAM36 blocks"));
    free(plot);
    llx_proc_free(&r);
}

TEST(dse_cli_json_csv_and_png, LLX_T_ASAN)
{
    const char *png = llx_test_tmpfile("front.png");
    llx_proc_result r;
    llx_cli(&r, "dse", "--model", SMALL, "--nodes", "1-2", "--vary", "channels=4,8", "--vary", "word_bytes=16,32",
            "--vary", "clock_mhz=285", "--vary", "ln_lanes=8", "--context", "100", "--json", "--quiet", "--plot", png,
            NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(r.err_len, 0);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    CHECK_MSG(j != NULL, "JSON: %s", je.text);
    json_t *front = json_object_get(j, "front"), *stats = json_object_get(j, "stats");
    CHECK(json_is_array(front) && json_array_size(front) > 0);
    CHECK(json_integer_value(json_object_get(stats, "considered")) > 0);
    json_t *p0 = json_array_get(front, 0);
    CHECK(json_is_number(json_object_get(p0, "latency_ms")) && json_object_get(json_object_get(p0, "params"), "channels"));
    CHECK(json_array_size(json_object_get(j, "paper")) == 2);
    CHECK(json_integer_value(json_object_get(j, "context")) == 100);
    json_decref(j);
    size_t n;
    char *img = llx_test_read(png, &n);
    CHECK(img && n > 1000 && memcmp(img, "\x89PNG", 4) == 0);
    free(img);
    llx_proc_free(&r);
    llx_cli(&r, "dse", "--model", SMALL, "--nodes", "1", "--vary", "channels=4,8", "--csv", "--quiet",
            "--objective", "latency", "--top", "3", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strncmp(r.out, "kind,index,nodes,nodes_per_fpga,channels,", 41) == 0);
    int rows = 0;
    for (const char *q = r.out; (q = strstr(q, "\nfront,")) != NULL; q++) rows++;
    CHECK_EQ_INT(rows, 3);
    CHECK(strstr(r.out, "\npaper,1,") != NULL);
    llx_proc_free(&r);
}

TEST(dse_cli_bad_input, LLX_T_ASAN)
{
    static const char *cases[][6] = {
        {"--plot", "x.pdf", NULL, NULL, NULL, "ending in .svg or .png"},
        {"--nodes", "4-1", NULL, NULL, NULL, "--nodes"},
        {"--objective", "fastest", NULL, NULL, NULL, "pareto, latency or tokens-per-joule"},
        {"--precision", "fp32", NULL, NULL, NULL, "W8A8 datapath only"},
        {"--vary", "channels", NULL, NULL, NULL, "KEY=V1,V2"},
        {"--vary", "nope=1", NULL, NULL, NULL, "unknown parameter"},
        {"--json", "--csv", NULL, NULL, NULL, "one at a time"},
        {"--cap", "0", NULL, NULL, NULL, "--cap"},
        {"--context", "10", "--prompt", "4", NULL, "cannot be combined"},
        {"--model", "no/such/folder", NULL, NULL, NULL, "not a preset"},
        {"--frobnicate", NULL, NULL, NULL, NULL, "unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llx_proc_result r;
        llx_cli(&r, "dse", cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
        CHECK_MSG(llx_cli_failed(&r, 2, cases[i][5]), "case %zu", i);
        llx_proc_free(&r);
    }
    llx_proc_result r;
    llx_cli(&r, "dse", "--help", NULL);
    CHECK(r.status == 0 && strstr(r.out, "--plot FILE.svg|.png"));
    llx_proc_free(&r);
}

TEST(fifo_cli_sizes_and_proves, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "fifo", "--model", SMALL, "--nodes", "2", "--context", "64", "--prove", "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    CHECK_MSG(j != NULL, "JSON: %s", je.text);
    CHECK(json_array_size(json_object_get(j, "fifos")) > 10);
    CHECK(json_real_value(json_object_get(j, "bram_saved")) > 0);
    json_t *proof = json_object_get(j, "proof");
    CHECK(json_array_size(json_object_get(proof, "stages")) == 8);
    CHECK(json_number_value(json_object_get(proof, "worst")) <= 0.005);
    json_t *sh = json_object_get(proof, "shallower");
    CHECK(json_array_size(sh) > 0);
    for (size_t i = 0; i < json_array_size(sh); i++) {
        json_t *c = json_array_get(sh, i);
        CHECK(json_integer_value(json_object_get(c, "late_firings")) > 0 || json_is_string(json_object_get(c, "deadlock")));
    }
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "fifo", "--model", SMALL, "--stage", "attn", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "score_bypass[0]") && strstr(r.out, "saved") && !strstr(r.out, "w[0]"));
    llx_proc_free(&r);
    llx_cli(&r, "fifo", "--stage", "embed", NULL);
    CHECK(llx_cli_failed(&r, 2, "not an accelerator stage"));
    llx_proc_free(&r);
    llx_cli(&r, "fifo", "--model", SMALL, "--context", "999", NULL);
    CHECK(llx_cli_failed(&r, 2, "exceeds the model's 256 positions"));
    llx_proc_free(&r);
}
