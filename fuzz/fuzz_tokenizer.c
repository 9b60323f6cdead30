/* fuzz/fuzz_tokenizer.c - any bytes tokenize, every id is in range, decoding
 * gives the bytes back, and the UTF-8 stream passes them through unchanged
 * holding at most 3.  Uses the real GPT-2 vocabulary (env LLX_SHARED, else
 * ../shared) when present, else a small vocabulary built here.  Inputs that
 * start with 'V' also go to the loader as "vocab.json\0merges.txt". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_stream.h"
#include "llx/tokenizer.h"

#define CHECK_OR_TRAP(c)                                                                           \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

/* GPT-2's byte alphabet, UTF-8 encoded into out; returns the length. */
static size_t spell_byte(unsigned char b, char *out)
{
    unsigned cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        cp = 256;
        for (unsigned x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) cp++;
    }
    if (cp < 0x80) {
        if (cp == '"' || cp == '\\') {
            out[0] = '\\', out[1] = (char)cp;
            return 2;
        }
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* 256 byte tokens plus the merges below (ASCII only, so spelled as is). */
static llx_tokenizer *tiny_tokenizer(void)
{
    static const char *merges[][2] = {{"t", "h"}, {"th", "e"}, {"Ġ", "t"}, {"Ġ", "the"}, {"i", "n"},
                                      {"in", "g"}, {"Ġ", "a"}, {"'", "s"}, {"e", "r"}, {"Ġ", "Ġ"},
                                      {"ĠĠ", "ĠĠ"}, {"1", "2"}, {"12", "3"}, {".", "."}, {"..", "."}};
    static const char *joined[] = {"th", "the", "Ġt", "Ġthe", "in", "ing", "Ġa", "'s", "er", "ĠĠ",
                                   "ĠĠĠĠ", "12", "123", "..", "..."};
    size_t n = sizeof merges / sizeof *merges;
    char *v = malloc(8192), *m = malloc(1024);
    size_t w = 0, mw = 0;
    v[w++] = '{';
    for (int b = 0; b < 256; b++) {
        v[w++] = '"';
        w += spell_byte((unsigned char)b, v + w);
        w += (size_t)snprintf(v + w, 8192 - w, "\": %d, ", b);
    }
    for (size_t k = 0; k < n; k++) w += (size_t)snprintf(v + w, 8192 - w, "\"%s\": %zu%s", joined[k], 256 + k, k + 1 < n ? ", " : "}");
    mw += (size_t)snprintf(m, 32, "#version: 0.2\n");
    for (size_t k = 0; k < n; k++) mw += (size_t)snprintf(m + mw, 1024 - mw, "%s %s\n", merges[k][0], merges[k][1]);
    llx_tokenizer *t = NULL;
    if (llx_tokenizer_load_mem(&t, v, w, m, mw) != LLX_OK) __builtin_trap();
    free(v);
    free(m);
    return t;
}

static llx_tokenizer *the_tokenizer(void)
{
    static llx_tokenizer *t;
    if (t) return t;
    const char *base = getenv("LLX_SHARED");
    char vp[4096], mp[4096];
    snprintf(vp, sizeof vp, "%s/models/shakespeare-gpt2/vocab.json", base && *base ? base : "../shared");
    snprintf(mp, sizeof mp, "%s/models/shakespeare-gpt2/merges.txt", base && *base ? base : "../shared");
    if (llx_tokenizer_load(&t, vp, mp) != LLX_OK) t = tiny_tokenizer();
    return t;
}

static void fuzz_loader(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0, size);
    size_t vl = sep ? (size_t)(sep - data) : size;
    const char *m = sep ? (const char *)sep + 1 : "";
    size_t ml = sep ? size - vl - 1 : 0;
    llx_tokenizer *t = NULL;
    if (llx_tokenizer_load_mem(&t, (const char *)data, vl, m, ml) == LLX_OK) {
        int *ids = NULL, n = 0;
        CHECK_OR_TRAP(llx_tokenize(t, (const char *)data, size, &ids, &n) == LLX_OK);
        char *back = NULL;
        size_t bl = 0;
        CHECK_OR_TRAP(llx_detokenize(t, ids, n, &back, &bl) == LLX_OK && bl == size && memcmp(back, data, size) == 0);
        free(back);
        free(ids);
        llx_tokenizer_free(t);
    }
}

int llx_fuzz_tokenizer(const uint8_t *data, size_t size)
{
    const llx_tokenizer *t = the_tokenizer();
    int *ids = NULL, n = 0;
    CHECK_OR_TRAP(llx_tokenize(t, (const char *)data, size, &ids, &n) == LLX_OK);
    CHECK_OR_TRAP((size_t)n <= size && (n == 0) == (ids == NULL));
    for (int i = 0; i < n; i++) CHECK_OR_TRAP(ids[i] >= 0 && ids[i] < llx_tokenizer_vocab_size(t));
    char *back = NULL;
    size_t bl = 0;
    CHECK_OR_TRAP(llx_detokenize(t, ids, n, &back, &bl) == LLX_OK);
    CHECK_OR_TRAP(bl == size && memcmp(back, data, size) == 0);
    free(back);
    fuzz_check_stream(t, ids, n, data, size);
    free(ids);
    if (size > 0 && data[0] == 'V') fuzz_loader(data + 1, size - 1);
    return 0;
}
