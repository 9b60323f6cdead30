/* tests/test_cli_generate.c - `looplynx generate` as a child process on tiny
 * synthetic models (fp32 folder and W8A8 .llx): the JSON record, the
 * streamed text against it, determinism over node counts, seeds and prompt
 * sources, -n, and one error line with a non-zero exit for every bad input.
 * Also the top-level command: --help of every subcommand, --version, no
 * arguments, an unknown subcommand. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "test.h"

#define MAX_ARGS 40

/* Run the CLI with a NULL-terminated argument list (and optional stdin). */
static void run(llx_proc_result *r, const char *stdin_text, const char *const *args)
{
    char *argv[MAX_ARGS + 2];
    int n = 0;
    argv[n++] = (char *)llx_test_bin();
    for (int i = 0; args[i] && n < MAX_ARGS; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    if (llx_test_verbose) {
        printf("  $");
        for (int i = 0; i < n; i++) printf(" %s", argv[i]);
        printf("\n");
    }
    llx_run_proc(argv, stdin_text, 600.0, r);
}

/* generate ... --json: the parsed object (NULL, noted, on failure). */
static json_t *gen_json(const char *stdin_text, const char *const *args)
{
    const char *full[MAX_ARGS];
    int n = 0;
    int threads = 0;
    full[n++] = "generate";
    for (int i = 0; args[i] && n < MAX_ARGS - 4; i++) {
        threads |= !strcmp(args[i], "--threads");
        full[n++] = args[i];
    }
    if (!threads) full[n++] = "--threads", full[n++] = "1"; /* tiny models: one thread is fastest */
    full[n++] = "--json";
    full[n] = NULL;
    llx_proc_result r;
    run(&r, stdin_text, full);
    json_error_t err;
    json_t *j = r.status == 0 ? json_loads(r.out, JSON_ALLOW_NUL, &err) : NULL;
    if (r.status != 0) llx_test_note("generate failed (%d): %s", r.status, r.err);
    else if (!j) llx_test_note("invalid JSON (%s): %.200s", err.text, r.out);
    llx_proc_free(&r);
    return j;
}

/* The "tokens" array as a string "1 2 3" (for comparisons and notes). */
static void tokens_str(const json_t *j, const char *key, char *buf, size_t cap)
{
    const json_t *a = json_object_get(j, key);
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a) && n + 16 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? " " : "", json_integer_value(json_array_get(a, i)));
}

/* Length of the well-formed UTF-8 character at p (0 when none). */
static int utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    int len = p[0] >= 0xC2 && p[0] <= 0xDF ? 2 : p[0] >= 0xE0 && p[0] <= 0xEF ? 3 : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : 0;
    if (!len || n < (size_t)len) return 0;
    const unsigned char lo = p[0] == 0xE0 ? 0xA0 : p[0] == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = p[0] == 0xED ? 0x9F : p[0] == 0xF4 ? 0x8F : 0xBF;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return len;
}

/* What a JSON parser reads back for raw bytes written by the CLI: whole
 * characters as they are, any other byte b as the character U+00b. */
static size_t json_view(const char *raw, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)raw;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        const int len = utf8_len(u + i, n - i);
        if (len) {
            memcpy(out + w, raw + i, (size_t)len);
            w += (size_t)len, i += (size_t)len;
        } else {
            out[w++] = (char)(0xC0 | (u[i] >> 6));
            out[w++] = (char)(0x80 | (u[i] & 0x3F));
            i++;
        }
    }
    return w;
}

static const char *tiny(void)
{
    const char *d = llx_tiny_hf();
    CHECK(d != NULL);
    return d;
}

