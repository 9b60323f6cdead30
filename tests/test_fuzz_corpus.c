/* tests/test_fuzz_corpus.c - replay every fuzz corpus file through its
 * target, so inputs the fuzzers found stay fixed. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "test.h"

static int replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", name);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = llx_test_read(path, &len);
        if (!buf) continue;
        fn((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

TEST(fuzz_corpus_config, LLX_T_ASAN)
{
    int n = replay("config", llx_fuzz_config);
    CHECK(n > 0);
}

TEST(fuzz_corpus_tokenizer, LLX_T_ASAN)
{
    int n = replay("tokenizer", llx_fuzz_tokenizer);
    CHECK(n > 0);
}

TEST(fuzz_corpus_hf_tokenizer, LLX_T_ASAN)
{
    int n = replay("hf_tokenizer", llx_fuzz_hf_tokenizer);
    CHECK(n > 0);
}

TEST(fuzz_corpus_chat, LLX_T_ASAN)
{
    int n = replay("chat", llx_fuzz_chat);
    CHECK(n > 0);
}

TEST(fuzz_corpus_safetensors, LLX_T_ASAN)
{
    int n = replay("safetensors", llx_fuzz_safetensors);
    CHECK(n > 0);
}

TEST(fuzz_corpus_st_index, LLX_T_ASAN)
{
    int n = replay("st_index", llx_fuzz_st_index);
    CHECK(n > 0);
}

TEST(fuzz_corpus_rotfile, LLX_T_ASAN)
{
    int n = replay("rotfile", llx_fuzz_rotfile);
    CHECK(n > 0);
}

TEST(fuzz_corpus_sim, LLX_T_ASAN)
{
    int n = replay("sim", llx_fuzz_sim);
    CHECK(n > 0);
}

TEST(fuzz_corpus_dse, LLX_T_ASAN)
{
    int n = replay("dse", llx_fuzz_dse);
    CHECK(n > 0);
}

TEST(fuzz_corpus_llx, LLX_T_ASAN)
{
    int n = replay("llx", llx_fuzz_llx);
    CHECK(n > 0);
}

TEST(fuzz_corpus_serve_request, LLX_T_ASAN)
{
    int n = replay("serve_request", llx_fuzz_serve_request);
    CHECK(n > 0);
}
