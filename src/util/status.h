/* util/status.h - internal helpers for setting the last-error message. */
#ifndef LLX_UTIL_STATUS_H
#define LLX_UTIL_STATUS_H

#include "llx/status.h"

/* Record a printf-formatted message for this thread and return st. */
llx_status llx_fail(llx_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (for adding context). */
void llx_errmsg_prefix(const char *prefix);

/* Replace this thread's message (used to carry a node's error to its caller). */
void llx_errmsg_set(const char *msg);

#define LLX_TRY(expr)                                                          \
    do {                                                                       \
        llx_status llx_try_st_ = (expr);                                       \
        if (llx_try_st_ != LLX_OK) return llx_try_st_;                         \
    } while (0)

#endif
