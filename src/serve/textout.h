/* serve/textout.h - from generated token bytes to the text a client sees:
 * whole UTF-8 characters only (ill-formed bytes become U+FFFD), cut at the
 * first stop sequence.  Text that could still be the start of a stop
 * sequence is held back until it is known not to be. */
#ifndef LLX_SERVE_TEXTOUT_H
#define LLX_SERVE_TEXTOUT_H

#include <stddef.h>

#include "llx/tokenizer.h"

/* A growable byte buffer (NUL-terminated when len > 0). */
typedef struct srv_buf {
    char *p;
    size_t len, cap;
} srv_buf;

/* Append n bytes; -1 when out of memory. */
int srv_buf_add(srv_buf *b, const char *s, size_t n);
void srv_buf_free(srv_buf *b);

/* Append s[0..n) to out as well-formed UTF-8: each byte that is not part
 * of a well-formed character (overlong forms, surrogates and code points
 * above U+10FFFF are not) becomes U+FFFD.  -1 when out of memory. */
int srv_utf8_sanitize(srv_buf *out, const char *s, size_t n);

typedef struct srv_textout {
    llx_utf8_stream us;
    srv_buf held;                /* released by the model, not yet to the client */
    char *const *stop;           /* stop sequences (well-formed UTF-8, not empty) */
    const size_t *stop_len;
    int n_stop;
    int stopped;                 /* a stop sequence was found; later pushes are dropped */
} srv_textout;

/* Start with the request's stop sequences (borrowed). */
void srv_textout_init(srv_textout *t, char *const *stop, const size_t *stop_len, int n_stop);
/* Push a token's bytes; appends what may now be shown to out.  Returns 1
 * when a stop sequence ended the text, 0 otherwise, -1 out of memory. */
int srv_textout_push(srv_textout *t, const char *bytes, size_t n, srv_buf *out);
/* End of generation: release everything held (1 when that completed a stop sequence). */
int srv_textout_finish(srv_textout *t, srv_buf *out);
void srv_textout_free(srv_textout *t);

#endif
