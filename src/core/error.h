/* Error helpers used throughout the library (and, through core/alloc.h,
 * the allocator, which every file that reports errors also uses). */
#ifndef SN_CORE_ERROR_H
#define SN_CORE_ERROR_H

#include "core/alloc.h"
#include "scratchnet.h"

#if defined(__GNUC__)
#define SN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SN_PRINTF(a, b)
#endif

/* sn_fail: include/scratchnet.h. */

/* Prepends "prefix: " to an existing message (adds context on the way up). */
sn_status sn_wrap(sn_error *err, const char *fmt, ...) SN_PRINTF(2, 3);

#endif
