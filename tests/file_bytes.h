/* Whole files as bytes, for the tests that build files by hand or damage
 * written ones (safetensors, checkpoints). */
#ifndef SN_TEST_FILE_BYTES_H
#define SN_TEST_FILE_BYTES_H

#include "check.h"

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes (caller frees; one spare byte at the end), NULL when it
 * cannot be opened. */
static unsigned char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    *len = b ? fread(b, 1, (size_t)n, fp) : 0;
    fclose(fp);
    return b;
}

/* Writes b as the whole file (a failed write fails the test). */
static void write_all(const char *path, const unsigned char *b, size_t len) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp && fwrite(b, 1, len, fp) == len);
    if (fp) fclose(fp);
}

#endif
