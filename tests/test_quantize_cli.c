/* tests/test_quantize_cli.c - `looplynx quantize` on a tiny synthetic model:
 * a good run writes a .llx that records its options; it never overwrites its
 * own inputs; bad options and bad files are one error line with exit 2
 * (usage) or 1 (runtime); and a failed or interrupted run leaves neither an
 * output nor a temporary file, with the inputs unchanged byte for byte. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "llx/checkpoint.h"
#include "llx/quant.h"
#include "model/llx_file.h"
#include "model/llx_model.h"
#include "rotfile_util.h"
#include "test.h"
#include "w8a8_fixtures.h"

/* The bytes of every input of a quantize run, to prove they are untouched. */
typedef struct inputs {
    char path[5][600];
    char *data[5];
    size_t len[5];
} inputs;

static int snapshot(inputs *in, const char *dir, const char *calib)
{
    static const char *const files[4] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};
    for (int i = 0; i < 5; i++) {
        if (i < 4) snprintf(in->path[i], sizeof in->path[i], "%s/%s", dir, files[i]);
        else snprintf(in->path[i], sizeof in->path[i], "%s", calib);
        in->data[i] = llx_test_read(in->path[i], &in->len[i]);
        if (!in->data[i]) return 0;
    }
    return 1;
}

static int unchanged(const inputs *in)
{
    int same = 1;
    for (int i = 0; i < 5; i++)
        if (!llx_test_same_bytes(in->path[i], in->data[i], in->len[i])) {
            llx_test_note("input %s changed", in->path[i]);
            same = 0;
        }
    return same;
}

static void release(inputs *in)
{
    for (int i = 0; i < 5; i++) free(in->data[i]);
}

/* A fresh empty folder under the run's tmpdir. */
static const char *fresh_dir(const char *name)
{
    const char *d = llx_test_tmpfile(name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", d, d);
    CHECK(system(cmd) == 0);
    return d;
}

/* stderr's last line */
static const char *last_line(const llx_proc_result *r)
{
    const char *end = r->err + r->err_len;
    if (end > r->err && end[-1] == '\n') end--;
    const char *p = end;
    while (p > r->err && p[-1] != '\n') p--;
    return p;
}

TEST(quantize_cli_help, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "quantize", "--help", NULL);
    CHECK(r.status == 0 && strstr(r.out, "usage: looplynx quantize") && r.err_len == 0);
    llx_proc_free(&r);
}

TEST(quantize_cli_writes_model, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    if (!hf || !calib) {
        CHECK(hf && calib);
        return;
    }
    inputs in;
    CHECK(snapshot(&in, hf, calib));
    const char *dir = fresh_dir("q-ok");
    char out[600];
    snprintf(out, sizeof out, "%s/tiny.llx", dir);
    CHECK(llx_test_write(out, "old junk", 8)); /* replaced, not appended to */
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--calib-tokens", "300", "--alpha", "0.3", "--act",
            "dynamic", "--smooth-v", "--window", "16", "-t", "1", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(last_line(&r), "wrote ") && strstr(last_line(&r), "tiny.llx"));
    CHECK_EQ_INT(r.out_len, 0);
    llx_proc_free(&r);
    CHECK_EQ_INT(llx_test_count_entries(dir), 1);
    CHECK(unchanged(&in));
    /* the options are recorded in the file */
    llx_cli(&r, "info", "-m", out, "--json", NULL);
    CHECK_EQ_INT(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL), *q = json_object_get(j, "quantization");
    CHECK(j && json_is_object(q));
    if (json_is_object(q)) {
        CHECK(!strcmp(json_string_value(json_object_get(q, "act")), "dynamic"));
        CHECK_CLOSE(json_real_value(json_object_get(q, "alpha")), 0.3, 1e-7, 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(q, "calib_tokens")), 300);
        CHECK(json_is_true(json_object_get(q, "smooth_v")));
        CHECK(!strcmp(json_string_value(json_object_get(j, "format")), "llx"));
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_positions")), 32);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "vocab_size")), 300);
    }
    json_decref(j);
    llx_proc_free(&r);
    release(&in);
}

