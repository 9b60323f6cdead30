/* util/status.c - thread-local last-error message. */
#include "util/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_CAP 1024
static _Thread_local char g_msg[MSG_CAP];

const char *llx_status_str(llx_status st)
{
    switch (st) {
    case LLX_OK: return "ok";
    case LLX_ERR_IO: return "io";
    case LLX_ERR_FORMAT: return "format";
    case LLX_ERR_NOMEM: return "out of memory";
    case LLX_ERR_ARG: return "bad argument";
    case LLX_ERR_UNSUPPORTED: return "unsupported";
    case LLX_ERR_INTERNAL: return "internal";
    case LLX_ERR_RING: return "ring";
    case LLX_ERR_CANCELLED: return "cancelled";
    case LLX_ERR_BUSY: return "busy";
    }
    return "unknown";
}

const char *llx_errmsg(void) { return g_msg; }

llx_status llx_fail(llx_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return st;
}

void llx_errmsg_prefix(const char *prefix)
{
    size_t p = strlen(prefix);
    if (p + 2 >= MSG_CAP) return;
    size_t m = strnlen(g_msg, MSG_CAP - 1);
    if (p + 2 + m >= MSG_CAP) m = MSG_CAP - 1 - p - 2;
    memmove(g_msg + p + 2, g_msg, m);
    memcpy(g_msg, prefix, p);
    g_msg[p] = ':';
    g_msg[p + 1] = ' ';
    g_msg[p + 2 + m] = 0;
}

void llx_errmsg_set(const char *msg)
{
    if (msg != g_msg) snprintf(g_msg, sizeof g_msg, "%s", msg);
}
