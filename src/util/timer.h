/* util/timer.h - monotonic wall clock. */
#ifndef LLX_UTIL_TIMER_H
#define LLX_UTIL_TIMER_H

#include <time.h>

static inline double llx_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
