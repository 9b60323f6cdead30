/* fuzz/fuzz_hf_tokenizer.c - tokenizer.json: any input encodes with every
 * flag combination, ids are in range, decoding gives the bytes back (with
 * the post-processor's tokens around them for LLX_TOK_ADD_SPECIAL), and the
 * UTF-8 stream passes them through.  Uses the committed fixture
 * (tests/fixtures/hf_tokenizer, the path relative to the repository; the
 * corpus replay runs there) or, elsewhere, a small tokenizer.json built here.
 * Inputs starting with 'J' go to the loader instead: "tokenizer.json\0
 * tokenizer_config.json\0text", then the text is encoded with the result. */
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

/* 256 byte tokens spelled in GPT-2's alphabet (as \u escapes), the merges
 * t+h, th+e, and two added tokens, with the Llama 3 Split pattern. */
static llx_tokenizer *tiny(void)
{
    char *s = malloc(16384);
    size_t w = (size_t)snprintf(s, 16384, "{\"added_tokens\": [{\"id\": 258, \"content\": \"<|eot_id|>\", \"special\": true},"
                                          " {\"id\": 259, \"content\": \"<|eot\"}], \"model\": {\"type\": \"BPE\","
                                          " \"ignore_merges\": true, \"merges\": [\"t h\", \"th e\"], \"vocab\": {");
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        w += (size_t)snprintf(s + w, 16384 - w, "\"\\u%04x\": %d, ", printable ? b : 256 + extra++, b);
    }
    w += (size_t)snprintf(s + w, 16384 - w,
                          "\"th\": 256, \"the\": 257}}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
                          "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"
                          "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, "
                          "\"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]},"
                          " \"decoder\": {\"type\": \"ByteLevel\"}}");
    llx_tokenizer_files f = {.json = s, .json_len = w};
    llx_tokenizer *t = NULL;
    if (llx_tokenizer_load_hf_mem(&t, &f) != LLX_OK) __builtin_trap();
    free(s);
    return t;
}

static const llx_tokenizer *the_tokenizer(void)
{
    static llx_tokenizer *t;
    if (!t && llx_tokenizer_load_hf(&t, "tests/fixtures/hf_tokenizer") != LLX_OK) t = tiny();
    return t;
}

/* Encode with flags; decoding must give back text (plus the frame's bytes
 * for LLX_TOK_ADD_SPECIAL, which only adds ids around it). */
static void check_encode(const llx_tokenizer *t, const char *text, size_t size, unsigned flags)
{
    int *ids = NULL, n = 0, *plain = NULL, np = 0;
    CHECK_OR_TRAP(llx_tokenize_ex(t, text, size, flags, &ids, &n) == LLX_OK);
    for (int i = 0; i < n; i++) CHECK_OR_TRAP(ids[i] >= 0 && ids[i] < llx_tokenizer_vocab_size(t));
    if (flags & LLX_TOK_ADD_SPECIAL) { /* the same ids with something around them */
        CHECK_OR_TRAP(llx_tokenize_ex(t, text, size, flags & ~LLX_TOK_ADD_SPECIAL, &plain, &np) == LLX_OK);
        int pre = 0;
        while (np > 0 && pre + np <= n && memcmp(ids + pre, plain, (size_t)np * sizeof *ids) != 0) pre++;
        CHECK_OR_TRAP(pre + np <= n);
        free(plain);
    } else {
        char *back = NULL;
        size_t bl = 0;
        CHECK_OR_TRAP(llx_detokenize(t, ids, n, &back, &bl) == LLX_OK);
        CHECK_OR_TRAP(bl == size && memcmp(back, text, size) == 0);
        free(back);
        fuzz_check_stream(t, ids, n, text, size);
    }
    free(ids);
}

static void fuzz_loader(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    const char *s1 = memchr(p, 0, size), *s2 = s1 ? memchr(s1 + 1, 0, (size_t)(end - s1 - 1)) : NULL;
    llx_tokenizer_files f = {.json = p, .json_len = s1 ? (size_t)(s1 - p) : size};
    if (s1) f.config = s1 + 1, f.config_len = (size_t)((s2 ? s2 : end) - (s1 + 1));
    const char *text = s2 ? s2 + 1 : "";
    size_t tl = s2 ? (size_t)(end - text) : 0;
    llx_tokenizer *t = NULL;
    if (llx_tokenizer_load_hf_mem(&t, &f) == LLX_OK) {
        for (unsigned flags = 0; flags < 4; flags++) check_encode(t, text, tl, flags);
        llx_tokenizer_free(t);
    }
}

int llx_fuzz_hf_tokenizer(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'J') {
        fuzz_loader(data + 1, size - 1);
        return 0;
    }
    const llx_tokenizer *t = the_tokenizer();
    for (unsigned flags = 0; flags < 4; flags++) check_encode(t, (const char *)data, size, flags);
    return 0;
}
