/* tests/test_cli_ppl_bench.c - `looplynx ppl` and `looplynx bench` on tiny
 * synthetic models: ppl's JSON agrees with the library's perplexity and with
 * exp(nll), --max-tokens and --ctx bound the windows; bench's JSON has the
 * speed, bytes-per-token and bandwidth fields (speeds are not asserted) and
 * sweeps; bad arguments are one error line. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "llx/engine.h"
#include "llx/quant.h"
#include "llx/bench.h"
#include "test.h"
#include "util/pool.h"

static json_t *parse_ok(const llx_proc_result *r)
{
    json_error_t e;
    json_t *j = r->status == 0 ? json_loads(r->out, 0, &e) : NULL;
    if (!j) llx_test_note("exit %d, stdout '%.200s', stderr '%.300s'", r->status, r->out, r->err);
    return j;
}

static double num(const json_t *j, const char *key) { return json_number_value(json_object_get(j, key)); }

/* The library's perplexity of the first n tokens of text, ctx-token windows. */
static int lib_ppl(const char *model, const char *text_path, int max_tokens, int ctx, llx_ppl_result *res)
{
    llx_model *m = NULL;
    llx_engine *e = NULL;
    size_t len = 0;
    char *text = llx_test_read(text_path, &len);
    int *ids = NULL, n = 0, ok = 0;
    llx_engine_opts o = llx_engine_defaults();
    o.threads = 1;
    if (text && llx_model_open(&m, model) == LLX_OK) {
        if (llx_model_kind_of(m) == LLX_MODEL_LLX) o.precision = LLX_PREC_W8A8_STATIC;
        if (llx_engine_create(&e, m, &o) == LLX_OK &&
            llx_tokenize(llx_model_tokenizer(m), text, len, &ids, &n) == LLX_OK)
            ok = llx_perplexity(e, ids, n < max_tokens ? n : max_tokens, ctx, NULL, NULL, res) == LLX_OK;
    }
    if (!ok) llx_test_note("library ppl: %s", llx_errmsg());
    free(ids);
    free(text);
    llx_engine_free(e);
    llx_model_close(m);
    return ok;
}

TEST(ppl_cli_json, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *llx = llx_tiny_llx(1), *text = llx_tiny_calib();
    if (!hf || !llx || !text) {
        CHECK(hf && llx && text);
        return;
    }
    for (int k = 0; k < 2; k++) {
        const char *m = k ? llx : hf;
        llx_proc_result r;
        llx_cli(&r, "ppl", "-m", m, "-f", text, "--ctx", "16", "--max-tokens", "200", "--json", "-t", "1", NULL);
        json_t *j = parse_ok(&r);
        CHECK(j != NULL);
        if (j) {
            CHECK(json_is_number(json_object_get(j, "nll")) && json_is_number(json_object_get(j, "ppl")));
            CHECK(json_is_integer(json_object_get(j, "tokens")));
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "tokens")), 12 * 15); /* 12 windows of 16 */
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "windows")), 12);
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "ctx")), 16);
            CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), k ? "w8a8-static" : "fp32"));
            const double nll = num(j, "nll"), ppl = num(j, "ppl");
            CHECK(nll > 0 && nll < 20);
            CHECK_CLOSE(ppl, exp(nll), 1e-4, 1e-5); /* printed with 4 and 6 decimals */
            /* a near-uniform random model: close to log(vocab) */
            CHECK_CLOSE(nll, log(300.0), 0.0, 0.1);
            llx_ppl_result lib;
            CHECK(lib_ppl(m, text, 200, 16, &lib));
            CHECK_CLOSE(nll, lib.nll, 6e-7, 0);
            CHECK_EQ_INT(lib.predictions, 180);
        }
        json_decref(j);
        llx_proc_free(&r);
    }
}

