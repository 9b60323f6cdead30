/* tokenizer/regex.c - tokenizer.json Split patterns on PCRE2.
 *
 * HF tokenizers compiles these patterns with Oniguruma (Ruby syntax,
 * Unicode 16.0 tables in tokenizers 0.22); PCRE2 10.42 has Unicode 14.0 and
 * a few different meanings.  tok_regex_translate rewrites a pattern so that
 * PCRE2 matches what Oniguruma matches:
 *   \s, \S        Unicode White_Space, spelled out (PCRE2's \s differs);
 *   \p{L}, \p{N}  plus the letters / numbers assigned in Unicode 15.0-16.0
 *                 (and \P{L}, \P{N}, \p{^L}, \p{^N} outside classes);
 *   \v            vertical tab (PCRE2's \v is a class);
 *   ^, $          line anchors, as in Ruby syntax: (?m:^), (?m:$).
 * Plain characters, escaped punctuation, \t \n \r \f \a \e \xHH \x{H..},
 * \d, \A \z \Z, groups (capturing, non-capturing, look-around, (?i:...)),
 * alternation, classes (without nesting, && or [:posix:]) and quantifiers
 * pass through.  Anything else (\w, \b, \h, other flags, \Q ...) is refused
 * with the construct named, never silently mistranslated.
 * The delta classes were measured: every code point was classified by
 * HF tokenizers 0.22.2 (npm @anush008/tokenizers) with the Llama 3 pattern
 * and compared with PCRE2 10.42. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/status.h"

#define WS "\\t\\n\\x0b\\f\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

#define LETTERS_15_16                                                                        \
    "\\x{1c89}-\\x{1c8a}\\x{a7cb}-\\x{a7cd}\\x{a7da}-\\x{a7dc}\\x{105c0}-\\x{105f3}"         \
    "\\x{10d4a}-\\x{10d65}\\x{10d6f}-\\x{10d85}\\x{10ec2}-\\x{10ec4}\\x{1123f}-\\x{11240}"    \
    "\\x{11380}-\\x{11389}\\x{1138b}\\x{1138e}\\x{11390}-\\x{113b5}\\x{113b7}\\x{113d1}"      \
    "\\x{113d3}\\x{11bc0}-\\x{11be0}\\x{11f02}\\x{11f04}-\\x{11f10}\\x{11f12}-\\x{11f33}"     \
    "\\x{1342f}\\x{13441}-\\x{13446}\\x{13460}-\\x{143fa}\\x{16100}-\\x{1611d}"              \
    "\\x{16d40}-\\x{16d6c}\\x{18cff}\\x{1b132}\\x{1b155}\\x{1df25}-\\x{1df2a}"               \
    "\\x{1e030}-\\x{1e06d}\\x{1e4d0}-\\x{1e4eb}\\x{1e5d0}-\\x{1e5ed}\\x{1e5f0}\\x{2b739}"     \
    "\\x{2ebf0}-\\x{2ee5d}\\x{31350}-\\x{323af}"
#define NUMBERS_15_16                                                                        \
    "\\x{10d40}-\\x{10d49}\\x{116d0}-\\x{116e3}\\x{11bf0}-\\x{11bf9}\\x{11f50}-\\x{11f59}"    \
    "\\x{16130}-\\x{16139}\\x{16d70}-\\x{16d79}\\x{1ccf0}-\\x{1ccf9}\\x{1d2c0}-\\x{1d2d3}"    \
    "\\x{1e4f0}-\\x{1e4f9}\\x{1e5f1}-\\x{1e5fa}"

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* A \p{..} / \P{..} escape at pat[i] (pat[i] == 'p' or 'P'): L or N, with
 * *neg set for \P or ^.  Returns the escape's length after the backslash, or
 * 0 when it is another property (passed through). */
static size_t property(const char *pat, size_t len, size_t i, char *which, int *neg)
{
    size_t j = i + 1;
    if (j >= len || pat[j] != '{') return 0;
    *neg = pat[i] == 'P';
    j++;
    if (j < len && pat[j] == '^') *neg = !*neg, j++;
    if (j + 1 < len && (pat[j] == 'L' || pat[j] == 'N') && pat[j + 1] == '}') {
        *which = pat[j];
        return j + 2 - i;
    }
    return 0;
}

