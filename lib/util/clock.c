#include "util/clock.h"

#include <time.h>

#include "otrp/tee.h"

uint64_t otrp__monotonic_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t otrp_monotonic_ms(void)
{
    return otrp__monotonic_ns() / 1000000u;
}