/* a low-bit scheme's options are recorded in the file's scheme record and
 * shown by info */
TEST(quantize_cli_lowbit_scheme, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    const char *dir = fresh_dir("q-lowbit");
    char out[600];
    snprintf(out, sizeof out, "%s/w4a4.llx", dir);
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--calib-tokens", "300", "--window", "16", "-t", "1",
            "--scheme", "w4a4", "--group", "32", "--scales", "f16", "--method", "gptq", "--damp", "0.05", "--act-order",
            "off", "--rotate", "hadamard", "--alpha", "0", "--kv", "fp32", "--lm-head-bits", "4", NULL);
    CHECK_MSG(r.status == 0, "quantize: exit %d, %.300s", r.status, r.err);
    CHECK(strstr(last_line(&r), "wrote "));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, "--json", NULL);
    CHECK_MSG(r.status == 0, "info: exit %d, %.300s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL), *q = json_object_get(j, "quantization");
    REQUIRE(j && json_is_object(q));
    CHECK(!strcmp(json_string_value(json_object_get(q, "scheme")), "w4a4"));
    CHECK_EQ_INT(json_integer_value(json_object_get(q, "group")), 32);
    CHECK(!strcmp(json_string_value(json_object_get(q, "scales")), "f16"));
    CHECK(!strcmp(json_string_value(json_object_get(q, "method")), "gptq"));
    CHECK_CLOSE(json_real_value(json_object_get(q, "gptq_damp")), 0.05, 1e-6, 0);
    CHECK(json_is_false(json_object_get(q, "gptq_act_order")));
    CHECK(!strcmp(json_string_value(json_object_get(q, "rotate")), "hadamard"));
    CHECK(json_is_true(json_object_get(q, "online_hadamard")));
    CHECK(!strcmp(json_string_value(json_object_get(q, "kv")), "fp32"));
    CHECK_EQ_INT(json_integer_value(json_object_get(q, "lm_head_bits")), 4);
    CHECK(!strcmp(json_string_value(json_object_get(j, "storage_dtype")), "Q4"));
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, NULL);
    CHECK(r.status == 0 && strstr(r.out, "int4 per group of 32 (fp16 scales), GPTQ"));
    llx_proc_free(&r);
    /* and it generates */
    llx_cli(&r, "generate", "-m", out, "-p", "the engine", "-n", "5", "-t", "1", "--nodes", "2", NULL);
    CHECK_MSG(r.status == 0, "generate: exit %d, %.300s", r.status, r.err);
    CHECK(r.out_len > 0);
    llx_proc_free(&r);
}

/* --rotate r4 (the online R4 alone): recorded as no R1/R2 with the online
 * transform, shown by info as r4; the norms stay, so an fp32 LM head from
 * the embedding is allowed; it runs on 2 nodes; a rotation file named r4
 * is still reachable by its path; a width without a Hadamard matrix and
 * smoothing are refused. */
