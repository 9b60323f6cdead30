/* util/file.h - checked file access: whole-file reads, read-only mappings,
 * and atomic writes (temporary file in the same folder, fsync, rename), so an
 * interrupted writer never leaves a half-written output behind.
 * Every function reports failures through llx_fail() with the path in the message. */
#ifndef LLX_UTIL_FILE_H
#define LLX_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "llx/status.h"

/* Read a whole file into a new NUL-terminated buffer (free with free()).
 * Fails for files larger than max_bytes. */
llx_status llx_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* A read-only mapping of a whole file. */
typedef struct llx_map {
    const uint8_t *data;
    size_t size;
} llx_map;

llx_status llx_map_file(const char *path, llx_map *m);
void llx_unmap(llx_map *m); /* accepts a zeroed map */

/* Atomic writer: open a temporary sibling of `path`, write, then commit
 * (flush + fsync + rename over `path`) or abort (unlink the temporary). */
typedef struct llx_atomic_file {
    FILE *f;
    char *path;
    char *tmp;
} llx_atomic_file;

llx_status llx_atomic_open(llx_atomic_file *a, const char *path);
llx_status llx_atomic_write(llx_atomic_file *a, const void *buf, size_t n);
llx_status llx_atomic_commit(llx_atomic_file *a);
void llx_atomic_abort(llx_atomic_file *a); /* safe after commit or on a zeroed struct */

/* Write a whole buffer to `path` atomically. */
llx_status llx_write_file_atomic(const char *path, const void *buf, size_t n);

/* dir + "/" + name into a new string (NULL on out of memory). */
char *llx_path_join(const char *dir, const char *name);

int llx_is_dir(const char *path);
int llx_is_file(const char *path);

/* True when a and b name the same existing file (same device and inode). */
int llx_same_file(const char *a, const char *b);

#endif
