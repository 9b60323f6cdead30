/* llx/tokenizer.h - GPT-2 byte-level BPE.
 *
 * Encoding: the text is split by the GPT-2 pre-tokenizer pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (PCRE2, Unicode properties), each piece is mapped byte by byte onto the
 * printable byte alphabet and merged by BPE rank.  Bytes that are not valid
 * UTF-8 form pieces of their own and are encoded as single bytes, never an
 * error.  "<|endoftext|>" in the text is plain text, as in GPT-2's encoder.
 *
 * Decoding returns raw bytes (a token may end inside a UTF-8 character);
 * llx_utf8_stream holds back incomplete characters for streamed output.
 *
 * A loaded tokenizer is immutable and may be used from several threads. */
#ifndef LLX_TOKENIZER_H
#define LLX_TOKENIZER_H

#include <stddef.h>

#include "llx/status.h"

typedef struct llx_tokenizer llx_tokenizer;

/* Load vocab.json and merges.txt.  Returns a new tokenizer; free with
 * llx_tokenizer_free.  Rejects malformed files with a message naming the
 * file and the problem. */
llx_status llx_tokenizer_load(llx_tokenizer **out, const char *vocab_json_path, const char *merges_path);

/* Same from memory buffers (contents of the two files; not NUL-terminated). */
llx_status llx_tokenizer_load_mem(llx_tokenizer **out, const char *vocab_json, size_t vocab_len,
                                  const char *merges, size_t merges_len);

void llx_tokenizer_free(llx_tokenizer *t); /* accepts NULL */

/* Number of ids (max id + 1). */
int llx_tokenizer_vocab_size(const llx_tokenizer *t);

/* Encode len bytes of text.  *ids is a new array (free with free(); NULL
 * when *n == 0). */
llx_status llx_tokenize(const llx_tokenizer *t, const char *text, size_t len, int **ids, int *n);

/* The raw bytes of token id (not NUL-terminated), or NULL when id is out of
 * range.  The pointer stays valid for the tokenizer's lifetime. */
const char *llx_token_bytes(const llx_tokenizer *t, int id, size_t *len);

/* Decode ids into a new NUL-terminated buffer of *len bytes (free with free()).
 * Fails with LLX_ERR_ARG on an id outside the vocabulary. */
llx_status llx_detokenize(const llx_tokenizer *t, const int *ids, int n, char **out, size_t *len);

/* Streamed decoding: push token bytes in, get back only whole UTF-8
 * characters.  Invalid sequences are passed through byte by byte as soon as
 * they are known to be invalid, so nothing is held back forever. */
typedef struct llx_utf8_stream {
    unsigned char pend[4];
    int npend;
} llx_utf8_stream;

/* Append n bytes; writes the bytes now safe to print into out (capacity at
 * least n + 4) and returns how many. */
size_t llx_utf8_stream_push(llx_utf8_stream *s, const char *bytes, size_t n, char *out);
/* End of stream: returns the held-back bytes (at most 3) into out. */
size_t llx_utf8_stream_flush(llx_utf8_stream *s, char *out);

#endif