TEST(quantize_cli_r4, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    const char *dir = fresh_dir("q-r4");
    char out[600], rot[600], rout[600];
    snprintf(out, sizeof out, "%s/r4.llx", dir);
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--calib-tokens", "300", "--window", "16", "-t", "1",
            "--scheme", "w4a4", "--rotate", "r4", "--rotate-seed", "5", NULL);
    CHECK_MSG(r.status == 0, "quantize: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, "--json", NULL);
    CHECK_MSG(r.status == 0, "info: exit %d, %.300s", r.status, r.err);
    json_t *j = json_loads(r.out, 0, NULL), *q = json_object_get(j, "quantization");
    REQUIRE(j && json_is_object(q));
    CHECK(!strcmp(json_string_value(json_object_get(q, "rotate")), "r4"));
    CHECK(json_is_true(json_object_get(q, "online_hadamard")));
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, NULL);
    CHECK(r.status == 0 && strstr(r.out, "rotation            r4: hadamard online before down_proj only"));
    llx_proc_free(&r);
    llx_llx *f = NULL;
    REQUIRE(llx_llx_open(&f, out) == LLX_OK);
    const llx_scheme_info *si = &llx_llx_qinfo(f)->s;
    CHECK(!si->rotate && si->had_down && si->rotate_seed == 5 && !si->lm_bias && !si->rotate_hash);
    llx_llx_close(f);
    llx_cli(&r, "ppl", "-m", out, "-f", calib, "--lm-head", "fp32", "--max-tokens", "64", "-t", "1", NULL);
    CHECK_MSG(r.status == 0, "ppl --lm-head fp32: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
    llx_cli(&r, "generate", "-m", out, "-p", "the engine", "-n", "5", "-t", "1", "--nodes", "2", NULL);
    CHECK_MSG(r.status == 0 && r.out_len > 0, "generate: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
    /* a rotation file whose name is r4, given by its path */
    llx_model *m = NULL;
    REQUIRE(llx_model_open(&m, hf) == LLX_OK);
    size_t n = 0;
    uint8_t *img = llx_test_rotfile_image(&m->cfg, 3, 0, &n);
    llx_model_close(m);
    REQUIRE(img);
    snprintf(rot, sizeof rot, "%s/r4", dir);
    snprintf(rout, sizeof rout, "%s/file.llx", dir);
    REQUIRE(llx_test_write(rot, img, n));
    free(img);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", rout, "--calib-tokens", "300", "--window", "16", "-t", "1",
            "--scheme", "w4a4", "--rotate", rot, NULL);
    CHECK_MSG(r.status == 0, "quantize --rotate DIR/r4: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", rout, NULL);
    CHECK(r.status == 0 && strstr(r.out, "R1, R2 from a rotation file"));
    llx_proc_free(&r);
    /* refused: smoothing with it; F 300 has no Hadamard matrix */
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", rout, "--scheme", "w4a4", "--rotate", "r4", "--alpha",
            "0.5", NULL);
    CHECK(llx_cli_failed(&r, 2, "smoothing is not combined with --rotate or --method gptq"));
    llx_proc_free(&r);
    const char *awk = llx_fixture_awkward(1);
    REQUIRE(awk);
    llx_cli(&r, "quantize", "-m", awk, "--calib", calib, "-o", rout, "--rotate", "r4", NULL);
    CHECK(llx_cli_failed(&r, 1, "no Hadamard matrix of order 300"));
    llx_proc_free(&r);
}

/* Files out[0..n) quantized from one model with one option changed: each
 * the same size as the first and other bytes than the one before it; then
 * file `use` computes a perplexity on calib. */
static void check_variants(char (*out)[600], int n, int use, const char *calib)
{
    char *img[4] = {NULL};
    size_t len[4] = {0};
    REQUIRE(n <= 4);
    for (int i = 0; i < n; i++) img[i] = llx_test_read(out[i], &len[i]);
    for (int i = 0; i < n; i++) CHECK_MSG(img[i], "cannot read %s", out[i]);
    for (int i = 1; i < n && img[i] && img[i - 1]; i++) {
        CHECK_EQ_INT(len[i], len[0]);
        CHECK_MSG(len[i] == len[i - 1] && memcmp(img[i], img[i - 1], len[i]) != 0, "file %d equals file %d", i, i - 1);
    }
    for (int i = 0; i < n; i++) free(img[i]);
    llx_proc_result r;
    llx_cli(&r, "ppl", "-m", out[use], "-f", calib, "--ctx", "16", "--max-tokens", "64", "-t", "1", NULL);
    CHECK_MSG(r.status == 0, "ppl: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
}

/* --gptq-hessian a4 reaches GPTQ: the same W4A4 GPTQ run with the int4
 * inputs' Hessian writes other weights (same size, different bytes), and
 * the file computes a perplexity */
TEST(quantize_cli_gptq_hessian_a4, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    const char *dir = fresh_dir("q-hess-a4");
    char out[2][600];
    for (int i = 0; i < 2; i++) {
        snprintf(out[i], sizeof out[i], "%s/%s.llx", dir, i ? "a4" : "fp32");
        llx_proc_result r;
        llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out[i], "--calib-tokens", "300", "--window", "16",
                "-t", "1", "--scheme", "w4a4", "--method", "gptq", "--rotate", "hadamard", "--act-clip", "0.9",
                "--gptq-hessian", i ? "a4" : "fp32", NULL);
        CHECK_MSG(r.status == 0, "quantize: exit %d, %.300s", r.status, r.err);
        llx_proc_free(&r);
    }
    check_variants(out, 2, 1, calib);
}

