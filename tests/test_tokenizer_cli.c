/* tests/test_tokenizer_cli.c - `looplynx tokenize` run as a child process:
 * output formats, input sources, decoding, and its error lines and exit
 * codes.  Tests needing the shakespeare-gpt2 tokenizer files skip without them. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

static const char *tok_dir(void) { return llx_test_shared("models/shakespeare-gpt2/merges.txt") ? llx_test_shared("models/shakespeare-gpt2") : NULL; }

/* Exactly one line on stderr, starting "looplynx: error: ", containing want. */
static int one_error_line(const llx_proc_result *r, const char *want)
{
    const char *nl = strchr(r->err, '\n');
    return strncmp(r->err, "looplynx: error: ", 17) == 0 && nl && nl[1] == 0 && strstr(r->err, want) != NULL;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

TEST(tokenizer_cli_help, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "tokenize", "--help", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strstr(r.out, "usage: looplynx tokenize") && strstr(r.out, "--decode"));
    CHECK_EQ_INT(r.err_len, 0);
    llx_proc_free(&r);
    llx_cli(&r, "--help", NULL);
    CHECK(r.status == 0 && strstr(r.out, "tokenize"));
    llx_proc_free(&r);
}

TEST(tokenizer_cli_encode, LLX_T_ASAN)
{
    const char *d = tok_dir();
    if (!d) SKIP("shakespeare-gpt2 tokenizer not found");
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-m", d, "-p", "Hello world", NULL);
    CHECK_EQ_INT(r.status, 0);
    CHECK(strcmp(r.out, "ids: 15496 995\ncount: 2\n") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "--model", d, "--prompt=Hello, world!", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": [15496, 11, 995, 0]}\n") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "-p", "", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": []}\n") == 0);
    llx_proc_free(&r);
    /* file (with invalid UTF-8 and a NUL) and standard input */
    const char *f = llx_test_tmpfile("tok-in.txt");
    write_file(f, "ROMEO:\n\xff\x00!", 10);
    llx_cli(&r, "tokenize", "-m", d, "-f", f, "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": [33676, 4720, 25, 198, 187, 188, 0]}\n") == 0);
    llx_proc_free(&r);
    llx_cli_stdin(&r, "ROMEO:", "tokenize", "-m", d, NULL);
    CHECK(r.status == 0 && strcmp(r.out, "ids: 33676 4720 25\ncount: 3\n") == 0);
    llx_proc_free(&r);
    llx_cli_stdin(&r, "ROMEO:", "tokenize", "-m", d, "-f", "-", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": [33676, 4720, 25]}\n") == 0);
    llx_proc_free(&r);
}

TEST(tokenizer_cli_decode, LLX_T_ASAN)
{
    const char *d = tok_dir();
    if (!d) SKIP("shakespeare-gpt2 tokenizer not found");
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-m", d, "--decode", "15496 995", NULL);
    CHECK(r.status == 0 && r.out_len == 11 && strcmp(r.out, "Hello world") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "15496,11, 995 ,0", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"text\": \"Hello, world!\"}\n") == 0);
    llx_proc_free(&r);
    /* raw bytes, including half a character and NUL */
    llx_cli(&r, "tokenize", "-m", d, "--decode", "188 158 25", NULL);
    CHECK(r.status == 0 && r.out_len == 3 && memcmp(r.out, "\x00\xe2:", 3) == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "188 158", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"text\": \"\\u0000\\u00e2\"}\n") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "", NULL);
    CHECK(r.status == 0 && r.out_len == 0);
    llx_proc_free(&r);
}

/* encode a file with odd bytes, decode the ids: the same bytes come back */
TEST(tokenizer_cli_roundtrip, LLX_T_ASAN)
{
    const char *d = tok_dir();
    if (!d) SKIP("shakespeare-gpt2 tokenizer not found");
    static const char text[] = "  It's \xe6\x97\xa5\xe6\x9c\xac, caf\xc3\xa9\r\n\t\xf0\x9f\x98 \xed\xa0\x80 1,000!\n";
    const char *f = llx_test_tmpfile("tok-rt.txt");
    write_file(f, text, sizeof text - 1);
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-m", d, "-f", f, NULL);
    CHECK(r.status == 0 && strncmp(r.out, "ids: ", 5) == 0);
    char *nl = strchr(r.out, '\n');
    if (nl) *nl = 0;
    llx_proc_result back;
    llx_cli(&back, "tokenize", "-m", d, "--decode", r.out + 5, NULL);
    CHECK(back.status == 0 && back.out_len == sizeof text - 1 && memcmp(back.out, text, sizeof text - 1) == 0);
    llx_proc_free(&back);
    llx_proc_free(&r);
}