TEST(generate_cli_json_fields, LLX_T_ASAN)
{
    const char *hf = tiny(), *llx = llx_tiny_llx(1), *dyn = llx_tiny_llx(2);
    REQUIRE(hf && llx && dyn);
    json_t *j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "the ring", "-n", "6", "--seed", "7", NULL});
    CHECK(j != NULL);
    if (j) {
        const json_t *pt = json_object_get(j, "prompt_tokens"), *t = json_object_get(j, "tokens");
        CHECK(json_is_array(pt) && json_array_size(pt) > 0 && json_is_array(t) && json_array_size(t) == 6);
        for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++) {
            const json_int_t id = json_integer_value(json_array_get(t, i));
            CHECK(json_is_integer(json_array_get(t, i)) && id >= 0 && id < 300);
        }
        CHECK(json_is_string(json_object_get(j, "text")));
        CHECK(json_is_number(json_object_get(j, "prefill_ms")) && json_number_value(json_object_get(j, "prefill_ms")) >= 0);
        CHECK(json_is_number(json_object_get(j, "decode_ms_per_token")) &&
              json_number_value(json_object_get(j, "decode_ms_per_token")) >= 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "seed")), 7);
        CHECK_EQ_INT(json_integer_value(json_object_get(j, "nodes")), 1);
        CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), "fp32"));
        CHECK(json_is_false(json_object_get(j, "stopped_eot")));
        /* prompt_tokens are what `tokenize` says */
        char want[256], got[256];
        tokens_str(j, "prompt_tokens", got, sizeof got);
        llx_proc_result r;
        llx_cli(&r, "tokenize", "-m", hf, "-p", "the ring", "--json", NULL);
        json_t *tj = json_loads(r.out, 0, NULL);
        tokens_str(tj, "tokens", want, sizeof want);
        CHECK_MSG(!strcmp(got, want), "prompt_tokens '%s' vs tokenize '%s'", got, want);
        json_decref(tj);
        llx_proc_free(&r);
    }
    json_decref(j);
    /* the precision follows the model unless chosen */
    static const struct { int which; const char *flag, *want; } cases[] = {
        {1, NULL, "w8a8-static"}, {2, NULL, "w8a8-dynamic"}, {1, "w8a8-dynamic", "w8a8-dynamic"},
        {2, "w8a8-static", "w8a8-static"}, {1, "w8a8", "w8a8-static"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *m = cases[i].which == 2 ? dyn : llx;
        j = cases[i].flag ? gen_json(NULL, (const char *[]){"-m", m, "-p", "a", "-n", "2", "--precision", cases[i].flag, NULL})
                          : gen_json(NULL, (const char *[]){"-m", m, "-p", "a", "-n", "2", NULL});
        CHECK(j && !strcmp(json_string_value(json_object_get(j, "precision")), cases[i].want));
        json_decref(j);
    }
}

/* The streamed text is the prompt, then exactly the JSON's text, then a
 * newline; and `tokenize --decode` of the JSON's tokens gives those bytes. */
TEST(generate_cli_stream_matches_json, LLX_T_ASAN)
{
    const char *hf = tiny(), *llx = llx_tiny_llx(1);
    REQUIRE(hf && llx);
    static const char prompt[] = "a node \xc3\xa9";
    int compared = 0, odd_bytes = 0;
    for (int k = 0; k < 6; k++) {
        const char *m = k % 2 ? llx : hf;
        char seed[16];
        snprintf(seed, sizeof seed, "%d", 100 + k);
        const char *args[] = {"-m", m, "-p", prompt, "-n", "20", "--seed", seed, "--temp", "1.5", "--top-k", "0", NULL};
        json_t *j = gen_json(NULL, args);
        llx_proc_result r;
        run(&r, NULL, (const char *[]){"generate", "-m", m, "-p", prompt, "-n", "20", "--seed", seed, "--temp", "1.5",
                                      "--top-k", "0", "--threads", "1", NULL});
        const size_t pl = sizeof prompt - 1;
        CHECK(r.status == 0 && r.out_len > pl && !memcmp(r.out, prompt, pl) && r.out[r.out_len - 1] == '\n');
        CHECK(strstr(r.err, "prefill:") != NULL);
        if (j && r.status == 0 && r.out_len > pl) {
            const char *gen = r.out + pl;
            const size_t gl = r.out_len - pl - 1;
            char *view = malloc(2 * gl + 1);
            const size_t vl = json_view(gen, gl, view);
            const json_t *text = json_object_get(j, "text");
            CHECK_MSG(json_string_length(text) == vl && !memcmp(json_string_value(text), view, vl),
                      "seed %s: streamed text differs from the JSON text", seed);
            odd_bytes += vl != gl;
            free(view);
            /* the same bytes from the token ids */
            char ids[512];
            tokens_str(j, "tokens", ids, sizeof ids);
            llx_proc_result d;
            llx_cli(&d, "tokenize", "-m", m, "--decode", ids, NULL);
            CHECK(d.status == 0 && d.out_len == gl && !memcmp(d.out, gen, gl));
            llx_proc_free(&d);
            compared++;
        }
        llx_proc_free(&r);
        json_decref(j);
    }
    CHECK_EQ_INT(compared, 6);
    llx_test_note("%d of 6 outputs held bytes that are not UTF-8 characters", odd_bytes);
}