/* --gptq-calib seq and asym (two fractions) reach GPTQ: each writes other
 * weights than the one-pass fp32 Hessians (same size), and the files
 * compute a perplexity */
TEST(quantize_cli_gptq_calib, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    const char *dir = fresh_dir("q-gptq-calib");
    static const char *const calibs[4] = {"fp", "seq", "asym", "asym"};
    char out[4][600];
    for (int i = 0; i < 4; i++) {
        snprintf(out[i], sizeof out[i], "%s/%d.llx", dir, i);
        llx_proc_result r;
        if (i == 3)
            llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out[i], "--calib-tokens", "300", "--window", "16",
                    "-t", "1", "--scheme", "w4a4", "--method", "gptq", "--gptq-calib", calibs[i], "--asym-alpha", "1",
                    NULL);
        else
            llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out[i], "--calib-tokens", "300", "--window", "16",
                    "-t", "1", "--scheme", "w4a4", "--method", "gptq", "--gptq-calib", calibs[i], NULL);
        CHECK_MSG(r.status == 0, "quantize %d: exit %d, %.300s", i, r.status, r.err);
        llx_proc_free(&r);
    }
    check_variants(out, 4, 2, calib);
}

/* --act-clip auto tries the grid on the calibration tokens, reports each
 * ratio's NLL and records the one of least NLL; a given ratio is recorded
 * as given; info shows both */
TEST(quantize_cli_act_clip, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    REQUIRE(hf && calib);
    const char *dir = fresh_dir("q-actclip");
    char out[600], fixed[600];
    snprintf(out, sizeof out, "%s/auto.llx", dir);
    snprintf(fixed, sizeof fixed, "%s/fixed.llx", dir);
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--calib-tokens", "300", "--window", "16", "-t", "1",
            "--scheme", "w4a4", "--rotate", "hadamard", "--act-clip", "auto", NULL);
    CHECK_MSG(r.status == 0, "quantize: exit %d, %.300s", r.status, r.err);
    /* the report: six ratios, and the least NLL's is the one recorded */
    double best = 1e30, nll;
    float ratio, chosen = 0.0f;
    int lines = 0;
    for (const char *l = strstr(r.err, "act-clip "); l; l = strstr(l + 1, "act-clip ")) {
        if (sscanf(l, "act-clip %f: calibration NLL %lf", &ratio, &nll) != 2) continue;
        lines++;
        if (nll < best) best = nll, chosen = ratio;
    }
    CHECK_EQ_INT(lines, 6);
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", out, "--json", NULL);
    json_t *j = json_loads(r.out, 0, NULL), *q = json_object_get(j, "quantization");
    REQUIRE(j && json_is_object(q));
    const double rec = json_number_value(json_object_get(q, "act_clip"));
    CHECK_MSG(fabs(rec - chosen) < 1e-6, "recorded %g, least NLL at %g", rec, (double)chosen);
    json_decref(j);
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", fixed, "--calib-tokens", "300", "--window", "16", "-t",
            "1", "--scheme", "w4a4", "--act-clip", "0.8", "--alpha", "0", NULL);
    CHECK_MSG(r.status == 0, "quantize: exit %d, %.300s", r.status, r.err);
    CHECK(!strstr(r.err, "calibration NLL"));
    llx_proc_free(&r);
    llx_cli(&r, "info", "-m", fixed, NULL);
    CHECK_MSG(r.status == 0 && strstr(r.out, "range clipped to 0.8 of min and max"), "%.400s", r.out);
    llx_proc_free(&r);
    llx_cli(&r, "ppl", "-m", fixed, "-f", calib, "--ctx", "16", "--max-tokens", "64", "-t", "1", "--nodes", "2", NULL);
    CHECK_MSG(r.status == 0, "ppl: exit %d, %.300s", r.status, r.err);
    llx_proc_free(&r);
}

