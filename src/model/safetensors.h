/* model/safetensors.h - a validating reader for the safetensors format.
 *
 *   [u64 little-endian header length N][N bytes of JSON header][data section]
 *
 * Every header field is checked before use (see docs/formats.md): the JSON
 * is an object without duplicate keys, every tensor entry has exactly dtype,
 * shape and data_offsets, sizes match shapes, offsets lie inside the data
 * section and no two tensors overlap.  The reader never copies tensor data;
 * it hands out pointers into the buffer (which may be unaligned).  It knows
 * nothing about GPT-2; hf.c maps names to model parts. */
#ifndef LLX_MODEL_SAFETENSORS_H
#define LLX_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "llx/status.h"
#include "util/file.h"

#define LLX_ST_MAX_HEADER (100u * 1000u * 1000u) /* 100 MB */
#define LLX_ST_MAX_DIMS 8

typedef enum llx_st_dtype {
    LLX_ST_BOOL, LLX_ST_U8, LLX_ST_I8, LLX_ST_I16, LLX_ST_U16, LLX_ST_F16, LLX_ST_BF16, LLX_ST_I32,
    LLX_ST_U32, LLX_ST_F32, LLX_ST_F64, LLX_ST_I64, LLX_ST_U64, LLX_ST_F8_E4M3, LLX_ST_F8_E5M2,
    LLX_ST_DTYPE_COUNT
} llx_st_dtype;

typedef struct llx_st_tensor {
    char *name;
    llx_st_dtype dtype;
    int ndim;
    uint64_t shape[LLX_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;  /* byte offsets inside the data section */
    const uint8_t *data;  /* start of the tensor's bytes (not aligned) */
} llx_st_tensor;

typedef struct llx_st {
    char *what;           /* file name used in messages */
    llx_map map;          /* owned mapping when opened from a file */
    const uint8_t *data;  /* data section (NULL for a sharded set) */
    uint64_t data_size;   /* bytes of tensor data (all shards' for a set) */
    int n;                /* tensors, sorted by name */
    llx_st_tensor *t;
    llx_map *shard_maps;  /* a sharded set: the shards' mappings (st_index.c) */
    int n_shards;
} llx_st;

/* Parse a safetensors image held in buf (not copied: it must outlive st).
 * `what` names the file in error messages. */
llx_status llx_st_parse(llx_st *st, const uint8_t *buf, size_t size, const char *what);
/* Map a file and parse it; the mapping is released by llx_st_close. */
llx_status llx_st_open(llx_st *st, const char *path);
void llx_st_close(llx_st *st); /* accepts a zeroed struct */

/* ---- sharded checkpoints (st_index.c) ----
 *
 * model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor:
 * shard file name}}.  The shards are opened and presented as one llx_st (its
 * tensors point into the shards' mappings), after checking that every shard
 * exists, every listed tensor is in its shard, every shard tensor is listed
 * for that shard, and no tensor appears twice. */

typedef struct llx_st_index {
    int n_files;
    char **files; /* distinct shard file names, first-seen order */
    int n;        /* listed tensors, sorted by name */
    char **names;
    int *file;    /* the shard (index into files) of each */
} llx_st_index;

/* Parse an index file's text.  Shard names must be plain file names (no
 * '/', not "." or ".."). */
llx_status llx_st_index_parse(llx_st_index *ix, const char *json, size_t len, const char *what);
void llx_st_index_free(llx_st_index *ix);

/* Merge parsed shards (shards[i] is ix->files[i]) into one set.  Takes
 * ownership of the shards whatever the outcome; `what` names the index. */
llx_status llx_st_merge(llx_st *out, llx_st *shards, const llx_st_index *ix, const char *what);

/* Open an index file and its shards (beside it) as one set. */
llx_status llx_st_open_sharded(llx_st *st, const char *index_path);

/* The weights of a model folder: model.safetensors, else
 * model.safetensors.index.json with its shards. */
llx_status llx_st_open_model(llx_st *st, const char *dir);

/* Drop this process's resident pages of every mapped file of st. */
void llx_st_release_pages(const llx_st *st);

/* The tensor called name, or NULL. */
const llx_st_tensor *llx_st_find(const llx_st *st, const char *name);

const char *llx_st_dtype_name(llx_st_dtype d);
int llx_st_dtype_size(llx_st_dtype d);

/* A printable, length-limited copy of a (possibly hostile) tensor name for
 * error messages: control bytes become '?', long names are cut with "...". */
void llx_st_printable(char *dst, size_t cap, const char *name);

#endif
