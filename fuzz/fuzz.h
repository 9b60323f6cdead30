/* fuzz/fuzz.h - fuzz entry points.
 *
 * Each fuzz/fuzz_<name>.c defines `int llx_fuzz_<name>(const uint8_t *, size_t)`.
 * `make fuzz` links each with fuzz/libfuzzer_main.c into a libFuzzer binary
 * (clang, ASan+UBSan); the test runner links them all (gcc) and replays every
 * file under fuzz/corpus/<name>/ through them, so the corpora are regression
 * tests.  An entry must never crash, leak or hang on any input. */
#ifndef LLX_FUZZ_H
#define LLX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int llx_fuzz_config(const uint8_t *data, size_t size);
int llx_fuzz_llx(const uint8_t *data, size_t size);
int llx_fuzz_safetensors(const uint8_t *data, size_t size);
int llx_fuzz_st_index(const uint8_t *data, size_t size);
int llx_fuzz_tokenizer(const uint8_t *data, size_t size);
int llx_fuzz_hf_tokenizer(const uint8_t *data, size_t size);
int llx_fuzz_chat(const uint8_t *data, size_t size);
int llx_fuzz_sim(const uint8_t *data, size_t size);
int llx_fuzz_dse(const uint8_t *data, size_t size);
int llx_fuzz_serve_request(const uint8_t *data, size_t size);
int llx_fuzz_rotfile(const uint8_t *data, size_t size);

#endif
