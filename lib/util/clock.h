/* The monotonic clock in nanoseconds (the public otrp_monotonic_ms() is in otrp/tee.h). */
#ifndef OTRP_UTIL_CLOCK_H
#define OTRP_UTIL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds; 0 when the clock cannot be read. */
uint64_t otrp__monotonic_ns(void);

#endif
