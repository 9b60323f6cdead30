/* model/llx_file.h - the .llx model file: one self-contained, memory-mappable
 * W8A8 model (config, tokenizer, quantization parameters, int8 weights,
 * scales, fp32 embeddings), protected by checksums.  Layout in
 * docs/formats.md.
 *
 * Reading validates magic, version, sizes, the header checksum, every
 * tensor's table entry and every tensor's checksum before anything is used.
 * Writing collects tensors and writes the file atomically (temporary name,
 * fsync, rename). */
#ifndef LLX_MODEL_LLX_FILE_H
#define LLX_MODEL_LLX_FILE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "llx/config.h"
#include "llx/model.h"
#include "llx/schedule.h"
#include "llx/status.h"
#include "llx/tokenizer.h"

#define LLX_FILE_MAGIC "LOOPLYNX"
#define LLX_FILE_VERSION 3 /* 1: GPT-2 W8A8; 3: + the scheme record and the Llama config (docs/formats.md) */
#define LLX_NAME_MAX 56

/* Element types: q4 is two int4 values per byte (w + 8, the low nibble
 * first, kernels.h llx_q4_stored), so its column count must be even. */
typedef enum llx_dtype { LLX_DT_I8 = 1, LLX_DT_F32 = 2, LLX_DT_U8 = 3, LLX_DT_Q4 = 4, LLX_DT_F16 = 5 } llx_dtype;

typedef enum llx_act_mode { LLX_ACT_STATIC = 1, LLX_ACT_DYNAMIC = 2 } llx_act_mode;

/* How the model was quantized (stored in the header; the scheme record
 * from version 3 on, docs/formats.md). */
typedef struct llx_qinfo {
    int act_mode;     /* llx_act_mode */
    float alpha;      /* SmoothQuant migration strength; 0 = no smoothing */
    int calib_tokens; /* tokens of calibration text seen */
    int smooth_v;     /* attention output projection smoothed through V */
    int smooth_down;  /* Llama: down_proj smoothed through up_proj's rows */
    llx_scheme_info s;
} llx_qinfo;

/* The scheme of a version 1 file: W8A8, per-row int8, int8 KV with one
 * scale per tensor, int8 LM head. */
llx_scheme_info llx_scheme_w8a8_v1(void);
/* Why a scheme record is not valid (one phrase), or NULL when it is. */
const char *llx_scheme_check(const llx_scheme_info *s);

/* Per layer: the static activation scales (LLX_SC_*, llx/schedule.h). */

typedef struct llx_llx llx_llx;

llx_status llx_llx_open(llx_llx **out, const char *path);
/* The same checks on a file image in memory (`name` stands in for the path
 * in messages).  The buffer must be 8-byte aligned and must outlive the
 * handle: tensors point into it. */
llx_status llx_llx_open_mem(llx_llx **out, const void *data, size_t size, const char *name);
void llx_llx_close(llx_llx *f); /* accepts NULL */

const llx_config *llx_llx_config(const llx_llx *f);
const llx_qinfo *llx_llx_qinfo(const llx_llx *f);
uint64_t llx_llx_file_bytes(const llx_llx *f);
/* Drop this process's resident pages of the mapping (they come back from
 * the page cache when touched again). */
void llx_llx_release_pages(const llx_llx *f);
/* A new tokenizer from the embedded vocab.json and merges.txt. */
llx_status llx_llx_tokenizer(const llx_llx *f, llx_tokenizer **out);

/* Data of tensor `name`, which must have this dtype and shape (cols = 0 for
 * a vector); NULL with llx_errmsg set otherwise.  Points into the mapping. */
const void *llx_llx_tensor(const llx_llx *f, const char *name, llx_dtype dt, long long rows, long long cols);

/* The table in file order: tensor i's name (valid while f is open), dtype,
 * shape, byte count and data. */
typedef struct llx_llx_desc {
    const char *name;
    llx_dtype dtype;
    long long rows, cols;
    uint64_t bytes;
    const void *data;
} llx_llx_desc;
int llx_llx_count(const llx_llx *f);
llx_status llx_llx_entry(const llx_llx *f, int i, llx_llx_desc *d);

/* Model-level check: every tensor the W8A8 engine reads is present with the
 * dtype and shape the header's config implies, the static activation scales
 * are positive and finite, and the tokenizer files are embedded.  Opening
 * only checks the container; llx_model_open runs this too. */
llx_status llx_llx_check_model(const llx_llx *f);

/* Recompute the tensor and header checksums of a file image in place, as far
 * as its table fits the buffer (tests and fuzzing: lets an edited image reach
 * the checks behind the checksums).  Never reads outside [data, data+size). */
void llx_llx_fix_checksums(void *data, size_t size);

/* Set the int4 activation clip ratio of a version 3 image in memory and
 * recompute its header checksum (the quantizer's --act-clip auto tries
 * ratios on one image).  LLX_ERR_ARG when the ratio does not fit the
 * scheme (llx_scheme_check), LLX_ERR_FORMAT for an image without a scheme
 * record. */
llx_status llx_llx_image_set_act_clip(void *data, size_t size, float clip);

/* ---- writing ---- */

typedef struct llx_llx_writer llx_llx_writer;

llx_status llx_llx_writer_create(llx_llx_writer **out, const llx_config *c, const llx_qinfo *q);
/* Add a tensor; the writer takes ownership of `data` (malloc'd) even on
 * failure.  Refuses (LLX_ERR_ARG) empty or too long or repeated names,
 * unknown dtypes and negative or overflowing shapes. */
llx_status llx_llx_add(llx_llx_writer *w, const char *name, llx_dtype dt, long long rows, long long cols, void *data);
/* Add every tensor of src, in src's order, without copying: w borrows the
 * data, which must stay unchanged until w is written (src outlives it). */
llx_status llx_llx_add_refs(llx_llx_writer *w, const llx_llx_writer *src);
/* The same, but where `over` has a tensor of the same name (same dtype and
 * shape, else LLX_ERR_ARG) w borrows that one instead; a tensor of `over`
 * that replaces nothing is refused (LLX_ERR_ARG).  over may be NULL. */
llx_status llx_llx_add_refs_over(llx_llx_writer *w, const llx_llx_writer *src, const llx_llx_writer *over);
/* Poll *flag between tensor writes; non-zero abandons the write
 * (LLX_ERR_CANCELLED, temporary file removed). */
void llx_llx_writer_set_cancel(llx_llx_writer *w, const volatile sig_atomic_t *flag);
/* Write the file into memory instead: *data (64-byte aligned, free()) of
 * *size bytes, a valid .llx image (llx_llx_open_mem); frees the writer. */
llx_status llx_llx_write_mem(llx_llx_writer *w, void **data, size_t *size);
/* The same into *data when its *cap bytes hold the image (the quantizer's
 * images of one shape, step after step: no new pages to fault in), else
 * into a new buffer (the old one freed); *cap is the buffer's size after.
 * On failure the buffer is freed (*data NULL, *cap 0). */
llx_status llx_llx_write_mem_reuse(llx_llx_writer *w, void **data, size_t *size, size_t *cap);
/* Write everything to `path` atomically and free the writer. */
llx_status llx_llx_write(llx_llx_writer *w, const char *path);
void llx_llx_writer_free(llx_llx_writer *w); /* accepts NULL */

/* 64-bit checksum used by the format. */
uint64_t llx_hash64(const void *data, size_t n, uint64_t seed);

#endif
