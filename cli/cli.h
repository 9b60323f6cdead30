/* cli/cli.h - shared pieces of the looplynx command line: the subcommand
 * entry points, strict number parsing and the error conventions.
 *
 * Errors are one line on stderr, "looplynx: error: <what>".  Exit status 0 is
 * success, 1 a runtime failure, 2 a usage error. */
#ifndef LLX_CLI_H
#define LLX_CLI_H

#include <stdio.h>

#define LLX_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Print "looplynx: error: ..." and return EXIT_USAGE / EXIT_RUNTIME. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_runtime_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runtime error from the library's last message. */
int cli_lib_error(void);
/* Under an MPI launcher every rank parses the same arguments and opens the
 * same model, so every rank would print the same error: ranks other than 0
 * delay theirs by 3 s (main.c), during which rank 0's error ends the job, and
 * stop delaying for errors of their own (a node's setup). */
void cli_defer_common_errors(int on);

/* Strict parsers: the whole string must be a number inside [lo, hi].
 * On failure they print a usage error naming the flag and return 0. */
int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out);
/* "1,2,4" into up to max ints within [lo, hi]; returns the count or 0 on error. */
int cli_parse_int_list(const char *flag, const char *s, long lo, long hi, long *out, int max);

/* Option scanning helper: if argv[*i] is `name`, take its value from argv[*i+1]
 * (or from "name=value") into *val and advance *i.  Returns 1 when matched,
 * 0 when not, -1 (after printing a usage error) when the value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* 1 when argv[*i] equals one of the names (a flag without value). */
int cli_flag(char **argv, int i, const char *name);

/* Write a JSON-escaped string (with quotes) of n bytes to f.  Bytes that are
 * not part of a well-formed UTF-8 character (no overlong forms, surrogates or
 * code points above U+10FFFF) are written as \u00XX escapes of their byte
 * value, so the output is always valid JSON. */
void cli_json_string(FILE *f, const char *s, size_t n);

/* Subcommands. */
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_dse(int argc, char **argv);
int cmd_fifo(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_serve_bench(int argc, char **argv);

#endif
