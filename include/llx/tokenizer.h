/* llx/tokenizer.h - byte-level BPE tokenizers: GPT-2's vocab.json +
 * merges.txt, and HuggingFace tokenizer.json files of byte-level BPE models
 * (Llama 3 and kin).  One handle serves both; see docs/tokenizer.md.
 *
 * GPT-2 files.  Encoding: the text is split by the GPT-2 pre-tokenizer pattern
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
 * tokenizer.json.  Added tokens ("<|begin_of_text|>", "<|eot_id|>" ...) are
 * matched first (leftmost, longest); the text between them goes through the
 * file's pre-tokenizer (Split regex, ByteLevel) and BPE (with
 * ignore_merges when set).  The post-processor's tokens (Llama 3: BOS in
 * front) are added only on request (LLX_TOK_ADD_SPECIAL).  Unsupported
 * models, normalizers, pre-tokenizers, post-processors and decoders are
 * refused with one line naming what is not supported.
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

/* Load tokenizer.json of folder dir, with its tokenizer_config.json (BOS
 * and EOS tokens, add_bos_token/add_eos_token, chat_template) and
 * generation_config.json (eos_token_id: end-of-generation ids) when present. */
llx_status llx_tokenizer_load_hf(llx_tokenizer **out, const char *dir);

/* The same from memory (e.g. files embedded in a model file).  config and
 * generation may be NULL.  The names are used in error messages. */
typedef struct llx_tokenizer_files {
    const char *json; /* tokenizer.json */
    size_t json_len;
    const char *config; /* tokenizer_config.json, or NULL */
    size_t config_len;
    const char *generation; /* generation_config.json, or NULL */
    size_t generation_len;
    const char *model_config; /* the model's config.json (its eos_token_id), or NULL */
    size_t model_config_len;
} llx_tokenizer_files;
llx_status llx_tokenizer_load_hf_mem(llx_tokenizer **out, const llx_tokenizer_files *files);

/* The tokenizer of a model folder: vocab.json + merges.txt when both are
 * there (GPT-2, whose folders often carry a tokenizer.json too), else
 * tokenizer.json (as llx_tokenizer_load_hf). */
llx_status llx_tokenizer_load_dir(llx_tokenizer **out, const char *dir);

void llx_tokenizer_free(llx_tokenizer *t); /* accepts NULL */

/* 1 when loaded from tokenizer.json, 0 for GPT-2's two files. */
int llx_tokenizer_is_hf(const llx_tokenizer *t);

/* Beginning-of-text id (tokenizer_config.json bos_token, else the
 * post-processor's first added token), or -1 (GPT-2 files). */
int llx_tokenizer_bos(const llx_tokenizer *t);
/* End-of-text id (tokenizer_config.json eos_token; GPT-2: <|endoftext|>), or -1. */
int llx_tokenizer_eos(const llx_tokenizer *t);
/* 1 when generation should stop at id: the EOS id, generation_config.json's
 * eos_token_id(s), and the special tokens <|eot_id|>, <|eom_id|>,
 * <|end_of_text|>, <|im_end|>, <|endoftext|> when the vocabulary has them. */
int llx_tokenizer_is_eog(const llx_tokenizer *t, int id);
/* 1 when id is a special added token (decoders may want to hide it). */
int llx_tokenizer_is_special(const llx_tokenizer *t, int id);
/* tokenizer_config.json's chat_template source (the "default" one when it
 * is a list), or NULL when the model has none. */
const char *llx_tokenizer_chat_template(const llx_tokenizer *t);

/* Number of ids (max id + 1). */
int llx_tokenizer_vocab_size(const llx_tokenizer *t);

/* Number of merge rules. */
int llx_tokenizer_merge_count(const llx_tokenizer *t);

/* Id of the token whose raw bytes are bytes[0..len), or -1 (e.g. find
 * "<|endoftext|>" to get GPT-2's end-of-text id, 50256).  Added tokens of a
 * tokenizer.json are found by their content. */
int llx_tokenizer_find(const llx_tokenizer *t, const char *bytes, size_t len);

/* Encode len bytes of text (any bytes).  *ids is a new array (free with
 * free(); NULL when *n == 0).  Fails only when out of memory or when len
 * exceeds INT_MAX. */
llx_status llx_tokenize(const llx_tokenizer *t, const char *text, size_t len, int **ids, int *n);

/* Flags of llx_tokenize_ex.  llx_tokenize is llx_tokenize_ex with 0: added
 * tokens in the text are matched (as HF tokenizers does), nothing is added. */
enum {
    LLX_TOK_ADD_SPECIAL = 1u,     /* add the post-processor's tokens (Llama 3: BOS first) */
    LLX_TOK_SPECIAL_AS_TEXT = 2u, /* special added tokens in the text are plain text
                                     (transformers' split_special_tokens) */
};
llx_status llx_tokenize_ex(const llx_tokenizer *t, const char *text, size_t len, unsigned flags, int **ids, int *n);

/* The raw bytes of token id (not NUL-terminated), or NULL when id is out of
 * range.  An added token's bytes are its content ("<|eot_id|>").  The
 * pointer stays valid for the tokenizer's lifetime. */
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
