/* serve/textout.c - see textout.h. */
#include "serve/textout.h"

#include <stdlib.h>
#include <string.h>

int srv_buf_add(srv_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

void srv_buf_free(srv_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Length of the well-formed character at s (n bytes left), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0) lo = 0xa0;
        if (s[0] == 0xed) hi = 0x9f; /* no surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0) lo = 0x90;
        if (s[0] == 0xf4) hi = 0x8f; /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

int srv_utf8_sanitize(srv_buf *out, const char *s, size_t n)
{
    size_t i = 0, run = 0;
    while (i < n) {
        const size_t c = utf8_char((const unsigned char *)s + i, n - i);
        if (c) {
            i += c;
            continue;
        }
        if (srv_buf_add(out, s + run, i - run) || srv_buf_add(out, "\xef\xbf\xbd", 3)) return -1;
        run = ++i;
    }
    return srv_buf_add(out, s + run, n - run);
}

void srv_textout_init(srv_textout *t, char *const *stop, const size_t *stop_len, int n_stop)
{
    memset(t, 0, sizeof *t);
    t->stop = stop;
    t->stop_len = stop_len;
    t->n_stop = n_stop;
}

/* Bytes at the end of held that are a proper prefix of some stop sequence. */
static size_t stop_prefix_tail(const srv_textout *t)
{
    size_t keep = 0;
    for (int s = 0; s < t->n_stop; s++) {
        size_t k = t->stop_len[s] - 1 < t->held.len ? t->stop_len[s] - 1 : t->held.len;
        for (; k > keep; k--)
            if (!memcmp(t->held.p + t->held.len - k, t->stop[s], k)) break;
        if (k > keep) keep = k;
    }
    return keep;
}

/* Release held[0..n) to out and keep the rest. */
static int release(srv_textout *t, size_t n, srv_buf *out)
{
    if (srv_buf_add(out, t->held.p, n)) return -1;
    memmove(t->held.p, t->held.p + n, t->held.len - n);
    t->held.len -= n;
    if (t->held.p) t->held.p[t->held.len] = 0;
    return 0;
}

/* Cut at the first stop sequence in held, else release all but a
 * possible stop prefix (everything when final). */
static int scan(srv_textout *t, srv_buf *out, int final)
{
    size_t first = t->held.len;
    for (int s = 0; s < t->n_stop; s++) {
        const char *hit = t->held.len ? memmem(t->held.p, t->held.len, t->stop[s], t->stop_len[s]) : NULL;
        if (hit && (size_t)(hit - t->held.p) < first) first = (size_t)(hit - t->held.p);
    }
    if (first < t->held.len) {
        if (srv_buf_add(out, t->held.p, first)) return -1;
        t->held.len = 0;
        t->stopped = 1;
        return 1;
    }
    return release(t, t->held.len - (final ? 0 : stop_prefix_tail(t)), out);
}

int srv_textout_push(srv_textout *t, const char *bytes, size_t n, srv_buf *out)
{
    if (t->stopped) return 1;
    char raw[1024 + 4];
    if (n > 1024) n = 1024; /* no vocabulary token is this long */
    const size_t m = llx_utf8_stream_push(&t->us, bytes, n, raw);
    if (srv_utf8_sanitize(&t->held, raw, m)) return -1;
    return scan(t, out, 0);
}

int srv_textout_finish(srv_textout *t, srv_buf *out)
{
    if (t->stopped) return 1;
    char tail[8];
    const size_t m = llx_utf8_stream_flush(&t->us, tail);
    if (srv_utf8_sanitize(&t->held, tail, m)) return -1;
    return scan(t, out, 1);
}

void srv_textout_free(srv_textout *t) { srv_buf_free(&t->held); }