/* Bit-identical logits for every node count: the same greedy and the same
 * seeded samples for 1, 2, 3 and 5 nodes (5 > the 4 heads), and for any
 * thread count. */
TEST(generate_cli_nodes_identical, LLX_T_ASAN)
{
    const char *hf = tiny(), *llx = llx_tiny_llx(1);
    REQUIRE(hf && llx);
    for (int k = 0; k < 4; k++) {
        const char *m = k % 2 ? llx : hf;
        const int greedy = k < 2;
        char first[512] = "", got[512];
        static const char *const nodes[] = {"1", "2", "3", "5"};
        for (int n = 0; n < 4; n++) {
            const char *args[] = {"-m", m, "-p", "the weights stream", "-n", "12", "--nodes", nodes[n], "--threads",
                                  n == 2 ? "2" : "1", greedy ? "--greedy" : "--seed", greedy ? NULL : "42", NULL};
            json_t *j = gen_json(NULL, args);
            CHECK(j != NULL);
            tokens_str(j, "tokens", got, sizeof got);
            CHECK(j && json_integer_value(json_object_get(j, "nodes")) == atoi(nodes[n]));
            if (n == 0) snprintf(first, sizeof first, "%s", got);
            else CHECK_MSG(!strcmp(first, got), "%s %s: nodes %s gave '%s', 1 node '%s'", m, greedy ? "greedy" : "seed 42",
                           nodes[n], got, first);
            json_decref(j);
        }
    }
}

/* The shared model, where greedy text is not degenerate: same for 1-3 nodes. */
TEST(generate_nodes_shakespeare_greedy, LLX_T_ASAN)
{
    const char *dir = llx_test_model_dir();
    if (!dir) SKIP("shared shakespeare-gpt2 model not found");
    char first[512] = "", got[512];
    for (int n = 1; n <= 3; n++) {
        char ns[4];
        snprintf(ns, sizeof ns, "%d", n);
        json_t *j = gen_json(NULL, (const char *[]){"-m", dir, "-p", "ROMEO:", "-n", "16", "--greedy", "--nodes", ns,
                                                   "--threads", "1", NULL});
        CHECK(j != NULL);
        tokens_str(j, "tokens", got, sizeof got);
        if (n == 1) snprintf(first, sizeof first, "%s", got);
        else CHECK_MSG(!strcmp(first, got), "nodes %d: '%s' vs '%s'", n, got, first);
        json_decref(j);
    }
}

