/* Error helpers used throughout the library. */
#ifndef SN_CORE_ERROR_H
#define SN_CORE_ERROR_H

#include "scratchnet.h"

#if defined(__GNUC__)
#define SN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SN_PRINTF(a, b)
#endif

/* Fills `err` (if not NULL) with code and a printf-style message; returns code. */
sn_status sn_fail(sn_error *err, sn_status code, const char *fmt, ...) SN_PRINTF(3, 4);

/* Prepends "prefix: " to an existing message (adds context on the way up). */
sn_status sn_wrap(sn_error *err, const char *fmt, ...) SN_PRINTF(2, 3);

/* Aligned (64-byte) allocation with overflow check of n * size. Returns NULL on
 * overflow or failure. Memory is zero-filled. Free with sn_free. */
void *sn_alloc(size_t n, size_t size);
void sn_free(void *p);

/* n * size without overflow; returns 0 and leaves *out untouched on overflow. */
int sn_mul_ok(size_t n, size_t size, size_t *out);

#endif
