/* model/bpe_vocab.h - generate a GPT-2 style byte-level BPE vocabulary
 * (vocab.json + merges.txt) of an exact size, for synthetic checkpoints.
 *
 * Ids 0..255 are the 256 byte tokens in GPT-2's bytes_to_unicode order, then
 * one token per merge (id 256 + rank), then "<|endoftext|>" as the last id
 * when n_vocab >= 257.  The merges come from BPE training on a small
 * built-in English text (so common words become tokens, as in a real vocab)
 * and, once that text is exhausted, from a deterministic extension of the
 * learned tokens by frequent letters.  Not a tokenizer: it only writes files. */
#ifndef LLX_MODEL_BPE_VOCAB_H
#define LLX_MODEL_BPE_VOCAB_H

#include <stddef.h>

#include "llx/status.h"

/* n_vocab in [256, 1000000].  Returns two new NUL-terminated buffers. */
llx_status llx_bpe_vocab_generate(int n_vocab, char **vocab_json, size_t *vocab_len, char **merges_txt,
                                  size_t *merges_len);

/* GPT-2's bytes_to_unicode: the code point that stands for byte b. */
int llx_bpe_byte_codepoint(int b);

#endif
