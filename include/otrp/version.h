/**
 * \file otrp/version.h
 * \brief The library version: the one source of truth (the Makefile reads it too).
 */
#ifndef OTRP_VERSION_H
#define OTRP_VERSION_H

#define OTRP_VERSION_MAJOR 0
#define OTRP_VERSION_MINOR 1
#define OTRP_VERSION_PATCH 0
#define OTRP_VERSION_STRING "0.1.0"

/** One number that grows with every release: 0xMMmmpp. */
#define OTRP_VERSION_NUMBER \
    ((OTRP_VERSION_MAJOR << 16) | (OTRP_VERSION_MINOR << 8) | OTRP_VERSION_PATCH)

/** True when the headers in use are at least version major.minor.patch. */
#define OTRP_AT_LEAST_VERSION(major, minor, patch) \
    (OTRP_VERSION_NUMBER >= (((major) << 16) | ((minor) << 8) | (patch)))

#endif /* OTRP_VERSION_H */