/* One escape at pat[i] (after the backslash); returns the characters used,
 * or 0 after llx_fail. */
static size_t escape(sbuf *b, const char *pat, size_t len, size_t i, int in_class, const char *what)
{
    char c = pat[i], which = 0;
    int neg = 0;
    size_t used;
    if (c == 's' || c == 'S') {
        if (c == 'S' && in_class) goto refuse;
        puts_(b, in_class ? WS : c == 's' ? "[" WS "]" : "[^" WS "]");
        return 1;
    }
    if ((c == 'p' || c == 'P') && (used = property(pat, len, i, &which, &neg)) > 0) {
        const char *cls = which == 'L' ? "\\p{L}" LETTERS_15_16 : "\\p{N}" NUMBERS_15_16;
        if (neg && in_class) goto refuse;
        puts_(b, in_class ? "" : neg ? "[^" : "[");
        puts_(b, cls);
        puts_(b, in_class ? "" : "]");
        return used;
    }
    if (c == 'p' || c == 'P') { /* other properties: PCRE2's tables */
        const char *close = memchr(pat + i, '}', len - i);
        if (!close || i + 1 >= len || pat[i + 1] != '{') goto refuse;
        put(b, "\\", 1);
        put(b, pat + i, (size_t)(close - (pat + i)) + 1);
        return (size_t)(close - (pat + i)) + 1;
    }
    if (c == 'v') {
        puts_(b, "\\x0b");
        return 1;
    }
    if (c == 'x') { /* \xHH or \x{H...} */
        size_t j = i + 1;
        if (j < len && pat[j] == '{') {
            const char *close = memchr(pat + j, '}', len - j);
            if (!close) goto refuse;
            j = (size_t)(close - pat) + 1;
        } else {
            while (j < len && j < i + 3 && strchr("0123456789abcdefABCDEF", pat[j])) j++;
        }
        put(b, "\\", 1);
        put(b, pat + i, j - i);
        return j - i;
    }
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if ((c && strchr("tnrfaedAzZ", c)) || (!alnum && (unsigned char)c < 0x80 && c != 0)) {
        put(b, "\\", 1); /* same meaning in both: \t \n ..., \d, anchors, escaped punctuation */
        put(b, &c, 1);
        return 1;
    }
refuse:
    llx_fail(LLX_ERR_FORMAT, "%s: regex escape '\\%c' is not supported%s", what, c ? c : '0',
             in_class ? " inside a character class" : "");
    return 0;
}

/* "(?" at pat[i]: groups PCRE2 reads like Oniguruma.  Returns chars used
 * (copied), or 0 after llx_fail. */
