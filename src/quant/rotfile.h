/* quant/rotfile.h - a rotation file: the residual-stream rotation R1
 * (n_embd x n_embd) and one per-head rotation R2 (head_dim x head_dim) per
 * layer, learned offline (scripts/learn_rotation.py) and folded into the
 * weights by `quantize --rotate FILE` in place of the random-sign Hadamard
 * ones (the online R4 before the down projection stays a Hadamard).
 * docs/formats.md gives the layout:
 *
 *   "LLXROTAT" (8 bytes), u32 version (1), u32 value bytes (4 fp32, 8 fp64),
 *   i32 n_embd, i32 head_dim, i32 n_layer, u32 zero, then R1 and R2 of
 *   layers 0 .. n_layer-1, row-major, little-endian.
 *
 * A matrix Q maps the stream x to Q x (as rotate.h's Q).  Parsing checks
 * the layout, sizes and finiteness; checking against a model also checks
 * the dimensions, orthogonality (|Q Q^T - I| <= LLX_ROTFILE_TOL in every
 * entry) and, for GPT-2, that R1 keeps the all-ones direction
 * (|Q 1 - 1| <= LLX_ROTFILE_TOL in every entry: LayerNorm's mean
 * subtraction commutes only with such a Q).  Every failure is one line. */
#ifndef LLX_QUANT_ROTFILE_H
#define LLX_QUANT_ROTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "llx/model.h"
#include "llx/status.h"

#define LLX_ROTFILE_MAGIC "LLXROTAT"
#define LLX_ROTFILE_VERSION 1
#define LLX_ROTFILE_HEADER 32
#define LLX_ROTFILE_TOL 1e-4

typedef struct llx_rotfile {
    int n_embd, head_dim, n_layer;
    double *r1;    /* n_embd x n_embd, row-major */
    double *r2;    /* n_layer matrices of head_dim x head_dim */
    uint64_t hash; /* llx_hash64 of the file's bytes (recorded in the .llx scheme) */
} llx_rotfile;

/* Parse size bytes of data (name: for messages); rf owns copies. */
llx_status llx_rotfile_parse(llx_rotfile *rf, const void *data, size_t size, const char *name);
/* The rotations fit model config c and are orthogonal (see above). */
llx_status llx_rotfile_check(const llx_rotfile *rf, const llx_config *c, const char *name);
/* Read, parse and check the file at path for config c. */
llx_status llx_rotfile_load(llx_rotfile *rf, const char *path, const llx_config *c);
void llx_rotfile_free(llx_rotfile *rf); /* accepts a zeroed rf */

#endif