TEST(ppl_cli_max_tokens_and_default_ctx, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *text = llx_tiny_calib();
    if (!hf || !text) {
        CHECK(hf && text);
        return;
    }
    static const struct { const char *max; long tokens; int windows; } cases[] = {{"16", 15, 1}, {"40", 30, 2}, {"47", 30, 2},
                                                                                  {"48", 45, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        llx_proc_result r;
        llx_cli(&r, "ppl", "-m", hf, "-f", text, "--ctx", "16", "--max-tokens", cases[i].max, "--json", "-t", "1", NULL);
        json_t *j = parse_ok(&r);
        CHECK(j && json_integer_value(json_object_get(j, "tokens")) == cases[i].tokens &&
              json_integer_value(json_object_get(j, "windows")) == cases[i].windows);
        json_decref(j);
        llx_proc_free(&r);
    }
    /* without --ctx: the model's 32 positions (smaller than the usual 128) */
    llx_proc_result r;
    llx_cli(&r, "ppl", "-m", hf, "-f", text, "--max-tokens", "64", "--json", "-t", "1", NULL);
    json_t *j = parse_ok(&r);
    CHECK(j && json_integer_value(json_object_get(j, "ctx")) == 32 && json_integer_value(json_object_get(j, "tokens")) == 62);
    json_decref(j);
    llx_proc_free(&r);
    /* human output */
    llx_cli(&r, "ppl", "-m", hf, "-f", text, "--ctx", "16", "--max-tokens", "32", "-t", "1", NULL);
    CHECK(r.status == 0 && !strncmp(r.out, "ppl ", 4) && strstr(r.out, "over 30 predictions in 2 windows of 16"));
    llx_proc_free(&r);
}

TEST(ppl_bad_args, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *text = llx_tiny_calib();
    if (!hf || !text) {
        CHECK(hf && text);
        return;
    }
    const char *short_text = llx_test_tmpfile("ppl-short.txt");
    CHECK(llx_test_write(short_text, "a ring", 6));
    const struct { const char *args[10]; int status; const char *want; } cases[] = {
        {{"-m", hf, "-f", short_text, "--ctx", "16"}, 2, "fewer than one window of --ctx 16"},
        {{"-m", hf, "-f", text, "--ctx", "16", "--max-tokens", "15"}, 2, "fewer than one window"},
        {{"-m", hf, "-f", text, "--ctx", "33"}, 2, "--ctx 33 exceeds the model context of 32"},
        {{"-m", hf, "-f", text, "--ctx", "1"}, 2, "--ctx must be in"},
        {{"-m", hf, "-f", text, "--ctx", "abc"}, 2, "--ctx expects an integer"},
        {{"-m", hf, "-f", text, "--max-tokens", "1"}, 2, "--max-tokens must be in"},
        {{"-m", hf}, 2, "missing -f"},
        {{"-f", text}, 2, "missing -m"},
        {{"-m", hf, "-f", llx_test_tmpfile("no-such-text")}, 1, "cannot read"},
        {{"-m", llx_test_tmpfile("no-such-model"), "-f", text}, 1, "not found"},
        {{"-m", hf, "-f", text, "--bogus"}, 2, "unknown option '--bogus'"},
        {{"-m", hf, "-f", text, "--nodes", "0"}, 2, "--nodes must be in"},
        {{"-m", hf, "-f", text, "--precision", "w8a8"}, 2, "needs a .llx model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)llx_test_bin();
        argv[n++] = "ppl";
        for (int k = 0; k < 10 && cases[i].args[k]; k++) argv[n++] = (char *)cases[i].args[k];
        argv[n] = NULL;
        llx_proc_result r;
        llx_run_proc(argv, NULL, 600, &r);
        CHECK_MSG(llx_cli_failed(&r, cases[i].status, cases[i].want), "case %zu", i);
        llx_proc_free(&r);
    }
}

static void check_bench_record(const json_t *j, int nodes, long long want_bytes)
{
    CHECK(json_is_object(j));
    CHECK(num(j, "prefill_tok_s") > 0 && num(j, "decode_tok_s") > 0);
    const long long wb = json_integer_value(json_object_get(j, "weight_bytes_per_token"));
    if (want_bytes) CHECK_EQ_INT(wb, want_bytes);
    else CHECK(wb > 0);
    CHECK(json_is_number(json_object_get(j, "decode_gb_s")));
    CHECK_CLOSE(num(j, "decode_gb_s"), (double)wb * num(j, "decode_tok_s") / 1e9, 1e-3, 1e-4);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "nodes")), nodes);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "prompt")), 8);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "gen")), 4);
}