static size_t group(sbuf *b, const char *pat, size_t len, size_t i, const char *what)
{
    static const char *const ok[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?i:", "(?-i:", "(?i)", "(?-i)"};
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        size_t n = strlen(ok[k]);
        if (i + n <= len && memcmp(pat + i, ok[k], n) == 0) {
            put(b, ok[k], n);
            return n;
        }
    }
    if (i + 3 < len && pat[i + 2] == '<' && ((pat[i + 3] >= 'a' && pat[i + 3] <= 'z') || (pat[i + 3] >= 'A' && pat[i + 3] <= 'Z'))) {
        put(b, "(?<", 3); /* named group */
        return 3;
    }
    char show[8] = {0};
    memcpy(show, pat + i, len - i < 4 ? len - i : 4);
    llx_fail(LLX_ERR_FORMAT, "%s: regex group '%s...' is not supported", what, show);
    return 0;
}

char *tok_regex_translate(const char *pat, size_t len, const char *what)
{
    sbuf b = {0};
    int in_class = 0;
    size_t i = 0;
    puts_(&b, "");
    while (i < len && !b.oom) {
        char c = pat[i];
        size_t used = 1;
        if (c == 0) {
            llx_fail(LLX_ERR_FORMAT, "%s: regex has a NUL character", what);
            used = 0;
        } else if (c == '\\') {
            used = i + 1 < len ? escape(&b, pat, len, i + 1, in_class, what) : 0;
            if (i + 1 >= len) llx_fail(LLX_ERR_FORMAT, "%s: regex ends with a backslash", what);
            if (used) used++;
            if (in_class) in_class = 1;
        } else if (in_class) {
            if (c == '[' || (c == '&' && i + 1 < len && pat[i + 1] == '&')) {
                llx_fail(LLX_ERR_FORMAT, "%s: nested character classes and '&&' are not supported", what);
                used = 0;
            } else {
                if (c == ']' && !(in_class == 2)) in_class = 0;
                else in_class = 1;
                put(&b, &c, 1);
            }
        } else if (c == '[') {
            in_class = 2; /* a ']' right after '[' or '[^' is a literal */
            put(&b, &c, 1);
            if (i + 1 < len && pat[i + 1] == '^') put(&b, "^", 1), used = 2;
        } else if (c == '(' && i + 1 < len && pat[i + 1] == '?') {
            used = group(&b, pat, len, i, what);
        } else if (c == '^' || c == '$') {
            puts_(&b, c == '^' ? "(?m:^)" : "(?m:$)");
        } else {
            put(&b, &c, 1);
        }
        if (used == 0) {
            free(b.s);
            return NULL;
        }
        i += used;
    }
    if (!b.oom && in_class) {
        llx_fail(LLX_ERR_FORMAT, "%s: regex has an unclosed character class", what);
        free(b.s);
        return NULL;
    }
    if (b.oom) {
        free(b.s);
        llx_fail(LLX_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return b.s;
}

llx_status tok_pretok_compile(tok_pretok *p, const char *pattern, size_t len, int literal, const char *what)
{
    char *pat = NULL;
    if (literal) {
        if (len == 0) return llx_fail(LLX_ERR_FORMAT, "%s: Split pattern is an empty string", what);
    } else if (!(pat = tok_regex_translate(pattern, len, what))) {
        return LLX_ERR_FORMAT;
    }
    int err = 0;
    PCRE2_SIZE at = 0;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(literal ? pattern : pat), literal ? len : PCRE2_ZERO_TERMINATED,
                                     opts, &err, &at, NULL);
    free(pat);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return llx_fail(LLX_ERR_FORMAT, "%s: Split pattern does not compile: %s", what, (const char *)msg);
    }
    p->code = code;
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return LLX_OK;
}

long tok_regex_matches(const tok_pretok *p, const char *s, size_t n, size_t **spans)
{
    *spans = NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    size_t cap = 16, k = 0, *sp = malloc(2 * cap * sizeof *sp);
    if (!md || !sp) {
        pcre2_match_data_free(md);
        free(sp);
        llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
        return -1;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t pos = 0, last_end = (size_t)-1;
    while (pos <= n) {
        int rc = tok_pretok_match(p, s, n, pos, md);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            llx_fail(LLX_ERR_ARG, "tokenizer: the Split pattern failed at byte %zu: %s", pos, (const char *)msg);
            free(sp);
            pcre2_match_data_free(md);
            return -1;
        }
        size_t a = ov[0], e = ov[1];
        /* an empty match is skipped right where the previous one ended;
         * after an empty match the search moves on by one character */
        size_t step = a < n ? (size_t)tok_utf8_len((const unsigned char *)s + a, n - a) : 1;
        if (a == e && a == last_end) {
            pos = a + step;
            continue;
        }
        if (k == cap) {
            size_t *q = realloc(sp, 4 * cap * sizeof *q);
            if (!q) {
                free(sp);
                pcre2_match_data_free(md);
                llx_fail(LLX_ERR_NOMEM, "tokenizer: out of memory");
                return -1;
            }
            sp = q, cap *= 2;
        }
        sp[2 * k] = a, sp[2 * k + 1] = e, k++;
        last_end = e;
        pos = e > a ? e : e + step;
    }
    pcre2_match_data_free(md);
    *spans = sp;
    return (long)k;
}