TEST(generate_cli_seed, LLX_T_ASAN)
{
    const char *hf = tiny();
    REQUIRE(hf);
    char a[512], b[512], seqs[5][512];
    json_t *j1 = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "16", "--seed", "9", NULL});
    json_t *j2 = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "16", "--seed", "9", NULL});
    tokens_str(j1, "tokens", a, sizeof a);
    tokens_str(j2, "tokens", b, sizeof b);
    CHECK(j1 && j2 && a[0] && !strcmp(a, b));
    CHECK(j1 && j2 && !strcmp(json_string_value(json_object_get(j1, "text")), json_string_value(json_object_get(j2, "text"))));
    json_decref(j1);
    json_decref(j2);
    int distinct = 0;
    for (int s = 0; s < 5; s++) {
        char seed[16];
        snprintf(seed, sizeof seed, "%d", s + 1);
        json_t *j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "16", "--seed", seed, "--temp", "1",
                                                   "--top-k", "0", "--top-p", "1", NULL});
        tokens_str(j, "tokens", seqs[s], sizeof seqs[s]);
        int seen = 0;
        for (int t = 0; t < s; t++) seen |= !strcmp(seqs[t], seqs[s]);
        distinct += !seen;
        json_decref(j);
    }
    CHECK_MSG(distinct >= 4, "only %d distinct sequences from 5 seeds", distinct);
    /* no --seed: the seed used is reported, and replaying it gives the same tokens */
    json_t *j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "8", NULL});
    CHECK(j && json_is_integer(json_object_get(j, "seed")));
    if (j) {
        char seed[32];
        snprintf(seed, sizeof seed, "%lld", json_integer_value(json_object_get(j, "seed")));
        json_t *again = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "8", "--seed", seed, NULL});
        tokens_str(j, "tokens", a, sizeof a);
        tokens_str(again, "tokens", b, sizeof b);
        CHECK(again && !strcmp(a, b));
        json_decref(again);
    }
    json_decref(j);
    /* the largest seed is echoed exactly */
    j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "a ring", "-n", "2", "--seed", "9223372036854775807", NULL});
    CHECK(j && json_integer_value(json_object_get(j, "seed")) == 9223372036854775807LL);
    json_decref(j);
}

TEST(generate_cli_prompt_sources, LLX_T_ASAN)
{
    const char *hf = tiny();
    REQUIRE(hf);
    static const char prompt[] = "nodes and tokens\nquickly";
    const char *file = llx_test_tmpfile("gen-prompt.txt");
    CHECK(llx_test_write(file, prompt, sizeof prompt - 1));
    json_t *js[4] = {
        gen_json(NULL, (const char *[]){"-m", hf, "-p", prompt, "-n", "5", "--seed", "3", NULL}),
        gen_json(NULL, (const char *[]){"-m", hf, "-f", file, "-n", "5", "--seed", "3", NULL}),
        gen_json(prompt, (const char *[]){"-m", hf, "-n", "5", "--seed", "3", NULL}),
        gen_json(prompt, (const char *[]){"-m", hf, "-f", "-", "-n", "5", "--seed", "3", NULL}),
    };
    char p0[256], t0[256], p[256], t[256];
    tokens_str(js[0], "prompt_tokens", p0, sizeof p0);
    tokens_str(js[0], "tokens", t0, sizeof t0);
    CHECK(js[0] && p0[0] && t0[0]);
    for (int i = 1; i < 4; i++) {
        tokens_str(js[i], "prompt_tokens", p, sizeof p);
        tokens_str(js[i], "tokens", t, sizeof t);
        CHECK_MSG(js[i] && !strcmp(p, p0) && !strcmp(t, t0), "source %d: prompt '%s' tokens '%s'", i, p, t);
    }
    for (int i = 0; i < 4; i++) json_decref(js[i]);
}

/* -n N gives N tokens (the tiny vocabulary has no end-of-text token), up to
 * the context: prompt + N - 1 positions must fit n_ctx = 32.  Asking for
 * more is not an error: generation stops when the context is full, prints
 * what it made, says so in one stderr line and exits 0 ("stop": "length";
 * "n" when -n was reached). */
/* the "stop" field of a generate --json result, "" when absent (no strcmp on NULL) */
static const char *stop_of(const json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "stop"));
    return s ? s : "";
}