TEST(bench_cli_json, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *llx = llx_tiny_llx(1);
    if (!hf || !llx) {
        CHECK(hf && llx);
        return;
    }
    /* fp32 decode reads every matrix once: 4 bytes x (2 layers x 12 C^2 + V x C) */
    const long long fp32_bytes = 4ll * (2 * (4 * 32 * 32 + 2 * 128 * 32) + 300 * 32);
    llx_proc_result r;
    llx_cli(&r, "bench", "-m", hf, "--prompt", "8", "--gen", "4", "--reps", "2", "-t", "1", "--json", NULL);
    json_t *j = parse_ok(&r);
    check_bench_record(j, 1, fp32_bytes);
    CHECK(j && !json_object_get(j, "membw_gb_s"));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "precision")), "fp32"));
    json_decref(j);
    llx_proc_free(&r);
    /* W8A8 reads fewer bytes; --membw adds the machine's bandwidth and the
     * ratio (the smallest probe allowed: 4x the last-level cache) */
    char probe_mb[32];
    const unsigned long long llc_mb = (llx_llc_bytes() + (1u << 20) - 1) >> 20;
    snprintf(probe_mb, sizeof probe_mb, "%llu", llc_mb ? 4 * llc_mb : 32);
    llx_cli(&r, "bench", "-m", llx, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", "--json", "--membw-mb",
            probe_mb, NULL);
    j = parse_ok(&r);
    check_bench_record(j, 1, 0);
    CHECK(j && json_integer_value(json_object_get(j, "weight_bytes_per_token")) < fp32_bytes);
    CHECK(j && num(j, "membw_gb_s") > 0 && json_is_number(json_object_get(j, "decode_membw_ratio")));
    /* the probe's figure is the faster of its two patterns (one repetition: no median in between) */
    const json_t *pat = j ? json_object_get(j, "membw_patterns") : NULL;
    const double seq = num(pat, "seq"), four = num(pat, "4-stream");
    CHECK_MSG(seq > 0 && four > 0 && fabs(num(j, "membw_gb_s") - (seq > four ? seq : four)) < 0.0015,
              "patterns %.3f %.3f, probe %.3f", seq, four, num(j, "membw_gb_s"));
    CHECK(j && json_integer_value(json_object_get(j, "membw_passes")) == 3);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "precision")), "w8a8-static"));
    CHECK(j && !json_object_get(j, "handoff_round_trip_ns")); /* one thread: no handoff */
    json_decref(j);
    llx_proc_free(&r);
    /* two threads (on two CPUs or more): the handoff probe's round trip, in
     * the record and in the table */
    if (llx_cpu_count() >= 2) {
        llx_cli(&r, "bench", "-m", llx, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "2", "--json", "--membw-mb",
                probe_mb, NULL);
        j = parse_ok(&r);
        CHECK_MSG(j && num(j, "handoff_round_trip_ns") > 0, "%.400s", r.out);
        json_decref(j);
        llx_proc_free(&r);
        llx_cli(&r, "bench", "-m", llx, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "2", "--membw-mb", probe_mb,
                NULL);
        CHECK_MSG(r.status == 0 && strstr(r.out, "nodes 1 threads 2: a cache line from one probe thread to another and back in "),
                  "%.600s", r.out);
        llx_proc_free(&r);
    }
    /* the table; with the probe, a line saying what it read */
    llx_cli(&r, "bench", "-m", hf, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", NULL);
    CHECK(r.status == 0 && strstr(r.out, "pp8") && strstr(r.out, "tg4") && strstr(r.out, "| fp32"));
    CHECK(!strstr(r.out, "probe"));
    llx_proc_free(&r);
    char want[96];
    snprintf(want, sizeof want, "nodes 1 threads 1: probe %s MiB, the faster of seq ", probe_mb);
    llx_cli(&r, "bench", "-m", hf, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", "--membw-mb", probe_mb, NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, want) && strstr(r.out, " and 4-stream ") && strstr(r.out, "fastest of 3 passes"),
              "%.600s", r.out);
    llx_proc_free(&r);
}

