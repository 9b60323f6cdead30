/* llx/tokenizer.h - GPT-2 byte-level BPE.
 *
 * Encoding: the text is split by the GPT-2 pre-tokenizer pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (PCRE2; \s, \p{L}, \p{N} as in OpenAI's encoder.py: Unicode White_Space,
 * Unicode 17 letters and numbers), each piece is mapped byte by byte onto the
 * printable byte alphabet and merged by BPE rank.  The ids equal encoder.py's
 * (and npm gpt-3-encoder's, which differs only for U+0085 and U+FEFF).
 *
 * Invalid UTF-8 is never an error: the text is cut into maximal runs of
 * well-formed UTF-8 and the bytes in between.  Each well-formed run is
 * tokenized as if it were the whole text; each byte in between becomes its
 * own single-byte token.  So tokenize(a + bad + b) = tokenize(a) +
 * byte tokens of bad + tokenize(b), and decoding always restores the bytes.
 * "<|endoftext|>" in the text is plain text, as in GPT-2's encoder.
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
 * file and the problem: ids must be 0..n-1 each once, tokens spelled in
 * GPT-2's byte alphabet with all 256 single bytes present, and each merge
 * must join two tokens into a third.  In merges.txt a first line starting
 * with "#version" and blank lines are skipped.  See docs/tokenizer.md. */
llx_status llx_tokenizer_load(llx_tokenizer **out, const char *vocab_json_path, const char *merges_path);

/* Same from memory buffers (contents of the two files; not NUL-terminated). */
llx_status llx_tokenizer_load_mem(llx_tokenizer **out, const char *vocab_json, size_t vocab_len,
                                  const char *merges, size_t merges_len);

void llx_tokenizer_free(llx_tokenizer *t); /* accepts NULL */

/* Number of ids (max id + 1). */
int llx_tokenizer_vocab_size(const llx_tokenizer *t);

/* Number of merge rules. */
int llx_tokenizer_merge_count(const llx_tokenizer *t);

/* Id of the token whose raw bytes are bytes[0..len), or -1 (e.g. find
 * "<|endoftext|>" to get GPT-2's end-of-text id, 50256). */
int llx_tokenizer_find(const llx_tokenizer *t, const char *bytes, size_t len);

/* Encode len bytes of text (any bytes).  *ids is a new array (free with
 * free(); NULL when *n == 0).  Fails only when out of memory or when len
 * exceeds INT_MAX. */
llx_status llx_tokenize(const llx_tokenizer *t, const char *text, size_t len, int **ids, int *n);

/* The raw bytes of token id (not NUL-terminated), or NULL when id is out of
 * range.  The pointer stays valid for the tokenizer's lifetime. */
const char *llx_token_bytes(const llx_tokenizer *t, int id, size_t *len);

/* Decode ids into a new NUL-terminated buffer of *len bytes (free with free()).
 * Fails with LLX_ERR_ARG on an id outside the vocabulary. */
llx_status llx_detokenize(const llx_tokenizer *t, const int *ids, int n, char **out, size_t *len);

/* Streamed decoding: push token bytes in, get back only whole UTF-8
 * characters.  Start from a zeroed struct.  A lead byte is held only while
 * the bytes after it can still complete a well-formed character (at most 3
 * bytes); as soon as they cannot, the held bytes are passed through as they
 * are, so invalid input comes out unchanged and nothing is held forever.
 * The concatenated output of all pushes and the final flush equals the
 * concatenated input. */
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
