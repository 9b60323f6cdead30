/* tests/clitest.h - shared by the CLI and .llx tests: tiny synthetic models
 * built once per run (fast enough for ASan), and checks of the CLI's error
 * conventions. */
#ifndef LLX_TESTS_CLITEST_H
#define LLX_TESTS_CLITEST_H

#include <stddef.h>

#include "test.h"

/* A random-weight GPT-2 folder: vocab 300 (generated BPE), n_ctx 32,
 * C 32, 2 layers, 4 heads, F 128.  NULL on failure (noted). */
const char *llx_tiny_hf(void);
/* That model quantized (act 1 static, 2 dynamic) on llx_tiny_calib(). */
const char *llx_tiny_llx(int act);
/* Plain English calibration / evaluation text (a few thousand tokens). */
const char *llx_tiny_calib(void);

/* r exited with `status`, wrote nothing to stdout, and exactly one line to
 * stderr: "looplynx: error: ..." containing `want` (NULL: anything).
 * Notes what it saw when not. */
int llx_cli_failed(const llx_proc_result *r, int status, const char *want);

/* Write n bytes to path (returns 1 on success). */
int llx_test_write(const char *path, const void *data, size_t n);
/* 1 when the file at path holds exactly n bytes equal to data. */
int llx_test_same_bytes(const char *path, const void *data, size_t n);
/* Entries of a folder other than "." and ".." (-1 if it cannot be read). */
int llx_test_count_entries(const char *dir);

#endif