/* The precision bench, ppl and generate report names a low-bit model's
 * scheme and activation mode, not "w8a8-static". */
TEST(bench_cli_lowbit_precision_label, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    static const char *schemes[] = {"w4a8", "w4a4"};
    for (int i = 0; i < 2; i++) {
        char out[600], want[32];
        snprintf(out, sizeof out, "%s", llx_test_tmpfile(i ? "label-w4a4.llx" : "label-w4a8.llx"));
        llx_proc_result r;
        llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--calib-tokens", "64", "--window", "16", "-t",
                "1", "--scheme", schemes[i], NULL);
        CHECK_MSG(r.status == 0, "quantize %s: exit %d, %.300s", schemes[i], r.status, r.err);
        llx_proc_free(&r);
        snprintf(want, sizeof want, "%s-static", schemes[i]);
        llx_cli(&r, "bench", "-m", out, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", "--json", NULL);
        json_t *j = parse_ok(&r);
        CHECK_MSG(j && !strcmp(json_string_value(json_object_get(j, "precision")), want), "%s: %.200s", want, r.out);
        json_decref(j);
        llx_proc_free(&r);
        char cell[40];
        snprintf(cell, sizeof cell, "| %-12s |", want);
        llx_cli(&r, "bench", "-m", out, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", NULL);
        CHECK_MSG(r.status == 0 && strstr(r.out, cell) && !strstr(r.out, "w8a8"), "table: %.300s", r.out);
        llx_proc_free(&r);
        snprintf(want, sizeof want, "%s-dynamic", schemes[i]);
        llx_cli(&r, "ppl", "-m", out, "-f", calib, "--max-tokens", "40", "--ctx", "16", "-t", "1", "--precision",
                "w8a8-dynamic", "--json", NULL);
        j = parse_ok(&r);
        CHECK_MSG(j && !strcmp(json_string_value(json_object_get(j, "precision")), want), "%s: %.200s", want, r.out);
        json_decref(j);
        llx_proc_free(&r);
    }
}

TEST(bench_cli_sweep, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf();
    if (!hf) {
        CHECK(hf != NULL);
        return;
    }
    llx_proc_result r;
    llx_cli(&r, "bench", "-m", hf, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", "--nodes", "1,2", "--json",
            NULL);
    json_t *j = parse_ok(&r), *res = json_object_get(j, "results");
    CHECK(json_is_array(res) && json_array_size(res) == 2);
    if (json_is_array(res) && json_array_size(res) == 2) {
        check_bench_record(json_array_get(res, 0), 1, 0);
        check_bench_record(json_array_get(res, 1), 2, 0);
        /* the same weights are read whatever the ring size */
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(res, 0), "weight_bytes_per_token")),
                     json_integer_value(json_object_get(json_array_get(res, 1), "weight_bytes_per_token")));
        CHECK(json_integer_value(json_object_get(json_array_get(res, 1), "ring_bytes_per_token")) > 0);
    }
    json_decref(j);
    llx_proc_free(&r);
}

/* --vs: a second model in the same run, repetitions alternating; each
 * keeps its own precision, and the ratio is taken per repetition pair (one
 * repetition: exactly the second's tok/s over the first's). */