TEST(generate_cli_n_tokens, LLX_T_ASAN)
{
    const char *hf = tiny();
    REQUIRE(hf);
    static const char *const ns[] = {"1", "2", "7"};
    for (int i = 0; i < 3; i++) {
        json_t *j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "ab", "-n", ns[i], "--seed", "1", NULL});
        CHECK(j && (int)json_array_size(json_object_get(j, "tokens")) == atoi(ns[i]));
        CHECK(j && !strcmp(stop_of(j), "n"));
        json_decref(j);
    }
    json_t *j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "the ring of nodes", "-n", "1", "--greedy", NULL});
    const int np = j ? (int)json_array_size(json_object_get(j, "prompt_tokens")) : 0;
    CHECK(np > 1);
    json_decref(j);
    char fit[16], over[16], note[160];
    snprintf(fit, sizeof fit, "%d", 33 - np);
    snprintf(over, sizeof over, "%d", 34 - np);
    j = gen_json(NULL, (const char *[]){"-m", hf, "-p", "the ring of nodes", "-n", fit, "--greedy", NULL});
    CHECK(j && (int)json_array_size(json_object_get(j, "tokens")) == 33 - np);
    CHECK(j && !strcmp(stop_of(j), "n"));
    json_decref(j);
    /* one more than fits: the same tokens, "stop": "length", one note */
    llx_proc_result r;
    llx_cli(&r, "generate", "-m", hf, "-p", "the ring of nodes", "-n", over, "--greedy", "--json", NULL);
    snprintf(note, sizeof note, "looplynx: note: the context of 32 tokens is full: generated %d of the %d tokens asked "
             "for\n", 33 - np, 34 - np);
    CHECK_MSG(r.status == 0 && !strcmp(r.err, note), "exit %d, stderr: %s", r.status, r.err);
    j = json_loads(r.out, 0, NULL);
    CHECK(j && (int)json_array_size(json_object_get(j, "tokens")) == 33 - np);
    CHECK(j && !strcmp(stop_of(j), "length"));
    json_decref(j);
    llx_proc_free(&r);
    /* streamed: the prompt, the text, a newline; the note and the timing line on stderr */
    llx_cli(&r, "generate", "-m", hf, "-p", "the ring of nodes", "-n", "400", "--greedy", NULL);
    snprintf(note, sizeof note, "looplynx: note: the context of 32 tokens is full: generated %d of the 400 tokens "
             "asked for\n", 33 - np);
    CHECK_MSG(r.status == 0 && !strncmp(r.out, "the ring of nodes", 17) && r.out_len > 18 &&
                  r.out[r.out_len - 1] == '\n' && !strncmp(r.err, note, strlen(note)) && strstr(r.err, "prefill:"),
              "exit %d, stdout '%s', stderr '%s'", r.status, r.out, r.err);
    llx_proc_free(&r);
    /* the default -n (128) works on a model with a 32-token context */
    llx_cli(&r, "generate", "-m", hf, "-p", "the ring of nodes", "--greedy", "--json", NULL);
    j = json_loads(r.out, 0, NULL);
    CHECK_MSG(r.status == 0 && j && !strcmp(stop_of(j), "length") &&
                  (int)json_array_size(json_object_get(j, "tokens")) == 33 - np,
              "default -n: exit %d, %s", r.status, r.err);
    json_decref(j);
    llx_proc_free(&r);
    /* --ctx-size shrinks the context */
    char ctx[16];
    snprintf(ctx, sizeof ctx, "%d", np + 3);
    llx_cli(&r, "generate", "-m", hf, "-p", "the ring of nodes", "-n", "8", "--ctx-size", ctx, "--greedy", "--json", NULL);
    j = json_loads(r.out, 0, NULL);
    CHECK_MSG(r.status == 0 && j && (int)json_array_size(json_object_get(j, "tokens")) == 4 &&
                  strstr(r.err, "tokens is full: generated 4 of the 8 tokens"),
              "--ctx-size %s: exit %d, %s", ctx, r.status, r.err);
    json_decref(j);
    llx_proc_free(&r);
    /* a prompt that does not fit at all is still refused */
    llx_cli(&r, "generate", "-m", hf, "-p", "the ring of nodes", "--ctx-size", "3", NULL);
    CHECK(llx_cli_failed(&r, 2, "does not fit the context of 3 tokens"));
    llx_proc_free(&r);
}

