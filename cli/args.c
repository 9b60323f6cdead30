/* cli/args.c - strict flag parsing and the error-line conventions. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "llx/status.h"

static int g_defer;

void cli_defer_common_errors(int on) { g_defer = on; }

__attribute__((format(printf, 2, 0))) static int verror(int code, const char *fmt, va_list ap)
{
    fflush(stdout);
    /* rank 0 prints the same error now and aborts the job, which ends this
     * process during the wait; only an error rank 0 did not hit gets through */
    if (g_defer) sleep(3);
    /* one write, so ranks' lines do not interleave under an MPI launcher */
    char line[2048];
    int n = snprintf(line, sizeof line, "looplynx: error: ");
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    return code;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_runtime_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(EXIT_RUNTIME, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_lib_error(void)
{
    const char *m = llx_errmsg();
    return cli_runtime_error("%s", m && *m ? m : "unknown failure");
}

int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end) {
        cli_usage_error("%s expects an integer, got '%s'", flag, s);
        return 0;
    }
    if (errno == ERANGE || v < lo || v > hi) { /* ERANGE: an integer, but beyond any long */
        cli_usage_error("%s must be in [%ld, %ld], got %s", flag, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v)) {
        cli_usage_error("%s expects a number, got '%s'", flag, s);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_usage_error("%s must be in [%g, %g], got %g", flag, lo, hi, v);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_int_list(const char *flag, const char *s, long lo, long hi, long *out, int max)
{
    int n = 0;
    const char *p = s;
    char item[64];
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= sizeof item || n >= max) {
            cli_usage_error("%s expects a comma-separated list of up to %d integers, got '%s'", flag, max, s);
            return 0;
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (!cli_parse_int(flag, item, lo, hi, &out[n])) return 0;
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        cli_usage_error("%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

/* Length of the well-formed UTF-8 character at p (Unicode's definition: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is none.
 * JSON parsers reject anything looser. */
static int utf8_char_len(const unsigned char *p, size_t n)
{
    const unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    int len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (n < (size_t)len || p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return len;
}

void cli_json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = u[i];
        const int len = utf8_char_len(u + i, n - i);
        if (len > 1) { /* a whole multi-byte character as it is */
            fwrite(s + i, 1, (size_t)len, f);
            i += (size_t)len - 1;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c >= 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}