TEST(bench_cli_vs, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *llx = llx_tiny_llx(1);
    REQUIRE(hf && llx);
    llx_proc_result r;
    llx_cli(&r, "bench", "-m", hf, "--vs", llx, "--prompt", "8", "--gen", "4", "--reps", "1", "-t", "1", "--json", NULL);
    json_t *j = parse_ok(&r), *res = json_object_get(j, "results");
    CHECK_MSG(json_is_array(res) && json_array_size(res) == 2, "%.300s", r.out);
    if (json_is_array(res) && json_array_size(res) == 2) {
        const json_t *a = json_array_get(res, 0), *b = json_array_get(res, 1);
        check_bench_record(a, 1, 0);
        check_bench_record(b, 1, 0);
        CHECK(!strcmp(json_string_value(json_object_get(a, "precision")), "fp32"));
        CHECK(!strcmp(json_string_value(json_object_get(b, "precision")), "w8a8-static"));
        CHECK(json_integer_value(json_object_get(b, "weight_bytes_per_token")) <
              json_integer_value(json_object_get(a, "weight_bytes_per_token")));
        CHECK(!json_object_get(a, "vs_decode_ratio"));
        CHECK_CLOSE(num(b, "vs_decode_ratio"), num(b, "decode_tok_s") / num(a, "decode_tok_s"), 1e-3, 2e-3);
        CHECK_CLOSE(num(b, "vs_prefill_ratio"), num(b, "prefill_tok_s") / num(a, "prefill_tok_s"), 1e-3, 2e-3);
    }
    json_decref(j);
    llx_proc_free(&r);
    /* the table names both models and the ratio line; two sweep points, two reps */
    llx_cli(&r, "bench", "-m", hf, "--vs", llx, "--prompt", "8", "--gen", "4", "--reps", "2", "-t", "1", "--nodes", "1,2",
            NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "| fp32") && strstr(r.out, "| w8a8-static"), "%.400s", r.err);
    CHECK(strstr(r.out, "nodes 1 threads 1: ") && strstr(r.out, "nodes 2 threads 1: ") &&
          strstr(r.out, "medians of per-repetition ratios): decode "));
    llx_proc_free(&r);
    llx_cli(&r, "bench", "-m", hf, "--vs", llx_test_tmpfile("no-such-model"), "--prompt", "8", NULL);
    CHECK(llx_cli_failed(&r, 1, "not found"));
    llx_proc_free(&r);
    llx_cli(&r, "bench", "-m", hf, "--prompt", "8", "--vs", NULL);
    CHECK(llx_cli_failed(&r, 2, "--vs needs a value"));
    llx_proc_free(&r);
}

TEST(bench_bad_args, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf();
    if (!hf) {
        CHECK(hf != NULL);
        return;
    }
    const struct { const char *args[8]; const char *want; } cases[] = {
        {{"--prompt", "0"}, "--prompt must be in"},
        {{"--gen", "0"}, "--gen must be in"},
        {{"--reps", "0"}, "--reps must be in"},
        {{"--prompt", "x"}, "--prompt expects an integer"},
        {{"--nodes", "0"}, "--nodes must be in"},
        {{"--nodes", "65"}, "--nodes must be in"},
        {{"--nodes", "1,,2"}, "comma-separated list"},
        {{"--nodes", "1,2,"}, "comma-separated list"},
        {{"--threads", "0"}, "--threads must be in"},
        {{"--prompt", "30", "--gen", "10"}, "exceed the model context of 32"},
        {{"--backend", "mpi"}, "threads backend only"},
        {{"--membw-mb", "0"}, "--membw-mb must be in"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--precision", "w8a8"}, "needs a .llx model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[20];
        int n = 0;
        argv[n++] = (char *)llx_test_bin();
        argv[n++] = "bench";
        argv[n++] = "-m";
        argv[n++] = (char *)hf;
        for (int k = 0; k < 8 && cases[i].args[k]; k++) argv[n++] = (char *)cases[i].args[k];
        argv[n] = NULL;
        llx_proc_result r;
        llx_run_proc(argv, NULL, 600, &r);
        CHECK_MSG(llx_cli_failed(&r, 2, cases[i].want), "case %zu", i);
        llx_proc_free(&r);
    }
    llx_proc_result r;
    llx_cli(&r, "bench", "--prompt", "8", NULL);
    CHECK(llx_cli_failed(&r, 2, "missing -m"));
    llx_proc_free(&r);
    llx_cli(&r, "bench", "-m", llx_test_tmpfile("no-such-model"), NULL);
    CHECK(llx_cli_failed(&r, 1, "not found"));
    llx_proc_free(&r);
}