TEST(tokenizer_bad_cli_usage, LLX_T_ASAN)
{
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-p", "x", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "-m MODEL is required") && r.out_len == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", "x", "-p", "a", "-f", "b", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "either -p or -f"));
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", "x", "-p", "a", "--decode", "1", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "--decode cannot be combined"));
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", "x", "--bogus", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "unknown option '--bogus'"));
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "-m needs a value"));
    llx_proc_free(&r);
}

TEST(tokenizer_bad_cli_runtime, LLX_T_ASAN)
{
    llx_proc_result r;
    const char *missing = llx_test_tmpfile("no-such-model");
    llx_cli(&r, "tokenize", "-m", missing, "-p", "x", NULL);
    CHECK(r.status == 1 && one_error_line(&r, "model '") && strstr(r.err, "no-such-model' not found"));
    llx_proc_free(&r);
    const char *d = tok_dir();
    if (!d) SKIP("shakespeare-gpt2 tokenizer not found");
    llx_cli(&r, "tokenize", "-m", d, "-f", missing, NULL);
    CHECK(r.status == 1 && one_error_line(&r, "cannot read") && r.out_len == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "15496 x", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "'x' is not a token id") && r.out_len == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "1 -3", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "'-3' is not a token id"));
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "15496 50257", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "token id 50257 is outside the vocabulary (0..50256)") && r.out_len == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "99999999999999999999", NULL);
    CHECK(r.status == 2 && one_error_line(&r, "is not a token id"));
    llx_proc_free(&r);
    /* a folder whose vocab.json is broken: the error names the file */
    const char *bad = llx_test_tmpfile("bad-model");
    char vpath[600], mpath[600];
    snprintf(vpath, sizeof vpath, "%s/vocab.json", bad);
    snprintf(mpath, sizeof mpath, "%s/merges.txt", bad);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", bad);
    CHECK(system(cmd) == 0);
    write_file(vpath, "{\"a\": 0,}", 9);
    write_file(mpath, "", 0);
    llx_cli(&r, "tokenize", "-m", bad, "-p", "x", NULL);
    CHECK(r.status == 1 && one_error_line(&r, "bad-model/vocab.json: line 1"));
    llx_proc_free(&r);
}

/* tokenizer.json folders (the committed fixture): BOS added unless
 * --no-special, special tokens matched in the text, decoding. */
TEST(tokenizer_cli_hf, LLX_T_ASAN)
{
    const char *d = "tests/fixtures/hf_tokenizer";
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-m", d, "-p", " kingdom<|eot_id|>", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "ids: 559 556 561\ncount: 3\n") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "-p", " kingdom<|eot_id|>", "--no-special", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": [556, 561]}\n") == 0);
    llx_proc_free(&r);
    llx_cli(&r, "tokenize", "-m", d, "--decode", "559 556 561", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "<|begin_of_text|> kingdom<|eot_id|>") == 0);
    llx_proc_free(&r);
    const char *ll = llx_test_shared("models/tinyllama-shakespeare/tokenizer.json");
    if (!ll) SKIP("tinyllama-shakespeare not found");
    llx_cli(&r, "tokenize", "-m", llx_test_shared("models/tinyllama-shakespeare"), "-p", "O", "--json", NULL);
    CHECK(r.status == 0 && strcmp(r.out, "{\"tokens\": [128000, 46]}\n") == 0);
    llx_proc_free(&r);
}

TEST(tokenizer_bad_cli_hf, LLX_T_ASAN)
{
    const char *bad = llx_test_tmpfile("bad-hf");
    char path[600], cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", bad);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/tokenizer.json", bad);
    const char *uni = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}";
    write_file(path, uni, strlen(uni));
    llx_proc_result r;
    llx_cli(&r, "tokenize", "-m", bad, "-p", "x", NULL);
    CHECK(r.status == 1 && one_error_line(&r, "bad-hf/tokenizer.json: model type 'Unigram' is not supported"));
    llx_proc_free(&r);
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", bad);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", empty);
    CHECK(system(cmd) == 0);
    llx_cli(&r, "tokenize", "-m", empty, "-p", "x", NULL);
    CHECK(r.status == 1 && one_error_line(&r, "no tokenizer (expected tokenizer.json, or vocab.json and merges.txt)"));
    llx_proc_free(&r);
}