/* -o naming one of the inputs, in any spelling, is refused before any work. */
TEST(quantize_bad_overwrite_inputs, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    if (!hf || !calib) {
        CHECK(hf && calib);
        return;
    }
    inputs in;
    CHECK(snapshot(&in, hf, calib));
    char link[600], slash[600], dotted[600];
    snprintf(link, sizeof link, "%s", llx_test_tmpfile("link-to-weights.llx"));
    unlink(link);
    CHECK(symlink(in.path[1], link) == 0);
    snprintf(slash, sizeof slash, "%s/", hf);
    snprintf(dotted, sizeof dotted, "%s/./vocab.json", hf);
    const struct { const char *out, *want; } cases[] = {
        {in.path[0], "refusing to overwrite the input"}, {in.path[1], "refusing to overwrite the input"},
        {in.path[2], "refusing to overwrite the input"}, {in.path[3], "refusing to overwrite the input"},
        {calib, "refusing to overwrite the calibration text"}, {hf, "is a folder"}, {slash, "is a folder"},
        {dotted, "refusing to overwrite the input"}, {link, "refusing to overwrite the input"},
    };
    const int before = llx_test_count_entries(hf);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        llx_proc_result r;
        llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", cases[i].out, "--calib-tokens", "64", NULL);
        CHECK_MSG(llx_cli_failed(&r, 2, cases[i].want), "case %zu: -o %s", i, cases[i].out);
        llx_proc_free(&r);
    }
    CHECK(unchanged(&in));
    CHECK_EQ_INT(llx_test_count_entries(hf), before); /* no temporary files either */
    /* the library says the same */
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    CHECK(llx_quantize(hf, &o, in.path[1]) == LLX_ERR_ARG && strstr(llx_errmsg(), "refusing to overwrite"));
    CHECK(llx_quantize(hf, &o, calib) == LLX_ERR_ARG);
    CHECK(unchanged(&in));
    unlink(link);
    release(&in);
}

