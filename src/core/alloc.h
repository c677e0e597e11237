/* The library's allocator (alloc.c). */
#ifndef SN_CORE_ALLOC_H
#define SN_CORE_ALLOC_H

#include <stddef.h>

/* Aligned (64-byte) allocation with overflow check of n * size. Returns NULL on
 * overflow or failure. Memory is zero-filled. Free with sn_free. */
void *sn_alloc(size_t n, size_t size);
void sn_free(void *p);

/* n * size without overflow; returns 0 and leaves *out untouched on overflow. */
int sn_mul_ok(size_t n, size_t size, size_t *out);

#endif
