/* llx/status.h - status codes and the last-error message.
 *
 * Every fallible library call returns an llx_status.  On failure it also
 * leaves one human-readable line (what failed and where, no trailing newline)
 * in a thread-local buffer that llx_errmsg() returns.  The library never
 * prints to stdout and never exits; the CLI turns the message into
 * "looplynx: error: <message>".
 */
#ifndef LLX_STATUS_H
#define LLX_STATUS_H

typedef enum llx_status {
    LLX_OK = 0,
    LLX_ERR_IO = -1,          /* a file could not be opened, read or written */
    LLX_ERR_FORMAT = -2,      /* a file or header is malformed */
    LLX_ERR_NOMEM = -3,
    LLX_ERR_ARG = -4,         /* a caller-supplied value is out of range */
    LLX_ERR_UNSUPPORTED = -5, /* valid input this build or model cannot run */
    LLX_ERR_INTERNAL = -6,
    LLX_ERR_RING = -7,        /* a peer node failed or a link stalled */
    LLX_ERR_CANCELLED = -8,   /* stopped on request (a cancel flag was set) */
    LLX_ERR_BUSY = -9,        /* no room now (all slots or KV blocks in use); try again later */
} llx_status;

/* Stable short name of a status ("io", "format", ...). */
const char *llx_status_str(llx_status st);

/* The message of the last failure in this thread ("" if none). */
const char *llx_errmsg(void);

#endif
