/* tokenizer/utf8.c - UTF-8 well-formedness (Unicode's definition: no
 * overlong forms, no surrogates, nothing above U+10FFFF) and the streaming
 * decoder that holds back incomplete characters.  It does not decode code
 * points; the tokenizer only needs to know where valid characters end. */
#include "tokenizer/tok_internal.h"

/* Allowed range of the second byte after lead byte c (0 when c is no lead). */
static int second_range(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F; /* surrogates */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

int tok_utf8_len(const unsigned char *p, size_t n)
{
    if (n == 0) return 0;
    if (p[0] < 0x80) return 1;
    unsigned char lo, hi;
    int need = second_range(p[0], &lo, &hi);
    if (need == 0 || n < (size_t)need) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < need; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return need;
}

/* Can byte c extend the pending prefix s->pend[0..npend)? */
static int continues(const llx_utf8_stream *s, unsigned char c)
{
    unsigned char lo = 0x80, hi = 0xBF;
    if (s->npend == 1) second_range(s->pend[0], &lo, &hi);
    return c >= lo && c <= hi;
}

static size_t emit_pending(llx_utf8_stream *s, char *out)
{
    size_t n = (size_t)s->npend;
    for (size_t i = 0; i < n; i++) out[i] = (char)s->pend[i];
    s->npend = 0;
    return n;
}

size_t llx_utf8_stream_push(llx_utf8_stream *s, const char *bytes, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (s->npend > 0) {
            if (continues(s, c)) {
                s->pend[s->npend++] = c;
                unsigned char lo, hi;
                if (s->npend == second_range(s->pend[0], &lo, &hi)) w += emit_pending(s, out + w);
                continue;
            }
            /* the held prefix can never complete: pass it through as it is */
            w += emit_pending(s, out + w);
        }
        unsigned char lo, hi;
        if (c >= 0x80 && second_range(c, &lo, &hi)) {
            s->pend[0] = c;
            s->npend = 1;
        } else {
            out[w++] = (char)c; /* ASCII, or a byte that cannot start a character */
        }
    }
    return w;
}

size_t llx_utf8_stream_flush(llx_utf8_stream *s, char *out) { return emit_pending(s, out); }