/* Every bad argument: one line, non-zero exit (2 for usage), no crash. */
TEST(generate_bad_args, LLX_T_ASAN)
{
    const char *hf = tiny(), *llx = llx_tiny_llx(1);
    REQUIRE(hf && llx);
    const char *file = llx_test_tmpfile("gen-bad-prompt.txt");
    CHECK(llx_test_write(file, "hello", 5));
    char long_prompt[2048] = "";
    for (int i = 0; i < 60; i++) strcat(long_prompt, "tokens quickly ");
    const struct { const char *args[12]; int status; const char *want; } cases[] = {
        {{"-p", "hi"}, 2, "missing -m MODEL"},
        {{"-m", llx_test_tmpfile("no-model"), "-p", "hi"}, 1, "not found: the path does not exist"},
        {{"-m", "/dev/null", "-p", "hi"}, 1, "'/dev/null' is neither a folder nor a regular file"},
        {{"-m", hf, "-p", ""}, 2, "the prompt is empty"},
        {{"-m", hf, "-p", long_prompt}, 2, "does not fit the context of 32 tokens"},
        {{"-m", hf, "-p", "hi", "-n", "0"}, 2, "-n must be in [1,"},
        {{"-m", hf, "-p", "hi", "-n", "-5"}, 2, "-n must be in [1,"},
        {{"-m", hf, "-p", "hi", "-n", "abc"}, 2, "-n expects an integer, got 'abc'"},
        {{"-m", hf, "-p", "hi", "-n", ""}, 2, "-n expects an integer"},
        {{"-m", hf, "-p", "hi", "-n"}, 2, "-n needs a value"},
        {{"-m", hf, "-p", "hi", "--temp", "-1"}, 2, "--temp must be in"},
        {{"-m", hf, "-p", "hi", "--temp", "inf"}, 2, "--temp expects a number"},
        {{"-m", hf, "-p", "hi", "--top-p", "0"}, 2, "--top-p must be in"},
        {{"-m", hf, "-p", "hi", "--top-p", "1.5"}, 2, "--top-p must be in"},
        {{"-m", hf, "-p", "hi", "--top-k", "-1"}, 2, "--top-k must be in"},
        {{"-m", hf, "-p", "hi", "--threads", "0"}, 2, "--threads must be in"},
        {{"-m", hf, "-p", "hi", "--nodes", "0"}, 2, "--nodes must be in [1, 64]"},
        {{"-m", hf, "-p", "hi", "--nodes", "65"}, 2, "--nodes must be in [1, 64]"},
        {{"-m", hf, "-p", "hi", "--seed", "-1"}, 2, "--seed must be in [0, 9223372036854775807], got -1"},
        {{"-m", hf, "-p", "hi", "--frobnicate"}, 2, "unknown option '--frobnicate'"},
        {{"-m", llx, "-p", "hi", "--precision", "fp32"}, 2, "--precision fp32 needs a HuggingFace folder"},
        {{"-m", hf, "-p", "hi", "--precision", "w8a8"}, 2, "--precision w8a8 needs a .llx model"},
        {{"-m", hf, "-p", "hi", "--precision", "int4"}, 2, "--precision must be"},
        {{"-m", hf, "-p", "hi", "--kernels", "bogus"}, 2, "--kernels must be auto, ref, avx2, avx512, amx or amx-emu"},
        {{"-m", hf, "-p", "hi", "--backend", "carrier-pigeon"}, 2, "--backend must be"},
        {{"-m", hf, "-p", "hi", "-f", file}, 2, "not both"},
        {{"-m", hf, "-f", llx_test_tmpfile("no-prompt.txt")}, 1, "cannot open prompt file"},
        {{"-m", hf, "-f", llx_test_tmpdir()}, 1, "cannot read prompt file '"},
        {{"-m", hf, "-f", llx_test_tmpdir()}, 1, "it is a folder"},
        {{"-m", hf, "-p", "hi", "--seed", "18446744073709551615"}, 2,
         "--seed must be in [0, 9223372036854775807], got 18446744073709551615"},
        {{"-m", hf, "-p", "hi", "--seed", "1e3"}, 2, "--seed expects an integer, got '1e3'"},
        /* refused before the prompt is echoed: stdout stays empty */
        {{"-m", hf, "-p", "hi", "--dump-logits", llx_test_tmpfile("no-dir/logits.f32")}, 1, "cannot write '"},
        {{"-m", hf, "-p", "hi", "--ctx-size", "0"}, 2, "--ctx-size must be in"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[16] = {"generate"};
        int n = 1;
        for (int k = 0; k < 12 && cases[i].args[k]; k++) args[n++] = cases[i].args[k];
        llx_proc_result r;
        run(&r, NULL, args);
        CHECK_MSG(llx_cli_failed(&r, cases[i].status, cases[i].want), "case %zu", i);
        llx_proc_free(&r);
    }
    /* empty standard input, and a prompt file that is empty */
    llx_proc_result r;
    run(&r, "", (const char *[]){"generate", "-m", hf, NULL});
    CHECK(llx_cli_failed(&r, 2, "the prompt is empty"));
    llx_proc_free(&r);
    const char *empty = llx_test_tmpfile("gen-empty.txt");
    CHECK(llx_test_write(empty, "", 0));
    run(&r, NULL, (const char *[]){"generate", "-m", hf, "-f", empty, NULL});
    CHECK(llx_cli_failed(&r, 2, "the prompt is empty"));
    llx_proc_free(&r);
}

/* `looplynx` itself: help, version, usage errors. */
TEST(main_cli_help_every_command, LLX_T_ASAN)
{
    static const char *const cmds[] = {"generate", "bench", "quantize", "ppl", "tokenize", "info", "synth"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        for (int h = 0; h < 2; h++) {
            llx_proc_result r;
            llx_cli(&r, cmds[i], h ? "-h" : "--help", NULL);
            char want[64];
            snprintf(want, sizeof want, "usage: looplynx %s", cmds[i]);
            CHECK_MSG(r.status == 0 && !strncmp(r.out, want, strlen(want)) && r.err_len == 0, "%s %s: exit %d",
                      cmds[i], h ? "-h" : "--help", r.status);
            llx_proc_free(&r);
        }
    llx_proc_result r;
    llx_cli(&r, "--help", NULL);
    CHECK(r.status == 0 && !strncmp(r.out, "usage: looplynx", 15) && r.err_len == 0);
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) CHECK(strstr(r.out, cmds[i]) != NULL);
    llx_proc_free(&r);
    llx_cli(&r, "--version", NULL);
    CHECK(r.status == 0 && !strncmp(r.out, "looplynx ", 9) && strchr(r.out, '.') && r.err_len == 0);
    llx_proc_free(&r);
}

TEST(main_bad_cli_usage, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, NULL);
    CHECK(r.status == 2 && r.out_len == 0 && strstr(r.err, "usage: looplynx"));
    llx_proc_free(&r);
    llx_cli(&r, "frobnicate", NULL);
    CHECK(llx_cli_failed(&r, 2, "unknown command 'frobnicate'"));
    llx_proc_free(&r);
    llx_cli(&r, "", NULL);
    CHECK(llx_cli_failed(&r, 2, "unknown command ''"));
    llx_proc_free(&r);
}