/* Usage errors: exit 2, one line, nothing written. */
TEST(quantize_bad_options, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    if (!hf || !calib) {
        CHECK(hf && calib);
        return;
    }
    const char *dir = fresh_dir("q-opts");
    char out[600];
    snprintf(out, sizeof out, "%s/x.llx", dir);
    const struct { const char *flag, *value, *want; } cases[] = {
        {"--alpha", "1.5", "--alpha must be in [0, 1]"},  {"--alpha", "-0.1", "--alpha must be in [0, 1]"},
        {"--alpha", "abc", "--alpha expects a number"},    {"--alpha", "nan", "--alpha expects a number"},
        {"--alpha", "", "--alpha expects a number"},       {"--alpha", "0.5x", "--alpha expects a number"},
        {"--act", "bogus", "--act must be static or dynamic"}, {"--act", "", "--act must be static or dynamic"},
        {"--calib-tokens", "0", "--calib-tokens must be in"}, {"--calib-tokens", "-5", "--calib-tokens must be in"},
        {"--calib-tokens", "abc", "--calib-tokens expects an integer"},
        {"--calib-tokens", "99999999999999999999", "--calib-tokens must be in [1,"},
        {"--window", "1", "--window must be in"},          {"--threads", "0", "--threads must be in"},
        {"--bogus", "1", "unknown option '--bogus'"},
        {"--scheme", "w2a2", "--scheme must be w8a8, w4a8 or w4a4"}, {"--group", "48", "--group must be 32, 64 or 128"},
        {"--group", "256", "--group must be in"},          {"--scales", "bf16", "--scales must be f32 or f16"},
        {"--method", "awq", "--method must be rtn or gptq"}, {"--damp", "0", "--damp must be in"},
        {"--act-order", "yes", "--act-order must be on or off"}, {"--gptq-hessian", "int4", "--gptq-hessian must be fp32 or a4"},
        {"--gptq-hessian", "a4", "the int4 inputs' Hessian needs --method gptq and --scheme w4a4"}, {"--rotate", "", "--rotate must be none, hadamard, r4 or a rotation file"},
        {"--rotate", "random", "--rotate: 'random' is neither none, hadamard, r4 nor a readable rotation file"},
        {"--rotate", ".", "--rotate: '.' is neither none, hadamard, r4 nor a readable rotation file"},
        {"--kv", "int4", "--kv must be int8 or fp32"},     {"--lm-head-bits", "2", "--lm-head-bits must be 8 or 4"},
        {"--weight-clip", "0.9", "--weight-clip must be none or mse"},
        {"--act-clip", "0.4", "--act-clip must be in [0.5, 1]"}, {"--act-clip", "1.1", "--act-clip must be in [0.5, 1]"},
        {"--act-clip", "best", "--act-clip expects a number"}, {"--rotate-seed", "-1", "--rotate-seed must be in"},
        {"--gptq-calib", "exact", "--gptq-calib must be fp, seq or asym"}, {"--asym-alpha", "0", "--asym-alpha must be in"},
        {"--asym-alpha", "1.5", "--asym-alpha must be in"}, {"--asym-alpha", "x", "--asym-alpha expects a number"},
        {"--asym-alpha", "0.5", "--asym-alpha needs --gptq-calib asym"},
        {"--gptq-calib", "seq", "sequential GPTQ calibration needs --method gptq"},
        /* combinations the scheme refuses (default w8a8) */
        {"--group", "32", "weight groups need int4 weights"}, {"--lm-head-bits", "4", "an int4 LM head needs an int4 scheme"},
        {"--scales", "f16", "fp16 scales need int4 weights"},
        {"--weight-clip", "mse", "weight clipping needs int4 weights"},
        {"--act-clip", "0.9", "activation clipping needs int4 activations (--scheme w4a4)"},
        {"--act-clip", "auto", "activation clipping needs int4 activations (--scheme w4a4)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        llx_proc_result r;
        llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, cases[i].flag, cases[i].value, NULL);
        CHECK_MSG(llx_cli_failed(&r, 2, cases[i].want), "case %s %s", cases[i].flag, cases[i].value);
        llx_proc_free(&r);
    }
    llx_proc_result r;
    /* smoothing asked for with GPTQ; a group wider than a matrix's input */
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--scheme", "w4a8", "--method", "gptq", "--alpha",
            "0.5", NULL);
    CHECK(llx_cli_failed(&r, 2, "smoothing is not combined with --rotate or --method gptq"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--scheme", "w4a8", "--group", "64", NULL);
    CHECK(llx_cli_failed(&r, 2, "the weight group does not divide an input width"));
    llx_proc_free(&r);
    /* the sequential Hessian is already the quantized model's int4 inputs' */
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", out, "--scheme", "w4a4", "--method", "gptq",
            "--gptq-calib", "asym", "--gptq-hessian", "a4", NULL);
    CHECK(llx_cli_failed(&r, 2, "--gptq-calib seq|asym already takes the quantized model's int4 inputs"));
    llx_proc_free(&r);
    /* a width with no known Hadamard matrix (F 300 = 4 * 75) */
    const char *awk = llx_fixture_awkward(1);
    REQUIRE(awk);
    llx_cli(&r, "quantize", "-m", awk, "--calib", calib, "-o", out, "--rotate", "hadamard", NULL);
    CHECK(llx_cli_failed(&r, 1, "no Hadamard matrix of order 300"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, NULL);
    CHECK(llx_cli_failed(&r, 2, "missing -o"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 2, "missing --calib"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "--calib", calib, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 2, "missing -m"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", NULL);
    CHECK(llx_cli_failed(&r, 2, "-o needs a value"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", "", NULL);
    CHECK(llx_cli_failed(&r, 2, "output file name is empty"));
    llx_proc_free(&r);
    CHECK_EQ_INT(llx_test_count_entries(dir), 0);
    /* the library checks the same ranges */
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.alpha = 1.5f;
    CHECK(llx_quantize(hf, &o, out) == LLX_ERR_ARG && strstr(llx_errmsg(), "alpha"));
    o.alpha = 0.5f, o.act_mode = 3;
    CHECK(llx_quantize(hf, &o, out) == LLX_ERR_ARG && strstr(llx_errmsg(), "activation mode"));
    o.act_mode = 1, o.calib_tokens = -1;
    CHECK(llx_quantize(hf, &o, out) == LLX_ERR_ARG);
    o.calib_tokens = 0, o.calib_path = NULL;
    CHECK(llx_quantize(hf, &o, out) == LLX_ERR_ARG && strstr(llx_errmsg(), "calibration text"));
    CHECK_EQ_INT(llx_test_count_entries(dir), 0);
}

/* Runtime failures: exit 1 (or 2 for unusable inputs), one line, and the
 * output folder stays empty. */
TEST(quantize_bad_runtime, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib(), *q = llx_tiny_llx(1);
    if (!hf || !calib || !q) {
        CHECK(hf && calib && q);
        return;
    }
    inputs in;
    CHECK(snapshot(&in, hf, calib));
    const char *dir = fresh_dir("q-runtime");
    char out[600], nodir[700], fifo[600], tiny_text[600], empty_text[600];
    snprintf(out, sizeof out, "%s/x.llx", dir);
    snprintf(nodir, sizeof nodir, "%s/missing/x.llx", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", llx_test_tmpfile("q-fifo"));
    snprintf(tiny_text, sizeof tiny_text, "%s", llx_test_tmpfile("one-token.txt"));
    snprintf(empty_text, sizeof empty_text, "%s", llx_test_tmpfile("empty.txt"));
    CHECK(llx_test_write(tiny_text, "a", 1) && llx_test_write(empty_text, "", 0));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && rm -f '%s' && mkfifo '%s'", llx_test_tmpfile("q-fifo"), fifo, fifo);
    CHECK(system(cmd) == 0);
    llx_proc_result r;
    llx_cli(&r, "quantize", "-m", hf, "--calib", llx_test_tmpfile("no-such-calib.txt"), "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 1, "no-such-calib.txt"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", nodir, NULL);
    CHECK(llx_cli_failed(&r, 1, "does not exist"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", llx_test_tmpfile("no-such-model"), "--calib", calib, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 1, "not found"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", tiny_text, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 2, "fewer than 2 tokens"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", empty_text, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 2, "fewer than 2 tokens"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", calib, "-o", fifo, NULL);
    CHECK(llx_cli_failed(&r, 2, "not a regular file"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", q, "--calib", calib, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 2, "needs a HuggingFace model folder"));
    llx_proc_free(&r);
    llx_cli(&r, "quantize", "-m", hf, "--calib", hf, "-o", out, NULL);
    CHECK(llx_cli_failed(&r, 1, "not a regular file"));
    llx_proc_free(&r);
    CHECK_EQ_INT(llx_test_count_entries(dir), 0);
    CHECK(unchanged(&in));
    release(&in);
}

/* A cancel flag already set: the library stops before writing anything, and
 * a writer stopped part-way removes its temporary file. */
TEST(quantize_bad_cancelled, LLX_T_ASAN)
{
    const char *hf = llx_tiny_hf(), *calib = llx_tiny_calib();
    if (!hf || !calib) {
        CHECK(hf && calib);
        return;
    }
    const char *dir = fresh_dir("q-cancel");
    char out[600];
    snprintf(out, sizeof out, "%s/x.llx", dir);
    static volatile sig_atomic_t flag = 1;
    llx_quant_opts o = llx_quant_defaults();
    o.calib_path = calib;
    o.cancel = &flag;
    CHECK(llx_quantize(hf, &o, out) == LLX_ERR_CANCELLED && strstr(llx_errmsg(), "interrupted"));
    CHECK_EQ_INT(llx_test_count_entries(dir), 0);
    const llx_config c = {.n_vocab = 256, .n_ctx = 4, .n_embd = 4, .n_layer = 1, .n_head = 2, .n_inner = 8, .ln_eps = 1e-5f};
    const llx_qinfo qi = {.act_mode = 1, .alpha = 0.5f, .calib_tokens = 1};
    llx_llx_writer *w = NULL;
    CHECK(llx_llx_writer_create(&w, &c, &qi) == LLX_OK);
    if (!w) return;
    CHECK(llx_llx_add(w, "t", LLX_DT_F32, 4, 0, calloc(4, 4)) == LLX_OK);
    llx_llx_writer_set_cancel(w, &flag);
    CHECK(llx_llx_write(w, out) == LLX_ERR_CANCELLED);
    CHECK_EQ_INT(llx_test_count_entries(dir), 0);
}

/* Run argv; once stderr contains `wait_for`, send sig.  Captures stderr. */
static int run_interrupted(char *const argv[], const char *wait_for, int sig, char *err, size_t cap)
{
    int perr[2];
    if (pipe(perr)) return -1;
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1), dup2(perr[1], 2);
        close(perr[0]), close(perr[1]), close(null);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(perr[1]);
    size_t n = 0;
    int sent = 0;
    const time_t deadline = time(NULL) + 120;
    for (;;) {
        struct pollfd p = {perr[0], POLLIN, 0};
        if (poll(&p, 1, 200) < 0 || time(NULL) > deadline) break;
        if (!(p.revents & (POLLIN | POLLHUP))) continue;
        const ssize_t got = read(perr[0], err + n, cap - 1 - n);
        if (got <= 0) break;
        n += (size_t)got;
        err[n] = 0;
        if (!sent && strstr(err, wait_for)) {
            kill(pid, sig);
            sent = 1;
        }
    }
    close(perr[0]);
    int st = 0;
    if (!sent) kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* SIGINT / SIGTERM during calibration: a clean stop, nothing left behind. */
TEST(quantize_bad_interrupted, LLX_T_ASAN)
{
    const char *calib = llx_tiny_calib();
    const char *hf = llx_test_tmpfile("q-slow");
    const llx_config c = {.n_vocab = 512, .n_ctx = 256, .n_embd = 128, .n_layer = 2, .n_head = 4, .n_inner = 512, .ln_eps = 1e-5f}; /* slow enough to catch: seconds of calibration */
    CHECK(calib && llx_synth_write(hf, &c, 5, "F32", NULL) == LLX_OK);
    if (!calib) return;
    /* ten copies of the calibration text: far more work than the test waits for */
    size_t len = 0;
    char *text = llx_test_read(calib, &len);
    const char *big = llx_test_tmpfile("q-slow-calib.txt");
    FILE *f = fopen(big, "wb");
    for (int i = 0; f && text && i < 10; i++) fwrite(text, 1, len, f);
    if (f) fclose(f);
    free(text);
    calib = big;
    inputs in;
    CHECK(snapshot(&in, hf, calib));
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        const char *dir = fresh_dir(k ? "q-int-term" : "q-int");
        char out[600], bin[600], err[8192];
        snprintf(out, sizeof out, "%s/x.llx", dir);
        snprintf(bin, sizeof bin, "%s", llx_test_bin());
        char *argv[] = {bin,   "quantize", "-m",     (char *)hf, "--calib", (char *)calib, "-o", out,
                        "-t",  "1",        "--window", "256",    "--calib-tokens", "1000000", NULL};
        const int status = run_interrupted(argv, "calibrate", sigs[k], err, sizeof err);
        CHECK_EQ_INT(status, 128 + sigs[k]);
        CHECK_MSG(strstr(err, "looplynx: error: quantize: interrupted") != NULL, "stderr: %s", err);
        CHECK_EQ_INT(llx_test_count_entries(dir), 0);
    }
    CHECK(unchanged(&in));
    release(&in);
}
