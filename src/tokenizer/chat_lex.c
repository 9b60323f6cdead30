/* tokenizer/chat_lex.c - chat template source -> tokens.
 *
 * Whitespace follows transformers' Jinja environment (trim_blocks and
 * lstrip_blocks on, keep_trailing_newline off):
 *   - one trailing newline of the source is dropped;
 *   - "{%-" / "{{-" / "{#-" strip all whitespace before the tag, "-%}" /
 *     "-}}" / "-#}" all whitespace after it;
 *   - otherwise a block or comment tag ("{%", "{#") alone after only spaces
 *     and tabs on its line takes them away (lstrip_blocks; "{%+" keeps
 *     them), and the first newline after "%}" or "#}" is dropped
 *     (trim_blocks; "+%}" keeps it).
 * Comments produce no token.  Text tokens point into the source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/chat_internal.h"
#include "util/status.h"

typedef struct lexer {
    ch_arena *a;
    const char *src;
    size_t len, pos;
    int line;
    ch_token *tok;
    long n, cap;
    int strip_next; /* strip whitespace at the start of the next text */
    int trim_next;  /* drop one newline at the start of the next text */
} lexer;

static int add(lexer *L, ch_tk kind, const char *s, size_t n, int64_t iv)
{
    if (L->n == L->cap) {
        long cap = L->cap ? L->cap * 2 : 64;
        ch_token *t = ch_alloc(L->a, (size_t)cap * sizeof *t);
        if (!t) return llx_fail(LLX_ERR_NOMEM, "chat template: out of memory"), -1;
        if (L->n) memcpy(t, L->tok, (size_t)L->n * sizeof *t);
        L->tok = t, L->cap = cap;
    }
    L->tok[L->n++] = (ch_token){kind, L->line, s, n, iv};
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Emit the text src[a..b) after the pending strip/trim and the strip the
 * coming tag asks for (tag_strip: '-'; lstrip: a block tag subject to
 * lstrip_blocks). */
static int text(lexer *L, size_t a, size_t b, int tag_strip, int lstrip)
{
    if (L->strip_next)
        while (a < b && is_space(L->src[a])) a++;
    else if (L->trim_next && a < b && L->src[a] == '\n') a++;
    else if (L->trim_next && a + 1 < b && L->src[a] == '\r' && L->src[a + 1] == '\n') a += 2;
    L->strip_next = L->trim_next = 0;
    if (tag_strip) {
        while (b > a && is_space(L->src[b - 1])) b--;
    } else if (lstrip) {
        size_t p = b;
        while (p > 0 && (L->src[p - 1] == ' ' || L->src[p - 1] == '\t')) p--;
        if ((p == 0 || L->src[p - 1] == '\n') && p >= a) b = p;
    }
    return b > a ? add(L, TK_TEXT, L->src + a, b - a, 0) : 0;
}

static int fail(lexer *L, const char *what)
{
    llx_fail(LLX_ERR_FORMAT, "chat template: line %d: %s", L->line, what);
    return -1;
}

/* A string literal at L->pos (quote included); decoded into the arena. */
static int string(lexer *L)
{
    char q = L->src[L->pos++];
    char *buf = ch_alloc(L->a, L->len - L->pos + 1);
    size_t w = 0;
    if (!buf) return llx_fail(LLX_ERR_NOMEM, "chat template: out of memory"), -1;
    while (L->pos < L->len && L->src[L->pos] != q) {
        char c = L->src[L->pos++];
        if (c == '\n') L->line++;
        if (c != '\\') {
            buf[w++] = c;
            continue;
        }
        if (L->pos >= L->len) break;
        c = L->src[L->pos++];
        const char *from = "ntr0\\'\"", *to = "\n\t\r\0\\'\"";
        const char *hit = memchr(from, c, 7);
        if (hit) buf[w++] = to[hit - from];
        else buf[w++] = '\\', buf[w++] = c; /* unknown escapes stay, as in Python */
    }
    if (L->pos >= L->len) return fail(L, "unterminated string");
    L->pos++;
    return add(L, TK_STR, buf, w, 0);
}

/* Tokens inside a tag up to its closer ("}}" or "%}", with '-' or '+'). */
static int inside(lexer *L, char closer)
{
    int depth = 0; /* open '{' of dict literals */
    for (;;) {
        while (L->pos < L->len && is_space(L->src[L->pos])) L->line += L->src[L->pos++] == '\n';
        if (L->pos >= L->len) return fail(L, "unclosed tag");
        const char *p = L->src + L->pos;
        size_t left = L->len - L->pos;
        int mod = (p[0] == '-' || p[0] == '+') && left >= 3 && p[1] == closer && p[2] == '}';
        if ((mod || (left >= 2 && p[0] == closer && p[1] == '}')) && (closer == '%' || depth == 0)) {
            L->pos += mod ? 3 : 2;
            L->strip_next = mod && p[0] == '-';
            L->trim_next = closer == '%' && !mod;
            return add(L, closer == '%' ? TK_BLOCK_END : TK_VAR_END, p, 0, 0);
        }
        if (p[0] == '\'' || p[0] == '"') {
            if (string(L)) return -1;
        } else if ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') || p[0] == '_') {
            size_t n = 1;
            while (n < left && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')) n++;
            if (add(L, TK_NAME, p, n, 0)) return -1;
            L->pos += n;
        } else if (p[0] >= '0' && p[0] <= '9') {
            int64_t v = 0;
            size_t n = 0;
            for (; n < left && p[n] >= '0' && p[n] <= '9'; n++) {
                if (v > (INT64_MAX - (p[n] - '0')) / 10) return fail(L, "integer literal too large");
                v = v * 10 + (p[n] - '0');
            }
            if (n < left && (p[n] == '.' || p[n] == 'e' || p[n] == 'E') && n + 1 < left && p[n + 1] >= '0' && p[n + 1] <= '9')
                return fail(L, "float literals are not supported");
            if (add(L, TK_INT, p, n, v)) return -1;
            L->pos += n;
        } else {
            static const char *const two[] = {"==", "!=", "<=", ">=", "//", "**"};
            size_t n = 1;
            for (size_t k = 0; k < 6; k++)
                if (left >= 2 && p[0] == two[k][0] && p[1] == two[k][1]) n = 2;
            if (n == 1 && !strchr("()[]{}.,:|~+-*/%<>=", p[0])) {
                char msg[48];
                snprintf(msg, sizeof msg, "unexpected character '%c'", p[0] >= 32 && p[0] < 127 ? p[0] : '?');
                return fail(L, msg);
            }
            depth += p[0] == '{' ? 1 : p[0] == '}' && depth > 0 ? -1 : 0;
            if (add(L, TK_OP, p, n, 0)) return -1;
            L->pos += n;
        }
    }
}

/* Skip a comment at L->pos ("{#" seen); sets the strip/trim of what follows. */
static int comment(lexer *L)
{
    for (size_t i = L->pos; i + 1 < L->len; i++) {
        if (L->src[i] == '\n') L->line++;
        if (L->src[i] == '#' && L->src[i + 1] == '}') {
            int mod = i > L->pos && (L->src[i - 1] == '-' || L->src[i - 1] == '+');
            L->strip_next = mod && L->src[i - 1] == '-';
            L->trim_next = !mod;
            L->pos = i + 2;
            return 0;
        }
    }
    return fail(L, "unclosed comment");
}

long ch_lex(ch_arena *a, const char *src, size_t len, ch_token **out)
{
    lexer L = {.a = a, .src = src, .len = len, .line = 1};
    if (L.len > 0 && src[L.len - 1] == '\n') L.len -= 1 + (L.len > 1 && src[L.len - 2] == '\r');
    size_t start = 0;
    while (L.pos < L.len) {
        const char *p = memchr(src + L.pos, '{', L.len - L.pos);
        if (!p || p + 1 >= src + L.len) break;
        size_t at = (size_t)(p - src);
        for (size_t i = L.pos; i < at; i++) L.line += src[i] == '\n';
        L.pos = at + 1;
        char k = p[1];
        if (k != '{' && k != '%' && k != '#') continue;
        char m = at + 2 < L.len ? p[2] : 0;
        int block = k != '{';
        if (text(&L, start, at, m == '-', block && m != '+')) return -1;
        L.pos = at + 2 + (m == '-' || m == '+');
        if (k == '#') {
            if (comment(&L)) return -1;
        } else {
            if (add(&L, k == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, p, 2, 0) || inside(&L, k == '%' ? '%' : '}')) return -1;
        }
        start = L.pos;
    }
    if (text(&L, start, L.len, 0, 0) || add(&L, TK_EOF, src + L.len, 0, 0)) return -1;
    *out = L.tok;
    return L.n;
}
