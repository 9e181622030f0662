/**
 * \file otrp/common.h
 * \brief Export macro, attributes and the library-wide memory rule.
 */
#ifndef OTRP_COMMON_H
#define OTRP_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define OTRP_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define OTRP_API __attribute__((visibility("default")))
#else
#  define OTRP_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define OTRP_NODISCARD __attribute__((warn_unused_result))
#  define OTRP_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#  define OTRP_NODISCARD
#  define OTRP_NONNULL(...)
#endif

/**
 * Free memory that the library returned to the caller (responses, JSON documents).
 * NULL is allowed. Never use free() on such memory: the library may be built with
 * another allocator than the application.
 */
OTRP_API void otrp_free(void *ptr);

/** The runtime version string, e.g. "0.1.0" (compare with OTRP_VERSION_STRING). */
OTRP_API const char *otrp_version(void);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_COMMON_H */
