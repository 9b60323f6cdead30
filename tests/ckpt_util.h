/* tests/ckpt_util.h - helpers for checkpoint tests: write small synthetic
 * checkpoints, and read / edit / rewrite a model.safetensors independently of
 * the library's own parser (jansson + raw bytes), to build broken inputs and
 * to check what the loader returns against the bytes on disk. */
#ifndef LLX_TESTS_CKPT_UTIL_H
#define LLX_TESTS_CKPT_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "llx/config.h"

/* The small shape most checkpoint tests use (V 300, ctx 16, C 32, L 2, NH 4, F 64). */
llx_config ckpt_tiny_config(void);
/* Write a synthetic checkpoint into the run's tmpdir; returns its path
 * (static buffer rotated over 8 calls) or NULL on failure. */
const char *ckpt_make(const char *name, const llx_config *c, const char *dtype, uint64_t seed);

/* A safetensors file split into its header (parsed) and data section. */
typedef struct ckpt_img {
    json_t *hdr;
    uint8_t *data;
    size_t data_len;
} ckpt_img;

int ckpt_img_load(const char *dir, ckpt_img *img);
int ckpt_img_save(const char *dir, const ckpt_img *img); /* compact JSON header */
void ckpt_img_free(ckpt_img *img);
/* Append a tensor (bytes copied) at the end of the data section. */
void ckpt_img_add(ckpt_img *img, const char *name, const char *dtype, int ndim, const long long *shape,
                  const void *bytes, size_t n);
/* The raw bytes of a tensor, or NULL; *n gets their length. */
const uint8_t *ckpt_img_raw(const ckpt_img *img, const char *name, size_t *n);
/* Little-endian loads from raw bytes. */
float ckpt_f32_at(const uint8_t *p, size_t i);
uint16_t ckpt_u16_at(const uint8_t *p, size_t i);

/* Every tensor the engine reads, in a fixed order (layer matrices, biases,
 * LayerNorm vectors, LM head, wpe) into dst; returns the float count.  With
 * dst NULL only counts. */
struct llx_hf;
size_t ckpt_read_all(const struct llx_hf *m, float *dst);

/* Edit config.json of dir: set key to the JSON value text (e.g. "\"relu\"", "false"). */
int ckpt_config_set(const char *dir, const char *key, const char *json_value);

/* Exactly one line on stderr starting "looplynx: error: " and containing want
 * (checked via CHECKs); the CLI run is `looplynx info -m dir`. */
void ckpt_expect_cli_error(const char *dir, const char *want);

#endif
